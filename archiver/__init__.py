"""archiver: preserve the evidence that reports cite before the links die.

The package is a library first; the CLI (:mod:`archiver.cli`), the scheduler and
the web UI are thin callers of it.
"""
import logging

__version__ = "0.1.0"

__all__ = ["__version__", "load_settings", "Settings", "ArchiverError"]

from .config import Settings, load_settings  # noqa: E402
from .errors import ArchiverError  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())

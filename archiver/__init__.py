"""archiver: preserve the evidence that reports cite before the links die.

The package is a library first; the CLI (:mod:`archiver.cli`), the scheduler and
the web UI are thin callers of it.
"""
import logging

__version__ = "0.1.0"

__all__ = ["__version__", "load_settings", "Settings", "ArchiverError"]

from .errors import ArchiverError  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str):
    """``Settings`` and ``load_settings`` on first use: importing the package (every CLI command does) must
    not build the pydantic models (``archiver --help`` needs none of them; start-up time, issue 10)."""
    if name in ("Settings", "load_settings"):
        from . import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

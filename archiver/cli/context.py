"""What every command needs, built lazily from the global options."""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from functools import cached_property

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when first used: `archiver --help` needs neither pydantic nor SQLAlchemy
    from ..config import Settings


def print_error(message: str) -> None:
    """One line on stderr, never a traceback; the message printed as written (it often quotes user
    text: a file name, a URL), never read as rich markup."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, markup=False, emoji=False, highlight=False, soft_wrap=True).print(
        Text.assemble(("error:", "bold red"), " ", str(message)))


class _StderrLines(logging.Handler):
    """Log records as lines on the current stderr; tracebacks only with --verbose."""

    def __init__(self, verbose: bool):
        super().__init__(logging.INFO if verbose else logging.WARNING)
        self.verbose = verbose

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"{record.levelname.lower()}: {record.getMessage()}"
            if self.verbose and record.exc_info:
                line += "\n" + logging.Formatter().formatException(record.exc_info)
            sys.stderr.write(line + "\n")
        except Exception:  # pragma: no cover - logging must never break a command
            self.handleError(record)


def configure_logging(verbose: bool) -> None:
    """The package's log goes to stderr as one line per message (never a traceback unless -v)."""
    logger = logging.getLogger("archiver")
    for h in [h for h in logger.handlers if isinstance(h, _StderrLines)]:
        logger.removeHandler(h)
    logger.addHandler(_StderrLines(verbose))
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


@dataclass
class AppContext:
    config_path: str | None = None
    verbose: bool = False

    def __post_init__(self):
        configure_logging(self.verbose)

    @cached_property
    def settings(self) -> Settings:
        from ..config import load_settings

        return load_settings(self.config_path)

    @cached_property
    def engine(self):
        from ..db.session import make_engine

        return make_engine(self.settings)

    def close(self) -> None:
        """Give the database connections back when the command ends (in-process callers such as
        tests and the scheduler run many commands in one process; a pool left to the garbage
        collector holds server connections meanwhile)."""
        engine = self.__dict__.pop("engine", None)
        if engine is not None:
            engine.dispose()

    def connection(self, require: bool = True):
        """A Core connection (a context manager), for commands that read rows without the ORM;
        by default refuses an uninitialised database with one line."""
        from ..db.session import require_schema

        if require:
            require_schema(self.engine)
        return self.engine.connect()

    def sessionmaker(self, require: bool = True):
        """Session factory; by default refuses an uninitialised database with one line."""
        from ..db.session import make_sessionmaker, require_schema

        if require:
            require_schema(self.engine)
        return make_sessionmaker(self.engine)

"""What every command needs, built lazily from the global options."""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from functools import cached_property

from rich.console import Console

from ..config import Settings, load_settings
from ..db.session import make_engine, make_sessionmaker, require_schema

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """One line on stderr, never a traceback."""
    _err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)


@dataclass
class AppContext:
    config_path: str | None = None
    verbose: bool = False
    _cache: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.verbose:
            logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    @cached_property
    def engine(self):
        return make_engine(self.settings)

    def sessionmaker(self, require: bool = True):
        """Session factory; by default refuses an uninitialised database with one line."""
        if require:
            require_schema(self.engine)
        return make_sessionmaker(self.engine)

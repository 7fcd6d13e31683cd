"""The Store interface (a Protocol, like scrapy's FilesStoreProtocol) and the one key guard."""
from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

from ..errors import StoreError

# what a key may look like: a known folder, then plain file names (no "..", no absolute path, no
# backslash, no control character); a key from the database or a command line is checked all the same
_KEY = re.compile(r"(warcs|exports|manifest)(/[A-Za-z0-9][A-Za-z0-9._+=-]{0,250})+")


def check_key(key: str) -> str:
    """``key`` if it is one a store may hold, else StoreError (never trust a key's origin)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or "/../" in f"/{key}/" or "/./" in f"/{key}/":
        raise StoreError(f"refusing storage key {key!r}: not a file under warcs/, exports/ or manifest/")
    return key


class Store(Protocol):
    root: Path  # the local folder: the spool of WARC files being written (and the whole store when local)
    remote: bool  # True when finished files live elsewhere than under root

    @property
    def url(self) -> str:
        """Where the store is, for people and for the ``warc_files.location`` column."""

    def open(self, key: str) -> BinaryIO:
        """The object, readable and seekable (a remote store reads by range). FileNotFoundError if absent."""

    def size(self, key: str) -> int | None:
        """The object's size, or None if it does not exist."""

    def put_file(self, path: Path, key: str, *, sha256: str) -> None:
        """Store the finished local file ``path`` as ``key``, checking that what is stored has ``sha256``."""

    def put_bytes(self, key: str, data: bytes) -> None:
        """A small object (a manifest entry), written whole."""

    def list(self, prefix: str) -> Iterator[tuple[str, int, str]]:
        """(key, size, version tag) of every object under ``prefix`` (a folder: ``warcs/``), in key order."""

    def delete(self, key: str) -> None:
        """Remove an object (tests and exports only: WARC files are never deleted by archiver)."""

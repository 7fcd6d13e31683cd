"""LocalStore: everything under storage.root (the default; what archiver always did)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import StoreError
from .base import check_key


class LocalStore:
    remote = False

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def url(self) -> str:
        return str(self.root)

    def path(self, key: str) -> Path:
        """The file for ``key``, confined to the root (the key is checked, then the resolved path)."""
        check_key(key)
        root = self.root.resolve()
        path = (root / key).resolve()
        if root not in path.parents:
            raise StoreError(f"refusing storage key {key!r}: outside {root}")
        return path

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def put_file(self, path: Path, key: str, *, sha256: str) -> None:
        dest = self.path(key)
        if Path(path).resolve() != dest:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)

    def put_bytes(self, key: str, data: bytes) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)

    def list(self, prefix: str) -> Iterator[tuple[str, int, str]]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for p in sorted(base.rglob("*")):
            if p.is_file():
                st = p.stat()
                yield p.relative_to(self.root).as_posix(), st.st_size, str(st.st_mtime_ns)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

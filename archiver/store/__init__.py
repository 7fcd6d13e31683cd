"""Where finished WARC files, WACZ exports and the manifest mirror live: one small interface.

``storage.url`` picks the store by scheme (scrapy's STORE_SCHEMES): none (the default) keeps
everything under ``storage.root``; ``s3://bucket/prefix`` puts finished files in S3-compatible
object storage, with ``storage.root`` as the local spool where each worker writes its WARC
files until they are finished (objects cannot be appended to).

Keys are paths relative to the store (``warcs/<name>.warc.gz``, ``exports/<name>.wacz``,
``manifest/<id>.json``); :func:`base.check_key` refuses anything else, wherever the key came from.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Union

from ..config import StorageSettings
from ..errors import ConfigError
from .base import Store, check_key
from .local import LocalStore

__all__ = ["Store", "LocalStore", "open_store", "as_store", "check_key", "STORE_SCHEMES"]

STORE_SCHEMES = ("s3",)  # besides the default: no url, files under storage.root

_cache: dict = {}
_cache_lock = threading.Lock()


def open_store(storage: StorageSettings) -> Store:
    """The store ``storage`` names, built once per process (a boto3 client is costly to make, and
    is not shared across fork: the process id is part of the key)."""
    key = (os.getpid(), storage)
    with _cache_lock:
        store = _cache.get(key)
        if store is None:
            store = _cache[key] = _build(storage)
        return store


def _build(storage: StorageSettings) -> Store:
    if not storage.url:
        return LocalStore(storage.root)
    scheme = storage.url.split("://", 1)[0].lower()
    if scheme == "s3":
        from .s3 import S3Store

        return S3Store.from_settings(storage)
    raise ConfigError(f"storage.url: unknown scheme {scheme!r} (use s3://bucket/prefix, or no url for files "
                      f"under storage.root)")


def as_store(storage: Union[Store, str, Path]) -> Store:
    """A Store from a Store or a local storage root (the callers that predate stores pass a path)."""
    if isinstance(storage, (str, Path)):
        return LocalStore(storage)
    return storage

"""One exception hierarchy for the whole package.

Expected outcomes (a dead link, a 404, a timeout) are *data* recorded in the
database; exceptions are for broken things: bad configuration, unreadable
input, infrastructure failures.  Each carries enough context to print one
useful line, and an exit code for the CLI::

    ArchiverError                      exit 1
    ├── ConfigError                    bad/missing setting               exit 2
    ├── InputError                     unreadable report, bad argument   exit 2
    ├── NotInitialised                 database has no schema yet        exit 2
    ├── FetchError      (url, hop)     translated from requests/urllib3
    │   ├── FetchTimeout
    │   ├── FetchRefused               SSRF policy refused the address
    │   ├── TooManyHops
    │   └── TooLarge                   body exceeded fetch.max_bytes
    ├── ArchiveError    (file, offset) WARC write/read problems
    │   └── IntegrityError             digest mismatch
    ├── StoreError                     blob store failures
    ├── LockHeld                       another run holds the database lock
    └── NotFound                       lookups from CLI/web           exit 1
"""
from __future__ import annotations


class ArchiverError(Exception):
    exit_code = 1

    def __init__(self, message: str, **context):
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


class ConfigError(ArchiverError):
    exit_code = 2


class InputError(ArchiverError):
    exit_code = 2


class NotInitialised(ArchiverError):
    exit_code = 2


class FetchError(ArchiverError):
    def __init__(self, message: str, url: str | None = None, hop: int | None = None, **context):
        super().__init__(message, url=url, hop=hop, **context)
        self.url = url
        self.hop = hop


class FetchTimeout(FetchError):
    pass


class FetchRefused(FetchError):
    pass


class TooManyHops(FetchError):
    pass


class TooLarge(FetchError):
    pass


class ArchiveError(ArchiverError):
    def __init__(self, message: str, file: str | None = None, offset: int | None = None, **context):
        super().__init__(message, file=file, offset=offset, **context)
        self.file = file
        self.offset = offset


class IntegrityError(ArchiveError):
    pass


class StoreError(ArchiverError):
    pass


class LockHeld(ArchiverError):
    pass


class NotFound(ArchiverError):
    pass

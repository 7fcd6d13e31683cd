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
    ├── DatabaseUnavailable            the database server cannot be reached
    ├── LockHeld                       another run holds the database lock
    ├── HostNotReady    (host, until)  a host asked us to wait (429/503): the item waits, in the pass
    ├── NotifyError                    a notify target failed (logged and recorded; never fails a pass)
    ├── QueueError                     the broker or the host slots' Redis cannot be reached
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


class DatabaseUnavailable(ArchiverError):
    """The database server did not answer (down, wrong host or port): a failure, exit 1. A
    database that cannot be opened as configured (an SQLite path we may not write) is a
    ConfigError instead."""


class LockHeld(ArchiverError):
    pass


class NotFound(ArchiverError):
    pass


class NotifyError(ArchiverError):
    """A webhook or mail server did not take the pass summary. Caught by notify.send_pass: one log line,
    recorded on the run row, the pass's exit code unchanged. Messages never hold the webhook's path or
    query (often its secret) or a password."""


class QueueError(ArchiverError):
    """The Celery broker or the Redis holding the per-host slots (``queue:``) did not answer."""


class HostNotReady(ArchiverError):
    """A host refused for a short while (429/503 with a Retry-After within ``fetch.max_retry_wait_s``).

    Not a failure: raised from a fetch made for a pipeline item (capture.gate.deferrable) so that
    the item is put back and run again in the same pass once the host is ready, without a
    thread sleeping on it. Deliberately not a FetchError, which callers record as a failure."""

    def __init__(self, message: str, *, host: str, until: float, url: str | None = None):
        super().__init__(message, host=host, until=until, url=url)
        self.host = host
        self.until = until  # time.monotonic() at which the host takes requests again
        self.url = url

"""S3Store: finished files in S3-compatible object storage, through boto3 (never hand-signed requests).

Credentials and endpoint come from ``storage.s3`` when set, else from boto3's usual chain
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``,
``~/.aws``...). botocore's exceptions are translated here, once, into StoreError.

Reading is by range: :class:`S3File` is a seekable file whose reads are streamed ranged GETs of
a bounded window, so a record at (offset, length) costs one GET of ``length`` bytes and nothing
is ever held whole in memory. Uploads go through boto3's transfer manager (multipart past
``storage.s3.multipart_threshold``), each part with a SHA-256 checksum the server checks; the
whole file's sha256 is stored as object metadata and, with ``storage.s3.verify_upload``, the
object is read back and hashed before the caller may delete its local copy.
"""
from __future__ import annotations

import hashlib
import io
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..config import StorageSettings
from ..errors import ConfigError, StoreError
from .base import check_key

# a reader that has not said how much it wants (expect()) gets ranged GETs of FIRST_WINDOW bytes, doubling
# while it reads on without seeking, up to MAX_WINDOW: a small record costs one small GET, a big body few
FIRST_WINDOW = 256 << 10
MAX_WINDOW = 16 << 20
MIN_WINDOW = 64 << 10


def parse_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of ``s3://bucket/prefix``; ConfigError in one line otherwise."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    bucket, _, prefix = rest.partition("/")
    if not bucket or any(c in bucket for c in "@:?#") or "\x00" in url:
        raise ConfigError(f"storage.url: {url!r} is not s3://bucket/prefix")
    prefix = prefix.strip("/")
    if ".." in prefix.split("/"):
        raise ConfigError(f"storage.url: {url!r}: '..' in the prefix")
    return bucket, prefix


@contextmanager
def _translated(what: str):
    """boto3/botocore errors -> FileNotFoundError (no such object) or StoreError, with ``raise from``."""
    from boto3.exceptions import Boto3Error  # S3UploadFailedError: the transfer manager's own
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code != "NoSuchBucket" and (code in ("404", "NoSuchKey", "NotFound") or status == 404):
            raise FileNotFoundError(what) from exc
        raise StoreError(f"object storage: {what}: {code or status}: "
                         f"{exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")) from exc
    except (BotoCoreError, Boto3Error) as exc:
        raise StoreError(f"object storage: {what}: {exc}") from exc


class S3Store:
    remote = True

    def __init__(self, client, bucket: str, prefix: str, root: Path, *, multipart_threshold: int = 64 << 20,
                 multipart_chunk: int = 16 << 20, verify_upload: bool = True):
        self.client, self.bucket, self.prefix, self.root = client, bucket, prefix, Path(root)
        self.multipart_threshold, self.multipart_chunk = multipart_threshold, multipart_chunk
        self.verify_upload = verify_upload
        self.env: dict[str, str] = {}

    @classmethod
    def from_settings(cls, storage: StorageSettings) -> "S3Store":
        import boto3
        from botocore.config import Config

        bucket, prefix = parse_url(storage.url or "")
        s3 = storage.s3
        kwargs = {k: v for k, v in (("endpoint_url", s3.endpoint_url), ("region_name", s3.region),
                                    ("aws_access_key_id", s3.access_key_id),
                                    ("aws_secret_access_key", s3.secret_access_key)) if v}
        config = Config(retries={"max_attempts": 5, "mode": "standard"},
                        s3={"addressing_style": s3.addressing_style}, max_pool_connections=32)
        client = boto3.session.Session().client("s3", config=config, **kwargs)
        store = cls(client, bucket, prefix, storage.root, multipart_threshold=s3.multipart_threshold,
                    multipart_chunk=s3.multipart_chunk, verify_upload=s3.verify_upload)
        env_names = {"endpoint_url": "AWS_ENDPOINT_URL_S3", "region_name": "AWS_DEFAULT_REGION",
                     "aws_access_key_id": "AWS_ACCESS_KEY_ID", "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY"}
        store.env = {env_names[k]: v for k, v in kwargs.items()}  # for a child process (replay's pywb)
        return store

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # ---- reading ----------------------------------------------------------------------------

    def open(self, key: str) -> "S3File":
        okey = self.object_key(key)
        with _translated(f"{self.url}/{key}"):
            head = self.client.head_object(Bucket=self.bucket, Key=okey)
        return S3File(self.client, self.bucket, okey, int(head["ContentLength"]), head.get("ETag", ""))

    def size(self, key: str) -> int | None:
        try:
            with _translated(f"{self.url}/{key}"):
                return int(self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))["ContentLength"])
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> Iterator[tuple[str, int, str]]:
        base = f"{self.prefix}/" if self.prefix else ""
        with _translated(f"listing {self.url}/{prefix}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base + prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    yield obj["Key"][len(base):], int(obj["Size"]), obj.get("ETag", "")

    # ---- writing ----------------------------------------------------------------------------

    def put_file(self, path: Path, key: str, *, sha256: str) -> None:
        from boto3.s3.transfer import TransferConfig

        okey = self.object_key(key)
        config = TransferConfig(multipart_threshold=self.multipart_threshold,
                                multipart_chunksize=self.multipart_chunk, use_threads=True, max_concurrency=4)
        with _translated(f"uploading {key} to {self.url}"):
            self.client.upload_file(str(path), self.bucket, okey, Config=config, ExtraArgs={
                "Metadata": {"sha256": sha256}, "ChecksumAlgorithm": "SHA256"})
        self._check_stored(key, Path(path).stat().st_size, sha256)

    def _check_stored(self, key: str, size: int, sha256: str) -> None:
        """The object is the file: its size, and (verify_upload) its bytes read back and hashed."""
        stored = self.size(key)
        if stored != size:
            raise StoreError(f"object storage: {key} is {stored} bytes after upload, the file is {size}")
        if not self.verify_upload:
            return
        h = hashlib.sha256()
        with self.open(key) as fh:
            while buf := fh.read(1 << 20):
                h.update(buf)
        if h.hexdigest() != sha256:
            raise StoreError(f"object storage: {key} read back with sha256 {h.hexdigest()}, the file has {sha256}")

    def put_bytes(self, key: str, data: bytes) -> None:
        with _translated(f"writing {key} to {self.url}"):
            self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data)

    def delete(self, key: str) -> None:
        with _translated(f"deleting {key} from {self.url}"):
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))


class S3File(io.RawIOBase):
    """A read-only, seekable view of one object: each read is served from a streamed ranged GET.

    ``expect(n)``: the caller will read about ``n`` bytes from here (a record's length), so the next
    GET asks for exactly those; otherwise windows from FIRST_WINDOW bytes, doubling up to MAX_WINDOW.
    A seek back by at most KEEP bytes (a reader peeking at a gzip header, then starting over) is
    served from the bytes just read, not by a new GET. ``IfMatch`` holds every GET to the ETag seen
    when the file was opened: an object replaced meanwhile fails the read instead of mixing versions."""

    KEEP = 4096

    def __init__(self, client, bucket: str, key: str, size: int, etag: str = ""):
        super().__init__()
        self.client, self.bucket, self.key, self.length, self.etag = client, bucket, key, size, etag
        self.pos = 0
        self._body = None
        self._body_pos = 0  # object offset of the body's next byte
        self._body_end = 0  # where the current GET's bytes end
        self._recent = b""  # the last bytes taken from the body (ending at _body_pos)
        self._pending = b""  # bytes from _recent to serve again after a short seek back
        self._want = 0
        self._window = FIRST_WINDOW

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        new = {io.SEEK_SET: offset, io.SEEK_CUR: self.pos + offset, io.SEEK_END: self.length + offset}[whence]
        if new < 0:
            raise ValueError("negative seek position")
        if new == self.pos:
            return self.pos
        back = self._body_pos - new
        if self._body is not None and 0 <= back <= len(self._recent):
            self._pending = self._recent[len(self._recent) - back:] if back else b""
        else:
            self._drop()
            self._window = FIRST_WINDOW
        self.pos = new
        return self.pos

    def expect(self, n: int) -> None:
        self._want = max(int(n), 1)

    def _drop(self) -> None:
        self._pending = self._recent = b""
        if self._body is not None:
            self._body.close()  # an unread rest of a window: the connection is closed, nothing is read
            self._body = None

    def _open_window(self) -> None:
        if self._want:
            want, self._want = self._want, 0
        else:
            want, self._window = self._window, min(self._window * 2, MAX_WINDOW)
        end = min(self.length, self.pos + max(want, MIN_WINDOW))
        with _translated(f"reading {self.key}"):
            res = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={self.pos}-{end - 1}",
                                         **({"IfMatch": self.etag} if self.etag else {}))
        self._body, self._body_pos, self._body_end = res["Body"], self.pos, end

    def read(self, n: int = -1) -> bytes:
        if self.pos >= self.length:
            return b""
        if n is None or n < 0:
            n = self.length - self.pos
        out = bytearray()
        if self._pending:
            out += self._pending[:n]
            self._pending = self._pending[n:]
            self.pos += len(out)
        while len(out) < n and self.pos < self.length:
            if self._body is None or self._body_pos >= self._body_end:
                self._drop()
                self._open_window()
            with _translated(f"reading {self.key}"):
                data = self._body.read(min(n - len(out), self._body_end - self._body_pos))
            if not data:
                raise StoreError(f"object storage: {self.key} ended at {self.pos} of {self.length} bytes")
            out += data
            self.pos += len(data)
            self._body_pos += len(data)
            self._recent = (self._recent + data)[-self.KEEP:]
        return bytes(out)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._drop()
        super().close()

"""Replay through pywb on a second origin: the index it reads, its config, and its process.

pywb monkey-patches the whole interpreter with gevent when its apps are imported,
so it runs in a child process (``archiver.web.replay_server``) and this module,
imported by the interface, never imports ``pywb.apps``.

The index is one CDXJ file per WARC file under ``<storage.root>/pywb/indexes/``,
rebuilt only when that WARC file's size or mtime changed; pywb merges the
directory on every lookup, so new captures become replayable without a restart.
Filenames in the index are relative to ``storage.root``: WARC files are reached
only through the index, never through a path in a request.

A script's POST (recorded by the browser capture with its body) is indexed under its method and
body, cdxj-indexer's ``post_append`` convention, so that pywb answers the replayed page's POST with it.

With object storage (``storage.url``), WARC files in the store are indexed too, each
streamed once through the indexer by ranged GETs (its part rebuilt when its ETag or size
changes), and pywb's ``archive_paths`` lists the spool folder, then ``s3://bucket/prefix/``:
pywb's own S3 loader (boto3) reads each record with a ranged GET, nothing held whole. The
child process gets the endpoint and credentials in its environment (boto3's ``AWS_*``
variables), never on its command line.

A response recovered from another archive (capture/fallback.py: ``WARC-Source-URI`` names
the memento) is indexed at the archive's memento datetime, read from its metadata record,
not at its WARC-Date (when we copied it): replay then answers with the date the original
resource had that state, and the interface's links (made from ``captured_at``, the same
date) name it exactly.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
import os
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import yaml

from ..resolve.cdx import datetime_to_ts

COLLECTION = "web"  # so URI-Ms read /web/<ts>/<url>, like the Wayback Machine
WARC_SUFFIXES = (".warc.gz", ".warc")
SKIP_DIRS = {"pywb", "exports", "uploads"}
INDEX_FORMAT = 3  # bumped when what a part holds changes, so that parts written before are rebuilt


def pywb_dir(storage_root: Path) -> Path:
    return Path(storage_root) / "pywb"


def index_dir(storage_root: Path) -> Path:
    return pywb_dir(storage_root) / "indexes"


def find_warcs(storage_root: Path) -> list[Path]:
    """Every WARC file under the storage root (not in exports, uploads or our own index folder)."""
    root = Path(storage_root)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        out.extend(Path(dirpath) / f for f in filenames if f.endswith(WARC_SUFFIXES))
    return sorted(out)


def _part_name(rel: str) -> str:
    return hashlib.sha256(rel.encode()).hexdigest()[:24] + ".cdxj"


def _indexer_class():
    from cdxj_indexer.main import CDXJIndexer
    from warcio.timeutils import iso_date_to_timestamp

    class Indexer(CDXJIndexer):
        """cdxj-indexer, with recovered responses keyed at their memento datetime (module doc) and
        without metadata records (cdxj-indexer lists a PEM chain as a capture of the page it secured)."""

        def process_one(self, input_, output, filename):
            self._dates, self._held, self._record = {}, [], None
            super().process_one(input_, output, filename)
            for rid, urlkey, ts, index in self._held:  # their metadata records have been read by now
                super()._do_write(urlkey, self._dates.get(rid, ts), index, output)

        def filter_record(self, record):
            h = record.rec_headers
            if record.rec_type != "metadata":
                return super().filter_record(record)
            if h.get_header("WARC-Refers-To") and h.get_header("Content-Type") == "application/warc-fields":
                buffered = getattr(record, "buffered_stream", None)  # post_append read it into this already
                if buffered is not None:
                    buffered.seek(0)
                block = (buffered or record.content_stream()).read(1 << 16)
                for line in block.decode("utf-8", "replace").splitlines():
                    name, _, value = line.partition(":")
                    if name == "memento-datetime" and value.strip():
                        self._dates[h.get_header("WARC-Refers-To")] = iso_date_to_timestamp(value.strip())
            return False  # metadata (provenance, a TLS chain) is not a capture to replay

        def _write_line(self, out, index, record, filename):
            self._record = record
            super()._write_line(out, index, record, filename)

        def _do_write(self, urlkey, ts, index, out):
            h = self._record.rec_headers if self._record is not None else None
            if h is not None and self._record.rec_type == "response" and h.get_header("WARC-Source-URI"):
                self._held.append((h.get_header("WARC-Record-ID"), urlkey, ts, index))
                return
            super()._do_write(urlkey, ts, index, out)

    return Indexer


def refresh_index(storage_root: Path, store=None) -> int:
    """Bring the per-WARC CDXJ parts up to date; return how many parts were (re)built.

    ``store``: the object store (archiver.store) whose ``warcs/`` objects are indexed as well."""
    CDXJIndexer = _indexer_class()

    root = Path(storage_root).resolve()
    idx = index_dir(root)
    idx.mkdir(parents=True, exist_ok=True)
    state_path = idx / "state.json"
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = {}
    new_state, rebuilt = {}, 0
    for warc in find_warcs(root):
        rel = warc.relative_to(root).as_posix()
        st = warc.stat()
        rebuilt += _index_part(CDXJIndexer, idx, rel, [st.st_size, st.st_mtime_ns, INDEX_FORMAT], state, new_state,
                               lambda: nullcontext(str(warc)), dir_root=str(root))
    if store is not None and store.remote:
        # the object store's WARC files that the spool does not hold (a kept spool copy was indexed
        # above: the same bytes), each streamed once through the indexer by ranged GETs
        for key, size, etag in store.list("warcs/"):
            if key.endswith(WARC_SUFFIXES) and key not in new_state:
                rebuilt += _index_part(CDXJIndexer, idx, key, [size, etag, INDEX_FORMAT], state, new_state,
                                       lambda key=key: store.open(key), filename=key)
    wanted = {_part_name(r) for r in new_state}
    for stale in idx.glob("*.cdxj"):
        if stale.name not in wanted:
            stale.unlink(missing_ok=True)
    state_path.write_text(json.dumps(new_state))
    return rebuilt


def _index_part(CDXJIndexer, idx: Path, name: str, sig: list, state: dict, new_state: dict, source,
                **indexer_args) -> int:
    """(Re)build one WARC file's CDXJ part unless ``sig`` says it is current; 1 when rebuilt.

    ``source()`` gives a context manager yielding the indexer's input (a path, or an open object).
    post_append: a POST's answer is keyed with its method and body (``__wb_method=post&...``, from
    its request record), as pywb looks a replayed page's POST up; GETs keep their keys."""
    part = idx / _part_name(name)
    if state.get(name) == sig and part.exists():
        new_state[name] = sig
        return 0
    tmp = part.with_suffix(".tmp")
    try:
        with source() as src, open(tmp, "wt", encoding="utf-8") as out:
            CDXJIndexer(output=out, inputs=[src], sort=True, post_append=True, **indexer_args).process_all()
    except Exception:  # a WARC being written may end in a torn record, an object may not read: next time
        tmp.unlink(missing_ok=True)
        return 0
    os.replace(tmp, part)
    new_state[name] = sig
    return 1


def store_env(store) -> dict[str, str]:
    """The environment the replay process needs for the object store: its url, and the endpoint and
    credentials set in config as boto3's ``AWS_*`` variables (pywb's S3 loader reads only those;
    unset ones are inherited from ours)."""
    if store is None or not store.remote:
        return {}
    return {"ARCHIVER_REPLAY_STORE": store.url, **getattr(store, "env", {})}


def store_from_env(root: Path, env=os.environ):
    """The object store the replay process was started with (``store_env``), or None."""
    url = env.get("ARCHIVER_REPLAY_STORE")
    if not url:
        return None
    from ..config import StorageSettings
    from ..store import open_store

    return open_store(StorageSettings(root=root, url=url))  # endpoint and credentials: boto3's AWS_* variables


def pywb_config(storage_root: Path, store=None) -> dict:
    root = Path(storage_root).resolve()
    archive_paths = [str(root) + "/"]
    if store is not None and store.remote:  # the spool first (files being written, or kept), then the store
        archive_paths.append(store.url + "/")
    return {
        "debug": False,
        "collections": {COLLECTION: {"index_paths": str(index_dir(root)) + "/",
                                     "archive_paths": archive_paths}},
        "enable_memento": True,
        "redirect_to_exact": True,  # a TimeGate answers 302 to the closest memento, as the Wayback Machine does
        "framed_replay": True,
        "enable_http_proxy": False,
        "csp-header": "",  # ours instead, on every answer (web/replay_policy.py)
    }


def write_pywb_config(storage_root: Path, store=None) -> Path:
    path = pywb_dir(storage_root) / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(pywb_config(storage_root, store)), encoding="utf-8")
    return path


# ---- URLs ------------------------------------------------------------------------------------

def replay_url(origin: str, captured_at: datetime, url: str, mod: str = "mp_") -> str:
    """URI-M of a capture on the replay origin; ``mp_`` is the page without pywb's frame."""
    return f"{origin.rstrip('/')}/{COLLECTION}/{datetime_to_ts(captured_at)}{mod}/{quote(url, safe=':/?#[]@!$&()*+,;=%~')}"


# ---- process ---------------------------------------------------------------------------------

class ReplayServer:
    """pywb (and our CDX endpoint) in a child process on a socket we bind here, under ``access`` (the
    interface's rules: web/access.py). ``ui_origin`` may hold ``{host}``: the Host the browser used."""

    def __init__(self, storage_root: Path, host: str = "127.0.0.1", port: int = 0, ui_origin: str = "",
                 access=None, store=None):
        from .access import Access

        self.store = store  # archiver.store: with object storage, WARC files are read there too
        self.access = access or Access.open(host)
        self.storage_root = Path(storage_root).resolve()
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.ui_origin = ui_origin
        self.proc: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 60.0) -> "ReplayServer":
        self.storage_root.mkdir(parents=True, exist_ok=True)
        refresh_index(self.storage_root, self.store)
        config = write_pywb_config(self.storage_root, self.store)
        from .access import ENV

        env = {k: v for k, v in os.environ.items() if not k.startswith("PYWB_")}
        env.update(store_env(self.store))
        env[ENV] = self.access.to_env()  # tokens as digests and the signing key: in the environment, not argv
        fd = self.sock.fileno()
        log = open(config.parent / "replay.log", "ab")  # pywb talks on stdout; keep it out of ours
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "archiver.web.replay_server", "--root", str(self.storage_root),
             "--config", str(config), "--fd", str(fd), "--ui-origin", self.ui_origin],
            pass_fds=[fd], cwd=str(config.parent), env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=log)
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replay server exited with code {self.proc.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as s:
                    s.sendall(b"GET /_ready HTTP/1.0\r\n\r\n")
                    if b" 200 " in s.recv(64):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("replay server did not start in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

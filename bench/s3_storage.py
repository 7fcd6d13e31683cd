"""Object storage against moto's S3 server on 127.0.0.1 (in a process of its own, so that the peak
memory printed is archiver's alone): what finishing a WARC file costs (multipart upload, read back
and hashed), what reading one record of it costs (ranged GETs), and our peak memory meanwhile.
moto answers a ranged GET by slicing the whole object it holds, so the read times here grow with the
object; a real S3 or MinIO does not. Run: python bench/s3_storage.py [MiB ...] (default 64 256)."""
from __future__ import annotations

import io
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.capture.read import open_payload  # noqa: E402
from archiver.capture.warcfile import WarcSink  # noqa: E402
from archiver.config import Settings  # noqa: E402
from archiver.store import open_store  # noqa: E402
from tests.servers import s3  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(server, mib: int, tmp: Path) -> None:
    bucket = server.new_bucket()
    settings = Settings.model_validate({"storage": {"root": str(tmp / f"spool{mib}"), "warc_max_bytes": 1 << 40,
                                                    **server.storage(bucket)}})
    chunk = os.urandom(1 << 20)
    with WarcSink(settings) as sink:
        b = sink.builder
        for i in range(mib):  # 1 MiB incompressible records
            refs = sink.write_records([b.create_warc_record(f"urn:bench:{i}", "resource", payload=io.BytesIO(chunk),
                                                            warc_content_type="application/octet-stream")])
        before = peak_mib()
        t = time.perf_counter()
    finish = time.perf_counter() - t  # close(): finish + upload + read back + hash
    store = open_store(settings.storage)
    t = time.perf_counter()
    _h, stream = open_payload(store, refs[0].warc_file, refs[0].offset)
    with stream:
        n = len(stream.read())
    read = time.perf_counter() - t
    print(f"{mib:5d} MiB file: finish+upload+check {finish:6.2f} s ({mib / finish:6.1f} MiB/s), "
          f"one {n >> 10} KiB record by range {read * 1000:6.1f} ms; peak RSS {before:.0f} -> {peak_mib():.0f} MiB")


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [64, 256]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        handle = s3.S3Server(f"http://127.0.0.1:{port}")
        for _ in range(100):
            try:
                handle.client().list_buckets()
                break
            except Exception:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as d:
            for mib in sizes:
                one(handle, mib, Path(d))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

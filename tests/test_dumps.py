"""URLTeam dumps: formats, compression, keys, idempotent import, lookup, use as a resolution source."""
from __future__ import annotations

import gzip
import io
import lzma
import zipfile

import pytest
from sqlalchemy import func, select

from archiver.config import load_settings
from archiver.db.tables import DumpEntry, DumpSource
from archiver.model import Outcome
from archiver.resolve import dumps
from archiver.resolve.dumps import import_dump, lookup, short_key
from archiver.resolve.sources import resolve_from_archives
from tests.conftest import write_config

BEACON = (b"#FORMAT: BEACON\n#PREFIX: https://goo.gl/\n#HOMEPAGE: http://urlte.am/\n"
          b"#TIMESTAMP: 2024-08-20T12:00:00.123456\n\n"
          b"mMTrEZ|https://example.org/report.pdf\n"
          b"wMfTXZ|https://example.org/a\n"
          b"wMfTXZ|https://example.org/b\n"
          b"lat1n|https://example.org/caf\xe9\n"
          b"not a mapping line\n")
FULL_KEYS = (b"https://goo.gl/khnHU9?si=1|https://example.org/khn\n"
             b"https://goo.gl/D1bhWt?si=1|https://example.org/d1b\n"
             b"http://www.goo.gl/uZMcW7|https://example.org/uzm\n")


def _zip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("googl/googl.meta.json.xz", lzma.compress(b"{}"))
        zf.writestr("googl/0/%6D.txt.xz", lzma.compress(data))  # members are xz themselves
    return buf.getvalue()


def test_short_key():
    assert short_key("https://goo.gl/mMTrEZ") == "goo.gl/mMTrEZ"
    assert short_key("HTTP://WWW.Goo.gl/mMTrEZ?si=1") == "goo.gl/mMTrEZ"
    assert short_key("goo.gl/mMTrEZ?d=1") == "goo.gl/mMTrEZ"
    assert short_key("https://bit.ly/x?a=b") == "bit.ly/x?a=b"


@pytest.mark.parametrize("wrap,suffix", [(lambda b: b, ".txt"), (lzma.compress, ".txt.xz"),
                                         (gzip.compress, ".gz"), (_zip, ".zip"),
                                         (lzma.compress, ".bin")])  # detected by magic, not name
def test_beacon_formats(tmp_path, Session, wrap, suffix):
    p = tmp_path / f"dump{suffix}"
    p.write_bytes(wrap(BEACON))
    r = import_dump(Session, p, name="urlteam-2024")
    assert (r.entries, r.skipped_lines, r.already) == (4, 1, False)
    with Session() as s:
        assert [h.target for h in lookup(s, "https://goo.gl/mMTrEZ")] == ["https://example.org/report.pdf"]
        assert [h.target for h in lookup(s, "http://goo.gl/wMfTXZ")] == ["https://example.org/a", "https://example.org/b"]
        assert lookup(s, "https://goo.gl/mmtrez") == []  # case-sensitive
        assert lookup(s, "https://goo.gl/lat1n")[0].target == "https://example.org/café"  # latin-1 line
        src = s.scalars(select(DumpSource)).one()
        assert src.prefix == "https://goo.gl/" and src.header["FORMAT"] == "BEACON"
    again = import_dump(Session, p)
    assert again.already and again.dump_id == r.dump_id
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(DumpEntry)) == 4


def test_full_url_keys_and_plain_codes_with_prefix(tmp_path, Session):
    p = tmp_path / "new.txt.xz"
    p.write_bytes(lzma.compress(FULL_KEYS))
    assert import_dump(Session, p).entries == 3
    plain = tmp_path / "bitly.txt"
    plain.write_bytes(b"bj6ufn|http://www.example.org/\n")
    import_dump(Session, plain, prefix="https://bit.ly/")
    bare = tmp_path / "bare.txt"
    bare.write_bytes(b"Zz9|http://example.org/z\n")
    import_dump(Session, bare)  # no #PREFIX, no --prefix: goo.gl assumed
    with Session() as s:
        assert lookup(s, "https://goo.gl/khnHU9")[0].target == "https://example.org/khn"
        assert lookup(s, "goo.gl/uZMcW7")[0].target == "https://example.org/uzm"
        assert lookup(s, "http://bit.ly/bj6ufn")[0].target == "http://www.example.org/"
        assert lookup(s, "https://goo.gl/Zz9")[0].target == "http://example.org/z"


def test_dump_as_resolution_source_imported_automatically(tmp_path, db_url):
    p = tmp_path / "auto.txt.gz"
    p.write_bytes(gzip.compress(BEACON))
    cfg = write_config(tmp_path, db_url, resolver={"dumps": [str(p)]})
    settings = load_settings(cfg, env={})
    from archiver.db import migrate
    from archiver.db.session import make_engine, make_sessionmaker
    eng = make_engine(settings)
    migrate.upgrade(eng)
    Session = make_sessionmaker(eng)
    try:
        res = resolve_from_archives("https://goo.gl/wMfTXZ", client=None, settings=settings, session_factory=Session)
        assert res.outcome is Outcome.RESOLVED and res.method == "dump" and res.source == "auto.txt.gz"
        assert res.final_url == "https://example.org/a"
        assert res.hops[0].kind == "dump" and "https://example.org/b" in res.hops[0].note
        assert resolve_from_archives("https://goo.gl/none", client=None, settings=settings,
                                     session_factory=Session) is None
        with Session() as s:
            assert s.scalar(select(func.count()).select_from(DumpSource)) == 1
    finally:
        eng.dispose()


def test_cli_import(tmp_path, cli):
    p = tmp_path / "cli.txt.xz"
    p.write_bytes(lzma.compress(BEACON))
    r = cli("dumps", "import", str(p), "--name", "team", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["entries"] == 4 and doc["name"] == "team" and doc["already_imported"] is False
    r = cli("dumps", "import", str(p), "--json")
    assert r.json()["already_imported"] is True and r.json()["entries"] == 4
    r = cli("dumps", "import", str(tmp_path / "missing.txt"))
    assert r.code == 2 and "not found" in r.err and len(r.err.strip().splitlines()) == 1
    bad = tmp_path / "bad.xz"
    bad.write_bytes(b"\xfd7zXZ\x00garbage")
    r = cli("dumps", "import", str(bad))
    assert r.code == 2 and "cannot read dump" in r.err


def test_batches_stream(tmp_path, Session, monkeypatch):
    monkeypatch.setattr(dumps, "BATCH", 7)
    p = tmp_path / "many.txt"
    p.write_bytes(b"".join(b"c%d|http://example.org/%d\n" % (i, i) for i in range(100)))
    seen = []
    r = import_dump(Session, p, progress=seen.append)
    assert r.entries == 100 and seen[:3] == [7, 14, 21] and seen[-1] == 100

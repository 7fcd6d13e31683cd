"""One definition of every digest (archiver/digests.py), held against servers that send the same
body in every framing real servers use, and recomputed by readers we did not write."""
from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from archiver import digests
from archiver.export.records import read_record
from tests.independent import check_warc, h11_entity
from tests.servers.targets import capture_settings, recorder_for
from tests.servers.wire import Reply, WireServer, chunked, encode, response_head, split_at

BODY = (b"<!doctype html><html><head><title>Hearing minutes</title></head><body>"
        + b"<p>The commission heard the civil society report on access to information.</p>" * 40
        + b"</body></html>")


@pytest.fixture(scope="module")
def wire():
    with WireServer() as srv:
        yield srv


# ---- the pure definition ------------------------------------------------------------------------

@given(body=st.binary(max_size=3000), sizes=st.lists(st.integers(1, 400), min_size=1, max_size=8),
       cuts=st.lists(st.integers(0, 4000), max_size=12), ext=st.sampled_from([b"", b";a=1", b"; name=\"v\""]),
       trailers=st.sampled_from([b"", b"X-Checksum: abc\r\n", b"A: 1\r\nB: 2\r\n"]), upper=st.booleans())
def test_dechunker_agrees_with_h11_whatever_the_boundaries(body, sizes, cuts, ext, trailers, upper):
    framed = chunked(body, sizes, extension=ext, trailers=trailers, upper_hex=upper)
    d = digests.Dechunker()
    assert b"".join(d.feed(piece) for piece in split_at(framed, cuts)) == body
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert h11_entity(head + framed) == body  # an HTTP parser we did not write reads the same entity
    r = digests.digest_block(head + framed)
    assert r.sha256 == hashlib.sha256(body).hexdigest() and r.entity_length == len(body)
    assert r.payload["sha1"] == hashlib.sha1(framed).digest()  # as warcio and FastWARC read it
    assert r.block["sha1"] == hashlib.sha1(head + framed).digest()


@given(cuts=st.lists(st.integers(0, 200), max_size=20))
def test_block_digester_is_indifferent_to_how_bytes_arrive(cuts):
    block = b"HTTP/1.1 200 OK\nContent-Type: text/plain\nTransfer-Encoding: chunked\n\n5\r\nhello\r\n0\r\n\r\n"
    d = digests.BlockDigester()
    for piece in split_at(block, cuts):
        d.update(piece)
    r = d.result()
    assert r == digests.digest_block(block)
    assert r.head_length == block.index(b"\n\n") + 2  # bare-LF header block, as warcio reads it
    assert r.sha256 == hashlib.sha256(b"hello").hexdigest()


def test_malformed_framing_has_one_entity():
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    cases = {
        b"5\r\nhello\r\nzz\r\nrest": b"hellozz\r\nrest",  # size line not hex: the rest verbatim
        b"5\r\nhello world\r\n0\r\n\r\n": b"hello world\r\n0\r\n\r\n",  # data longer than its size
        b"5\r\nhel": b"hel",  # cut short
        b"0\r\n\r\nafter": b"",  # nothing after the last chunk belongs to the body
    }
    for framed, entity in cases.items():
        assert digests.digest_block(head + framed).sha256 == hashlib.sha256(entity).hexdigest(), framed


def test_transfer_encoding_detection():
    assert digests.is_chunked(b"HTTP/1.1 200 OK\r\ntransfer-encoding:  Chunked\r\n\r\n")
    assert digests.is_chunked(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
    assert not digests.is_chunked(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
    assert not digests.is_chunked(b"HTTP/1.1 200 OK\r\nX-Transfer-Encoding: chunked\r\n\r\n")


# ---- the recorder, the stored record and readers we did not write --------------------------------

framings = st.fixed_dictionaries({
    "delimit": st.sampled_from(["chunked", "length", "close"]),
    "coding": st.sampled_from([None, "gzip", "br"]),
    "sizes": st.lists(st.integers(1, 700), min_size=1, max_size=6),
    "ext": st.sampled_from([b"", b";x=y"]),
    "trailers": st.sampled_from([b"", b"Server-Timing: db;dur=53\r\n"]),
    "cuts": st.lists(st.integers(0, 6000), max_size=10),
    "header_case": st.sampled_from(["Title", "lower", "UPPER"]),
    "length": st.integers(0, len(BODY)),
})


def _reply(f: dict) -> tuple[Reply, bytes]:
    """The reply a server would send for this framing, and the entity body it carries."""
    entity = encode(BODY[: f["length"]], f["coding"])
    names = {"Title": str, "lower": str.lower, "UPPER": str.upper}[f["header_case"]]
    headers = [(names("Content-Type"), "text/html; charset=utf-8")]
    if f["coding"]:
        headers.append((names("Content-Encoding"), f["coding"]))
    if f["delimit"] == "chunked":
        headers.append((names("Transfer-Encoding"), "chunked"))
        body = chunked(entity, f["sizes"], extension=f["ext"], trailers=f["trailers"])
    elif f["delimit"] == "length":
        headers.append((names("Content-Length"), str(len(entity))))
        body = entity
    else:
        headers.append((names("Connection"), "close"))
        body = entity
    wire_bytes = response_head("200 OK", headers) + body
    then = "close" if f["delimit"] == "close" else "keep"
    return Reply(split_at(wire_bytes, f["cuts"]), then=then), entity


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f=framings)
def test_every_framing_records_digests_every_reader_agrees_on(tmp_path_factory, wire, f):
    root = tmp_path_factory.mktemp("wire")
    reply, entity = _reply(f)
    url = wire.route(f"/p{id(f)}", reply)
    with recorder_for(capture_settings(root)) as (rec, sink):
        ex = rec.fetch(url)
    assert ex.status == 200 and not ex.truncated
    assert ex.sha256 == hashlib.sha256(entity).hexdigest() and ex.payload_length == len(entity)
    [path] = list((root / "warcs").glob("*.warc.gz"))
    with open(path, "rb") as fh:  # our verifier, on the stored record
        facts = read_record(fh, ex.warc.offset, ex.warc.length)
    assert facts.block_ok and facts.payload_ok and facts.sha256 == ex.sha256
    checked = {c.record_id: c for c in check_warc(path)}
    resp = checked[ex.warc.record_id]
    assert resp.ok, resp  # warcio and FastWARC recompute the same block and payload digests
    assert resp.entity_sha256 == ex.sha256  # h11's entity body is the one we hashed
    assert all(c.ok for c in checked.values())


def test_issue_shape_97_byte_chunks_with_10ms_pauses(tmp_path, wire):
    """The case that made `verify` call untouched captures tampered (issue 8 §1)."""
    framed = chunked(BODY, [97])
    head = response_head("200 OK", [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")])
    pieces = [head] + [framed[i:i + 104] for i in range(0, len(framed), 104)]
    url = wire.route("/slow-chunks", Reply(pieces, pause_s=0.01))
    with recorder_for(capture_settings(tmp_path)) as (rec, sink):
        ex = rec.fetch(url)
    assert ex.sha256 == hashlib.sha256(BODY).hexdigest()
    [path] = list((tmp_path / "warcs").glob("*.warc.gz"))
    with open(path, "rb") as fh:
        facts = read_record(fh, ex.warc.offset, ex.warc.length)
    assert facts.block_ok and facts.payload_ok and facts.sha256 == ex.sha256 == ex.warc.sha256
    assert all(c.ok for c in check_warc(path))


def test_revisit_only_when_the_payload_is_identical_under_every_reading(tmp_path, wire):
    head = response_head("200 OK", [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")])
    framings = iter([chunked(BODY, [97]), chunked(BODY, [97]), chunked(BODY, [500])])
    wire.route("/again", lambda path, req: Reply([head, next(framings)]))
    with recorder_for(capture_settings(tmp_path)) as (rec, sink):
        first, same, rechunked = (rec.fetch(wire.url("/again")) for _ in range(3))
    assert first.sha256 == same.sha256 == rechunked.sha256  # one entity
    assert same.warc.is_revisit and same.warc.revisit_of == first.warc.record_id
    # other chunk boundaries: warcio's payload digest differs, so this is not a revisit
    assert not rechunked.warc.is_revisit and rechunked.warc.payload_digest != first.warc.payload_digest
    [path] = list((tmp_path / "warcs").glob("*.warc.gz"))
    checked = check_warc(path)
    assert all(c.ok for c in checked)
    revisit = next(c for c in checked if c.rec_type == "revisit")
    assert revisit.record_id == same.warc.record_id


def test_interim_100_continue_is_not_the_response(tmp_path, wire):
    body = b"<html><body>the real answer</body></html>"
    url = wire.route("/continue", Reply([
        b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
        response_head("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]) + body]))
    with recorder_for(capture_settings(tmp_path)) as (rec, sink):
        ex = rec.fetch(url)
    assert ex.status == 200 and ex.warc.http_status == 200 and ex.body == body
    [path] = list((tmp_path / "warcs").glob("*.warc.gz"))
    checked = check_warc(path)
    assert [c.rec_type for c in checked] == ["warcinfo", "response", "request", "metadata"]
    assert all(c.ok for c in checked)
    assert checked[1].entity_sha256 == hashlib.sha256(body).hexdigest() == ex.sha256


# ---- the whole pipeline, as a user runs it ---------------------------------------------------------

def test_pipeline_store_with_chunked_captures_verifies_and_every_activity_exports(tmp_path, db_url, wire):
    """9 activities, 5 citing pages sent chunked in 97-byte chunks with pauses (issue 8 §1): right
    after `run`, `verify` finds nothing, and every activity exports and its package verifies."""
    from tests.conftest import run_cli, write_config

    head_c = response_head("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Transfer-Encoding", "chunked")])
    lines = []
    for i in range(9):
        body = BODY.replace(b"Hearing minutes", f"Hearing {i}".encode())
        if i % 2 == 0 or i == 7:  # 5 of 9 chunked, in several writes with pauses
            framed = chunked(body, [97 + i])
            reply = Reply([head_c] + [framed[j:j + 131] for j in range(0, len(framed), 131)], pause_s=0.002)
        else:
            reply = Reply([response_head("200 OK", [("Content-Type", "text/html"),
                                                    ("Content-Length", str(len(body)))]) + body])
        url = wire.route(f"/pipeline/{i}", reply)
        lines.append(f"- On {i + 1} March 2018 the ministry held hearing {i}: {url}\n")
    report = tmp_path / "report.md"
    report.write_text("".join(lines), encoding="utf-8")
    cfg = write_config(tmp_path, db_url, name="chunked.yaml", fetch={"soft404_probe": False})
    assert run_cli(["init"], cfg).code == 0
    assert run_cli(["ingest", str(report)], cfg).code == 0
    run = run_cli(["run", "--json"], cfg)
    assert run.code == 0, run.out + run.err
    assert run.json()["captured"] == 9
    v = run_cli(["verify", "--json"], cfg)
    assert v.code == 0 and v.json()["ok"] and v.json()["problems"] == [], v.out
    acts = run_cli(["activities", "--json"], cfg).json()
    ids = [a["id"] for a in (acts["activities"] if isinstance(acts, dict) else acts)]
    assert len(ids) == 9
    for aid in ids:
        out = tmp_path / f"a{aid}.wacz"
        e = run_cli(["export", "--activity", aid, "-o", out, "--json"], cfg)
        assert e.code == 0, e.err
        ve = run_cli(["verify-export", out, "--json"], cfg)
        assert ve.code == 0 and ve.json()["ok"], ve.out
    assert all(c.ok for p in (tmp_path / "storage" / "warcs").glob("*.warc.gz") for c in check_warc(p))

"""Recorder: request/response records as transmitted, digests, revisits, truncation, deadline."""
import base64
import gzip
import hashlib
import json
import subprocess
import sys

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.read import open_record
from archiver.errors import FetchRefused
from tests.servers.targets import CHUNKS, GZIP_HTML, capture_settings, page_html, recorder_for, serve


@pytest.fixture(scope="module")
def site():
    with serve() as s:
        yield s


def records(path):
    with open(path, "rb") as fh:
        out = []
        for rec in ArchiveIterator(fh, check_digests=True):
            raw = rec.raw_stream.read()
            out.append((rec.rec_type, rec.rec_headers, rec.http_headers, raw))
        return out


def warc_files(root):
    return sorted((root / "warcs").glob("*.warc.gz"))


def test_request_response_pair_and_digests(tmp_path, site):
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        ex = rec.fetch(site.url("/page.html"))
    assert ex.status == 200 and ex.body == page_html(None) and not ex.truncated
    assert ex.sha256 == hashlib.sha256(page_html(None)).hexdigest() == ex.warc.sha256
    assert ex.payload_length == len(page_html(None)) and ex.peer_ip == "127.0.0.1"
    [path] = warc_files(tmp_path)
    recs = records(path)
    assert [r[0] for r in recs] == ["warcinfo", "response", "request"]  # the request points back at its response
    info, resp, req = recs
    assert b"format: WARC File Format 1.1" in info[3] and b"warcio/" in info[3] and b"urllib3/" in info[3]
    config = json.loads(next(l for l in info[3].split(b"\r\n") if l.startswith(b"configuration: "))[15:])
    assert config["fetch"]["allow_private_addresses"] is True and "shorteners" in config["resolver"]
    assert req[1].get_header("WARC-Concurrent-To") == resp[1].get_header("WARC-Record-ID") == ex.warc.record_id
    assert req[1].get_header("WARC-Date") == resp[1].get_header("WARC-Date")
    assert resp[1].get_header("WARC-IP-Address") == "127.0.0.1"
    assert req[2].protocol == "GET"
    payload_digest = "sha1:" + base64.b32encode(hashlib.sha1(page_html(None)).digest()).decode()
    assert resp[1].get_header("WARC-Payload-Digest") == payload_digest == ex.warc.payload_digest
    assert resp[3] == page_html(None)
    # the reference points at the record: one seek
    r = open_record(tmp_path, ex.warc.warc_file, ex.warc.offset)
    assert r.rec_headers.get_header("WARC-Record-ID") == ex.warc.record_id
    # warcio's own checker agrees with every digest
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == 3


def test_chunked_and_gzip_recorded_as_transmitted(tmp_path, site):
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        chunked = rec.fetch(site.url("/chunked.html"))
        gz = rec.fetch(site.url("/gzip.html"))
    assert chunked.body == b"".join(CHUNKS) and chunked.sha256 == hashlib.sha256(b"".join(CHUNKS)).hexdigest()
    assert gz.body == GZIP_HTML.encode()  # decoded for the resolver
    by_uri = {r[1].get_header("WARC-Target-URI"): r for r in records(warc_files(tmp_path)[0]) if r[0] == "response"}
    framing = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in CHUNKS) + b"0\r\n\r\n"
    c = by_uri[site.url("/chunked.html")]
    assert c[2].get_header("Transfer-Encoding") == "chunked" and c[3] == framing  # socket bytes, framing kept
    g = by_uri[site.url("/gzip.html")]
    assert g[2].get_header("Content-Encoding") == "gzip" and gzip.decompress(g[3]).decode() == GZIP_HTML
    assert subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(warc_files(tmp_path)[0])]).returncode == 0


def test_headers_kept_in_received_order_and_case(tmp_path, site):
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        ex = rec.fetch(site.url("/404"))
    assert ex.status == 404  # error answers are recorded like any other
    with open(warc_files(tmp_path)[0], "rb") as fh:
        fh.seek(ex.warc.offset)
        member = gzip.GzipFile(fileobj=fh).read(4096)
    head = member.split(b"\r\n\r\n", 2)[1]
    assert head.startswith(b"HTTP/1.1 404 Not Found\r\nServer: ")
    assert head.index(b"Content-Type: text/html") < head.index(b"Content-Length: ")


def test_second_identical_capture_is_a_revisit(tmp_path, site):
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        first = rec.fetch(site.url("/page.html"))
        second = rec.fetch(site.url("/page.html"))
        other = rec.fetch(site.url("/final"))
    assert not first.warc.is_revisit and not other.warc.is_revisit
    assert second.warc.is_revisit and second.warc.revisit_of == first.warc.record_id
    assert second.sha256 == first.sha256 and second.body == first.body
    rev = [r for r in records(warc_files(tmp_path)[0]) if r[0] == "revisit"]
    assert len(rev) == 1
    h = rev[0][1]
    assert h.get_header("WARC-Profile") == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert h.get_header("WARC-Refers-To-Target-URI") == site.url("/page.html")
    assert h.get_header("WARC-Refers-To") == first.warc.record_id
    assert h.get_header("WARC-Payload-Digest") == first.warc.payload_digest
    assert rev[0][3] == b""  # headers only


def test_revisit_lookup_function_is_used(tmp_path, site):
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        first = rec.fetch(site.url("/final"))
    calls = []

    def lookup(url, sha256):
        calls.append((url, sha256))
        return first.warc if sha256 == first.sha256 else None

    from archiver.capture.recorder import Recorder
    with recorder_for(s) as (rec2, sink2):
        rec3 = Recorder(s, rec2.client, sink2, revisit_lookup=lookup)
        again = rec3.fetch(site.url("/final"))
    assert calls == [(site.url("/final"), first.sha256)] and again.warc.is_revisit


def test_max_bytes_truncates(tmp_path, site):
    s = capture_settings(tmp_path, max_bytes=10_000)
    with recorder_for(s) as (rec, sink):
        ex = rec.fetch(site.url("/big?bytes=200000"))
        exact = rec.fetch(site.url("/big?bytes=10000"))
    assert ex.truncated and ex.payload_length == 10_000 and ex.warc.truncated
    assert not exact.truncated and exact.payload_length == 10_000
    resp = {r[1].get_header("WARC-Record-ID"): r for r in records(warc_files(tmp_path)[0])}[ex.warc.record_id]
    assert resp[1].get_header("WARC-Truncated") == "length" and len(resp[3]) == 10_000
    assert ex.sha256 == hashlib.sha256(resp[3]).hexdigest()


def test_slow_drip_ended_by_total_deadline(tmp_path, site):
    s = capture_settings(tmp_path, total_timeout_s=0.7)
    with recorder_for(s) as (rec, sink):
        ex = rec.fetch(site.url("/slow?n=30&interval=0.2"))
    assert ex.truncated and 0 < ex.payload_length < 30 * 5
    resp = {r[1].get_header("WARC-Record-ID"): r for r in records(warc_files(tmp_path)[0])}[ex.warc.record_id]
    assert resp[1].get_header("WARC-Truncated") == "time" and resp[3] == ex.body and resp[3].startswith(b"drip\n")


def test_refused_fetch_writes_nothing(tmp_path, site):
    s = capture_settings(tmp_path, allow_private_addresses=False)
    with recorder_for(s) as (rec, sink):
        with pytest.raises(FetchRefused):
            rec.fetch(site.url("/page.html"))
    assert all(r[0] == "warcinfo" for f in warc_files(tmp_path) for r in records(f))


def test_cdxj_indexer_reads_our_warcs(tmp_path, site):
    s = capture_settings(tmp_path)
    with recorder_for(s) as (rec, sink):
        ex = rec.fetch(site.url("/page.html"))
        rec.fetch(site.url("/404"))
    out = subprocess.run(["cdxj-indexer", str(warc_files(tmp_path)[0])], capture_output=True, text=True, check=True)
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    docs = [json.loads(l.split(" ", 2)[2]) for l in lines]
    page = next(d for d in docs if d["url"] == site.url("/page.html") and d.get("status") == "200")
    assert int(page["offset"]) == ex.warc.offset and int(page["length"]) == ex.warc.length
    assert page["digest"] == ex.warc.payload_digest
    assert any(d.get("status") == "404" for d in docs)
    assert lines[0].startswith("1,0,0,127:")  # SURT key


def test_https_certificate_chain_in_metadata_record(tmp_path):
    from tests.servers.targets import self_signed_cert

    cert, key, der = self_signed_cert(str(tmp_path))
    s = capture_settings(tmp_path / "st", verify_tls=False)
    with serve(tls=(cert, key)) as tls_site:
        with recorder_for(s) as (rec, sink):
            ex = rec.fetch(tls_site.url("/final"))
    assert ex.status == 200 and ex.warc.url.startswith("https://")
    path = warc_files(tmp_path / "st")[0]
    recs = records(path)
    assert [r[0] for r in recs] == ["warcinfo", "response", "request", "metadata"]
    meta = recs[3]
    assert meta[1].get_header("WARC-Refers-To") == meta[1].get_header("WARC-Concurrent-To") == ex.warc.record_id
    assert meta[1].get_header("Content-Type") == "application/x-pem-file"
    pem = meta[3].decode()
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    body = "".join(pem.split("-----")[2].split())
    assert base64.b64decode(body) == der
    assert subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)]).returncode == 0


def test_https_verification_failure_is_a_fetch_error(tmp_path):
    from archiver.errors import FetchError
    from tests.servers.targets import self_signed_cert

    cert, key, _ = self_signed_cert(str(tmp_path))
    s = capture_settings(tmp_path / "st")  # verify_tls defaults to true
    with serve(tls=(cert, key)) as tls_site:
        with recorder_for(s) as (rec, sink):
            with pytest.raises(FetchError, match="TLS"):
                rec.fetch(tls_site.url("/final"))


def _chained_cert(folder):
    """A leaf signed by an intermediate signed by a root: (chain.pem with leaf+intermediate, key, [leaf, inter] DER)."""
    import datetime
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def make(cn, issuer_cn, issuer_key, ca, san=None):
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san))]), False)
        return key, b.sign(issuer_key or key, hashes.SHA256())

    root_key, _root = make("test root", "test root", None, True)
    inter_key, inter = make("test intermediate", "test root", root_key, True)
    leaf_key, leaf = make("127.0.0.1", "test intermediate", inter_key, False, san="127.0.0.1")
    chain, key = os.path.join(folder, "chain.pem"), os.path.join(folder, "leaf-key.pem")
    with open(chain, "wb") as fh:
        fh.write(leaf.public_bytes(serialization.Encoding.PEM) + inter.public_bytes(serialization.Encoding.PEM))
    with open(key, "wb") as fh:
        fh.write(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    return chain, key, [leaf.public_bytes(serialization.Encoding.DER), inter.public_bytes(serialization.Encoding.DER)]


def test_https_whole_certificate_chain_and_ip_are_recorded(tmp_path):
    chain, key, ders = _chained_cert(str(tmp_path))
    s = capture_settings(tmp_path / "st", verify_tls=False)
    with serve(tls=(chain, key)) as tls_site:
        with recorder_for(s) as (rec, sink):
            ex = rec.fetch(tls_site.url("/final"))
    assert ex.warc.ip_address == "127.0.0.1"
    recs = records(warc_files(tmp_path / "st")[0])
    response = [r for r in recs if r[0] == "response"][0]
    assert response[1].get_header("WARC-IP-Address") == "127.0.0.1"
    pem = [r for r in recs if r[0] == "metadata"][0][3].decode()
    blocks = ["".join(part.split()) for part in pem.split("-----")[2::4]]
    assert [base64.b64decode(b) for b in blocks] == ders  # leaf first, then the intermediate

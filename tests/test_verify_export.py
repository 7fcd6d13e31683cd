"""`archiver verify-export`: offline checks of a package, signed and unsigned, and tampering."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.conftest import write_config
from tests.evidence_fixtures import build_evidence


@pytest.fixture
def ev(cli, Session, settings):
    return build_evidence(Session, settings.storage.root)


def _key(tmp_path, name="key.pem"):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / name
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key, path


def _rewrite(src, dst, change):
    """Copy a zip, passing each member's bytes through change(name, data)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, change(info.filename, zin.read(info.filename)))
    return dst


def _kinds(cli, path):
    r = cli("verify-export", path, "--json")
    doc = r.json()
    assert r.code == (0 if doc["ok"] else 1)
    return {p["kind"] for p in doc["problems"]}


@pytest.fixture
def package(cli, ev, tmp_path):
    out = tmp_path / "out.wacz"
    assert cli("export", "--report", ev.report_id, "-o", out).code == 0
    return out


def test_tampered_warc_inside_the_zip(cli, package, tmp_path):
    def flip(name, data):
        if name != "archive/data.warc.gz":
            return data
        b = bytearray(data)
        b[len(b) // 2] ^= 0x01
        return bytes(b)

    bad = _rewrite(package, tmp_path / "bad.wacz", flip)  # a consistent zip around changed bytes
    kinds = _kinds(cli, bad)
    assert "resource_mismatch" in kinds and kinds & {"digest_mismatch", "unreadable_record"}
    r = cli("verify-export", bad)
    assert r.code == 1 and all(line.startswith("problem: ") for line in r.out.strip().splitlines())

    raw = bytearray(package.read_bytes())  # and the same flip straight into the .wacz file
    with zipfile.ZipFile(package) as zf:
        info = zf.getinfo("archive/data.warc.gz")
    raw[info.header_offset + 30 + len(info.filename) + info.file_size // 2] ^= 0x01
    (tmp_path / "raw.wacz").write_bytes(bytes(raw))
    assert _kinds(cli, tmp_path / "raw.wacz")


def test_tampered_metadata(cli, package, tmp_path):
    def edit_pages(name, data):
        return data + b'{"url": "http://evil.example/", "ts": "2026-01-01T00:00:00Z"}\n' \
            if name == "pages/pages.jsonl" else data

    assert _kinds(cli, _rewrite(package, tmp_path / "a.wacz", edit_pages)) == {"resource_mismatch"}

    def edit_package(name, data):
        if name != "datapackage.json":
            return data
        doc = json.loads(data)
        doc["title"] = "something else"
        return json.dumps(doc).encode()

    assert _kinds(cli, _rewrite(package, tmp_path / "b.wacz", edit_package)) == {"datapackage_digest_mismatch"}

    def edit_summary(name, data):
        return data.replace(b'"sha256": "a9c8', b'"sha256": "b9c8') if name == "evidence/summary.json" else data

    kinds = _kinds(cli, _rewrite(package, tmp_path / "c.wacz", edit_summary))
    assert "resource_mismatch" in kinds and "digest_mismatch" in kinds


def test_signed_export_verifies_and_a_wrong_signature_fails(cli, ev, tmp_path, db_url):
    key, key_path = _key(tmp_path)
    write_config(tmp_path, db_url, export={"signing_key": str(key_path)})
    out = tmp_path / "signed.wacz"
    r = cli("export", "--activity", ev.activity_ids[1], "-o", out, "--json")
    assert r.code == 0 and r.json()["signed"] is True, r.err
    with zipfile.ZipFile(out) as zf:
        digest = json.loads(zf.read("datapackage-digest.json"))
        created = json.loads(zf.read("datapackage.json"))["created"]
    sd = digest["signedData"]
    assert sd["hash"] == digest["hash"] and sd["created"] == created and sd["software"].startswith("archiver")
    pub = serialization.load_der_public_key(base64.b64decode(sd["publicKey"]))
    assert pub.public_numbers() == key.public_key().public_numbers()
    raw = base64.b64decode(sd["signature"])  # raw r||s, as WebCrypto verifies it
    assert len(raw) == 64
    pub.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
               sd["hash"].encode(), ec.ECDSA(hashes.SHA256()))
    r = cli("verify-export", out)
    assert r.code == 0 and "signature valid" in r.out
    v = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(out)], capture_output=True, text=True,
                       timeout=120)
    assert v.returncode == 0, v.stdout + v.stderr

    other, _ = _key(tmp_path, "other.pem")

    def resign(name, data):  # a signature by another key, under the original public key
        if name != "datapackage-digest.json":
            return data
        doc = json.loads(data)
        der = other.sign(doc["hash"].encode(), ec.ECDSA(hashes.SHA256()))
        doc["signedData"]["signature"] = base64.b64encode(der).decode()
        return json.dumps(doc).encode()

    assert _kinds(cli, _rewrite(out, tmp_path / "forged.wacz", resign)) == {"signature_invalid"}
    r = cli("verify-export", tmp_path / "forged.wacz")
    assert r.code == 1 and "signature does not verify" in r.out


def test_unusable_signing_key_is_one_line(cli, ev, tmp_path, db_url):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    write_config(tmp_path, db_url, export={"signing_key": str(bad)})
    r = cli("export", "--report", ev.report_id, "-o", tmp_path / "x.wacz")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "signing_key" in r.err


def test_not_a_package(cli, tmp_path):
    junk = tmp_path / "junk.wacz"
    junk.write_bytes(b"hello")
    r = cli("verify-export", junk)
    assert r.code == 1 and r.out.startswith("problem: unreadable_package")
    r = cli("verify-export", tmp_path / "missing.wacz")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    r = cli("verify-export", tmp_path)  # a folder
    assert r.code == 2 and "is a folder" in r.err and len(r.err.strip().splitlines()) == 1

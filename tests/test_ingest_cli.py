"""`archiver ingest` through the CLI: JSON, summary, exit codes, one-line errors, URLs."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import SAMPLE_REPORT, run_cli, write_config
from tests.data.make_reports import Item, make_docx, make_pdf


def _one_line(err: str) -> bool:
    lines = [l for l in err.splitlines() if l.strip()]
    return len(lines) == 1 and "Traceback" not in err


def test_ingest_json_then_unchanged(cli):
    r = cli("ingest", SAMPLE_REPORT, "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["ok"] is True
    [rep] = doc["reports"]
    assert (rep["status"], rep["activities"], rep["links"], rep["error"]) == ("ingested", 19, 20, None)
    assert isinstance(rep["report_id"], int) and rep["source"] == str(SAMPLE_REPORT)
    again = cli("ingest", SAMPLE_REPORT, "--json")
    assert again.code == 0 and again.json()["reports"][0]["status"] == "unchanged"
    assert again.json()["reports"][0]["report_id"] == rep["report_id"]


def test_terminal_summary(cli):
    r = cli("ingest", SAMPLE_REPORT)
    assert r.code == 0 and "1 ingested" in r.out and "19" in r.out and "20" in r.out
    r = cli("ingest", SAMPLE_REPORT)
    assert "unchanged" in r.out


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


BAD = {
    "missing": None,
    "empty.txt": b"",
    "junk.bin": bytes(range(256)) * 8,
    "notzip.docx": b"this is not a zip file at all",
    "corrupt.pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\nxref\nbroken\n",
    "encrypted.pdf": "ENCRYPTED",
    "folder": "DIR",
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, name):
    data = BAD[name]
    if data is None:
        path = tmp_path / "does-not-exist.txt"
    elif data == "DIR":
        path = tmp_path / "adir"
        path.mkdir()
    elif data == "ENCRYPTED":
        path = _write(tmp_path, name, make_pdf("T", "Intro " * 10, [Item("On 1 May 2018 x.", [])], encrypt="pw"))
    else:
        path = _write(tmp_path, name, data)
    r = cli("ingest", path)
    assert r.code == 2, (r.out, r.err)
    assert _one_line(r.err), r.err
    assert str(path) in r.err and r.err.count(path.name) == 1
    j = cli("ingest", path, "--json")
    assert j.code == 2 and j.json()["ok"] is False and j.json()["reports"][0]["status"] == "error"
    assert cli("reports", "--json").json()["reports"] == []  # nothing half-written


def test_partial_batch_exits_1(cli, tmp_path):
    good = _write(tmp_path, "good.docx", make_docx("T", "Intro " * 20, [Item("On 1 May 2018 x.", ["https://goo.gl/a"])]))
    r = cli("ingest", good, tmp_path / "missing.pdf", "--json")
    assert r.code == 1
    doc = r.json()
    assert [x["status"] for x in doc["reports"]] == ["ingested", "error"] and doc["ok"] is False
    assert "missing.pdf: file not found" in doc["reports"][1]["error"]
    assert _one_line(r.err)


def test_all_formats_in_one_batch(cli, tmp_path):
    from pathlib import Path
    data = Path(__file__).parent / "data"
    pdf = _write(tmp_path, "r.pdf", make_pdf("T", "Intro " * 20, [Item("On 1 May 2018 x.", ["https://goo.gl/p"])]))
    docx = _write(tmp_path, "r.docx", make_docx("T", "Intro " * 20, [Item("On 2 May 2018 y.", ["https://goo.gl/d"])]))
    r = cli("ingest", pdf, docx, data / "report.html", data / "report.md", data / "report-az.txt",
            data / "report-ru.txt", "--json")
    assert r.code == 0, r.err
    assert [x["format"] for x in r.json()["reports"]] == ["pdf", "docx", "html", "md", "txt", "txt"]


def test_uninitialised_database(tmp_path, db_url):
    cfg = write_config(tmp_path, db_url)
    r = run_cli(["ingest", str(SAMPLE_REPORT)], cfg)
    assert r.code == 2 and "archiver init" in r.err


# ---- by URL -------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/report.txt")
            self.end_headers()
            return
        if self.path != "/report.txt":
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *a):
        pass


@pytest.fixture
def report_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.body = SAMPLE_REPORT.read_bytes()
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_ingest_by_url_and_new_version(cli, report_server):
    server, base = report_server
    r = cli("ingest", base + "/moved", "--json")  # a redirect is followed hop by hop
    assert r.code == 0, r.err
    rep = r.json()["reports"][0]
    assert (rep["status"], rep["activities"], rep["links"]) == ("ingested", 19, 20)
    reports = cli("reports", "--json").json()["reports"]
    assert reports[0]["source"] == base + "/moved" and reports[0]["format"] == "txt"
    assert cli("ingest", base + "/moved", "--json").json()["reports"][0]["status"] == "unchanged"
    server.body = server.body + b"- On 9 August 2018, one more.\n"
    again = cli("ingest", base + "/moved", "--json").json()["reports"][0]
    assert again["status"] == "new_version" and again["previous_id"] == rep["report_id"]


def test_url_errors_are_one_line(cli, report_server):
    _, base = report_server
    r = cli("ingest", base + "/nothing-here")
    assert r.code == 2 and _one_line(r.err) and "404" in r.err
    r = cli("ingest", "ftp://example.org/report.txt")
    assert r.code == 2 and _one_line(r.err)


def test_loopback_refused_by_default(tmp_path, db_url, report_server):
    _, base = report_server
    cfg = write_config(tmp_path, db_url, fetch={"allow_private_addresses": False})
    assert run_cli(["init"], cfg).code == 0
    r = run_cli(["ingest", base + "/report.txt", "--json"], cfg)
    assert r.code == 2 and _one_line(r.err)
    assert r.json()["reports"][0]["status"] == "error"
    assert run_cli(["reports", "--json"], cfg).json()["reports"] == []

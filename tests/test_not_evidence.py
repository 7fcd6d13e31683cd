"""A 200 that is not the page: kept, marked not_evidence with the reason, and the pipeline looks further."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from archiver.db.tables import Target
from archiver.simweb import SimWeb
from tests.conftest import run_cli, write_config

HOME = b"<html><head><title>Acme news</title></head><body><h1>Welcome to Acme news</h1>" \
       b"<p>Latest stories and the weather for today.</p></body></html>"


class _SoftHandler(BaseHTTPRequestHandler):
    """Every path answers 200 with the home page: the classic soft 404."""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(HOME)))
        self.end_headers()
        self.wfile.write(HOME)

    def log_message(self, *a):
        pass


@pytest.fixture
def soft_site():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _SoftHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_soft_404_is_kept_marked_and_recovered_from_an_archive(tmp_path, db_url, soft_site, Session):
    cited = soft_site + "/2017/round-table-report.html"
    with SimWeb() as sim:
        sim.archive("20170710090000", cited, 200, "text/html",
                    body=b"<html><body><h1>Round-table report</h1><p>Budget transparency findings.</p></body></html>")
        cfg = write_config(tmp_path, db_url, resolver={"shorteners": sim.shortener_hosts, **sim.resolver_extra()})
        report = tmp_path / "r.txt"
        report.write_text(f"- On 10 July 2017 a round-table was held.\n  <{cited}>\n", encoding="utf-8")
        assert run_cli(["init"], cfg).code == 0
        assert run_cli(["ingest", str(report)], cfg).code == 0
        r = run_cli(["run", "--json"], cfg)
        assert r.code == 0, r.err
    with Session() as s:
        t = s.scalars(select(Target)).one()
        caps = {c.source: c for c in t.captures if c.role == "target"}
        assert caps["live"].not_evidence and "soft 404" in caps["live"].not_evidence_reason
        assert caps["live"].http_status == 200  # kept: it is what the link showed
        assert t.status == "captured" and t.watch_state == "recovered"
        assert caps["archive"].not_evidence is False and caps["archive"].archive_name == "simarchive"
        assert "soft 404" in t.status_reason

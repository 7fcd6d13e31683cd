"""Link watching: alive / changed / moved / dead / recovered, history, cadence."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from archiver import persist
from archiver.capture.recorder import Recorder
from archiver.capture.warcfile import WarcSink
from archiver.config import load_settings
from archiver.db.tables import Capture, LinkCheck, Target
from archiver.net.http import HttpClient
from archiver.resolve import ratelimit
from archiver.watch import recheck_due
from tests.conftest import write_config
from tests.servers.wayback import WaybackServer


class Site:
    """A site whose pages the test changes: path -> (status, headers, body)."""

    def __init__(self):
        self.pages: dict[str, tuple[int, list, bytes]] = {}
        self.hits: list[str] = []
        site = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                site.hits.append(self.path)
                status, headers, body = site.pages.get(self.path, (404, [], b"not found"))
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def page(self, path, text):
        body = f"<html><head><title>{text}</title></head><body><p>{text}</p></body></html>".encode()
        self.pages[path] = (200, [("Content-Type", "text/html")], body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


NOW = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)


def make_env(tmp_path, db_url, archives=(), mementos=()):
    cfg = write_config(tmp_path, db_url, resolver={"archives": list(archives), "mementos": list(mementos),
                                                   "archive_retry_after_s": 0})
    settings = load_settings(cfg, env={})
    from archiver.db import migrate
    from archiver.db.session import make_engine, make_sessionmaker
    eng = make_engine(settings)
    migrate.upgrade(eng)
    Session = make_sessionmaker(eng)
    client = HttpClient(settings.fetch)
    sink = WarcSink(settings, sessionmaker=Session)
    return settings, eng, Session, client, sink, Recorder(settings, client, sink)


def captured_target(Session, recorder, url, when):
    ex = recorder.fetch(url)
    with Session() as s:
        t = Target(url=url, url_hash=persist.url_hash(url), status="captured", stage="done", final_url=url,
                   next_check_at=when, watch_state="alive")
        s.add(t)
        s.flush()
        s.add(persist.capture_row(ex.warc, role="target", target_id=t.id, run_id=None))
        s.commit()
        return t.id


def test_states_and_history(tmp_path, db_url, site):
    ratelimit.reset()
    with WaybackServer("ia") as ia:
        settings, eng, Session, client, sink, rec = make_env(tmp_path, db_url, [ia.config("ia")])
        try:
            for p in ("/same", "/changes", "/moves", "/dies", "/gone-archived", "/later"):
                site.page(p, f"page {p}")
            ids = {p: captured_target(Session, rec, site.url(p), NOW - timedelta(hours=1))
                   for p in ("/same", "/changes", "/moves", "/dies", "/gone-archived")}
            later = captured_target(Session, rec, site.url("/later"), NOW + timedelta(days=3))
            site.page("/changes", "a different text now")
            site.pages["/moves"] = (301, [("Location", site.url("/elsewhere"))], b"")
            del site.pages["/dies"]
            site.pages["/gone-archived"] = (410, [], b"")
            ia.add(site.url("/gone-archived"), "20250101000000", 200, headers=[("Content-Type", "text/html")],
                   body=b"<html><body><p>the archived copy of the evidence</p></body></html>")

            counts = recheck_due(Session, recorder=rec, client=client, settings=settings, now=NOW)
            assert counts["checked"] == 5
            assert (counts["alive"], counts["changed"], counts["moved"], counts["dead"], counts["recovered"]) \
                == (1, 1, 1, 1, 1)
            with Session() as s:
                state = {p: s.get(Target, i).watch_state for p, i in ids.items()}
                assert state == {"/same": "alive", "/changes": "changed", "/moves": "moved", "/dies": "dead",
                                 "/gone-archived": "recovered"}
                dies = s.get(Target, ids["/dies"])
                assert dies.dead_since == NOW
                caps = s.scalars(select(Capture).where(Capture.target_id == ids["/changes"])
                                 .order_by(Capture.id)).all()
                assert len(caps) == 2 and caps[0].sha256 != caps[1].sha256  # the earlier capture is kept
                arch = s.scalars(select(Capture).where(Capture.target_id == ids["/gone-archived"],
                                                       Capture.source == "archive")).one()
                assert arch.archive_name == "ia" and arch.captured_at.year == 2025
                moved = s.scalars(select(LinkCheck).where(LinkCheck.target_id == ids["/moves"])).one()
                assert moved.final_url == site.url("/elsewhere") and moved.http_status == 301
                t = s.get(Target, ids["/same"])
                cadence = timedelta(days=settings.watch.recheck_days)
                assert NOW + cadence <= t.next_check_at < NOW + 2 * cadence
                assert s.get(Target, later).last_checked_at is None  # not due yet
                # spread: not every target on the same instant
                assert len({s.get(Target, i).next_check_at for i in ids.values()}) > 1

            # a second pass a day later: nothing due; then after the cadence, dead_since is kept
            assert recheck_due(Session, recorder=rec, client=client, settings=settings,
                               now=NOW + timedelta(days=1))["checked"] == 0
            counts = recheck_due(Session, recorder=rec, client=client, settings=settings,
                                 now=NOW + timedelta(days=30), limit=10)
            with Session() as s:
                assert s.get(Target, ids["/dies"]).dead_since == NOW
                checks = s.scalars(select(LinkCheck).where(LinkCheck.target_id == ids["/dies"])).all()
                assert [c.state for c in checks] == ["dead", "dead"]
        finally:
            sink.close()
            eng.dispose()


def test_transient_error_changes_nothing(tmp_path, db_url, site):
    settings, eng, Session, client, sink, rec = make_env(tmp_path, db_url)
    try:
        site.page("/p", "page")
        tid = captured_target(Session, rec, site.url("/p"), NOW - timedelta(hours=1))
        site.pages["/p"] = (503, [], b"down for maintenance")
        counts = recheck_due(Session, recorder=rec, client=client, settings=settings, now=NOW)
        assert counts["error"] == 1
        with Session() as s:
            t = s.get(Target, tid)
            assert t.watch_state == "alive" and t.dead_since is None and t.next_check_at > NOW
            assert s.scalars(select(LinkCheck)).one().state == "error"
    finally:
        sink.close()
        eng.dispose()


def test_changed_page_recaptured_with_requisites(tmp_path, db_url, site):
    settings, eng, Session, client, sink, rec = make_env(tmp_path, db_url)
    try:
        site.page("/illustrated", "first version")
        tid = captured_target(Session, rec, site.url("/illustrated"), NOW - timedelta(hours=1))
        site.pages["/illustrated"] = (200, [("Content-Type", "text/html")],
                                      b"<html><head><link rel=stylesheet href=/style.css></head><body>"
                                      b"<p>second version</p><img src=/chart.png></body></html>")
        site.pages["/chart.png"] = (200, [("Content-Type", "image/png")], b"\x89PNG chart")
        site.pages["/style.css"] = (200, [("Content-Type", "text/css")], b"body{background:url(bg.gif)}")
        site.pages["/bg.gif"] = (200, [("Content-Type", "image/gif")], b"GIF89a")
        counts = recheck_due(Session, recorder=rec, client=client, settings=settings, now=NOW)
        assert counts["changed"] == 1
        assert site.hits.count("/illustrated") == 2  # the first capture and the check: not fetched again
        with Session() as s:
            caps = s.scalars(select(Capture).where(Capture.target_id == tid, Capture.role == "target")
                             .order_by(Capture.id)).all()
            assert len(caps) == 2 and caps[0].sha256 != caps[1].sha256
            reqs = s.scalars(select(Capture).where(Capture.role == "requisite")).all()
            assert {r.url for r in reqs} == {site.url(p) for p in ("/chart.png", "/style.css", "/bg.gif")}
            assert all(r.parent_id == caps[1].id and r.target_id == tid and r.http_status == 200 for r in reqs)
            assert s.get(Target, tid).watch_state == "changed"
    finally:
        sink.close()
        eng.dispose()


def test_dead_recovered_through_a_memento_source(tmp_path, db_url, site):
    ratelimit.reset()
    with WaybackServer("ia") as ia:
        tm = {"name": "tm", "timemap_url": ia.config()["timemap_url"], "requests_per_s": 1000.0}
        settings, eng, Session, client, sink, rec = make_env(tmp_path, db_url, mementos=[tm])
        try:
            site.page("/gone", "page")
            tid = captured_target(Session, rec, site.url("/gone"), NOW - timedelta(hours=1))
            del site.pages["/gone"]
            ia.add(site.url("/gone"), "20250101000000", 200, headers=[("Content-Type", "text/html")],
                   body=b"<html><body><p>the archived copy of the evidence</p></body></html>")
            assert recheck_due(Session, recorder=rec, client=client, settings=settings, now=NOW)["recovered"] == 1
            with Session() as s:
                arch = s.scalars(select(Capture).where(Capture.target_id == tid, Capture.source == "archive")).one()
                assert arch.archive_name == "tm" and arch.memento_datetime.year == 2025
        finally:
            sink.close()
            eng.dispose()

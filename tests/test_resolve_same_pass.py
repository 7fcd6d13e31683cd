"""Issue 8 §2 at the stage level: every kind of live failure of a short link is followed in the
same pass by the archives; the shortener is asked again on later passes, a bounded number of
times; a target that cannot be reached at all is recovered from the archives in the same pass
and still tried live later, without losing the archive copy. §4: a code nobody resolved has no
resolution method."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from archiver import pipeline
from archiver.config import load_settings
from archiver.db import migrate
from archiver.db.base import utcnow
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import Attempt, Capture, Hop, Target
from archiver.ingest import ingest_source
from archiver.resolve.recheck import recheck_due, same_target
from archiver.simweb import SimWeb
from tests.conftest import write_config
from tests.servers.unreachable import Unreachable

PAGE = b"<html><body><h1>Minutes</h1><p>The round table on the budget heard twelve speakers from NGOs.</p></body></html>"


@pytest.fixture
def sim():
    with SimWeb() as web:
        yield web


@pytest.fixture
def world(tmp_path, db_url, sim):
    """make(extra_shorteners, **resolver) -> (settings, Session); engines disposed afterwards."""
    engines = []

    def make(extra_shorteners=(), **resolver):
        cfg = write_config(tmp_path, db_url, name="w.yaml",
                           resolver={"shorteners": [*sim.shortener_hosts, *extra_shorteners],
                                     **sim.resolver_extra(), **resolver},
                           fetch={"retry_base_s": 3600, "max_attempts": 3})
        settings = load_settings(cfg, env={})
        engine = make_engine(settings)
        migrate.upgrade(engine)
        engines.append(engine)
        return settings, make_sessionmaker(engine)

    yield make
    for e in engines:
        e.dispose()


def _run(settings, Session, **kw):
    """One pass, with rate-limit waits inside a resolution skipped (the sorry page's 2 s + 4 s)."""
    def tools(*a):
        return replace(pipeline.make_tools(*a), sleep=lambda s: None)
    return pipeline.run(settings, Session, tools_factory=tools, **kw)


def _report(tmp_path, Session, settings, urls):
    path = tmp_path / "r.txt"
    path.write_text("".join(f"- On {i + 1} May 2018 the Platform held meeting {i}.\n  <{u}>\n"
                            for i, u in enumerate(urls)), encoding="utf-8")
    ingest_source(Session, str(path), settings)


def _target(Session, url):
    with Session() as s:
        t = s.scalars(select(Target).where(Target.url == url)).one()
        s.expunge(t)
        return t


@pytest.mark.parametrize("failure", ["503", "429", "sorry", "loop", "no-redirect"])
def test_each_live_failure_goes_to_the_archives_in_the_same_pass(tmp_path, world, sim, failure):
    target = sim.site_url + "/reports/open-budget.html"
    extra = ()
    if failure == "sorry":
        short = sim.set_code("Sorry1", "live", target)
        sim.ratelimit(100)  # every goo.gl request is sent to Google's unusual-traffic page
    elif failure == "loop":
        short = sim.set_code("Loop1", "loop")
    elif failure == "no-redirect":  # a "shortener" page that answers 200 without sending anywhere
        short = sim.site_url + "/az/xeberler.html"
        extra = (sim.site_url.split("//", 1)[1],)
    else:
        short = sim.set_code(f"Down{failure}", failure)  # always failing, no Retry-After
    sim.archive("20170801000000", short, 301, "unk", location=target)
    settings, Session = world(extra)
    _report(tmp_path, Session, settings, [short])
    summary = _run(settings, Session)
    assert summary.failed == 0 and summary.resolved == 1
    t = _target(Session, short)
    assert (t.status, t.resolution_method, t.resolution_source) == ("captured", "archive", "simarchive")
    assert t.archived_target == target and t.final_url == target and t.memento_datetime.year == 2017
    assert t.live_retry_at is not None and t.attempts == 0 and not t.given_up
    with Session() as s:
        hops = sorted((h for h in s.scalars(select(Target).where(Target.id == t.id)).one().hops
                       if h.stage == "resolve"), key=lambda h: h.seq)
        assert hops[0].url == short and hops[0].capture_id is not None  # the live answer, in the WARC
        assert hops[-1].kind == "archive" and all(h.kind != "archive" for h in hops[:-1])

        attempt = s.scalars(select(Attempt).where(Attempt.target_id == t.id, Attempt.stage == "resolve")).one()
        assert attempt.outcome == "resolved" and "live: " in attempt.message


def test_a_code_the_shortener_says_is_dead_and_no_archive_knows_has_no_resolution_method(tmp_path, world, sim):
    dead = sim.set_code("Gone404", "deactivated")
    dead_archived = sim.set_code("Gone2", "deactivated")
    sim.archive("20170801000000", dead_archived, 301, "unk", location=sim.site_url + "/reports/open-budget.html")
    settings, Session = world()
    _report(tmp_path, Session, settings, [dead, dead_archived])
    _run(settings, Session)
    t = _target(Session, dead)
    assert t.status == "dead" and t.resolution_method is None and t.resolution_source is None
    t2 = _target(Session, dead_archived)
    assert t2.resolution_method == "archive" and t2.status == "captured"
    assert t2.live_retry_at is None  # the shortener did answer ("no such link"): nothing to re-try


def test_a_manual_override_answers_in_the_same_pass_when_goo_gl_does_not_resolve(tmp_path, world, sim):
    short = "https://goo.gl/Ovr1de"  # tests resolve no outside names: goo.gl fails as offline
    target = sim.site_url + "/reports/open-budget.html"
    csv = tmp_path / "overrides.csv"
    csv.write_text(f"short_url,target,note,who\n{short},{target},found in the ministry's files,A. Aliyev\n",
                   encoding="utf-8")
    settings, Session = world(("goo.gl",), overrides=str(csv))
    _report(tmp_path, Session, settings, [short])
    assert _run(settings, Session).failed == 0
    t = _target(Session, short)
    assert (t.resolution_method, t.resolution_source, t.archived_target) == ("manual", "overrides.csv", target)
    assert t.status == "captured" and t.live_retry_at is not None
    with Session() as s:
        kinds = [h.kind for h in sorted(s.scalars(select(Hop).where(Hop.target_id == t.id, Hop.stage == "resolve")),
                                        key=lambda h: h.seq)]
    assert kinds == ["error", "manual"]


def test_live_retries_are_bounded_and_doubling_then_the_answers_compared(tmp_path, world, sim):
    target = sim.site_url + "/reports/open-budget.html"
    with Unreachable("reset") as srv:
        short = f"{srv.base}/Abc123"
        sim.archive("20170801000000", short, 301, "unk", location=target)
        settings, Session = world((srv.host,), live_retries=2, live_retry_s=600)
        _report(tmp_path, Session, settings, [short])
        started = utcnow()
        _run(settings, Session)
        t = _target(Session, short)
        assert t.resolution_method == "archive" and t.live_retries == 0
        assert timedelta(seconds=590) < t.live_retry_at - started < timedelta(seconds=700)
        recorder = pipeline.make_tools(settings, Session, None).recorder
        try:
            assert recheck_due(Session, recorder=recorder, settings=settings)["failed"] == 0  # not due yet
            now = utcnow() + timedelta(seconds=601)
            assert recheck_due(Session, recorder=recorder, settings=settings, now=now)["failed"] == 1
            t = _target(Session, short)
            assert t.live_retries == 1 and timedelta(seconds=1190) < t.live_retry_at - now < timedelta(seconds=1210)
            assert "live re-try 1 of 2" in t.live_note
            now = t.live_retry_at
            assert recheck_due(Session, recorder=recorder, settings=settings, now=now)["failed"] == 1
            t = _target(Session, short)
            assert t.live_retries == 2 and t.live_retry_at is None and "no live re-try left" in t.live_note
            assert recheck_due(Session, recorder=recorder, settings=settings, now=now + timedelta(days=9))["failed"] == 0
            # re-armed by hand, the shortener back with the archive's target: they agree
            with Session() as s:
                s.execute(update(Target).values(live_retry_at=now, live_retries=1))
                s.commit()
            srv.mode, srv.targets = "redirect", {"Abc123": target.replace("http://", "HTTP://")}
            counts = recheck_due(Session, recorder=recorder, settings=settings, now=now)
            assert counts["agree"] == 1
            t = _target(Session, short)
            assert t.answers_agree is True and t.live_target.lower() == target.lower() and t.live_retry_at is None
            with Session() as s:  # every try is kept: the first pass, two failed re-tries, the answer
                assert sorted(set(s.scalars(select(Hop.attempt).where(Hop.target_id == t.id, Hop.stage == "resolve")))) \
                    == [1, 2, 3, 4]
        finally:
            recorder.sink.close()


def test_a_shortener_that_fails_a_live_retry_is_not_asked_again_in_that_pass(tmp_path, world, sim):
    target = sim.site_url + "/reports/open-budget.html"
    with Unreachable("stall", stall_s=5) as srv:
        shorts = [f"{srv.base}/Code{i}" for i in range(3)]
        for short in shorts:
            sim.archive("20170801000000", short, 301, "unk", location=target)
        settings, Session = world((srv.host,))
        settings = settings.model_copy(update={"fetch": settings.fetch.model_copy(update={"timeout_s": 0.5})})
        _report(tmp_path, Session, settings, shorts)
        _run(settings, Session)
        assert all(_target(Session, s).resolution_method == "archive" for s in shorts)
        before = srv.connections
        recorder = pipeline.make_tools(settings, Session, None).recorder
        try:
            counts = recheck_due(Session, recorder=recorder, settings=settings, now=utcnow() + timedelta(days=2))
        finally:
            recorder.sink.close()
        assert (counts["failed"], counts["skipped"]) == (1, 2)
        assert srv.connections - before == 1  # one timeout for the host, not one per link
        retries = sorted(_target(Session, s).live_retries for s in shorts)
        assert retries == [0, 0, 1]  # the skipped ones were not counted as tries


def test_an_unreachable_target_is_recovered_in_the_same_pass_and_tried_live_later(tmp_path, world, sim):
    with Unreachable("reset", pages={"minutes": PAGE}) as site:
        url = f"{site.base}/minutes"
        sim.archive("20170805120000", url, 200, "text/html", body=b"<html><body><h1>Minutes 2017</h1>"
                    b"<p>The round table on the budget heard eleven speakers from NGOs.</p></body></html>")
        settings, Session = world()
        _report(tmp_path, Session, settings, [url])
        first = _run(settings, Session)
        assert first.failed == 0 and first.captured == 1
        t = _target(Session, url)
        assert (t.status, t.watch_state) == ("captured", "recovered")
        assert "recovered from simarchive" in t.status_reason and "connection" in t.status_reason
        assert t.next_check_at - utcnow() < timedelta(seconds=3700)  # tried live again after the backoff
        # later the site answers again: the watch step captures it live, the archive copy stays
        site.mode = "redirect"
        with Session() as s:
            s.execute(update(Target).values(next_check_at=utcnow() - timedelta(seconds=1)))
            s.commit()
        second = _run(settings, Session)
        assert second.watch["changed"] == 1
        with Session() as s:
            caps = s.scalars(select(Capture).where(Capture.target_id == t.id, Capture.role == "target")).all()
            assert sorted((c.source, c.http_status) for c in caps) == [("archive", 200), ("live", 200)]


@pytest.mark.parametrize("a, b, same", [
    ("http://example.org/a", "https://www.example.org/a", True),
    ("HTTP://Example.org:80/a#x", "http://example.org/a", True),
    ("http://example.org/a", "http://example.org/A", False),
    ("http://example.org/a?x=1", "http://example.org/a", False),
    ("http://example.org/a", None, False),
])
def test_same_target(a, b, same):
    assert same_target(a, b) is same

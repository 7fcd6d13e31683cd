"""Issue 8 §2, done-when: the sample report with its shortener unreachable and an archive that
knows every code. Every link is resolved through the archive in the FIRST pass (`archiver run`
once), every target that is gone but archived is served by `archiver get` from the archive copy,
and the shortener is asked again later: both answers are kept and compared.

The sample (examples/ogp-azerbaijan-2016-2018.txt) cites 19 goo.gl codes and a plain link to
strateq.az. The shortener cannot be reached in five ways: a port nobody listens on, a name that
does not resolve (goo.gl itself: tests resolve no outside names), a server that resets the
connection, a TLS handshake failure, and a 15 s stall against a 1 s fetch timeout. A
Wayback-style archive (archiver.simweb) holds the 2017 redirect of every code. Of the targets,
a third are live on the simulated site, a third answer 404 today, a third are on hosts that no
longer resolve; the archive holds a 2017 copy of every gone one and of strateq.az.
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from contextlib import contextmanager
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select, update

from archiver.config import load_settings
from archiver.db.base import utcnow
from archiver.db.tables import Target
from archiver.simweb import SimWeb
from archiver.web.app import create_app
from tests.browser.servers import serve_app
from tests.conftest import SAMPLE_REPORT, run_cli, write_config
from tests.servers.shortener import closed_port_url
from tests.servers.unreachable import Unreachable

SAMPLE = SAMPLE_REPORT.read_text(encoding="utf-8")
CODES = list(dict.fromkeys(re.findall(r"https://goo\.gl/([0-9A-Za-z]+)", SAMPLE)))
STRATEQ = "http://strateq.az/layihe"
LIVE_ERRORS = {  # what the live hop's note says for each way of being unreachable
    "closed-port": r"connection failed",
    "no-dns": r"connection failed|resolve|Name or service not known",
    "reset": r"reset|aborted|connection failed",
    "tls": r"TLS",
    "stall": r"timeout",
}


def _page(code: str) -> bytes:
    return (f"<html><head><title>Round table {code}</title></head><body><h1>Round table {code}</h1>"
            f"<p>The Platform discussed the budget with state agencies and NGOs; the minutes of "
            f"meeting {code} list every participant and every proposal made.</p></body></html>").encode()


@contextmanager
def _shortener(mode: str):
    """(base URL of the unreachable shortener, its host for resolver.shorteners, the server or None)."""
    if mode == "closed-port":
        base = closed_port_url("").rstrip("/")
        yield base, base.split("//", 1)[1], None
    elif mode == "no-dns":
        yield "https://goo.gl", "goo.gl", None
    else:
        with Unreachable(mode, stall_s=15.0) as srv:
            yield srv.base, srv.host, srv


def _scenario(sim: SimWeb, base: str) -> dict[str, dict]:
    """The archive's 2017 answer for every code and copies of the gone targets; code -> fate."""
    site = sim.site_url
    fate = {}
    for i, code in enumerate(CODES):
        if i % 3 == 0:
            target, kind = f"{site}/reports/open-budget.html?c={code}", "live"
        elif i % 3 == 1:
            target, kind = f"{site}/gone/{code}", "gone-404"
        else:
            target, kind = f"http://{code.lower()}.gone.example/minutes", "gone-host"
        if kind != "live":
            sim.archive("20170805120000", target, 200, "text/html", body=_page(code))
        sim.archive("20170801000000", f"{base}/{code}", 301, "unk", location=target)
        fate[code] = {"target": target, "kind": kind, "short": f"{base}/{code}"}
    sim.archive("20170901000000", STRATEQ, 200, "text/html", body=_page("strateq"))
    return fate


def _config(tmp_path, db_url, sim, host, **fetch):
    return write_config(tmp_path, db_url, name="unreachable.yaml",
                        resolver={"shorteners": [host, *sim.shortener_hosts], **sim.resolver_extra()},
                        fetch={"politeness_delay_s": 0, "concurrency": 8, "per_host_concurrency": 8,
                               "retry_base_s": 3600, **fetch})


def _ingest(tmp_path, cfg, base):
    report = tmp_path / "ogp.txt"
    report.write_text(SAMPLE.replace("https://goo.gl", base), encoding="utf-8")
    assert run_cli(["init"], cfg).code == 0
    r = run_cli(["ingest", str(report), "--json"], cfg)
    assert r.code == 0, r.err


def _targets(cfg):
    from archiver.db.session import make_engine, make_sessionmaker

    engine = make_engine(load_settings(cfg, env={}))
    return engine, make_sessionmaker(engine)


@pytest.mark.parametrize("mode", ["closed-port", "no-dns", "reset", "tls", "stall"])
def test_every_link_resolved_through_the_archive_in_the_first_pass(tmp_path, db_url, mode):
    with SimWeb() as sim, _shortener(mode) as (base, host, srv):
        fate = _scenario(sim, base)
        cfg = _config(tmp_path, db_url, sim, host, timeout_s=1.0 if mode == "stall" else 5.0)
        _ingest(tmp_path, cfg, base)
        r = run_cli(["run", "--json"], cfg)  # ONE pass
        assert "Traceback" not in r.err, r.err
        summary = r.json()
        assert summary["failed"] == 0 and summary["resolved"] == 19, summary
        if srv is not None:
            assert srv.connections >= 19  # the shortener really was asked, live, first

        engine, Session = _targets(cfg)
        with Session() as s:
            by_url = {t.url: t for t in s.scalars(select(Target))}
            for code, f in fate.items():
                t = by_url[f["short"]]
                assert t.resolution_method == "archive" and t.resolution_source == "simarchive", (code, t.status_reason)
                assert t.archived_target == f["target"] and t.memento_url and t.memento_datetime.year == 2017
                assert t.live_target is None and t.answers_agree is None
                assert t.live_retry_at is not None and t.live_retry_at > utcnow() + timedelta(hours=12)
                resolve_hops = sorted((h for h in t.hops if h.stage == "resolve"), key=lambda h: h.seq)
                assert resolve_hops[0].kind == "error" and resolve_hops[0].url == f["short"]
                assert re.search(LIVE_ERRORS[mode], resolve_hops[0].note, re.I), resolve_hops[0].note
                assert [h.kind for h in resolve_hops[1:]] == ["archive"]  # the archive's answer, recorded
                assert t.status == "captured", (code, t.status, t.status_reason)
                caps = [c for c in t.captures if c.role == "target"]
                if f["kind"] == "live":
                    assert t.watch_state == "alive" and any(c.source == "live" and c.http_status == 200 for c in caps)
                else:
                    assert t.watch_state == "recovered"
                    assert any(c.source == "archive" and c.archive_name == "simarchive" for c in caps)
            strateq = by_url[STRATEQ]
            assert strateq.status == "captured" and strateq.watch_state == "recovered"
            assert "recovered from simarchive" in strateq.status_reason
        engine.dispose()

        # every target that is gone but archived: `archiver get` serves the archive copy
        for code, f in fate.items():
            if f["kind"] == "live":
                continue
            out = tmp_path / f"{code}.html"
            got = run_cli(["get", f["short"], "-o", out], cfg)
            assert got.code == 0, got.err
            assert out.read_bytes() == _page(code), code
            assert "evidence" in got.err and "simarchive" in got.err
            as_json = run_cli(["get", f["short"], "--json"], cfg)
            assert as_json.code == 0, as_json.err
            doc = as_json.json()
            assert doc["source"] == "archive" and doc["http_status"] == 200
            assert doc["chosen_because"].startswith("the newest capture that is evidence")
            assert hashlib.sha256(out.read_bytes()).hexdigest() == doc["sha256"]
        out = tmp_path / "strateq.html"
        assert run_cli(["get", STRATEQ, "-o", out], cfg).code == 0
        assert out.read_bytes() == _page("strateq")


def test_the_shortener_back_later_both_answers_kept_and_a_disagreement_flagged(tmp_path, db_url, settings):
    with SimWeb() as sim, Unreachable("reset") as srv:
        fate = _scenario(sim, srv.base)
        cfg = _config(tmp_path, db_url, sim, srv.host)
        _ingest(tmp_path, cfg, srv.base)
        first = run_cli(["run", "--json"], cfg).json()
        assert first["resolved"] == 19 and first["watch"]["live"] == {o: 0 for o in first["watch"]["live"]}

        # a day later the shortener answers again, with the archive's targets but one
        odd = CODES[3]
        srv.targets = {code: f["target"] for code, f in fate.items()}
        srv.targets[odd] = sim.site_url + "/reports/not-what-the-archive-said.html"
        srv.mode = "redirect"
        engine, Session = _targets(cfg)
        with Session() as s:
            s.execute(update(Target).where(Target.live_retry_at.is_not(None))
                      .values(live_retry_at=utcnow() - timedelta(minutes=1)))
            s.commit()
        second = run_cli(["run", "--json"], cfg)
        assert second.code == 0, second.err
        assert second.json()["watch"]["live"] == {"agree": 18, "disagree": 1, "dead": 0, "failed": 0, "refused": 0,
                                                  "skipped": 0}

        with Session() as s:
            t = s.scalars(select(Target).where(Target.url == fate[odd]["short"])).one()
            assert (t.archived_target, t.live_target, t.answers_agree) == (
                fate[odd]["target"], srv.targets[odd], False)
            assert t.resolution_method == "archive" and t.final_url.startswith(fate[odd]["target"].split("?")[0])
            assert t.live_retry_at is None
            attempts = {h.attempt: [(h.kind, h.status_code) for h in sorted(t.hops, key=lambda h: h.seq)
                                    if h.attempt == a and h.stage == "resolve"]
                        for a in (1, 2) for h in t.hops if h.attempt == a}
            assert attempts[1] == [("error", None), ("archive", 301)]  # the first pass's answer stays
            assert attempts[2] == [("redirect", 302)]  # the shortener's, later
        engine.dispose()

        acts = run_cli(["activities", "--json"], cfg).json()["activities"]
        act_of = {link["url"]: a["id"] for a in acts for link in a["links"]}
        shown = run_cli(["show", str(act_of[fate[odd]["short"]]), "--json"], cfg).json()
        link = next(l for l in shown["links"] if l["url"] == fate[odd]["short"])
        assert link["answers"] == "disagree" and link["answers_agree"] is False
        assert (link["archived_target"], link["live_target"]) == (fate[odd]["target"], srv.targets[odd])
        kinds = [(h["attempt"], h["kind"]) for h in link["hops"] if h["stage"] == "resolve"]
        assert kinds == [(1, "error"), (1, "archive"), (2, "redirect")]  # both answers' hops are shown
        text = run_cli(["show", str(act_of[fate[odd]["short"]])], cfg, env={"COLUMNS": "400"})
        assert "DISAGREE" in text.out and f"the shortener says {srv.targets[odd]}" in text.out
        agreeing = fate[CODES[0]]["short"]
        other = next(l for l in run_cli(["show", str(act_of[agreeing]), "--json"], cfg).json()["links"]
                     if l["url"] == agreeing)
        assert other["answers"] == "agree" and other["live_target"] == other["archived_target"]
        assert "AGREE" in run_cli(["show", str(act_of[agreeing])], cfg).out

        # the web UI's evidence page
        ui_settings = load_settings(cfg, env={})
        engine, Session = _targets(cfg)
        with serve_app(create_app(ui_settings, Session, replay_origin_url="http://127.0.0.1:9")) as ui:
            page = requests.get(f"{ui}/activities/{act_of[fate[odd]['short']]}", timeout=10).text
            assert 'class="answers disagree"' in page and srv.targets[odd] in page
            page = requests.get(f"{ui}/activities/{act_of[agreeing]}", timeout=10).text
            assert 'class="answers agree"' in page
        engine.dispose()

        # the export summary
        wacz = tmp_path / "odd.wacz"
        r = run_cli(["export", "--activity", str(act_of[fate[odd]["short"]]), "-o", wacz, "--json"], cfg)
        assert r.code == 0, r.err
        with zipfile.ZipFile(wacz) as z:
            doc = json.loads(z.read("evidence/summary.json"))
            html = z.read("evidence/summary.html").decode()
        exported = next(l for a in doc["activities"] for l in a["links"] if l["url_raw"] == fate[odd]["short"])
        assert exported["target"]["answers"] == "disagree"
        assert exported["target"]["live_target"] == srv.targets[odd]
        assert exported["target"]["archived_target"] == fate[odd]["target"]
        assert [(h["stage"], h["attempt"], h["kind"]) for h in exported["redirect_chain"]][:3] == [
            ("resolve", 1, "error"), ("resolve", 1, "archive"), ("resolve", 2, "redirect")]
        assert "The answers disagree." in html

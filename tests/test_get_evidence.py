"""Issue 8 §4: what an auditor gets is the evidence. A link whose target answers 404 today but
whose 2017 copy was recovered from an archive: `archiver get`, the web UI's snapshot and the
export summary all choose the archive copy (the newest capture that is evidence) and say why;
`--latest` gives the newest capture whatever it is, `--at` the closest, `--list` lists them all."""
from __future__ import annotations

import json
import re
import zipfile

import pytest
import requests

from archiver.config import load_settings
from archiver.db.session import make_engine, make_sessionmaker
from archiver.simweb import SimWeb
from archiver.simweb_pages import NOT_FOUND_HTML
from archiver.web.app import create_app
from tests.browser.servers import serve_app
from tests.conftest import run_cli, write_config

OLD = (b"<html><body><h1>Round table, 5 July 2017</h1><p>Minutes of the discussion of the state budget "
       b"with members of parliament and NGOs.</p></body></html>")


@pytest.fixture
def world(tmp_path, db_url):
    with SimWeb() as sim:
        gone = sim.site_url + "/gone/budget-2017"  # answers 404 today
        lost = sim.site_url + "/gone/never-archived"
        recovered = sim.set_code("Rec0v1", "live", gone)
        nothing = sim.set_code("N0thing", "live", lost)
        sim.archive("20170705120000", gone, 200, "text/html", body=OLD)
        report = tmp_path / "r.txt"
        report.write_text(f"- On 5 July 2017 the budget was discussed.\n  <{recovered}>\n"
                          f"- On 6 July 2017 another meeting was held.\n  <{nothing}>\n", encoding="utf-8")
        cfg = write_config(tmp_path, db_url, name="g.yaml",
                           resolver={"shorteners": sim.shortener_hosts, **sim.resolver_extra()})
        assert run_cli(["init"], cfg).code == 0
        assert run_cli(["ingest", str(report)], cfg).code == 0
        assert run_cli(["run", "--json"], cfg).code == 0
        yield cfg, recovered, nothing, gone


def test_get_serves_the_evidence_not_the_newest_404(tmp_path, world):
    cfg, short, _nothing, gone = world
    out = tmp_path / "evidence.html"
    r = run_cli(["get", short, "-o", out], cfg)
    assert r.code == 0, r.err
    assert out.read_bytes() == OLD  # the 2017 copy, although the 404 is newer
    assert "the newest capture that is evidence" in r.err and "HTTP 404" in r.err  # which, and why
    doc = run_cli(["get", short, "--json"], cfg).json()
    assert (doc["source"], doc["http_status"], doc["archive_name"], doc["evidence"]) == ("archive", 200, "simarchive", True)
    assert doc["timestamp"].startswith("2017-07-05")
    assert re.match(r"the newest capture that is evidence .*; the newest capture is not evidence \(.*HTTP 404\)",
                    doc["chosen_because"])
    # --latest: the old behaviour, the newest capture whatever it is
    r = run_cli(["get", short, "--latest", "-o", tmp_path / "latest.html"], cfg)
    assert r.code == 0, r.err
    assert (tmp_path / "latest.html").read_bytes() == NOT_FOUND_HTML.encode()
    latest = run_cli(["get", short, "--latest", "--json"], cfg).json()
    assert latest["http_status"] == 404 and latest["source"] == "live" and "--latest" in latest["chosen_because"]
    # --at keeps working
    at = run_cli(["get", short, "--at", "2017-07-01", "--json"], cfg).json()
    assert at["id"] == doc["id"] and "--at" in at["chosen_because"]
    # the target URL itself (not the short link) gives the same choice
    assert run_cli(["get", gone, "--json"], cfg).json()["id"] == doc["id"]
    bad = run_cli(["get", short, "--latest", "--at", "2017"], cfg)
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1


def test_get_list_lists_every_capture(world):
    cfg, short, _nothing, _gone = world
    doc = run_cli(["get", "--list", short, "--json"], cfg).json()
    caps = doc["captures"]
    assert [(c["source"], c["http_status"], c["evidence"]) for c in caps] == [("live", 404, False),
                                                                              ("archive", 200, True)]
    assert doc["chosen_capture_id"] == caps[1]["id"] and doc["chosen_because"]
    table = run_cli(["get", "--list", short], cfg, env={"COLUMNS": "300"})
    assert table.code == 0 and "served by `archiver get`" in table.out
    rows = [line for line in table.out.splitlines() if line.startswith("│") and ("simarchive" in line or " live" in line)]
    assert len(rows) == 2 and any(line.lstrip("│ ").startswith("*") and "simarchive" in line for line in rows)


def test_with_no_evidence_the_newest_capture_and_why(world):
    cfg, _short, nothing, _gone = world
    doc = run_cli(["get", nothing, "--json"], cfg).json()
    assert doc["http_status"] == 404 and doc["chosen_because"].startswith("no capture is evidence")


def test_the_ui_snapshot_and_the_export_summary_choose_the_same(tmp_path, world):
    cfg, short, _nothing, _gone = world
    acts = run_cli(["activities", "--json"], cfg).json()["activities"]
    act = next(a for a in acts if a["links"][0]["url"] == short)
    chosen = run_cli(["get", short, "--json"], cfg).json()
    shown = run_cli(["show", str(act["id"]), "--json"], cfg).json()["links"][0]
    assert shown["chosen_capture_id"] == chosen["id"] and shown["chosen_because"] == chosen["chosen_because"]
    text = run_cli(["show", str(act["id"])], cfg, env={"COLUMNS": "300"}).out
    assert "the newest capture that is evidence" in text

    settings = load_settings(cfg, env={})
    engine = make_engine(settings)
    try:
        with serve_app(create_app(settings, make_sessionmaker(engine), replay_origin_url="http://127.0.0.1:9")) as ui:
            page = requests.get(f"{ui}/activities/{act['id']}", timeout=10).text
    finally:
        engine.dispose()
    frame = re.search(r'<iframe src="([^"]+)"', page).group(1)
    assert "/20170705120000mp_/" in frame  # the 2017 copy is the snapshot shown, not today's 404
    assert "Snapshot shown: the newest capture that is evidence" in page

    wacz = tmp_path / "a.wacz"
    assert run_cli(["export", "--activity", str(act["id"]), "-o", wacz], cfg).code == 0
    with zipfile.ZipFile(wacz) as z:
        doc = json.loads(z.read("evidence/summary.json"))
        html = z.read("evidence/summary.html").decode()
    link = doc["activities"][0]["links"][0]
    assert link["chosen"] == {"capture_id": chosen["id"], "because": chosen["chosen_because"]}
    assert "<b>the evidence</b>" in html

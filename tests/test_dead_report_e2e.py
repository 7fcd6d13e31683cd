"""Issue "dead links", done-when: the sample report with its shortener dead and half its targets gone.

The sample's 19 goo.gl codes are served by the simulated goo.gl as deactivated (404);
a Wayback-compatible archive holds their 2017 redirects (invented targets). Half the
targets are gone today; the archive holds copies of some of those. Every activity's
evidence must end captured live, recovered with provenance, or listed as lost with a reason.
"""
import re

import pytest
from sqlalchemy import select

from archiver.db.tables import Target
from archiver.simweb import SimWeb
from tests.conftest import SAMPLE_REPORT, run_cli, write_config


@pytest.fixture
def sim():
    with SimWeb() as web:
        yield web


def test_sample_report_with_a_dead_shortener_and_half_gone_targets(tmp_path, db_url, sim, Session):
    text = SAMPLE_REPORT.read_text(encoding="utf-8")
    codes = list(dict.fromkeys(re.findall(r"https://goo\.gl/([0-9A-Za-z]+)", text)))
    assert len(codes) == 19
    site = sim.site_url
    fate = {}
    for i, code in enumerate(codes):
        sim.set_code(code, "deactivated")
        if i == 0:
            fate[code] = "no-redirect-archived"  # the archive never saw this short link
            continue
        if i % 2 == 0:
            target, fate[code] = f"{site}/reports/open-budget.html?c={code}", "live"
        else:
            target = f"{site}/gone/{code}"
            if i % 4 == 1:
                sim.archive("20170805120000", target, 200, "text/html",
                            body=f"<html><body><h1>Evidence {code}</h1><p>Round-table report.</p></body></html>".encode())
                fate[code] = "recovered"
            else:
                fate[code] = "lost"
        # the archive's 2017 capture of the redirect (and a useless 2025 404 capture, newer)
        sim.archive("20170801000000", f"https://goo.gl/{code}".replace("https://goo.gl", sim.shortener_url),
                    301, "unk", location=target)
        sim.archive("20250901000000", sim.short(code), 404, "text/html")
    local = text.replace("https://goo.gl/", sim.shortener_url + "/").replace(
        "http://strateq.az/layihe", site + "/gone/strateq")  # a plain link whose page is gone, never archived
    report = tmp_path / "ogp.txt"
    report.write_text(local, encoding="utf-8")
    cfg = write_config(tmp_path, db_url, resolver={"shorteners": sim.shortener_hosts, **sim.resolver_extra()},
                       fetch={"politeness_delay_s": 0, "max_attempts": 1})
    assert run_cli(["init"], cfg).code == 0
    assert run_cli(["ingest", str(report)], cfg).code == 0
    r = run_cli(["run", "--json"], cfg)
    assert "Traceback" not in r.err

    with Session() as s:
        by_code = {t.url.rsplit("/", 1)[-1]: t for t in s.scalars(select(Target))}
        for code, expected in fate.items():
            t = by_code[code]
            if expected == "no-redirect-archived":
                assert t.status == "dead" and t.status_reason, (code, t.status)
                assert t.resolution_method is None  # nothing resolved it (issue 8 §4)
                continue
            assert t.resolution_method == "archive" and t.resolution_source == "simarchive"
            assert t.memento_url and t.memento_datetime.year == 2017, code  # the older capture that answers
            caps = [c for c in t.captures if c.role == "target"]
            if expected == "live":
                assert t.status == "captured" and any(c.source == "live" and c.http_status == 200 for c in caps)
            elif expected == "recovered":
                assert t.status == "captured" and t.watch_state == "recovered"
                arch = [c for c in caps if c.source == "archive"]
                assert arch and arch[0].archive_name == "simarchive" and arch[0].memento_url
                assert arch[0].captured_at.year == 2017 and arch[0].url == t.final_url
                assert any(c.source == "live" and c.http_status == 404 for c in caps)  # the 404 is kept too
            else:
                assert t.status == "dead" and "not found in any web archive" in t.status_reason
                assert any(c.http_status == 404 for c in caps)  # what the link showed is kept
        strateq = by_code["strateq"]
        assert strateq.status == "dead" and strateq.status_reason

    health = run_cli(["health", "--json"], cfg)
    assert health.code == 0, health.err
    rep = health.json()["reports"][0]
    assert rep["activities"] == 17  # activities that cite links (2 of 19 cite none)
    lost = sum(1 for f in fate.values() if f in ("lost", "no-redirect-archived")) + 1
    assert len(rep["lost"]) == lost and all(e["reason"] for e in rep["lost"])
    assert rep["at_risk"][0]["status"] in ("dead", "failed")
    assert 0 < rep["coverage_pct"] < 100
    status = run_cli(["status", "--json"], cfg).json()
    assert status["health"]["lost"] == lost

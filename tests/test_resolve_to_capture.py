"""Resolver and capture stage together (pipeline level): resolution stops at the target, the
capture stage follows the target's own chain, records its answer and sets the link's final URL."""
import glob

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.config import load_settings
from archiver.db.session import make_engine, make_sessionmaker
from archiver.db.tables import Target
from archiver.simweb import SimWeb
from tests.conftest import run_cli, write_config


@pytest.fixture
def sim():
    with SimWeb() as web:
        yield web


def _records(storage) -> list[tuple[str, str]]:
    out = []
    for f in glob.glob(str(storage / "warcs" / "*.warc*")):
        with open(f, "rb") as fh:
            out += [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(fh)
                    if r.rec_type in ("response", "revisit")]
    return out


def test_the_capture_stage_owns_the_targets_chain_and_answer(tmp_path, db_url, sim):
    cfg = write_config(tmp_path, db_url, resolver={"shorteners": sim.shortener_hosts, **sim.resolver_extra()},
                       fetch={"politeness_delay_s": 0, "retry_base_s": 0.01, "max_attempts": 3})
    site = sim.site_url
    moved = sim.set_code("Mv1", "live", site + "/moved")  # the target redirects to the report page
    loop = sim.set_code("Lp1", "live", site + "/loop")  # the target redirects to itself
    broken = sim.set_code("Br1", "live", site + "/broken")  # the target answers 500
    report = tmp_path / "r.txt"
    report.write_text(f"- On 5 May 2018 a meeting was held.\n  {moved}\n  {loop}\n  {broken}\n", encoding="utf-8")
    assert run_cli(["init"], cfg).code == 0
    assert run_cli(["ingest", str(report)], cfg).code == 0
    r = run_cli(["run", "--json"], cfg)
    assert "Traceback" not in r.err
    assert r.json()["resolved"] == 3  # no target's answer made its link dead or failed at resolution

    acts = run_cli(["activities", "--json"], cfg).json()
    acts = acts["activities"] if isinstance(acts, dict) else acts
    links = {link["url"]: link for link in run_cli(["show", str(acts[0]["id"]), "--json"], cfg).json()["links"]}
    page = site + "/reports/open-budget.html"

    def chain(link):
        return [(h["url"], h["status_code"]) for h in link["hops"]]

    def contains(hops, part):  # ``part`` appears in ``hops`` in order (the shortener hops may precede it)
        return any(hops[i:i + len(part)] == part for i in range(len(hops) - len(part) + 1))

    m = links[moved]
    assert m["status"] == "captured" and m["resolution_method"] == "live"
    assert m["final_url"] == page  # where the target's own redirect chain ends
    assert contains(chain(m), [(site + "/moved", 301), (page, 200)])
    lp = links[loop]
    assert lp["status"] == "failed" and "redirect loop" in lp["status_reason"] and lp["final_url"] == site + "/loop"
    assert contains(chain(lp), [(site + "/loop", 302)])
    b = links[broken]
    assert b["status"] == "dead" and "500" in b["status_reason"] and b["final_url"] == site + "/broken"
    assert contains(chain(b), [(site + "/broken", 500)])
    assert any(c["http_status"] == 500 for c in b["captures"])  # what the link showed is kept

    # every target was requested once, by the capture stage; the short links' hops are in the DB
    hits = [r.path for r in sim.requests if r.service == "site"]
    assert hits.count("/moved") == hits.count("/broken") == hits.count("/reports/open-budget.html") == 1
    recs = _records(tmp_path / "storage")
    for url in (site + "/moved", page, site + "/broken"):
        assert [t for t, u in recs if u == url] == ["response"], url
    Session = make_sessionmaker(make_engine(load_settings(cfg, env={})))
    with Session() as s:
        for short, target in ((moved, "/moved"), (loop, "/loop"), (broken, "/broken")):
            t = s.scalars(select(Target).where(Target.url == short)).one()
            resolver_hops = sorted((h for h in t.hops if h.stage == "resolve"), key=lambda h: (h.attempt, h.seq))
            assert [(h.url, h.status_code, h.location) for h in resolver_hops] == [(short, 302, site + target)]
            assert [h.seq for h in resolver_hops] == [1]
            assert resolver_hops[0].capture_id is not None  # the short link replays from our WARC

"""`archiver demo`: the README's first command, offline, in well under a minute."""
import time

from tests.conftest import run_cli


def test_demo_runs_the_whole_job_offline(tmp_path, cli, config_file):
    started = time.monotonic()
    r = cli("demo", "--json")
    elapsed = time.monotonic() - started
    assert r.code == 0, r.err
    doc = r.json()
    assert elapsed < 60
    s = doc["summary"]
    assert s["failed"] == 0 and s["captured"] >= 8 and s["dead"] >= 1
    links = [link for a in doc["activities"] for link in a["links"]]
    assert {link["status"] for link in links} == {"captured", "dead"}
    methods = {link["resolution_method"] for link in links}
    assert {"live", "archive"} <= methods  # a deactivated code was resolved through the simulated archive
    sources = {c["source"] for link in links for c in link["captures"]}
    assert sources == {"live", "archive"}  # and a gone page recovered from it
    # the demo keeps its data apart from the real storage, with a config to explore it
    cfg = tmp_path / "storage" / "demo" / "config.yaml"
    assert cfg.is_file()
    acts = run_cli(["activities", "--json"], cfg)
    assert acts.code == 0


def test_demo_prints_the_evidence_table(cli):
    r = cli("demo")
    assert r.code == 0, r.err
    assert "evidence" in r.out and "captured" in r.out and "from simarchive" in r.out

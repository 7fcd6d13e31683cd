"""Peak memory and time of `archiver export --report` over a report of 20 000 captured links.

    python bench/export_memory.py [--links 20000] [--text-kb 30] [--baseline REV] [--database-url URL]

The report is tests/bigdb.py's (activities of 10 links), and every link's target gets a real capture: a
small HTML response written through WarcSink (so `verify` and the export's own re-verification pass)
and an extraction with a title and ``--text-kb`` KB of text (a real page's extracted text; the summary
only uses the title). The export runs in a child process, as a user runs it; printed: wall seconds, peak
RSS, the package's size. ``--baseline REV`` (default: the branch point, 4942920) exports with that
revision's code beside. Target (issue 10): under 200 MB for any export.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORDS = ("evidence government report activity platform meeting public budget transparency council "
         "minister parliament citizens open data access").split()


def populate(settings, engine, links: int, text_kb: int) -> int:
    """The report and a capture with an extraction for each of its targets; returns the report id."""
    from sqlalchemy import insert, select

    from archiver.db.session import make_sessionmaker
    from archiver.db.tables import Capture, Extraction, Target
    from archiver.persist import url_hash
    from tests.bigdb import build
    from tests.stores import Records

    ids = build(engine, links=links, activities=links // 10 - 1)
    Session = make_sessionmaker(engine)
    text = " ".join(WORDS[i % len(WORDS)] for i in range(text_kb * 1024 // 8))
    with Session() as s:
        targets = s.execute(select(Target.id, Target.url).order_by(Target.id)).all()
    rows = []
    with Records(settings, Session) as records:
        for tid, url in targets:
            ref = records.response(url, f"<html><head><title>Page {tid}</title></head><body>{tid}</body></html>"
                                   .encode())
            rows.append(dict(target_id=tid, url=ref.url, url_hash=url_hash(ref.url), captured_at=ref.captured_at,
                             http_status=ref.http_status, content_type=ref.content_type, sha256=ref.sha256,
                             payload_digest=ref.payload_digest, block_digest=ref.block_digest,
                             payload_length=ref.payload_length, record_id=ref.record_id, warc_file=ref.warc_file,
                             offset=ref.offset, length=ref.length, is_revisit=False, role="target",
                             source="live", not_evidence=False, truncated=False))
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            part = rows[i:i + 5000]
            got = conn.execute(insert(Capture).returning(Capture.id, sort_by_parameter_order=True), part).scalars().all()
            conn.execute(insert(Extraction), [{"capture_id": cid, "title": f"Page {r['target_id']}", "text": text,
                                               "method": "bench"} for cid, r in zip(got, part)])
    return ids["report"]


def export(code: Path, config: Path, report: int, out: Path, timeout: float) -> str:
    env = {**os.environ, "PYTHONPATH": str(code)}
    cmd = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "archiver", "--config", str(config), "export",
           "--report", str(report), "-o", str(out), "--json"]
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=code)
    except subprocess.TimeoutExpired:
        return f">{timeout:.0f} s"
    if p.returncode:
        return "FAILED: " + (p.stderr.strip().splitlines() or ["?"])[0][:100]
    wall, kb = p.stderr.strip().splitlines()[-1].split()
    return f"{float(wall):7.1f} s {int(kb) / 1024:7.0f} MB peak RSS, package {out.stat().st_size / 1e6:.1f} MB"


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--links", type=int, default=20_000)
    p.add_argument("--text-kb", type=int, default=30)
    p.add_argument("--baseline", default="4942920")
    p.add_argument("--database-url")
    p.add_argument("--timeout", type=float, default=1800)
    args = p.parse_args(argv)

    import yaml

    from archiver.config import Settings
    from archiver.db import migrate
    from archiver.db.session import make_engine
    from bench.baseline import baseline_code

    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    url = args.database_url or f"sqlite:///{(tmp / 'archiver.db').as_posix()}"
    conf = {"database": {"url": url}, "storage": {"root": str(tmp / "storage")}}
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(conf))
    settings = Settings(**conf)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    (tmp / "storage" / "warcs").mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    report = populate(settings, engine, args.links, args.text_kb)
    engine.dispose()
    print(f"{args.links} links, each captured with {args.text_kb} KB of extracted text, {settings.database.url.split(':')[0]}"
          f" (built in {time.monotonic() - t0:.0f} s)")
    print(f"export --report current : {export(REPO, config, report, tmp / 'current.wacz', args.timeout)}", flush=True)
    if args.baseline:
        old = baseline_code(args.baseline)
        print(f"export --report baseline: {export(old, config, report, tmp / 'baseline.wacz', args.timeout)}")


if __name__ == "__main__":
    main()

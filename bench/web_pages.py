"""The interface's pages over a large database: one report of 300,000 links (tests/bigdb.py: 20,000
activities of 10 links and one activity citing the other 100,000), served by uvicorn over real HTTP.

    python bench/web_pages.py [--links 300000] [--database-url URL] [--repeat 3]

Prints, for each page, the median wall time of ``--repeat`` requests, the number of SQL statements it ran
and the largest parameter list among them. Target: every page well under 1 s, a bounded number of queries.
The database is a fresh SQLite file in a temporary folder unless ``--database-url`` names another (an
empty PostgreSQL schema, say).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--links", type=int, default=300_000)
    p.add_argument("--database-url")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)

    import requests
    from sqlalchemy import event

    from archiver.config import Settings
    from archiver.db import migrate
    from archiver.db.session import make_engine, make_sessionmaker
    from archiver.web.app import create_app
    from tests.bigdb import build
    from tests.browser.servers import serve_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    url = args.database_url or f"sqlite:///{(tmp / 'archiver.db').as_posix()}"
    settings = Settings(database={"url": url}, storage={"root": str(tmp / "storage")})
    engine = make_engine(settings)
    migrate.upgrade(engine)
    started = time.monotonic()
    ids = build(engine, links=args.links, activities=(args.links * 2 // 3) // 10)
    print(f"database: {engine.dialect.name}, {args.links} links, built in {time.monotonic() - started:.1f} s")
    seen: list[int] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cur, stmt, params, ctx, many: seen.append(len(params or ())))
    app = create_app(settings, make_sessionmaker(engine), replay_origin_url="http://127.0.0.1:9",
                     runner=lambda *a, **k: None)
    rid, act = ids["report"], ids["big_activity"]
    pages = ["/", f"/reports/{rid}", f"/reports/{rid}?page=401", f"/activities/{act}",
             f"/activities/{act}?page=5000", f"/activities/{ids['small_activity']}", "/health",
             "/health?page=2400", f"/timeline?url={ids['url']}", "/api/reports", f"/api/reports/{rid}",
             f"/api/reports/{rid}/activities?page=200", f"/api/activities/{act}?page=999"]
    with serve_app(app) as base:
        print(f"{'page':45} {'median s':>9} {'queries':>8} {'max params':>11} {'bytes':>9}")
        for path in pages:
            times = []
            for _ in range(args.repeat):
                seen.clear()
                t0 = time.perf_counter()
                r = requests.get(base + path, timeout=600)
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, (path, r.status_code)
            print(f"{path:45} {statistics.median(times):9.3f} {len(seen):8d} {max(seen, default=0):11d} "
                  f"{len(r.content):9d}")
    engine.dispose()


if __name__ == "__main__":
    main()

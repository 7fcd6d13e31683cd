"""Migration 0003: the extracted text is stored once (SQLite FTS5 external content); search is unchanged."""
from __future__ import annotations

import random

from sqlalchemy import text

from archiver.db import migrate
from archiver.db.search import full_text_search, reindex_all
from archiver.db.session import make_sessionmaker
from archiver.db.tables import Activity, Extraction
from tests.stores import Records
from tests.test_search import add_capture, add_report

WORDS = ("ministry plan water gas contract audit budget report hearing court decree Qarabağ Gəncə şəffaflıq "
         "Правительство Отчёт министерства").split()
QUERIES = ["plan", "water OR gas", '"water gas"', "Qarabag", "Отчёт", "ministry -budget", "şəffaflıq", "hearing"]


BEFORE = "0002_live_and_archived"  # the revision before 0003: the text stored twice


def _seed(Session, settings, n: int = 60) -> None:
    rnd = random.Random(8)
    with Records(settings, Session) as records, Session() as session:
        acts = add_report(session, [" ".join(rnd.choices(WORDS, k=rnd.randint(3, 30))) for _ in range(n)])
        for i in range(n):
            add_capture(session, records, f"http://site{i % 7}.example/p/{i}", " ".join(rnd.choices(WORDS, k=3)) if i % 5 else None,
                        " ".join(rnd.choices(WORDS, k=rnd.randint(50, 400))), activities=acts[i:i + 2])
        session.commit()


def _results(Session) -> dict:
    with Session() as session:
        return {q: full_text_search(session, q, limit=50) for q in QUERIES}


def _db_bytes(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("PRAGMA page_count")).scalar() * conn.execute(text("PRAGMA page_size")).scalar()


def _integrity(engine) -> None:
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:  # FTS5 compares its index with the text it reads (raises when they differ)
            conn.execute(text("INSERT INTO search_index(search_index) VALUES ('integrity-check')"))


def test_upgrade_to_0003_with_data_keeps_every_search_result(engine, settings):
    # seeded through today's models at the head, then taken down to the revision before 0003 (the
    # models write columns that later migrations add), so the upgrade below meets data stored twice
    Session = make_sessionmaker(engine)
    _seed(Session, settings)
    at_head = _results(Session)
    migrate.downgrade(engine, BEFORE)
    before, size_before = _results(Session), None
    assert before == at_head
    assert sum(len(v) for v in before.values()) > 100
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
        size_before = _db_bytes(engine)

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    _integrity(engine)
    assert _results(Session) == before
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM")
            # no second copy of the text: the FTS5 table keeps no content of its own
            assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'search_index_content'")
                                ).scalar() == 0
        assert _db_bytes(engine) < 0.75 * size_before, (size_before, _db_bytes(engine))

    migrate.downgrade(engine, BEFORE)
    assert _results(Session) == before
    migrate.upgrade(engine)
    _integrity(engine)
    assert _results(Session) == before


def test_index_stays_in_step_with_edits_and_deletes(engine, Session, settings):
    _seed(Session, settings, n=20)
    with Session() as session:
        ext = session.query(Extraction).order_by(Extraction.id).first()
        ext.text, ext.title = "Sumqayıt zavodu", "Yeni başlıq"
        session.delete(session.query(Extraction).order_by(Extraction.id.desc()).first())
        act = session.query(Activity).order_by(Activity.id).first()
        act.text = "Naxçıvan"
        session.commit()
        _integrity(engine)
        hits = full_text_search(session, "zavodu")
        assert [h["capture_id"] for h in hits] == [ext.capture_id] * len(hits) and hits
        assert hits[0]["title"] == "Yeni başlıq"
        assert [h["activity_id"] for h in full_text_search(session, "Naxçıvan")] == [act.id]
        assert reindex_all(session) == (20 + 19 if engine.dialect.name == "sqlite" else 0)
        session.commit()
    _integrity(engine)

"""Full-text search on SQLite (FTS5) and PostgreSQL (tsvector): hits, ranking, snippets, bad queries."""
from __future__ import annotations

import hashlib
import os
import unicodedata
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from archiver.db import search
from archiver.db.search import full_text_search, parse_query, reindex_all, to_fts5, to_websearch
from archiver.db.tables import Activity, Capture, Extraction, Link, Report, Target
from archiver.errors import InputError
from tests.stores import Records, capture_row

CAPTURED_AT = datetime(2017, 5, 1, 12, 30, tzinfo=timezone.utc)
PAGE_URL = "http://economy.gov.az/plan-2016"


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def add_report(session, texts: list[str], name: str = "r") -> list[Activity]:
    report = Report(source=f"/reports/{name}.txt", source_kind="file", sha256=_sha(name), format="txt",
                    size_bytes=100)
    report.activities = [Activity(ordinal=i, text=t) for i, t in enumerate(texts, 1)]
    session.add(report)
    session.flush()
    return list(report.activities)


def add_capture(session, records: Records, url: str, title: str | None, body: str | None, activities=(),
                captured_at: datetime = CAPTURED_AT) -> Capture:
    target = Target(url=url, url_hash=_sha(url), status="captured", stage="done")
    session.add(target)
    for pos, activity in enumerate(activities):
        session.add(Link(activity=activity, position=pos, url_raw=url, url_normalized=url, target=target))
    page = f"<html><head><title>{title or ''}</title></head><body><p>{body or ''}</p></body></html>"
    capture = capture_row(records.response(url, page.encode()), target=target, captured_at=captured_at)
    capture.extraction = Extraction(method="trafilatura", title=title, text=body, language="ru")
    session.add(capture)
    session.flush()
    return capture


@pytest.fixture
def seeded(Session, settings):
    with Records(settings, Session) as records, Session() as session:
        acts = add_report(session, [
            "Dağlıq Qarabağ münaqişəsindən zərər çəkmiş ailələrə sosial yardım.",
            "Şəffaflıq portalı: şəffaflıq standartları və şəffaflıq hesabatları dərc olundu.",
            "İctimai müzakirələr Gəncədə keçirildi; şəffaflıq barədə danışıldı, əlavə məlumat saytdadır.",
        ])
        add_capture(session, records, PAGE_URL, "Национальный план",
                    "Правительство Азербайджанской Республики утвердило Национальный план действий. "
                    "Отчёт опубликован на сайте министерства экономики.", activities=[acts[2], acts[0]])
        add_capture(session, records, "http://orphan.example/page", None, "Ещё одна страница о Гяндже.")
        session.commit()
        ids = [a.id for a in acts]
    return ids


def test_activity_text_hits_azerbaijani(Session, seeded):
    with Session() as session:
        hits = full_text_search(session, "Qarabağ")
    assert len(hits) == 1
    h = hits[0]
    assert h["kind"] == "activity" and h["activity_id"] == seeded[0] and h["report_id"] is not None
    assert h["url"] is None and h["captured_at"] is None and h["capture_id"] is None
    assert "[Qarabağ]" in h["snippet"] and "<mark>Qarabağ</mark>" in h["snippet_html"]


def test_case_is_folded_for_dotted_capital_i_and_cyrillic(Session, seeded):
    with Session() as session:
        assert [h["activity_id"] for h in full_text_search(session, "ictimai")] == [seeded[2]]
        assert full_text_search(session, "ПРАВИТЕЛЬСТВО")[0]["kind"] == "capture"


def test_capture_hits_carry_url_and_time_once_per_linked_activity(Session, seeded):
    with Session() as session:
        hits = full_text_search(session, "правительство")
    assert [h["kind"] for h in hits] == ["capture", "capture"]
    assert sorted(h["activity_id"] for h in hits) == sorted([seeded[0], seeded[2]])
    for h in hits:
        assert h["url"] == PAGE_URL and h["captured_at"] == "2017-05-01T12:30:00Z"
        assert h["capture_id"] is not None and h["title"] == "Национальный план"
        assert "[Правительство]" in h["snippet"]


def test_capture_no_activity_links_to_still_hits(Session, seeded):
    with Session() as session:
        hits = full_text_search(session, "Ещё")
    assert len(hits) == 1 and hits[0]["activity_id"] is None and hits[0]["url"] == "http://orphan.example/page"


def test_ranking_puts_the_better_match_first(Session, seeded):
    with Session() as session:
        hits = full_text_search(session, "şəffaflıq")
    assert [h["activity_id"] for h in hits] == [seeded[1], seeded[2]]
    assert hits[0]["score"] > hits[1]["score"]


def test_phrase_ranking_on_both_backends(Session, settings):
    """A phrase query ranks the text holding the phrase more often (and in fewer words) first, on
    SQLite scored by bm25_scores (FTS5's bm25 would read every document holding the phrase), on
    PostgreSQL by ts_rank; a title match counts double on SQLite."""
    with Session() as session:
        acts = add_report(session, [
            "Açıq büdcə portalı işə salındı, sonra hesabat.",
            "Açıq büdcə haqqında: açıq büdcə portalı, açıq büdcə dinləmələri.",
            "Büdcə açıq deyil.",  # both words, not the phrase
            "Hesabat " + "söz " * 40 + "açıq büdcə.",
        ], name="phrase")
        session.commit()
        hits = full_text_search(session, '"acıq budcə"')  # diacritics folded in the phrase too
        ids = [h["activity_id"] for h in hits]
        assert ids[0] == acts[1].id and set(ids) == {acts[0].id, acts[1].id, acts[3].id}
        assert ids[-1] == acts[3].id  # the long text with one occurrence ranks last
        assert hits[0]["score"] > hits[1]["score"] > hits[2]["score"] > 0
        assert "[Açıq" in hits[0]["snippet"] and "büdcə]" in hits[0]["snippet"]  # one span, or a span a word


def test_bm25_scores_weigh_title_occurrences_and_length():
    q = parse_query('"open budget"')
    short, long_, title, none = search.bm25_scores(
        [(None, "the open budget"), (None, "the open budget " + "word " * 50), ("Open Budget", "other"),
         (None, "budget open")], q)
    assert title > short > long_ > none == 0


def test_two_word_query_ranks_on_both_backends(Session):
    """Several words (no phrase) are ranked on SQLite by bm25_scores too (FTS5's bm25 would first count
    every document holding each word): more occurrences in fewer words first, on both backends."""
    with Session() as session:
        acts = add_report(session, [
            "Monitoring report on budget hearings.",
            "Budget monitoring: budget monitoring of budget hearings and monitoring visits.",
            "Monitoring " + "word " * 40 + "budget.",
            "Budget only.",
        ], name="two words")
        session.commit()
        hits = full_text_search(session, "budget monitoring")
    ids = [h["activity_id"] for h in hits]
    assert set(ids) == {acts[0].id, acts[1].id, acts[2].id}  # every word must match
    assert ids[0] == acts[1].id and ids[-1] == acts[2].id
    assert hits[0]["score"] > hits[1]["score"] > hits[2]["score"] > 0


def test_own_ranking_is_chosen_for_phrases_and_several_terms():
    assert not search._own_ranking(parse_query("budget"))
    assert not search._own_ranking(parse_query("budget -hearing"))  # an excluded word is not ranked
    assert search._own_ranking(parse_query("budget hearing"))
    assert search._own_ranking(parse_query("budget OR hearing"))
    assert search._own_ranking(parse_query('"open budget"'))


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60))
def test_words_ascii_fast_path_tokenises_as_the_general_path(text):
    general = search._WORD.findall("".join(
        ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch)).replace("_", " "))
    assert search._words(text) == general
    assert search._words(text.encode("ascii", "ignore").decode()) == search._WORD.findall(
        text.encode("ascii", "ignore").decode().lower().replace("_", " "))


def test_phrases_or_and_exclusion(Session, seeded):
    with Session() as session:
        def ids(q):
            return sorted((h["kind"], h["activity_id"]) for h in full_text_search(session, q))
        assert ids('"sosial yardım"') == [("activity", seeded[0])]
        assert ids('"yardım sosial"') == []
        assert ids("Qarabağ OR Gəncədə") == sorted([("activity", seeded[0]), ("activity", seeded[2])])
        assert ids("şəffaflıq -Gəncədə") == [("activity", seeded[1])]
        assert ids("şəffaflıq NOT portalı") == [("activity", seeded[2])]
        assert ids("Qarabağ Gəncədə") == []


def test_limit(Session, seeded):
    with Session() as session:
        assert len(full_text_search(session, "şəffaflıq", limit=1)) == 1


def test_index_follows_updates_and_deletes(Session, seeded):
    with Session() as session:
        activity = session.get(Activity, seeded[0])
        activity.text = "Sumqayıtda yeni layihə"
        session.commit()
        assert full_text_search(session, "Qarabağ") == []
        assert [h["activity_id"] for h in full_text_search(session, "Sumqayıtda")] == [seeded[0]]
        extraction = session.query(Extraction).filter(Extraction.text.like("%Гяндже%")).one()
        extraction.text = "Страница изменилась"
        session.commit()
        assert full_text_search(session, "Гяндже") == []
        session.delete(session.get(Activity, seeded[1]))
        session.commit()
        assert [h["activity_id"] for h in full_text_search(session, "şəffaflıq")] == [seeded[2]]


def test_reindex_all_rebuilds(Session, seeded):
    with Session() as session:
        n = reindex_all(session)
        session.commit()
        if session.get_bind().dialect.name == "sqlite":
            assert n == 5  # 3 activities + 2 extractions
            session.execute(text("DELETE FROM search_index"))
            assert full_text_search(session, "Qarabağ") == []
            reindex_all(session)
        assert len(full_text_search(session, "Qarabağ")) == 1


def test_explicit_index_calls_are_idempotent(Session, seeded):
    with Session() as session:
        activity = session.get(Activity, seeded[0])
        search.index_activity(session, activity)
        search.index_activity(session, activity)
        extraction = session.query(Extraction).filter(Extraction.title == "Национальный план").one()
        search.index_extraction(session, extraction)
        assert len(full_text_search(session, "Qarabağ")) == 1
        assert len(full_text_search(session, "Отчёт")) == 2


def test_latin_diacritics_fold_on_both_backends(Session, seeded):
    """FTS5 remove_diacritics 2 and PostgreSQL unaccent agree on these; they differ on ı (and
    Cyrillic ё), which only unaccent folds, so that is not asserted. ə is folded by neither."""
    with Session() as session:
        add_report(session, ["Şəki çörəyi və Göygöl üzümü"], name="fold")
        session.commit()
        fold_id = session.query(Activity).filter(Activity.text.like("Şəki%")).one().id

        def ids(q):
            return [h["activity_id"] for h in full_text_search(session, q)]
        assert ids("Qarabag") == [seeded[0]]
        assert ids("QARABAG") == [seeded[0]]
        assert ids("Səffaflıq portalı") == [seeded[1]]  # Ş -> s
        assert ids("Səki corəyi Goygol uzumu") == [fold_id]  # ş ç ö ü
        assert ids("Saki") == [] and ids("Şaki") == []  # ə is a letter of its own on both

        hits = full_text_search(session, "Qarabag")
        assert "[Qarabağ]" in hits[0]["snippet"] and "<mark>Qarabağ</mark>" in hits[0]["snippet_html"]
        hits = full_text_search(session, "ŞƏKİ corəyi")  # the matched words are marked as written
        assert "[Şəki]" in hits[0]["snippet"] and "[çörəyi]" in hits[0]["snippet"]


_POSTGRESQL_ONLY = pytest.mark.parametrize("db_url", [pytest.param(
    "postgresql", marks=pytest.mark.skipif(not os.environ.get("ARCHIVER_TEST_DATABASE_URL"),
                                           reason="PostgreSQL not configured"))], indirect=True)


_OUR_CONFIG = ("FROM pg_ts_config WHERE cfgname = :cfg "
               "AND cfgnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())")


def _tsvector(session, document: str) -> str:
    return session.execute(text("SELECT to_tsvector(:cfg, :doc)::text"),
                           {"cfg": search.PG_SEARCH_CONFIG, "doc": document}).scalar_one()


@_POSTGRESQL_ONLY
def test_postgresql_search_configuration_uses_unaccent(Session):
    """The test database user may create the extension, so the migration must have used it,
    for every token kind that holds letters (hyphenated words, words with digits too)."""
    with Session() as session:
        assert _tsvector(session, "Şəki-Göygöl söz17") == "'goygol':3 'soz17':4 'səki':2 'səki-goygol':1"
        assert "unaccent" in session.execute(text(
            f"SELECT obj_description(oid, 'pg_ts_config') {_OUR_CONFIG}"), {"cfg": search.PG_SEARCH_CONFIG}).scalar_one()


@_POSTGRESQL_ONLY
def test_postgresql_without_unaccent_falls_back_to_simple(db_url, config_file, monkeypatch):
    """A database user that may not create the extension still gets a working search, unfolded."""
    from alembic import util as alembic_util

    from archiver.config import load_settings
    from archiver.db import migrate
    from archiver.db.session import make_engine, make_sessionmaker

    def load_python_file(dir_, filename):
        module = real_load(dir_, filename)
        if hasattr(module, "_unaccent_dictionary"):
            monkeypatch.setattr(module, "_unaccent_dictionary", lambda conn: None)
        return module
    real_load = alembic_util.load_python_file
    monkeypatch.setattr(alembic_util, "load_python_file", load_python_file)
    engine = make_engine(load_settings(config_file, env={}))
    try:
        migrate.upgrade(engine)
        with make_sessionmaker(engine)() as session:
            add_report(session, ["Dağlıq Qarabağ münaqişəsi"])
            session.commit()
            assert _tsvector(session, "Qarabağ") == "'qarabağ':1"
            assert "simple only" in session.execute(text(
                f"SELECT obj_description(oid, 'pg_ts_config') {_OUR_CONFIG}"),
                {"cfg": search.PG_SEARCH_CONFIG}).scalar_one()
            assert full_text_search(session, "Qarabag") == []
            assert "[Qarabağ]" in full_text_search(session, "qarabağ")[0]["snippet"]
        migrate.downgrade(engine, "base")
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT count(*) {_OUR_CONFIG}"), {"cfg": search.PG_SEARCH_CONFIG}).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'")).scalar() == 1
    finally:
        engine.dispose()


def test_long_text_is_indexed_without_error(Session, settings):
    """A text far past PostgreSQL's 1 MB tsvector limit must still insert (cut at PG_INDEX_CHARS)."""
    body = " ".join(f"söz{i}" for i in range(250_000)) + " sonuncu"
    with Records(settings, Session) as records, Session() as session:
        add_capture(session, records, "http://big.example/", "Böyük", body)
        session.commit()
        hits = full_text_search(session, "söz17")
        assert len(hits) == 1 and "[söz17]" in hits[0]["snippet"]


@pytest.mark.parametrize("query, message", [
    ('"unbalanced', "unbalanced quote"),
    ("AND OR", "misplaced AND"),
    ("Qarabağ OR", "misplaced OR"),
    ("*", "no words to search for"),
    ("", "empty search query"),
    ("   ", "empty search query"),
    ("-Qarabağ", "only excludes"),
    ("x" * 600, "too long"),
])
def test_malformed_queries_raise_input_error(Session, query, message):
    with Session() as session:
        with pytest.raises(InputError, match=message):
            full_text_search(session, query)


def test_query_rendering_quotes_every_term():
    clauses = parse_query('Qarabağ "açıq hökumət" OR title:x -NEAR(a)')
    assert to_fts5(clauses) == '("Qarabağ" AND "açıq hökumət") OR (("title:x") NOT ("NEAR(a)"))'
    assert to_websearch(clauses) == '"Qarabağ" "açıq hökumət" or "title:x" -"NEAR(a)"'


def test_operator_like_words_in_lowercase_are_words(Session, seeded):
    with Session() as session:
        add_report(session, ["Yoxlama: or and not sözləri"], name="ops")
        session.commit()
        assert len(full_text_search(session, "or and not")) == 1


# ---- CLI ---------------------------------------------------------------------------------------

def test_cli_json(cli, Session, seeded):
    r = cli("search", "правительство", "--json", "--limit", "5")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["query"] == "правительство"
    assert {h["activity_id"] for h in doc["hits"]} == {seeded[0], seeded[2]}
    assert all(h["url"] == PAGE_URL and h["captured_at"] == "2017-05-01T12:30:00Z" for h in doc["hits"])
    for key in ("activity_id", "report_id", "url", "snippet", "captured_at", "kind", "capture_id", "score"):
        assert key in doc["hits"][0]


def test_cli_table(cli, Session, seeded):
    r = cli("search", "Qarabağ")
    assert r.code == 0, r.err
    assert "Qarabağ" in r.out and "activity" in r.out


def test_cli_no_hits(cli, Session, seeded):
    r = cli("search", "heçnə")
    assert r.code == 0 and "no hits" in r.out
    assert cli("search", "heçnə", "--json").json() == {"query": "heçnə", "hits": []}


@pytest.mark.parametrize("query", ['"unbalanced', "AND OR", "*", ""])
def test_cli_malformed_query_exits_2_with_one_line(cli, Session, seeded, query):
    r = cli("search", query)
    assert r.code == 2
    assert r.out == "" and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert r.err.startswith("error:")


def test_cli_bad_limit(cli):
    r = cli("search", "x", "--limit", "0")
    assert r.code == 2 and "Traceback" not in r.err

"""Full-text search over activity text and extracted capture text, one interface, two backends.

Each text is stored once, in its table (``activities.text``, ``extractions.title/text``);
the search structures hold an index of it, not a second copy.

SQLite: an FTS5 table ``search_index(title, body)`` (``unicode61 remove_diacritics 2``:
case and Latin diacritics folded, so ``Qarabag`` finds ``Qarabağ``; ``ı`` and ``ə`` are
letters of their own and are not folded) with *external content*: it reads the text
(for snippets) through the view ``search_docs`` over both tables (migration 0003; until
then FTS5 kept a copy of every text). Its rowid says what a row is: ``2*id`` for an
activity, ``2*id+1`` for an extraction, and expression indexes on those make each read
by rowid an index search. Triggers on ``activities`` and ``extractions`` keep the index
current, taking a changed or deleted row out with the values it had (FTS5's ``delete``
command: with external content the index cannot find them itself). Triggers rather than
calls from the writers because on PostgreSQL the index follows the rows by itself
(generated columns): with triggers both backends behave alike whoever writes the rows
(ingest, the pipeline, a repair script). ``index_activity``/``index_extraction`` are
still there, idempotent, for code that wants to be explicit, and ``reindex_all``
rebuilds the index from the tables (after a restore, or an Alembic batch migration that
recreated a table and lost its triggers).

PostgreSQL: a generated ``search_vector`` tsvector column with a GIN index on both
tables, queried with ``websearch_to_tsquery``, ranked by ``ts_rank`` (normalised by
length) and cut into snippets by ``ts_headline``, all with the text search configuration
``archiver_search`` that the 0001 migration makes in the schema (found through the
search_path): ``simple`` (no stemming, no stop words, lower-cased) behind the
``unaccent`` dictionary, so ``Qarabag`` finds ``Qarabağ`` here too. unaccent folds a
little more than FTS5 (``ı`` to ``i``, Cyrillic ``ё`` to ``е``). Where the database user
may not create the unaccent extension the configuration is plain ``simple`` and
diacritics must match. A tsvector holds at most 1 MB, so only
the first ``PG_INDEX_CHARS`` characters of a text are indexed there.

Ranking on SQLite is FTS5's bm25 over the first CANDIDATES matches for a query of one word. For a
query with a phrase or more than one term, bm25 would first count every document holding each of
them over the whole index (their idf; 100 ms for a phrase of two common words at 1 M documents, 65 ms
for two common words), so those candidates are scored here (``bm25_scores``: the same formula and
column weights, every idf 1: every candidate holds every term of its clause).

Queries are parsed here first, the same way for both backends: words, ``"phrases"``,
``OR`` between words, ``-word`` or ``NOT word`` to exclude. Every word is quoted
before it reaches FTS5, so no user text is FTS5 syntax. Malformed queries raise
InputError with one line.

A capture hit is reported once per activity whose links point to the capture's target
(Capture.target_id -> Target <- Link -> Activity), in activity order, because search
is how an auditor finds the activities a page evidences; a capture no activity links
to still gives one hit without activity.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from sqlalchemy import bindparam, text
from sqlalchemy.exc import OperationalError

from ..errors import ArchiverError, InputError
from .types import UTCDateTime, iso_utc

if TYPE_CHECKING:  # searching needs neither: `archiver search` reads through a Core connection
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

    from .tables import Activity, Extraction

    Reader = Union[Session, Connection]

PG_SEARCH_CONFIG = "archiver_search"  # made by the 0001 migration; a constant, never user text
PG_INDEX_CHARS = 300_000  # keeps every tsvector under PostgreSQL's 1 MB limit (~3 bytes a char at worst)
MAX_QUERY_CHARS = 500
# Matches ranked per search (per table on PostgreSQL): ranking every match of a common word took 0.5 s over
# 100 k documents (issue 10). A query with more matches ranks the first CANDIDATES (in storage order) and
# returns the best of those; one with fewer is ranked whole, as before.
CANDIDATES = 1000
RANK_CHARS = 20_000  # of each candidate's text scored in Python (SQLite: a phrase or several terms)
_WORD = re.compile(r"\w+")
MARK_OPEN, MARK_CLOSE = "[", "]"  # around matched terms in ``snippet``
_RAW_OPEN, _RAW_CLOSE = "\x02", "\x03"  # what the databases put around matches (never in text)
_SNIPPET_WORDS = 24
_PG_HEADLINE = (f'StartSel="{_RAW_OPEN}", StopSel="{_RAW_CLOSE}", MaxWords=35, MinWords=12, '
                'MaxFragments=2, FragmentDelimiter=" … "')
_CFG = PG_SEARCH_CONFIG
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


# ---- query parsing (pure) --------------------------------------------------------------------

@dataclass(frozen=True)
class Clause:
    """Terms that must all match (``include``) and terms that must not (``exclude``)."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()


def _has_word(term: str) -> bool:
    return any(ch.isalnum() for ch in term)


def parse_query(query: str) -> tuple[Clause, ...]:
    """A query as OR-ed clauses of AND-ed terms; InputError (one line) when it cannot be searched."""
    query = (query or "").strip()
    if not query:
        raise InputError("empty search query: give one or more words to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(f"search query too long ({len(query)} characters, at most {MAX_QUERY_CHARS})")
    if query.count('"') % 2:
        raise InputError('unbalanced quote in search query: close the "phrase" with a second "')
    clauses: list[Clause] = []
    include: list[str] = []
    exclude: list[str] = []
    pending: str | None = None  # an operator waiting for its right-hand term
    last_was_term = False
    for m in _TOKEN.finditer(query):
        phrase, word = m.group(1), m.group(2)
        if word in ("OR", "AND", "NOT"):
            if pending or (word != "NOT" and not last_was_term):
                raise InputError(f"misplaced {word} in search query: use it between words, e.g. 'water OR gas'")
            pending, last_was_term = word, False
            continue
        negate = pending == "NOT"
        term = phrase if phrase is not None else word
        if phrase is None and term.startswith("-") and len(term) > 1:
            negate, term = True, term[1:]
        term = " ".join(term.split())
        if not _has_word(term):
            continue  # punctuation alone (*, -, &): nothing to look for
        if pending == "OR":
            if not include:
                raise InputError("misplaced OR in search query: each side needs a word that is not excluded")
            clauses.append(Clause(tuple(include), tuple(exclude)))
            include, exclude = [], []
        (exclude if negate else include).append(term)
        pending, last_was_term = None, True
    if pending:
        raise InputError(f"misplaced {pending} at the end of the search query")
    if include:
        clauses.append(Clause(tuple(include), tuple(exclude)))
    elif exclude:
        raise InputError("search query only excludes words: add a word to search for")
    if not clauses:
        raise InputError("search query has no words to search for (only punctuation or operators)")
    return tuple(clauses)


def _fts5_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def to_fts5(clauses: tuple[Clause, ...]) -> str:
    """FTS5 MATCH expression: every term a quoted string, structure from the parse."""
    parts = []
    for c in clauses:
        expr = " AND ".join(_fts5_string(t) for t in c.include)
        if c.exclude:
            expr = f"({expr}) NOT ({' OR '.join(_fts5_string(t) for t in c.exclude)})"
        parts.append(f"({expr})")
    return " OR ".join(parts)


def to_websearch(clauses: tuple[Clause, ...]) -> str:
    """The same query for websearch_to_tsquery: quoted terms, so ``or`` inside a phrase is a word."""
    def q(t: str) -> str:
        return '"' + t.replace('"', " ") + '"'
    return " or ".join(" ".join([q(t) for t in c.include] + ["-" + q(t) for t in c.exclude]) for c in clauses)


def render_snippet(raw: str | None) -> tuple[str | None, str | None]:
    """(plain snippet with [ ] around matches, HTML-escaped snippet with <mark>) from a raw one."""
    if raw is None:
        return None, None
    raw = " ".join(raw.split())
    plain = raw.replace(_RAW_OPEN, MARK_OPEN).replace(_RAW_CLOSE, MARK_CLOSE)
    marked = html.escape(raw).replace(_RAW_OPEN, "<mark>").replace(_RAW_CLOSE, "</mark>")
    return plain, marked


# ---- keeping the SQLite index current --------------------------------------------------------

def _is_sqlite(db: Reader) -> bool:
    """Whether ``db`` (an ORM session or a Core connection) reads an SQLite database."""
    dialect = getattr(db, "dialect", None) or db.get_bind().dialect
    return dialect.name == "sqlite"


def _put(session: Session, rowid: int, title: str | None, body: str | None) -> None:
    """Index the row as it is: take out what the index holds for it (the same text, when the
    triggers have kept it in step), then add it again."""
    session.execute(text("INSERT INTO search_index(search_index, rowid, title, body) VALUES ('delete', :r, :t, :b)"),
                    {"r": rowid, "t": title or "", "b": body or ""})
    session.execute(text("INSERT INTO search_index(rowid, title, body) VALUES (:r, :t, :b)"),
                    {"r": rowid, "t": title or "", "b": body or ""})


def index_activity(session: Session, activity: Activity) -> None:
    """Make sure ``activity`` is searchable as it is now (the triggers normally did it already)."""
    if _is_sqlite(session):
        session.flush()
        _put(session, activity.id * 2, None, activity.text)


def index_extraction(session: Session, extraction: Extraction) -> None:
    """Make sure ``extraction`` is searchable as it is now (the triggers normally did it already)."""
    if _is_sqlite(session):
        session.flush()
        _put(session, extraction.id * 2 + 1, extraction.title, extraction.text)


def reindex_all(session: Session) -> int:
    """Rebuild the SQLite index from the tables; returns the rows indexed (PostgreSQL: nothing to do)."""
    if not _is_sqlite(session):
        return 0
    session.flush()
    session.execute(text("INSERT INTO search_index(search_index) VALUES ('rebuild')"))
    return session.execute(text("SELECT count(*) FROM search_docs")).scalar_one()


# ---- searching -------------------------------------------------------------------------------

def _own_ranking(clauses) -> bool:
    """Whether a query is ranked here (bm25_scores) rather than by FTS5's bm25: one with a phrase or with
    more than one term. bm25 first counts, over the whole index, the documents that hold each term or
    phrase of the query (its idf): 65 ms at p95 for two common words over 1 M documents (issue 10)."""
    terms = [_words(t) for c in clauses for t in c.include]
    return len(terms) > 1 or any(len(t) > 1 for t in terms)


def _words(s: str) -> list[str]:
    """Tokens as FTS5's unicode61 tokenizer (remove_diacritics 2) makes them, near enough to rank by."""
    if s.isascii():  # nothing to fold but case (most texts: a tenth of the time of the general path)
        return _WORD.findall(s.lower().replace("_", " "))
    folded = unicodedata.normalize("NFKD", s.casefold())
    return _WORD.findall("".join(ch for ch in folded if not unicodedata.combining(ch)).replace("_", " "))


def bm25_scores(docs: list[tuple[str | None, str | None]], clauses) -> list[float]:
    """BM25 (k1 1.2, b 0.75, title weighted 2, as the FTS5 query) of each (title, body) for the
    include terms of ``clauses``, every term's idf taken as 1: all ``docs`` match the query, and a
    phrase's idf is what FTS5 cannot give without reading every document that holds the phrase."""
    terms = [tuple(_words(t)) for c in clauses for t in c.include]
    toks = [(_words(title or ""), _words(body or "")) for title, body in docs]
    lengths = [len(a) + len(b) for a, b in toks]
    avg = (sum(lengths) / len(lengths)) if lengths else 1.0

    def tf(words: list[str], term: tuple[str, ...]) -> int:
        first = term[0]
        if len(term) == 1 or first not in words:
            return words.count(first)
        n = len(term)
        return sum(1 for i, w in enumerate(words) if w == first and tuple(words[i:i + n]) == term)

    scores = []
    for (title, body), length in zip(toks, lengths):
        norm = 1.2 * (1 - 0.75 + 0.75 * length / (avg or 1.0))
        total = 0.0
        for term in terms:  # (parse_query keeps only terms with a word in them: none is empty)
            f = 2.0 * tf(title, term) + tf(body, term)
            total += f * 2.2 / (f + norm)
        scores.append(total)
    return scores


def _own_ranked(session: Reader, q: str, clauses, limit: int) -> list[tuple[int, float]]:
    """The best ``limit`` of the first CANDIDATES matches, scored here (bm25_scores) from the first
    RANK_CHARS of each text: FTS5's bm25 would first count the documents that hold each phrase over the
    whole index (100 ms for a phrase of two common words at 1 M documents)."""
    ids = list(session.scalars(text("SELECT rowid FROM search_index WHERE search_index MATCH :q LIMIT :cap"),
                               {"q": q, "cap": CANDIDATES}))
    docs: dict[int, tuple[str | None, str | None]] = {}
    # (at most CANDIDATES ids, written as integers: no bound parameters, so no limit on their number)
    for odd, table, title in ((0, "activities", "NULL"), (1, "extractions", "title")):
        wanted = ",".join(str(r // 2) for r in ids if r % 2 == odd)
        if wanted:
            for i, t, body in session.execute(text(
                    f"SELECT id, {title}, substr(text, 1, {RANK_CHARS}) FROM {table} WHERE id IN ({wanted})")):
                docs[2 * i + odd] = (t, body)
    ids = [r for r in ids if r in docs]
    scores = bm25_scores([docs[r] for r in ids], clauses)
    return sorted(zip(ids, scores), key=lambda p: (-p[1], p[0]))[:limit]


def _sqlite_matches(session: Reader, clauses, limit: int) -> list[tuple[str, int, float, str | None]]:
    # bm25 for the first CANDIDATES matches only (FTS5 reads a term's documents in rowid order and stops at
    # the LIMIT), the best ``limit`` of them, then the snippets of those alone; a query with a phrase is
    # scored here (_own_ranked)
    ranked = text(
        "SELECT rowid, -rank FROM (SELECT rowid, bm25(search_index, 2.0, 1.0) AS rank FROM search_index "
        "WHERE search_index MATCH :q LIMIT :cap) ORDER BY rank, rowid LIMIT :lim")
    snips = text(
        f"SELECT rowid, snippet(search_index, -1, char(2), char(3), '…', {_SNIPPET_WORDS}) FROM search_index "
        "WHERE search_index MATCH :q AND rowid = :r")
    q = to_fts5(clauses)
    try:
        if _own_ranking(clauses):
            rows = _own_ranked(session, q, clauses, limit)
        else:
            rows = session.execute(ranked, {"q": q, "cap": CANDIDATES, "lim": limit}).all()
        snippet = {r: session.execute(snips, {"q": q, "r": r}).one()[1] for r, _ in rows}
    except OperationalError as exc:
        message = str(exc.orig).splitlines()[0]
        if "fts5" in message:  # quoting makes this unlikely; keep it one line if it happens
            raise InputError(f"search query not understood: {message}") from exc
        raise ArchiverError(f"search failed: {message} (is the database initialised? run `archiver init`)") from exc
    return [("capture" if rowid % 2 else "activity", rowid // 2, score, snippet[rowid]) for rowid, score in rows]


def _pg_matches(session: Reader, clauses, limit: int) -> list[tuple[str, int, float, str | None]]:
    query = to_websearch(clauses)
    if not session.execute(text(f"SELECT numnode(websearch_to_tsquery('{_CFG}', :q))"), {"q": query}).scalar_one():
        raise InputError("search query has no words to search for (only punctuation or operators)")
    # The tsquery is written inline (not in a CTE) so that the planner sees a constant and uses the GIN
    # indexes. Each table gives at most CANDIDATES matches (no order: for a rare word the planner reads the
    # GIN index, for a common one it stops a scan at the LIMIT), only those are ranked, and only the best
    # ``limit`` get a headline (ts_headline parses the whole text).
    tsq = f"websearch_to_tsquery('{_CFG}', :q)"
    sql = text(f"""
        WITH hits AS (
            SELECT 'activity' AS kind, c.id AS ref_id, ts_rank(c.search_vector, {tsq}, 1) AS score
            FROM (SELECT id, search_vector FROM activities WHERE search_vector @@ {tsq} LIMIT :cap) c
            UNION ALL
            SELECT 'capture', c.id, ts_rank(c.search_vector, {tsq}, 1)
            FROM (SELECT id, search_vector FROM extractions WHERE search_vector @@ {tsq} LIMIT :cap) c
            ORDER BY score DESC, kind, ref_id LIMIT :lim)
        SELECT h.kind, h.ref_id, h.score,
               CASE WHEN h.kind = 'activity'
                    THEN ts_headline('{_CFG}', left(a.text, {PG_INDEX_CHARS}), {tsq}, :opts)
                    ELSE ts_headline('{_CFG}', coalesce(e.title || E'\\n', '')
                                     || left(coalesce(e.text, ''), {PG_INDEX_CHARS}), {tsq}, :opts)
               END AS snip
        FROM hits h
        LEFT JOIN activities a ON h.kind = 'activity' AND a.id = h.ref_id
        LEFT JOIN extractions e ON h.kind = 'capture' AND e.id = h.ref_id
        ORDER BY h.score DESC, h.kind, h.ref_id""")
    rows = session.execute(sql, {"q": query, "lim": limit, "cap": CANDIDATES, "opts": _PG_HEADLINE}).all()
    return [(kind, ref_id, float(score), snip) for kind, ref_id, score, snip in rows]


_ACTIVITY_REPORTS = text("SELECT id, report_id FROM activities WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True))
_EXTRACTION_CAPTURES = text(
    "SELECT e.id, e.title, c.id, c.url, c.captured_at, c.target_id FROM extractions e "
    "JOIN captures c ON c.id = e.capture_id WHERE e.id IN :ids").bindparams(
    bindparam("ids", expanding=True)).columns(captured_at=UTCDateTime)
_TARGET_ACTIVITIES = text(
    "SELECT DISTINCT l.target_id, a.id, a.report_id FROM links l JOIN activities a ON a.id = l.activity_id "
    "WHERE l.target_id IN :ids ORDER BY l.target_id, a.id").bindparams(bindparam("ids", expanding=True))


def full_text_search(session: Reader, query: str, limit: int = 20) -> list[dict]:
    """Ranked hits for ``query``, best first, at most ``limit``.

    Each hit: ``kind`` (activity|capture), ``activity_id``, ``report_id``, ``capture_id``,
    ``url`` and ``captured_at`` (ISO UTC; both null for activity-text hits), ``title``,
    ``snippet`` (matches in [ ]), ``snippet_html`` (escaped, matches in <mark>), ``score``
    (higher is better; comparable within one result list only).
    """
    if limit < 1:
        raise InputError("--limit must be at least 1")
    clauses = parse_query(query)
    finder = _sqlite_matches if _is_sqlite(session) else _pg_matches
    matches = finder(session, clauses, limit)
    # plain SQL over the tables, not the ORM classes: a search never imports or configures the ORM (a
    # tenth of every `archiver search`'s start-up); the hits are plain rows anyway
    act_ids = [ref for kind, ref, _, _ in matches if kind == "activity"]
    ext_ids = [ref for kind, ref, _, _ in matches if kind == "capture"]
    activities = {a_id: r_id for a_id, r_id in session.execute(
        _ACTIVITY_REPORTS, {"ids": act_ids})} if act_ids else {}
    captures = {}
    linked: dict[int, list[tuple[int, int]]] = {}
    if ext_ids:
        rows = session.execute(_EXTRACTION_CAPTURES, {"ids": ext_ids}).all()
        captures = {r[0]: r for r in rows}
        targets = sorted({r[5] for r in rows if r[5] is not None})
        if targets:
            for target_id, a_id, r_id in session.execute(_TARGET_ACTIVITIES, {"ids": targets}):
                linked.setdefault(target_id, []).append((a_id, r_id))
    hits: list[dict] = []
    for kind, ref, score, raw in matches:
        snippet, snippet_html = render_snippet(raw)
        base = {"kind": kind, "score": round(score, 6), "snippet": snippet, "snippet_html": snippet_html}
        if kind == "activity":
            if ref in activities:
                hits.append({**base, "activity_id": ref, "report_id": activities[ref], "capture_id": None,
                             "url": None, "captured_at": None, "title": None})
            continue
        if ref not in captures:
            continue
        _, title, capture_id, url, captured_at, target_id = captures[ref]
        for a_id, r_id in linked.get(target_id, [(None, None)]):
            hits.append({**base, "activity_id": a_id, "report_id": r_id, "capture_id": capture_id,
                         "url": url, "captured_at": iso_utc(captured_at), "title": title})
    return hits[:limit]


__all__ = ["Clause", "full_text_search", "index_activity", "index_extraction", "parse_query",
           "reindex_all", "render_snippet", "to_fts5", "to_websearch", "MARK_OPEN", "MARK_CLOSE",
           "PG_INDEX_CHARS", "PG_SEARCH_CONFIG"]

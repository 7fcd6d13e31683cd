"""search text stored once: SQLite FTS5 index over the tables' own text (external content)

Revision ID: 0003_search_once
Revises: 0002_live_and_archived

Until now the SQLite FTS5 table ``search_index`` kept its own copy of every text it
indexed (activities.text, extractions.title and .text): the extracted text of every
capture was stored twice, ~half of a capture database. From this revision the FTS5 table
holds the index only and reads the text, for snippets, from the tables through the view
``search_docs`` (FTS5 "external content"). Rowids stay ``2*id`` (activity) and ``2*id+1``
(extraction), so ranking, ties and snippets are what they were. Expression indexes on
``id*2`` / ``id*2+1`` make each of FTS5's look-ups by rowid an index search.

Triggers keep the index in step. With external content a changed or deleted row must be
taken out of the index with the values it had (FTS5's 'delete' command with ``old.*``).

PostgreSQL already keeps one copy: the tsvector is a generated column beside the text
(0001); nothing changes there.

An upgrade frees the old copy inside the file; SQLite gives the space back to the file
system on ``VACUUM`` (e.g. ``sqlite3 storage/archiver.db VACUUM`` while no pass runs).

A later batch migration that recreates activities or extractions on SQLite must drop the
view and the triggers first and create them again after (see _create / _drop below).
"""
from alembic import op

revision = "0003_search_once"
down_revision = "0002_live_and_archived"
branch_labels = None
depends_on = None

_TOKENIZE = "tokenize='unicode61 remove_diacritics 2'"

_DROP_0001 = [f"DROP TRIGGER IF EXISTS search_{t}" for t in (
    "activities_ai", "activities_au", "activities_ad", "extractions_ai", "extractions_au", "extractions_ad")]

_EXTERNAL = [
    "CREATE INDEX ix_activities_search_doc ON activities (id * 2)",
    "CREATE INDEX ix_extractions_search_doc ON extractions (id * 2 + 1)",
    "CREATE VIEW search_docs (doc_id, title, body) AS "
    "SELECT id * 2, '', text FROM activities UNION ALL "
    "SELECT id * 2 + 1, coalesce(title, ''), coalesce(text, '') FROM extractions",
    f"CREATE VIRTUAL TABLE search_index USING fts5(title, body, content='search_docs', content_rowid='doc_id', "
    f"{_TOKENIZE})",
    "CREATE TRIGGER search_activities_ai AFTER INSERT ON activities BEGIN "
    "INSERT INTO search_index (rowid, title, body) VALUES (new.id * 2, '', new.text); END",
    "CREATE TRIGGER search_activities_au AFTER UPDATE OF text ON activities BEGIN "
    "INSERT INTO search_index (search_index, rowid, title, body) VALUES ('delete', old.id * 2, '', old.text); "
    "INSERT INTO search_index (rowid, title, body) VALUES (new.id * 2, '', new.text); END",
    "CREATE TRIGGER search_activities_ad AFTER DELETE ON activities BEGIN "
    "INSERT INTO search_index (search_index, rowid, title, body) VALUES ('delete', old.id * 2, '', old.text); END",
    "CREATE TRIGGER search_extractions_ai AFTER INSERT ON extractions BEGIN "
    "INSERT INTO search_index (rowid, title, body) "
    "VALUES (new.id * 2 + 1, coalesce(new.title, ''), coalesce(new.text, '')); END",
    "CREATE TRIGGER search_extractions_au AFTER UPDATE OF title, text ON extractions BEGIN "
    "INSERT INTO search_index (search_index, rowid, title, body) "
    "VALUES ('delete', old.id * 2 + 1, coalesce(old.title, ''), coalesce(old.text, '')); "
    "INSERT INTO search_index (rowid, title, body) "
    "VALUES (new.id * 2 + 1, coalesce(new.title, ''), coalesce(new.text, '')); END",
    "CREATE TRIGGER search_extractions_ad AFTER DELETE ON extractions BEGIN "
    "INSERT INTO search_index (search_index, rowid, title, body) "
    "VALUES ('delete', old.id * 2 + 1, coalesce(old.title, ''), coalesce(old.text, '')); END",
    # index what is there (the text, read through the view)
    "INSERT INTO search_index (search_index) VALUES ('rebuild')",
]

# 0001's form, for a downgrade: the FTS5 table with its own copy of the text
_OWN_COPY = [
    f"CREATE VIRTUAL TABLE search_index USING fts5(title, body, {_TOKENIZE})",
    "CREATE TRIGGER search_activities_ai AFTER INSERT ON activities BEGIN "
    "INSERT INTO search_index(rowid, title, body) VALUES (new.id * 2, '', new.text); END",
    "CREATE TRIGGER search_activities_au AFTER UPDATE OF text ON activities BEGIN "
    "DELETE FROM search_index WHERE rowid = old.id * 2; "
    "INSERT INTO search_index(rowid, title, body) VALUES (new.id * 2, '', new.text); END",
    "CREATE TRIGGER search_activities_ad AFTER DELETE ON activities BEGIN "
    "DELETE FROM search_index WHERE rowid = old.id * 2; END",
    "CREATE TRIGGER search_extractions_ai AFTER INSERT ON extractions BEGIN "
    "INSERT INTO search_index(rowid, title, body) "
    "VALUES (new.id * 2 + 1, coalesce(new.title, ''), coalesce(new.text, '')); END",
    "CREATE TRIGGER search_extractions_au AFTER UPDATE OF title, text ON extractions BEGIN "
    "DELETE FROM search_index WHERE rowid = old.id * 2 + 1; "
    "INSERT INTO search_index(rowid, title, body) "
    "VALUES (new.id * 2 + 1, coalesce(new.title, ''), coalesce(new.text, '')); END",
    "CREATE TRIGGER search_extractions_ad AFTER DELETE ON extractions BEGIN "
    "DELETE FROM search_index WHERE rowid = old.id * 2 + 1; END",
    "INSERT INTO search_index(rowid, title, body) SELECT id * 2, '', text FROM activities",
    "INSERT INTO search_index(rowid, title, body) "
    "SELECT id * 2 + 1, coalesce(title, ''), coalesce(text, '') FROM extractions",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if not _sqlite():
        return  # PostgreSQL: the tsvector already sits beside the one copy of the text
    for statement in _DROP_0001 + ["DROP TABLE search_index"] + _EXTERNAL:
        op.execute(statement)


def downgrade() -> None:
    if not _sqlite():
        return
    for statement in _DROP_0001 + ["DROP TABLE search_index", "DROP VIEW search_docs",
                                   "DROP INDEX ix_activities_search_doc", "DROP INDEX ix_extractions_search_doc"]:
        op.execute(statement)
    for statement in _OWN_COPY:
        op.execute(statement)

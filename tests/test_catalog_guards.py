"""Every catalog is read-only for plain clients; galaxlite's own statements keep working.

The plain client is Python's ``sqlite3`` in a separate process (see conftest.py). Its writes
to a catalog fail as SQLite prepares them: the guards call ``galaxlite_catalog_writer()``,
which only galaxlite connections define ("no such function"); a galaxlite connection's own
statements outside ``catalog_writer`` get the guard's message ("galaxlite: ...").
"""

from __future__ import annotations

import sqlite3

import apsw
import pytest

import galaxlite
from galaxlite.storage.guards import CATALOG_GUARDS, LEVEL_KEY

REFUSED = r"galaxlite: |no such function: galaxlite_catalog_writer"


@pytest.fixture
def tagged(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE labels (name TEXT PRIMARY KEY, note TEXT)")
    db.execute("INSERT INTO labels VALUES ('science', 'old'), ('sports', 'old')")
    db.execute("CREATE VERSION TAG 'v1' FOR TRAINING")  # a tag, and an export record
    db.execute("UPDATE labels SET note = 'new'")
    return db


TAMPERING = [
    "DELETE FROM galaxlite_tags",
    "INSERT INTO galaxlite_tags (name, version, created_us) VALUES ('forged', 1, 1)",
    "UPDATE galaxlite_tags SET version = 1",
    "UPDATE galaxlite_tables SET name = 'x'",
    "DELETE FROM galaxlite_tables",
    "INSERT INTO galaxlite_tables SELECT table_id + 1, name, valid_from + 1, valid_to, history, "
    "companion, key_columns, columns FROM galaxlite_tables",
    "DELETE FROM galaxlite_exports",
    "INSERT INTO galaxlite_exports VALUES ('t', 1, 'x', 'p', 'float32', NULL, 0, 'h', 1, 1)",
    "UPDATE galaxlite_clock SET version = 0",
    "UPDATE galaxlite_clock SET pinned = 1",
    "UPDATE galaxlite_clock SET pinned = 7, version = version + 1",
    "DELETE FROM galaxlite_clock",
    "INSERT INTO galaxlite_clock VALUES (2, 0, 0)",
    "UPDATE galaxlite_clock SET version = version || 'x'",
    "UPDATE galaxlite_clock SET version = version + 0.5",
    "UPDATE galaxlite_clock SET pinned = 1, version = version + 1",
    "INSERT INTO galaxlite_meta VALUES ('galaxlite_catalog_writer', 1)",
    "DELETE FROM galaxlite_meta",
    "UPDATE galaxlite_embedding_columns SET embedder = 'other'",
    "DELETE FROM galaxlite_embedding_history",
    "UPDATE galaxlite_embedding_history SET valid_to = 1",
    "INSERT INTO galaxlite_embeddings VALUES ('hash', x'00', 1, x'00000000')",
    "DELETE FROM db4ai_snapshot",
]


@pytest.mark.parametrize("sql", TAMPERING)
def test_plain_client_cannot_change_the_catalogs(tagged: galaxlite.Database, plain, sql: str) -> None:
    before = {
        t: sorted(tagged.query(f"SELECT * FROM {t}"))
        for t in ("galaxlite_tags", "galaxlite_tables", "galaxlite_exports", "galaxlite_clock", "galaxlite_meta")
    }
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        plain().execute(sql)
    after = {t: sorted(tagged.query(f"SELECT * FROM {t}")) for t in before}
    assert after == before
    assert tagged.query("SELECT * FROM labels AT VERSION 'v1' ORDER BY name") == [
        ("science", "old"), ("sports", "old")
    ]


def test_plain_client_writes_still_advance_the_clock(tagged: galaxlite.Database, plain) -> None:
    version = tagged.version
    plain().execute("INSERT INTO labels VALUES ('art', 'plain')")
    assert tagged.version > version
    assert tagged.query("SELECT * FROM labels AT VERSION 'v1' ORDER BY name") == [
        ("science", "old"), ("sports", "old")
    ]


def test_galaxlite_statements_pass_the_guards(tagged: galaxlite.Database, tmp_path) -> None:
    db = tagged
    db.create_tag("v2")
    db.drop_tag("v2")
    db.execute("ALTER TABLE labels ADD COLUMN weight REAL")
    db.execute("ALTER TABLE labels RENAME COLUMN note TO remark")
    db.execute("ALTER TABLE labels RENAME TO tags_of_docs")
    db.execute("ALTER TABLE tags_of_docs DROP COLUMN weight")
    db.execute("CREATE TABLE other (x)")
    db.execute("DROP TABLE other")
    with galaxlite.Database(tmp_path / "train") as train:
        train.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL)")
        train.execute("INSERT INTO t (x) VALUES (1.5)")
        train.execute("CREATE VERSION TAG 'e' FOR TRAINING")
        assert len(train.exports("e")) == 1
        assert train.query("SELECT galaxlite_catalog_writer()") == [(0,)]  # closed again
    assert [t.name for t in db.tags()] == ["v1"]
    assert db.query("SELECT * FROM labels AT VERSION 'v1' ORDER BY name") == [  # its name then
        ("science", "old"), ("sports", "old")
    ]
    assert db.query("SELECT galaxlite_catalog_writer()") == [(0,)]


def test_a_user_statement_through_galaxlite_does_not_pass_the_guards(tagged: galaxlite.Database) -> None:
    """The guards are open only inside galaxlite's own catalog writes, not to any statement
    a galaxlite connection runs (a user's trigger that writes a catalog, say)."""
    tagged.execute("CREATE TABLE notes (x) WITHOUT VERSIONING")
    tagged.execute("CREATE TRIGGER wipe AFTER INSERT ON notes BEGIN DELETE FROM galaxlite_tags; END")
    with pytest.raises(galaxlite.Error, match="version tags are removed only by DROP VERSION TAG"):
        tagged.execute("INSERT INTO notes VALUES (1)")
    assert [t.name for t in tagged.tags()] == ["v1"]


def test_a_failed_statement_leaves_the_guards_closed(tagged: galaxlite.Database, plain) -> None:
    with pytest.raises(galaxlite.DuplicateTagError):
        tagged.create_tag("v1")
    tagged.begin()
    with pytest.raises(galaxlite.DuplicateTagError):
        tagged.create_tag("v1")
    assert tagged.query("SELECT galaxlite_catalog_writer()") == [(0,)]
    tagged.commit()
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        plain().execute("DELETE FROM galaxlite_tags")


def test_a_file_without_the_guards_gets_them_when_opened(db_path, plain) -> None:
    with galaxlite.Database(db_path) as db:
        db.execute("CREATE TABLE t (x)")
        db.create_tag("v1")
    raw = apsw.Connection(str(db_path))  # a file as an older galaxlite left it
    for guard in CATALOG_GUARDS:
        raw.execute(f"DROP TRIGGER {guard}")
    raw.execute("DELETE FROM galaxlite_meta WHERE key = ?", (LEVEL_KEY,))
    raw.close()
    plain().execute("INSERT INTO galaxlite_tags (name, version, created_us) VALUES ('f', 1, 1)")  # unguarded
    with galaxlite.Database(db_path) as db:
        found = {n for (n,) in db.query("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert set(CATALOG_GUARDS) <= found
        assert db.check() == []
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        plain().execute("DELETE FROM galaxlite_tags")


def test_marker_guards_of_an_older_galaxlite_are_replaced_when_opened(db_path, plain) -> None:
    """An older galaxlite's guards let through any client that inserted the galaxlite_meta
    row 'galaxlite_catalog_writer': opening the file replaces them."""
    with galaxlite.Database(db_path) as db:
        db.execute("CREATE TABLE t (x)")
        db.create_tag("v1")
    raw = apsw.Connection(str(db_path))
    for guard in CATALOG_GUARDS:
        raw.execute(f"DROP TRIGGER {guard}")
    raw.execute("DELETE FROM galaxlite_meta WHERE key = ?", (LEVEL_KEY,))
    raw.execute("CREATE TRIGGER galaxlite_tags_no_delete BEFORE DELETE ON galaxlite_tags WHEN NOT EXISTS "
                "(SELECT 1 FROM galaxlite_meta WHERE key = 'galaxlite_catalog_writer') "
                "BEGIN SELECT RAISE(ABORT, 'galaxlite: old guard'); END")
    raw.close()
    with galaxlite.Database(db_path) as db:
        assert db.check() == []
    client = plain()
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        client.execute("INSERT INTO galaxlite_meta VALUES ('galaxlite_catalog_writer', 1)")
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        client.execute("DELETE FROM galaxlite_tags")

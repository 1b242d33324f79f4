"""Every catalog is read-only for plain clients; galaxlite's own statements keep working.

The plain client is Python's ``sqlite3`` in a separate process (see conftest.py).
"""

from __future__ import annotations

import sqlite3

import apsw
import pytest

import galaxlite
from galaxlite.storage.guards import CATALOG_GUARDS, CATALOG_WRITER


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
]


@pytest.mark.parametrize("sql", TAMPERING)
def test_plain_client_cannot_change_the_catalogs(tagged: galaxlite.Database, plain, sql: str) -> None:
    before = {
        t: sorted(tagged.query(f"SELECT * FROM {t}"))
        for t in ("galaxlite_tags", "galaxlite_tables", "galaxlite_exports", "galaxlite_clock")
    }
    with pytest.raises(sqlite3.DatabaseError, match="galaxlite: "):
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
        assert train.query("SELECT count(*) FROM galaxlite_meta WHERE key = ?", (CATALOG_WRITER,)) == [(0,)]
    assert [t.name for t in db.tags()] == ["v1"]
    assert db.query("SELECT * FROM labels AT VERSION 'v1' ORDER BY name") == [  # its name then
        ("science", "old"), ("sports", "old")
    ]
    assert db.query("SELECT count(*) FROM galaxlite_meta WHERE key = ?", (CATALOG_WRITER,)) == [(0,)]


def test_a_failed_statement_leaves_the_guards_closed(tagged: galaxlite.Database, plain) -> None:
    with pytest.raises(galaxlite.DuplicateTagError):
        tagged.create_tag("v1")
    tagged.begin()
    with pytest.raises(galaxlite.DuplicateTagError):
        tagged.create_tag("v1")
    assert tagged.query("SELECT count(*) FROM galaxlite_meta WHERE key = ?", (CATALOG_WRITER,)) == [(0,)]
    tagged.commit()
    with pytest.raises(sqlite3.DatabaseError, match="galaxlite: "):
        plain().execute("DELETE FROM galaxlite_tags")


def test_a_file_without_the_guards_gets_them_when_opened(db_path, plain) -> None:
    with galaxlite.Database(db_path) as db:
        db.execute("CREATE TABLE t (x)")
        db.create_tag("v1")
    raw = apsw.Connection(str(db_path))  # a file as an older galaxlite left it
    for guard in CATALOG_GUARDS:
        raw.execute(f"DROP TRIGGER {guard}")
    raw.close()
    plain().execute("INSERT INTO galaxlite_tags (name, version, created_us) VALUES ('f', 1, 1)")  # unguarded
    with galaxlite.Database(db_path) as db:
        found = {n for (n,) in db.query("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert set(CATALOG_GUARDS) <= found
    with pytest.raises(sqlite3.DatabaseError, match="galaxlite: "):
        plain().execute("DELETE FROM galaxlite_tags")

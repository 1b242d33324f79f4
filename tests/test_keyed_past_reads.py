"""Reads of the past cost what they read: a key lookup AT VERSION probes the key.

History is indexed by the primary key and valid_to; the current-rows part of an AT VERSION
subquery lets SQLite push the key into it. What the engine remembers between reads (tag
versions, rendered subqueries) is forgotten when another connection commits, on rollback
and on this connection's writes.
"""

from __future__ import annotations

import apsw
import pytest

import galaxlite


@pytest.fixture
def changed(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
    db.execute("CREATE TABLE w (a TEXT, b INTEGER, n, PRIMARY KEY (a, b)) WITHOUT ROWID")
    db.executemany("INSERT INTO t (n) VALUES (?)", [(i,) for i in range(200)])
    db.executemany("INSERT INTO w VALUES (?, ?, ?)", [("k", i, i) for i in range(50)])
    db.create_tag("v1")
    db.execute("UPDATE t SET n = -n WHERE id % 10 = 0")
    db.execute("UPDATE w SET n = -n WHERE b % 10 = 0")
    return db


def _plan(db: galaxlite.Database, sql: str, params: tuple) -> list[str]:
    return [row[-1] for row in db.query("EXPLAIN QUERY PLAN " + sql, params)]


@pytest.mark.parametrize("sql, params, want", [
    ("SELECT n FROM t AT VERSION 'v1' WHERE id = ?", (20,), [(19,)]),
    ("SELECT n FROM w AT VERSION 'v1' WHERE a = ? AND b = ?", ("k", 20), [(20,)]),
])
def test_a_key_lookup_of_the_past_probes_the_key(changed: galaxlite.Database, sql, params, want) -> None:
    assert changed.query(sql, params) == want
    steps = _plan(changed, sql, params)
    assert any("USING INDEX _gl_h" in s and "_key" in s for s in steps), steps
    assert not any(s.startswith("SCAN") and "_gl_" in s for s in steps), steps
    # (the outer "SCAN t" / "SCAN w" reads the subquery's co-routine: one row)


def test_an_older_file_gets_the_key_index_when_opened(db_path) -> None:
    db = galaxlite.Database(str(db_path))
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n)")
    db.close()
    raw = apsw.Connection(str(db_path))
    raw.execute("DROP INDEX _gl_h1_key")
    raw.close()
    db = galaxlite.Database(str(db_path))
    try:
        assert db.query("SELECT count(*) FROM sqlite_master WHERE name = '_gl_h1_key'") == [(1,)]
    finally:
        db.close()


def test_what_is_remembered_follows_other_connections(db: galaxlite.Database, open_db) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n)")
    db.execute("INSERT INTO t (n) VALUES (1)")
    db.create_tag("v1")
    other = open_db()
    assert other.query("SELECT n FROM t AT VERSION 'v1'") == [(1,)]
    db.execute("BULK INSERT INTO t (n) VALUES (2), (3)")  # appended after v1: not in it
    assert other.query("SELECT n FROM t AT VERSION 'v1'") == [(1,)]
    db.execute("DROP VERSION TAG 'v1'")
    with pytest.raises(galaxlite.UnknownTagError):
        other.query("SELECT n FROM t AT VERSION 'v1'")


def test_what_is_remembered_is_forgotten_on_rollback(db: galaxlite.Database) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n)")
    db.execute("INSERT INTO t (n) VALUES (1)")
    db.begin()
    db.create_tag("v1")
    assert db.query("SELECT n FROM t AT VERSION 'v1'") == [(1,)]
    db.rollback()
    with pytest.raises(galaxlite.UnknownTagError):
        db.query("SELECT n FROM t AT VERSION 'v1'")
    db.execute("SAVEPOINT s")
    db.create_tag("v2")
    assert db.query("SELECT n FROM t AT VERSION 'v2'") == [(1,)]
    db.execute("ROLLBACK TO s")
    with pytest.raises(galaxlite.UnknownTagError):
        db.query("SELECT n FROM t AT VERSION 'v2'")
    db.execute("RELEASE s")


@pytest.mark.parametrize("first", [0, -5, 1000])
def test_bulk_path_for_any_key_layout_of_an_empty_table(db: galaxlite.Database, first: int) -> None:
    """ids from 0, negative, or with gaps: an empty table takes the bulk path (one range row,
    no companion row per row), and the rows read right at every version."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n)")
    db.create_tag("empty")
    rows = [(first + 3 * i, i) for i in range(100)]
    db.executemany("INSERT INTO t VALUES (?, ?)", rows)
    assert db.query("SELECT count(*) FROM _gl_c1") == [(0,)]
    assert db.query("SELECT lo, hi FROM _gl_r1") == [(first, first + 3 * 99)]
    db.create_tag("full")
    db.execute("BULK INSERT INTO t VALUES (-100, 0)")  # below the maximum: through the triggers
    assert sorted(db.query("SELECT * FROM t AT VERSION 'full'")) == rows
    assert db.query("SELECT * FROM t AT VERSION 'empty'") == []
    assert db.query("SELECT count(*) FROM t") == [(101,)]

"""Bulk inserts with the connection's triggers off (``galaxlite.runners.bulk_writes``):
taken only when nothing but the inserted rows can change, and versioned exactly as the
triggers would version them. Each case is compared with a plain copy at each tag."""

from __future__ import annotations

import pytest

import galaxlite

ROWS = [(k, f"u{k}", k * 10) for k in range(1, 201)]


@pytest.fixture
def t(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, u TEXT UNIQUE, n INTEGER)")
    db.execute("CREATE TABLE src (id INTEGER PRIMARY KEY, u TEXT, n INTEGER) WITHOUT VERSIONING")
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", ROWS)
    db.create_tag("before")
    return db


def rows(db: galaxlite.Database, source: str = "t") -> list[tuple]:
    return db.query(f"SELECT id, u, n FROM {source} ORDER BY id")


def fill_src(db: galaxlite.Database, data: list[tuple]) -> None:
    db.execute("DELETE FROM src")
    db.executemany("INSERT INTO src VALUES (?, ?, ?)", data)


def test_appended_rows_are_one_range_and_the_past_stays(t: galaxlite.Database) -> None:
    fill_src(t, [(k, f"u{k}", k) for k in range(500, 800)])
    ranges = t.query("SELECT count(*) FROM _gl_r1")
    t.execute("BULK INSERT INTO t SELECT * FROM src")
    assert t.query("SELECT count(*) FROM _gl_r1") == [(ranges[0][0] + 1,)]
    assert t.query("SELECT count(*) FROM _gl_c1 WHERE _gl_k0 >= 500") == [(0,)]
    assert rows(t, "t AT VERSION 'before'") == ROWS
    assert len(rows(t)) == 500


def test_a_replacing_bulk_insert_keeps_the_replaced_rows_in_history(t: galaxlite.Database) -> None:
    """OR REPLACE on the UNIQUE column deletes old rows: with the triggers off their
    versions would be lost, so this statement goes through the triggers."""
    fill_src(t, [(1000 + k, f"u{k}", -k) for k in range(1, 51)])
    t.execute("BULK INSERT OR REPLACE INTO t SELECT * FROM src")
    assert rows(t, "t AT VERSION 'before'") == ROWS
    assert t.query("SELECT count(*) FROM t WHERE id <= 50") == [(0,)]


def test_an_upserting_executemany_versions_the_updated_rows(t: galaxlite.Database) -> None:
    upsert = "INSERT INTO t VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET n = excluded.n"
    t.executemany(upsert, [(k, f"u{k}", 0) for k in range(1, 101)])  # the bulk path's size
    assert rows(t, "t AT VERSION 'before'") == ROWS
    assert t.query("SELECT count(*) FROM t WHERE n = 0") == [(100,)]


def test_rows_below_the_highest_rowid_go_through_the_triggers(t: galaxlite.Database) -> None:
    t.execute("DELETE FROM t WHERE id BETWEEN 50 AND 59")
    t.create_tag("gap")
    fill_src(t, [(k, f"v{k}", k) for k in range(50, 60)] + [(k, f"v{k}", k) for k in range(300, 400)])
    t.execute("BULK INSERT INTO t SELECT * FROM src")
    assert rows(t, "t AT VERSION 'before'") == ROWS
    assert len(rows(t, "t AT VERSION 'gap'")) == 190
    assert len(rows(t)) == 300


def test_a_failing_bulk_insert_leaves_nothing(t: galaxlite.Database) -> None:
    fill_src(t, [(500, "u1", 1)])  # u1 is taken
    before = rows(t)
    with pytest.raises(galaxlite.IntegrityError):
        t.execute("BULK INSERT INTO t SELECT * FROM src")
    assert rows(t) == before
    assert t.query("SELECT count(*) FROM _gl_r1 WHERE hi >= 500") == [(0,)]

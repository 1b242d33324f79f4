"""Views and triggers that read the past stay in the past.

SQLite keeps the text of a ``CREATE VIEW`` / ``CREATE TRIGGER`` and runs it again at every
use, long after galaxlite rewrote its ``AT VERSION`` references. The rewrite must therefore
not depend on what the file holds at definition time (which rows were closed since, which
bulk ranges were appended since): a view over a tag reads exactly what a direct
``AT VERSION`` query reads, after any later write, through galaxlite and through a plain
``sqlite3`` client alike.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest

import galaxlite

WRITES = {
    "bulk insert": lambda db: db.execute("BULK INSERT INTO t (a) VALUES ('z1'), ('z2'), ('z3')"),
    "executemany": lambda db: db.executemany(
        "INSERT INTO t (a) VALUES (?)", [(f"m{i}",) for i in range(100)]
    ),
    "api bulk_insert": lambda db: db.bulk_insert("t", [(None, f"b{i}") for i in range(70)]),
    "arrow bulk_insert": lambda db: db.bulk_insert(
        "t", pa.table({"a": [f"r{i}" for i in range(10)]}), columns=["a"]
    ),
    "update": lambda db: db.execute("UPDATE t SET a = a || '!'"),
    "delete": lambda db: db.execute("DELETE FROM t WHERE id % 2 = 0"),
    "insert": lambda db: db.execute("INSERT INTO t (a) VALUES ('one more')"),
}


def _setup(db: galaxlite.Database) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
    db.execute("INSERT INTO t (a) VALUES ('x'), ('y')")
    db.execute("CREATE VERSION TAG 'v1'")


@pytest.mark.parametrize("write", list(WRITES))
def test_view_over_a_tag_keeps_the_tags_rows(db: galaxlite.Database, plain, write: str) -> None:
    _setup(db)
    db.execute("CREATE VIEW t_v1 AS SELECT * FROM t AT VERSION 'v1'")
    want = Counter(db.query("SELECT * FROM t AT VERSION 'v1'"))
    assert Counter(db.query("SELECT * FROM t_v1")) == want
    for _ in range(2):  # the second round also meets rows the first one appended or closed
        WRITES[write](db)
        assert Counter(db.query("SELECT * FROM t_v1")) == want
        assert Counter(db.query("SELECT * FROM t AT VERSION 'v1'")) == want
    assert Counter(map(tuple, plain().execute("SELECT * FROM t_v1").fetchall())) == want


def test_view_made_after_later_writes_still_sees_the_tag(db: galaxlite.Database, plain) -> None:
    """A view defined when rows had already been closed / appended since the tag."""
    _setup(db)
    db.execute("BULK INSERT INTO t (a) VALUES ('late')")
    db.execute("UPDATE t SET a = 'changed' WHERE id = 1")
    db.execute("CREATE VIEW t_v1 AS SELECT * FROM t AT VERSION 'v1'")
    db.execute("DELETE FROM t")
    db.executemany("INSERT INTO t (a) VALUES (?)", [(f"m{i}",) for i in range(100)])
    want = Counter([(1, "x"), (2, "y")])
    assert Counter(db.query("SELECT * FROM t_v1")) == want
    assert Counter(map(tuple, plain().execute("SELECT * FROM t_v1").fetchall())) == want


def test_view_over_a_timestamp_and_a_join(db: galaxlite.Database) -> None:
    _setup(db)
    v = db.tag_version("v1")
    db.execute(
        f"CREATE VIEW pairs AS SELECT o.id, n.a FROM t AT VERSION {v} AS o "
        "JOIN t AS n ON n.id = o.id"
    )
    db.execute("BULK INSERT INTO t (a) VALUES ('z')")
    assert sorted(db.query("SELECT * FROM pairs")) == [(1, "x"), (2, "y")]


def test_trigger_body_reading_the_past(db: galaxlite.Database, plain) -> None:
    """A trigger that counts the tag's rows counts the same after later bulk writes, whoever
    fires it."""
    _setup(db)
    db.execute("CREATE TABLE log (n INTEGER)")
    db.execute("CREATE TABLE poke (x)")
    db.execute(
        "CREATE TRIGGER count_v1 AFTER INSERT ON poke BEGIN "
        "INSERT INTO log SELECT count(*) FROM t AT VERSION 'v1'; END"
    )
    db.executemany("INSERT INTO t (a) VALUES (?)", [(f"m{i}",) for i in range(100)])
    db.execute("INSERT INTO poke VALUES (1)")
    plain().execute("INSERT INTO poke VALUES (2)")
    assert db.query("SELECT n FROM log") == [(2,), (2,)]


def test_without_rowid_view(db: galaxlite.Database) -> None:
    db.execute("CREATE TABLE w (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID")
    db.execute("INSERT INTO w VALUES ('a', 1), ('b', 2)")
    db.execute("CREATE VERSION TAG 'v1'")
    db.execute("CREATE VIEW w_v1 AS SELECT * FROM w AT VERSION 'v1'")
    db.executemany("INSERT INTO w VALUES (?, ?)", [(f"k{i}", i) for i in range(100)])
    db.execute("UPDATE w SET v = v + 10")
    assert sorted(db.query("SELECT * FROM w_v1")) == [("a", 1), ("b", 2)]

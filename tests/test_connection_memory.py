"""galaxlite's connection keeps SQLite's lookaside free for the queries' own work.

Every statement galaxlite keeps prepared (apsw's statement cache holds up to 100) is
prepared with ``SQLITE_PREPARE_PERSISTENT`` (``galaxlite.engine.connection``): otherwise the
dozen statements galaxlite runs at open, and the ones around every write, fill the
connection's 123 lookaside slots, and every per-row allocation of a query goes to malloc
(an ``AT VERSION`` aggregate over 1M rows: 353 against 297 ms).
"""

from __future__ import annotations

from pathlib import Path

import apsw

import galaxlite
import galaxlite.dbapi

SLOTS_FREE_ENOUGH = 40  # of 123: what the user's own few statements here may hold


def lookaside_in_use(db: galaxlite.Database) -> int:
    return db.session.conn.status(apsw.SQLITE_DBSTATUS_LOOKASIDE_USED)[0]


def work(db: galaxlite.Database) -> None:
    """A bit of everything galaxlite does around its statements."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL)")
    for i in range(20):
        db.execute("INSERT INTO t (name, score) VALUES (?, ?)", (f"n{i}", i))
    db.execute("UPDATE t SET score = score + 1 WHERE id < 5")
    db.execute("DELETE FROM t WHERE id = 3")
    db.create_tag("v1")
    db.execute("UPDATE t SET name = 'x' WHERE id = 4")
    with db.transaction():
        db.execute("INSERT INTO t (name, score) VALUES ('y', 1)")
        db.execute("UPDATE t SET score = 0 WHERE id = 1")
    db.executemany("INSERT INTO t (name, score) VALUES (?, ?)", [("b", 2.0)] * 50)
    assert db.execute("SELECT count(*) FROM t AT VERSION 'v1'").fetchone() == (19,)
    assert db.execute("SELECT name FROM t AT VERSION 'v1' WHERE id = ?", (4,)).fetchone() == ("n3",)
    db.create_tag("v2")
    db.execute("SELECT * FROM t CHANGES BETWEEN VERSION 'v1' AND VERSION 'v2'").fetchall()


def test_galaxlite_own_statements_leave_the_lookaside_free(tmp_path: Path) -> None:
    db = galaxlite.Database(tmp_path / "a.galaxlite")
    opened = lookaside_in_use(db)
    work(db)
    assert opened < 10  # (an apsw.Connection after the same open: all 123)
    assert lookaside_in_use(db) < SLOTS_FREE_ENOUGH
    db.close()


def test_a_plain_apsw_connection_fills_it_with_the_same_statements(tmp_path: Path) -> None:
    """What the test above guards against: the same statements, kept by apsw's cache on a
    plain connection, hold every slot."""
    conn = apsw.Connection(str(tmp_path / "plain.db"))
    for i in range(40):
        conn.execute(f"SELECT {i}, ? + 1", (i,)).fetchall()
    assert conn.status(apsw.SQLITE_DBSTATUS_LOOKASIDE_USED)[0] >= SLOTS_FREE_ENOUGH


def test_dbapi_and_hot_paths_keep_working(tmp_path: Path) -> None:
    """The hot paths (a plain query, a one-row INSERT again in a transaction, the DB-API's
    own cursor) run on apsw's own execute, with the same results."""
    path = tmp_path / "b.galaxlite"
    db = galaxlite.Database(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
    with db.transaction():
        for n in range(5):
            db.execute("INSERT INTO t (n) VALUES (?)", (n,))
    for _ in range(3):
        assert db.execute("SELECT n FROM t WHERE id = ?", (2,)).fetchall() == [(1,)]
    db.close()
    con = galaxlite.dbapi.connect(str(path))
    cur = con.cursor()
    for _ in range(3):
        cur.execute("SELECT count(*), sum(n) FROM t")
        assert cur.fetchone() == (5, 10)
    con.close()

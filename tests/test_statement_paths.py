"""The two hot paths of ``Database.execute``: a plain query (its result is a
``CursorResult``, the apsw cursor that runs it) and a one-row INSERT run again in the same
transaction (on one reused cursor). Each behaves as the general path does: the first run of
a statement text takes the general path, the next ones the hot path, so the tests compare
the two.
"""

from __future__ import annotations

import numpy as np
import pytest

import galaxlite
from galaxlite.engine.result import CursorResult

QUERIES = [
    ("SELECT 1 AS a, 'x' AS b", None),
    ("SELECT id, n FROM t WHERE id = ?", (2,)),
    ("SELECT id, n FROM t WHERE id > ? ORDER BY id", (0,)),
    ("SELECT n FROM t WHERE 0", None),
    ("SELECT :p AS p, typeof(:p)", {"p": np.int64(7)}),
]


@pytest.fixture
def t(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
    db.executemany("INSERT INTO t (n) VALUES (?)", [(10,), (20,), (30,), (40,)])
    return db


def consumed(r: galaxlite.Result) -> list:
    """Everything the Result API tells, in the order a program would ask."""
    return [r.description, r.columns, r.rowcount, r.lastrowid, r.fetchone(), r.fetchmany(2),
            r.fetchall(), r.fetchone(), r.fetchall(), r.description, isinstance(r, galaxlite.Result)]


@pytest.mark.parametrize(("sql", "params"), QUERIES)
def test_a_plain_querys_result_is_a_result(t: galaxlite.Database, sql: str, params) -> None:
    general = t.execute(sql, params)
    hot = t.execute(sql, params)
    assert type(hot) is CursorResult and type(general) is not CursorResult
    assert consumed(hot) == consumed(general)
    assert list(t.execute(sql, params)) == t.query(sql, params)


def test_held_results_keep_their_own_rows(t: galaxlite.Database) -> None:
    sql = "SELECT n FROM t WHERE id >= ? ORDER BY id"
    t.execute(sql, (1,))
    first, second = t.execute(sql, (1,)), t.execute(sql, (3,))
    assert second.fetchone() == (30,)
    assert first.fetchall() == [(10,), (20,), (30,), (40,)]
    assert second.fetchall() == [(40,)]
    assert first.description == second.description == (("n", "INTEGER", None, None, None, None, None),)


@pytest.mark.parametrize("how", ["next", "for", "fetchone", "fetchmany", "fetchall"])
def test_errors_while_stepping_a_plain_query_are_galaxlite_errors(db: galaxlite.Database, how: str) -> None:
    sql = "SELECT 1 UNION ALL SELECT abs(-9223372036854775807 - 1)"
    db.execute(sql)
    r = db.execute(sql)
    assert type(r) is CursorResult
    take = {
        "next": lambda: (next(r), next(r)),
        "for": lambda: [row for row in r],
        "fetchone": lambda: (r.fetchone(), r.fetchone()),
        "fetchmany": lambda: r.fetchmany(5),
        "fetchall": r.fetchall,
    }[how]
    with pytest.raises(galaxlite.Error, match="overflow"):
        take()
    assert type(r) is CursorResult
    assert r.columns == ["1"]
    assert db.query("SELECT 2") == [(2,)]


def test_a_result_runs_no_sql(db: galaxlite.Database) -> None:
    db.execute("SELECT 1")
    r = db.execute("SELECT 1")
    for name in ("execute", "executemany", "get_connection", "connection"):
        with pytest.raises(AttributeError):
            getattr(r, name)("SELECT 2") if name != "connection" else r.connection  # noqa: B018


def test_plain_queries_after_close(tmp_path) -> None:
    db = galaxlite.Database(tmp_path / "c.db")
    db.execute("SELECT 1")
    db.execute("SELECT 1")
    db.close()
    with pytest.raises(galaxlite.InterfaceError):
        db.execute("SELECT 1")


def test_a_subclass_execute_is_called(tmp_path) -> None:
    class Logged(galaxlite.Database):
        def execute(self, sql, parameters=None):
            seen.append(sql)
            return super().execute(sql, parameters)

    seen: list[str] = []
    with Logged(tmp_path / "s.db") as db:
        db.query("SELECT 1")
    assert seen == ["SELECT 1"]


INSERT = "INSERT INTO u (id, n) VALUES (?, ?)"


@pytest.fixture
def u(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, n INTEGER UNIQUE)")
    return db


def test_one_row_inserts_report_as_sqlite_does(u: galaxlite.Database) -> None:
    """rowcount, lastrowid, changes(), total_changes, numpy values, a failing row and an
    ignored one, in one transaction (the hot path from the second INSERT on)."""
    seen = []
    u.begin()
    for k in range(1, 5):
        r = u.execute(INSERT, (np.int64(k), k * 10) if k % 2 else (k, np.float64(k * 10)))
        seen.append((r.rowcount, r.lastrowid, u.total_changes))
    assert u.session.has_pending  # the hot path ran
    with pytest.raises(galaxlite.IntegrityError, match="UNIQUE"):
        u.execute(INSERT, (9, 10))
    assert u.query("SELECT changes()") == [(0,)]  # as SQLite's after a failed INSERT
    ignore = "INSERT OR IGNORE INTO u (id, n) VALUES (?, ?)"
    for key, n in ((5, 50), (6, 10), (7, 70)):
        r = u.execute(ignore, (key, n))
        seen.append((r.rowcount, r.lastrowid, u.total_changes))
    nothing = "INSERT INTO u (id, n) VALUES (?, ?) ON CONFLICT DO NOTHING"
    for key, n in ((8, 80), (9, 80)):
        r = u.execute(nothing, (key, n))
        seen.append((r.rowcount, r.lastrowid, u.total_changes))
    assert u.query("SELECT changes(), last_insert_rowid()") == [(0, 8)]
    u.commit()
    assert seen == [(1, 1, 1), (1, 2, 2), (1, 3, 3), (1, 4, 4), (1, 5, 5), (0, 5, 5), (1, 7, 6),
                    (1, 8, 7), (0, 8, 7)]
    assert u.query("SELECT id, n, typeof(n) FROM u WHERE id IN (1, 2)") == [
        (1, 10, "integer"), (2, 20, "integer")]
    assert u.query("SELECT count(*) FROM u") == [(7,)]
    assert u.check() == []


def test_a_one_row_insert_run_again_while_it_runs(u: galaxlite.Database) -> None:
    """A function the INSERT calls runs the same INSERT (on the hot path, whose reused
    cursor is busy then): both rows are written and versioned."""
    sql = "INSERT INTO u (id, n) VALUES (?, again(?))"

    def again(n: int) -> int:
        if n == 3:
            u.execute(sql, (100, 300))
        return n

    u.create_function("again", 1, again)
    u.create_tag("empty")
    with u.transaction():
        lastrowids = [u.execute(sql, (k, k)).lastrowid for k in range(1, 6)]
    assert lastrowids == [1, 2, 3, 4, 5]
    assert u.query("SELECT id FROM u ORDER BY id") == [(1,), (2,), (3,), (4,), (5,), (100,)]
    assert u.query("SELECT count(*) FROM u AT VERSION 'empty'") == [(0,)]
    assert u.check() == []

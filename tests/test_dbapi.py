"""galaxlite.connect: parity with the standard library's sqlite3, transactions, galaxlite SQL.

Parity tests run the same scenario against ``sqlite3.connect`` and ``galaxlite.connect``
(each on its own real file) and compare what a DB-API user observes. Where galaxlite
differs on purpose (error class of a syntax error, type codes in ``description``, PEP 249
errors from fetching without a result set), the test says so.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import galaxlite

PEP249_NAMES = (
    "IntegrityError",
    "ProgrammingError",
    "OperationalError",
    "DataError",
    "InternalError",
    "NotSupportedError",
    "InterfaceError",
    "DatabaseError",
    "Error",
    "Warning",
)

Connect = Callable[..., Any]
MODULES: dict[str, Connect] = {"sqlite3": sqlite3.connect, "galaxlite": galaxlite.connect}


def pep249_class(exc: BaseException) -> str:
    """The most specific PEP 249 class name of ``exc`` (galaxlite adds subclasses)."""
    for cls in type(exc).__mro__:
        if cls.__name__ in PEP249_NAMES:
            return cls.__name__
    return type(exc).__name__


def observe(fn: Callable[[], Any]) -> Any:
    """The result of ``fn()``, or the PEP 249 class name of what it raised."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the class is the observation
        return ("raised", pep249_class(exc))


def parity(tmp_path: Path, scenario: Callable[[Connect, Path], Any]) -> tuple[Any, Any]:
    """(sqlite3's observations, galaxlite's observations) of ``scenario`` on fresh files."""
    results = []
    for name, connect in MODULES.items():
        folder = tmp_path / name
        folder.mkdir()
        results.append(scenario(connect, folder / "p.db"))
    return results[0], results[1]


@pytest.fixture
def con(tmp_path):
    connection = galaxlite.connect(tmp_path / "g.db")
    yield connection
    connection.close()


@pytest.fixture
def items(con):
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, price REAL)")
    con.executemany("INSERT INTO items (name, price) VALUES (?, ?)", [("apple", 1.0), ("pear", 2.0)])
    con.commit()
    return con


# ------------------------------------------------------------------ sqlite3 parity


def test_parity_rowcount(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        cur = con.cursor()
        seen = [cur.rowcount]
        for sql, params in [
            ("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)", ()),
            ("INSERT INTO t (name, n) VALUES (?, ?)", ("a", 1)),
            ("INSERT INTO t (name, n) VALUES ('b', 2), ('c', 3), ('d', 4)", ()),
            ("UPDATE t SET n = n + 1 WHERE n >= 2", ()),
            ("UPDATE t SET n = 0 WHERE n > 100", ()),
            ("SELECT * FROM t", ()),
            ("REPLACE INTO t (id, name, n) VALUES (1, 'a', 9)", ()),
            ("INSERT OR IGNORE INTO t (name, n) VALUES ('a', 1)", ()),
            ("DELETE FROM t WHERE n < 5", ()),
            ("DELETE FROM t", ()),
            ("CREATE INDEX t_n ON t (n)", ()),
        ]:
            cur.execute(sql, params)
            seen.append(cur.rowcount)
        con.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours == [-1, -1, 1, 3, 3, 0, -1, 1, 0, 2, 2, -1]


def test_parity_lastrowid(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        cur = con.cursor()
        seen = [cur.lastrowid]
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        cur.execute("INSERT INTO t (name) VALUES ('a')")
        seen.append(cur.lastrowid)
        cur.execute("INSERT INTO t (id, name) VALUES (10, 'b')")
        seen.append(cur.lastrowid)
        other = con.cursor()
        other.execute("UPDATE t SET name = 'z' WHERE id = 1")
        seen.append(other.lastrowid)  # the connection's last inserted rowid
        seen.append(observe(lambda: cur.execute("INSERT INTO t (name) VALUES ('b')")))
        seen.append(cur.lastrowid)  # a failed insert leaves it unchanged
        many = con.cursor()
        many.executemany("INSERT INTO t (name) VALUES (?)", [("c",), ("d",)])
        seen.append(many.lastrowid)  # executemany leaves it unchanged
        cur.execute("REPLACE INTO t (id, name) VALUES (5, 'e')")
        seen.append(cur.lastrowid)
        con.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours == [None, 1, 10, 10, ("raised", "IntegrityError"), 10, None, 5]


def test_parity_description(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        cur = con.cursor()
        seen = [cur.description]
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
        seen.append(cur.description)
        cur.execute("INSERT INTO t (name, price) VALUES ('a', 1.5)")
        seen.append(cur.description)
        for sql in (
            "SELECT id, name AS label, price * 2, count(*) OVER () FROM t",
            "SELECT * FROM t WHERE id < 0",
            "INSERT INTO t (name) VALUES ('b') RETURNING id, name",
        ):
            cur.execute(sql)
            before = [(d[0], len(d)) for d in cur.description]
            cur.fetchall()
            after = [(d[0], len(d)) for d in cur.description]  # still valid after the last row
            seen.append((before, after))
        con.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours[3][0] == [("id", 7), ("label", 7), ("price * 2", 7), ("count(*) OVER ()", 7)]


def test_description_carries_declared_types(items):
    # A difference on purpose: sqlite3 puts None in type_code; galaxlite the declared type.
    desc = items.execute("SELECT id, name, price, price * 2 FROM items").description
    assert [d[:2] for d in desc] == [("id", "INTEGER"), ("name", "TEXT"), ("price", "REAL"), ("price * 2", None)]
    assert all(d[2:] == (None,) * 5 for d in desc)


def test_parity_fetching(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
        con.executemany("INSERT INTO t (v) VALUES (?)", [(x,) for x in (1, 2.5, "x", b"\x00", None)] * 3)
        cur = con.execute("SELECT id, v FROM t ORDER BY id")
        seen = [cur.fetchone(), cur.fetchmany(2), cur.fetchmany(), list(cur)[:3]]
        cur.arraysize = 4
        seen.append(cur.fetchall())
        cur.execute("SELECT v FROM t WHERE id = :id", {"id": 3})
        seen.append(cur.fetchall())
        cur.execute("SELECT ?1 + ?1, ?2", (20, "y"))
        seen.append(cur.fetchone())
        seen.append(cur.fetchmany(-1))
        con.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours[0] == (1, 1) and ours[5] == [("x",)] and ours[6] == (40, "y")


def test_parity_implicit_begin(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        seen = []
        for sql in [
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
            "SELECT * FROM t",
            "INSERT INTO t (name) VALUES ('a')",
            "SELECT * FROM t",
            "CREATE TABLE u (x)",  # DDL inside the open transaction
            "COMMIT",
            "UPDATE t SET name = 'b'",
            "ROLLBACK",
            "DELETE FROM t",
            "REPLACE INTO t (id, name) VALUES (1, 'c')",
        ]:
            con.execute(sql)
            seen.append((sql.split()[0], con.in_transaction))
        con.commit()
        seen.append(con.in_transaction)
        seen.append(con.execute("SELECT name FROM t").fetchall())
        con.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours[2] == ("INSERT", True) and ours[1] == ("SELECT", False) and ours[-1] == [("c",)]


def test_parity_commit_and_rollback_visibility(tmp_path):
    def scenario(connect, path):
        writer, reader = connect(path), connect(path)
        count = "SELECT count(*) FROM t"
        writer.execute("CREATE TABLE t (x INTEGER)")
        writer.execute("INSERT INTO t VALUES (1)")
        seen = [reader.execute(count).fetchone()]  # not committed: invisible
        writer.commit()
        seen.append(reader.execute(count).fetchone())
        writer.execute("INSERT INTO t VALUES (2)")
        writer.rollback()
        seen.append(reader.execute(count).fetchone())
        seen.append(writer.execute(count).fetchone())
        with writer:
            writer.execute("INSERT INTO t VALUES (3)")
        seen.append(reader.execute(count).fetchone())  # `with` committed
        with pytest.raises(ZeroDivisionError), writer:
            writer.execute("INSERT INTO t VALUES (4)")
            raise ZeroDivisionError
        seen.append(reader.execute(count).fetchone())  # `with` rolled back
        seen.append(writer.execute(count).fetchone())  # and the connection stays open
        writer.execute("INSERT INTO t VALUES (5)")
        writer.close()  # closing without commit discards the change
        seen.append(reader.execute(count).fetchone())
        reader.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours == [(0,), (1,), (1,), (1,), (2,), (2,), (2,), (2,)]


def test_parity_reexecuting_a_cursor_reads_fresh_data(tmp_path):
    # The previous statement of a cursor is finished before its next one runs, so a
    # half-read result never pins an old snapshot of the database.
    def scenario(connect, path):
        reader, writer = connect(path), connect(path)
        writer.execute("PRAGMA journal_mode = WAL")  # galaxlite's mode: readers never block writers
        writer.execute("CREATE TABLE t (x)")
        writer.execute("INSERT INTO t VALUES (1), (2)")
        writer.commit()
        cur = reader.cursor()
        seen = [cur.execute("SELECT x FROM t ORDER BY x").fetchone()]  # left half-read
        writer.execute("INSERT INTO t VALUES (0)")
        writer.commit()
        seen.append(cur.execute("SELECT x FROM t ORDER BY x").fetchone())
        seen.append(cur.execute("SELECT count(*) FROM t").fetchone())
        reader.close()
        writer.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours == [(1,), (0,), (3,)]


def test_parity_isolation_level(tmp_path):
    def scenario(connect, path):
        con, reader = connect(path, isolation_level=None), connect(path)
        con.execute("CREATE TABLE t (x)")
        con.execute("INSERT INTO t VALUES (1)")
        seen = [con.isolation_level, con.in_transaction, reader.execute("SELECT count(*) FROM t").fetchone()]
        con.isolation_level = "IMMEDIATE"
        con.execute("INSERT INTO t VALUES (2)")
        seen += [con.isolation_level, con.in_transaction, reader.execute("SELECT count(*) FROM t").fetchone()]
        con.isolation_level = None  # commits the pending transaction
        seen += [con.in_transaction, reader.execute("SELECT count(*) FROM t").fetchone()]
        con.isolation_level = "deferred"
        seen.append(con.isolation_level)
        seen.append(observe(lambda: setattr(con, "isolation_level", "SOMETIMES")))
        seen.append(con.isolation_level)
        con.close()
        reader.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours[:6] == [None, False, (1,), "IMMEDIATE", True, (1,)]
    assert ours[-3:] == ["DEFERRED", ("raised", "ValueError"), "DEFERRED"]


def test_isolation_level_validation(con):
    with pytest.raises(ValueError):
        con.isolation_level = "SOMETIMES"
    with pytest.raises(TypeError):
        con.isolation_level = 1
    with pytest.raises(ValueError):
        galaxlite.connect(":memory:", isolation_level="NEVER")


def test_parity_executemany(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        cur = con.cursor()
        cur.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
        cur.executemany("INSERT INTO t (n) VALUES (?)", [(i,) for i in range(10)])
        seen = [cur.rowcount, con.in_transaction]
        cur.executemany("UPDATE t SET n = n + 100 WHERE n % ? = 0", [(2,), (3,), (1000,)])
        seen.append(cur.rowcount)
        cur.executemany("INSERT INTO t (n) VALUES (:n)", iter([{"n": 1}, {"n": 2}]))  # an iterator
        seen.append(cur.rowcount)
        cur.executemany("DELETE FROM t WHERE n = ?", [])
        seen.append(cur.rowcount)
        seen.append(observe(lambda: cur.executemany("SELECT ?", [(1,)])))
        seen.append(observe(lambda: cur.executemany("INSERT INTO t (n) VALUES (?)", [(1,), (2, 3)])))
        con.commit()
        seen.append(con.execute("SELECT count(*) FROM t").fetchone())
        con.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours[:7] == theirs[:7]
    assert ours[:5] == [10, True, 9, 2, 0]
    assert ours[5] == ours[6] == ("raised", "ProgrammingError")
    # A difference on purpose: a failing executemany() changes nothing in galaxlite;
    # sqlite3 keeps the rows before the bad parameter set.
    assert (theirs[7], ours[7]) == ((13,), (12,))


def test_executemany_failure_is_all_or_nothing(items):
    # sqlite3 would keep the rows before the failing one inside the transaction;
    # galaxlite makes one executemany() call one all-or-nothing write.
    with pytest.raises(galaxlite.IntegrityError):
        items.executemany("INSERT INTO items (name) VALUES (?)", [("kiwi",), ("apple",)])
    assert items.execute("SELECT count(*) FROM items").fetchone() == (2,)


def test_parity_executescript(tmp_path):
    def scenario(connect, path):
        con, reader = connect(path), connect(path)
        con.execute("CREATE TABLE t (x)")
        con.execute("INSERT INTO t VALUES (1)")
        seen = [con.in_transaction]
        cur = con.executescript("INSERT INTO t VALUES (2); INSERT INTO t VALUES (3);")
        seen += [con.in_transaction, cur.rowcount, cur.description]
        seen.append(reader.execute("SELECT count(*) FROM t").fetchone())  # pending commit done first
        con.close()
        reader.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours == [True, False, -1, None, (3,)]


def test_executescript_is_atomic_outside_a_transaction(items):
    # galaxlite's guarantee (sqlite3 would keep the first INSERT).
    with pytest.raises(galaxlite.IntegrityError):
        items.executescript("INSERT INTO items (name) VALUES ('kiwi'); INSERT INTO items (name) VALUES ('apple');")
    assert items.execute("SELECT count(*) FROM items").fetchone() == (2,)


def test_parity_error_classes(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        con.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
        con.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
            "n INTEGER CHECK (n >= 0), p INTEGER REFERENCES p (id))"
        )
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("INSERT INTO t (name, n) VALUES ('a', 1)")
        con.commit()
        cases = [
            ("INSERT INTO t (name, n) VALUES ('a', 2)", ()),  # UNIQUE
            ("INSERT INTO t (name, n) VALUES (NULL, 2)", ()),  # NOT NULL
            ("INSERT INTO t (name, n) VALUES ('b', -1)", ()),  # CHECK
            ("INSERT INTO t (name, p) VALUES ('c', 42)", ()),  # FOREIGN KEY
            ("INSERT INTO t (id, name) VALUES (1, 'd')", ()),  # PRIMARY KEY
            ("SELECT ?", (1, 2)),  # wrong number of parameters
            ("SELECT 1; SELECT 2", ()),  # two statements in execute()
        ]
        seen = [observe(lambda s=sql, p=params: con.execute(s, p).fetchall()) for sql, params in cases]
        con.rollback()
        seen.append(con.execute("SELECT count(*) FROM t").fetchone())
        con.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours[:5] == [("raised", "IntegrityError")] * 5
    assert ours[5:7] == [("raised", "ProgrammingError")] * 2


def test_syntax_errors_are_programming_errors(con):
    # A difference on purpose: sqlite3 raises OperationalError for a syntax error or a
    # missing table; PEP 249 (and galaxlite) call those ProgrammingError.
    with pytest.raises(sqlite3.OperationalError):
        sqlite3.connect(":memory:").execute("SELEC 1")
    with pytest.raises(galaxlite.ProgrammingError) as info:
        con.execute("SELEC 1")
    assert isinstance(info.value, galaxlite.SqlSyntaxError)
    with pytest.raises(galaxlite.ProgrammingError, match="no such table"):
        con.execute("SELECT * FROM missing")




def test_missing_named_parameter_is_a_programming_error(tmp_path, con):
    with pytest.raises(sqlite3.ProgrammingError):
        sqlite3.connect(tmp_path / "s.db").execute("SELECT :a", {"b": 1})
    with pytest.raises(galaxlite.ProgrammingError):
        con.execute("SELECT :a", {"b": 1})


def test_unsupported_parameter_type_is_a_programming_error(tmp_path, con):
    with pytest.raises(sqlite3.ProgrammingError):
        sqlite3.connect(tmp_path / "s.db").execute("SELECT ?", (object(),))
    with pytest.raises(galaxlite.ProgrammingError):
        con.execute("SELECT ?", (object(),))


def test_parity_locked_database_is_an_operational_error(tmp_path):
    def scenario(connect, path):
        first = connect(path, isolation_level="IMMEDIATE")
        second = connect(path, timeout=0)
        first.execute("CREATE TABLE t (x)")
        first.execute("INSERT INTO t VALUES (1)")  # holds the write lock until commit
        seen = [observe(lambda: second.execute("INSERT INTO t VALUES (2)"))]
        second.rollback()  # its (deferred) transaction saw the old state: start afresh
        first.commit()
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()
        seen.append(first.execute("SELECT count(*) FROM t").fetchone())
        first.close()
        second.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours == [("raised", "OperationalError"), (2,)]


def test_connect_while_another_connection_writes(tmp_path):
    path = tmp_path / "g.db"
    writer = galaxlite.connect(path)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")  # an open write transaction
    reader = galaxlite.connect(path, timeout=0)  # a reader must not need the write lock
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
    reader.close()
    writer.close()


def test_parity_closed_cursor_and_connection(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        cur = con.execute("SELECT 1 UNION ALL SELECT 2")
        cur.close()
        cur.close()  # closing twice is fine
        seen = [observe(cur.fetchone), observe(lambda: cur.execute("SELECT 1"))]
        open_cur = con.execute("SELECT 1 UNION ALL SELECT 2")
        con.close()
        con.close()  # so is closing a connection twice
        seen += [
            observe(open_cur.fetchall),
            observe(lambda: open_cur.execute("SELECT 1")),
            observe(con.cursor),
            observe(con.commit),
            observe(con.rollback),
            observe(lambda: con.execute("SELECT 1")),
        ]
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours == [("raised", "ProgrammingError")] * 8


def test_fetch_without_a_result_set_raises(con):
    # PEP 249 requires an Error here; sqlite3 returns None / [] instead.
    cur = con.cursor()
    with pytest.raises(galaxlite.ProgrammingError, match="no statement"):
        cur.fetchone()
    cur.execute("CREATE TABLE t (x)")
    for fetch in (cur.fetchone, cur.fetchall, cur.fetchmany, lambda: next(cur)):
        with pytest.raises(galaxlite.ProgrammingError, match="result set"):
            fetch()
    cur.executemany("INSERT INTO t VALUES (?)", [(1,)])
    with pytest.raises(galaxlite.ProgrammingError, match="result set"):
        cur.fetchall()


def test_a_failed_execute_leaves_no_result(items):
    cur = items.execute("SELECT name FROM items")
    with pytest.raises(galaxlite.IntegrityError):
        cur.execute("INSERT INTO items (name) VALUES ('apple')")
    assert cur.description is None and cur.rowcount == -1
    with pytest.raises(galaxlite.ProgrammingError):
        cur.fetchone()


def test_error_met_while_fetching_is_a_galaxlite_error(con):
    con.execute("CREATE TABLE n (x INTEGER)")
    con.execute("INSERT INTO n VALUES (1), (-9223372036854775808)")
    cur = con.execute("SELECT abs(x) FROM n ORDER BY rowid")
    assert cur.fetchone() == (1,)
    with pytest.raises(galaxlite.DatabaseError, match="integer overflow"):
        cur.fetchone()


# ------------------------------------------------------------------ autocommit (Python 3.12 semantics)


def test_autocommit_default_is_legacy(con):
    assert con.autocommit == galaxlite.LEGACY_TRANSACTION_CONTROL == -1
    assert con.isolation_level == ""


def test_autocommit_true(tmp_path):
    con = galaxlite.connect(tmp_path / "a.db", autocommit=True)
    reader = galaxlite.connect(tmp_path / "a.db")
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    assert not con.in_transaction
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    con.execute("BEGIN")
    con.execute("INSERT INTO t VALUES (2)")
    con.commit()  # does nothing with autocommit=True
    con.rollback()  # neither does this
    assert con.in_transaction
    with con:  # nor the context manager
        pass
    assert con.in_transaction
    con.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (2,)
    con.close()
    reader.close()


def test_autocommit_false_always_has_a_transaction(tmp_path):
    path = tmp_path / "a.db"
    con = galaxlite.connect(path, autocommit=False)
    reader = galaxlite.connect(path)
    assert con.in_transaction  # opened at connect
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    assert con.in_transaction  # the next one is open already
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    con.execute("INSERT INTO t VALUES (2)")
    con.rollback()
    assert con.in_transaction
    assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)
    con.executescript("INSERT INTO t VALUES (3); INSERT INTO t VALUES (4);")
    assert con.in_transaction  # executescript runs inside the open transaction
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    con.execute("INSERT INTO t VALUES (5)")
    con.close()  # rolls back
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    reader.close()


def test_autocommit_false_ignores_isolation_level_none(tmp_path):
    con = galaxlite.connect(tmp_path / "a.db", autocommit=False, isolation_level=None)
    assert con.in_transaction
    con.close()


def test_setting_autocommit(tmp_path):
    path = tmp_path / "a.db"
    con = galaxlite.connect(path)
    reader = galaxlite.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    assert con.in_transaction
    con.autocommit = True  # commits the pending transaction
    assert not con.in_transaction
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    con.autocommit = False  # opens one
    assert con.in_transaction
    con.execute("INSERT INTO t VALUES (2)")
    con.autocommit = galaxlite.LEGACY_TRANSACTION_CONTROL  # leaves it as it is
    assert con.in_transaction
    con.commit()
    assert not con.in_transaction
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (2,)
    for bad in (1, 0, None, "yes", -2):
        with pytest.raises(ValueError):
            con.autocommit = bad
    with pytest.raises(ValueError):
        galaxlite.connect(path, autocommit="no")
    con.close()
    reader.close()


def test_parity_context_manager_rolls_back_a_failing_commit(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
        con.execute(
            "CREATE TABLE c (id INTEGER PRIMARY KEY, "
            "p INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        seen = []
        try:
            with con:
                con.execute("INSERT INTO c (p) VALUES (42)")  # checked only at COMMIT
        except Exception as exc:  # noqa: BLE001
            seen.append(pep249_class(exc))
        seen += [con.in_transaction, con.execute("SELECT count(*) FROM c").fetchone()]
        with con:
            con.execute("INSERT INTO p VALUES (42)")
            con.execute("INSERT INTO c (p) VALUES (42)")
        seen.append(con.execute("SELECT count(*) FROM c").fetchone())
        con.close()
        return seen

    theirs, ours = parity(tmp_path, scenario)
    assert ours == theirs
    assert ours == ["IntegrityError", False, (0,), (1,)]


def test_context_manager_does_not_close(con):
    with con as entered:
        assert entered is con
        con.execute("CREATE TABLE t (x)")
    assert not con.closed
    con.close()
    assert con.closed
    with pytest.raises(galaxlite.ProgrammingError):
        with con:
            pass


# ------------------------------------------------------------------ row_factory, cursor, arrow


def test_row_factory(items):
    def as_dict(cursor, row):
        return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}

    items.row_factory = as_dict
    cur = items.cursor()
    assert cur.row_factory is as_dict
    cur.execute("SELECT id, name FROM items ORDER BY id")
    assert cur.fetchone() == {"id": 1, "name": "apple"}
    assert cur.fetchall() == [{"id": 2, "name": "pear"}]
    assert items.execute("SELECT name FROM items ORDER BY id").fetchmany(5) == [{"name": "apple"}, {"name": "pear"}]
    assert [r["name"] for r in items.execute("SELECT name FROM items ORDER BY id")] == ["apple", "pear"]
    cur.row_factory = None  # per cursor
    assert cur.execute("SELECT name FROM items WHERE id = 1").fetchone() == ("apple",)
    items.row_factory = None
    assert items.execute("SELECT name FROM items WHERE id = 1").fetchone() == ("apple",)


def test_cursor_factory_and_connection_attributes(items):
    class Named(galaxlite.Cursor):
        __slots__ = ()

        def names(self):
            return [r[0] for r in self.fetchall()]

    cur = items.cursor(Named)
    assert cur.execute("SELECT name FROM items ORDER BY name").names() == ["apple", "pear"]
    with pytest.raises(TypeError):
        items.cursor(lambda c: object())
    assert isinstance(items.database, galaxlite.Database)
    assert galaxlite.Connection is galaxlite.dbapi.Connection


def test_fetch_arrow(items):
    cur = items.execute("SELECT id, name, price FROM items ORDER BY id")
    assert cur.fetchone() == (1, "apple", 1.0)
    table = cur.fetch_arrow()  # the remaining rows
    assert table.column_names == ["id", "name", "price"]
    assert table.to_pylist() == [{"id": 2, "name": "pear", "price": 2.0}]
    assert table.schema.field("price").type == pa.float64()
    empty = items.execute("SELECT id, name FROM items WHERE id < 0").fetch_arrow()
    assert empty.num_rows == 0
    assert empty.schema.types == [pa.int64(), pa.string()]
    assert cur.description is not None
    with pytest.raises(galaxlite.ProgrammingError):
        items.execute("UPDATE items SET price = 3").fetch_arrow()
    with pytest.raises(galaxlite.ProgrammingError):
        items.cursor().fetch_arrow()


def test_execute_returns_the_cursor_and_shortcuts(items):
    cur = items.cursor()
    assert cur.execute("SELECT 1") is cur
    assert cur.executemany("UPDATE items SET price = ? WHERE id = ?", [(5, 1)]) is cur
    assert cur.executescript("SELECT 1;") is cur
    assert isinstance(items.execute("SELECT 1"), galaxlite.Cursor)
    assert items.executemany("UPDATE items SET price = ?", [(1,)]).rowcount == 2
    assert items.executescript("UPDATE items SET price = 0").rowcount == -1


def test_empty_statement(con):
    cur = con.execute("  -- nothing here")
    assert cur.description is None and cur.rowcount == -1


def test_sql_must_be_a_string(con):
    with pytest.raises(galaxlite.InterfaceError):
        con.execute(42)


# ------------------------------------------------------------------ galaxlite statements


def test_version_tags_and_time_travel_with_parameters(items):
    cur = items.cursor()
    v1 = cur.execute("CREATE VERSION TAG ?", ("v1",)).fetchone()[0]
    assert cur.description[0][0] == "version" and cur.rowcount == -1
    assert not items.in_transaction  # a tag never opens a transaction
    cur.execute("UPDATE items SET price = price * 10")
    cur.execute("INSERT INTO items (name, price) VALUES (?, ?)", ("kiwi", 3.0))
    items.commit()
    cur.execute("CREATE VERSION TAG :name", {"name": "v2"})
    cur.execute("SELECT name, price FROM items AT VERSION ? ORDER BY id", ("v1",))
    assert cur.fetchall() == [("apple", 1.0), ("pear", 2.0)]
    cur.execute("SELECT count(*) FROM items AT VERSION ?", (v1,))  # an int is a timestamp
    assert cur.fetchone() == (2,)
    cur.execute(
        "SELECT now.name, past.price, now.price FROM items AS now "
        "JOIN items AT VERSION ? AS past ON past.id = now.id WHERE now.price > ? ORDER BY now.id",
        ("v1", 15),
    )
    assert cur.fetchall() == [("pear", 2.0, 20.0)]
    cur.execute("SELECT count(*) FROM items AT VERSION :v WHERE price < :p", {"v": "v2", "p": 100})
    assert cur.fetchone() == (3,)
    assert [t.name for t in items.database.tags()] == ["v1", "v2"]
    cur.execute("DROP VERSION TAG ?", ("v2",))
    assert [t.name for t in items.database.tags()] == ["v1"]


def test_galaxlite_errors_through_the_dbapi(items):
    items.execute("CREATE VERSION TAG 'v1'")
    with pytest.raises(galaxlite.UnknownTagError):
        items.execute("SELECT * FROM items AT VERSION ?", ("nope",))
    with pytest.raises(galaxlite.DuplicateTagError):
        items.execute("CREATE VERSION TAG ?", ("v1",))
    with pytest.raises(galaxlite.ReadOnlyVersionError):
        items.execute("DELETE FROM items AT VERSION 'v1'")
    with pytest.raises(galaxlite.ProgrammingError):
        items.execute("SELECT * FROM items AT VERSION ?", (1.5,))
    items.execute("INSERT INTO items (name) VALUES ('kiwi')")  # opens a transaction
    with pytest.raises(galaxlite.NotSupportedError, match="inside a transaction"):
        items.execute("CREATE VERSION TAG 'train' FOR TRAINING")
    assert isinstance(galaxlite.UnknownTagError("x"), items.ProgrammingError)


def test_a_transaction_is_one_version(items):
    items.execute("CREATE VERSION TAG 'before'")
    items.execute("INSERT INTO items (name) VALUES ('kiwi')")  # implicit BEGIN
    items.execute("UPDATE items SET price = 9 WHERE name = 'kiwi'")
    items.execute("DELETE FROM items WHERE name = 'apple'")
    assert items.in_transaction
    items.commit()
    items.execute("CREATE VERSION TAG 'after'")
    count = "SELECT count(*) FROM items AT VERSION ?"
    assert items.execute(count, ("before",)).fetchone() == (2,)
    assert items.execute(count, ("after",)).fetchone() == (2,)
    assert items.execute("SELECT name, price FROM items AT VERSION 'after' ORDER BY id").fetchall() == [
        ("pear", 2.0),
        ("kiwi", 9.0),
    ]
    # no version between the two tags saw half of the transaction
    versions = items.execute(
        "SELECT DISTINCT valid_from FROM _gl_c1 WHERE valid_from > (SELECT version FROM galaxlite_tags "
        "WHERE name = 'before')"
    ).fetchall()
    assert len(versions) == 1


def test_bulk_insert_through_the_dbapi(items):
    cur = items.cursor()
    cur.execute("BULK INSERT INTO items (name, price) VALUES (?, ?), (?, ?)", ("a", 1, "b", 2))
    assert cur.rowcount == 2 and cur.lastrowid == 4
    assert items.in_transaction  # a galaxlite write opens the implicit transaction too
    items.rollback()
    assert items.execute("SELECT count(*) FROM items").fetchone() == (2,)
    cur.executemany("BULK INSERT INTO items (name, price) VALUES (?, ?)", [(f"n{i}", i) for i in range(100)])
    assert cur.rowcount == 100
    items.commit()
    assert items.execute("SELECT count(*) FROM items").fetchone() == (102,)


def test_rollback_undoes_ddl_and_tags_inside_a_transaction(items):
    items.execute("INSERT INTO items (name) VALUES ('kiwi')")
    items.execute("CREATE TABLE extra (x)")
    items.execute("CREATE VERSION TAG 'inside'")
    items.rollback()
    assert items.execute("SELECT count(*) FROM items").fetchone() == (2,)
    assert items.database.tags() == []
    with pytest.raises(galaxlite.ProgrammingError):
        items.execute("SELECT * FROM extra")


def test_plain_sqlite_client_sees_dbapi_commits(tmp_path):
    path = tmp_path / "g.db"
    con = galaxlite.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    plain = sqlite3.connect(path)
    assert plain.execute("SELECT count(*) FROM t").fetchone() == (0,)
    con.commit()
    assert plain.execute("SELECT count(*) FROM t").fetchone() == (1,)
    plain.close()
    con.close()


def test_connect_takes_the_exports_location(tmp_path):
    """``galaxlite.connect(..., exports=...)`` sends training exports where ``Database`` would."""
    elsewhere = tmp_path / "datasets"
    con = galaxlite.connect(tmp_path / "x.db", exports=elsewhere)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v REAL)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(i, i / 2) for i in range(5)])
    con.commit()
    con.execute("CREATE VERSION TAG 'v1' FOR TRAINING")
    con.close()
    assert not (tmp_path / "x.db.exports").exists()
    db = galaxlite.Database(tmp_path / "x.db", exports=elsewhere)
    try:
        (export,) = db.exports("v1")
        assert Path(export.path).is_relative_to(elsewhere) and export.rows == 5
        assert [v.status for v in db.verify_export("v1")] == ["ok"]
    finally:
        db.close()

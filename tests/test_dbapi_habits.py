"""sqlite3 habits kept by galaxlite.connect: rows, text and type conversion, URIs, threads,
user functions, iterdump, backup, total_changes, progress handlers, interrupt, numpy values.

Where behaviour can be compared, the same scenario runs on ``sqlite3.connect`` and on
``galaxlite.connect`` (each on its own real file) and the observations must be equal.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import galaxlite

MODULES = {"sqlite3": sqlite3.connect, "galaxlite": galaxlite.connect}


def both(tmp_path: Path, scenario) -> tuple:
    """(sqlite3's observations, galaxlite's) of ``scenario(connect, path)`` on fresh files."""
    out = []
    for name, connect in MODULES.items():
        (tmp_path / name).mkdir()
        out.append(scenario(connect, tmp_path / name / "h.db"))
    return tuple(out)


def pep249(exc: BaseException) -> str:
    """The PEP 249 class of ``exc`` (galaxlite adds subclasses of its own)."""
    for cls in type(exc).__mro__:
        if cls.__name__ in ("ProgrammingError", "OperationalError", "IntegrityError"):
            return cls.__name__
    return type(exc).__name__


def items(connect, path, **kwargs):
    con = connect(path, **kwargs)
    con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, Name TEXT, price REAL, born DATE)")
    con.executemany("INSERT INTO items (Name, price, born) VALUES (?, ?, ?)",
                    [("apple", 1.5, "2024-01-02"), ("pear", 2.0, "2023-05-06")])
    con.commit()
    return con


# ------------------------------------------------------------------ rows and values


@pytest.mark.parametrize("factory", ["sqlite3.Row", "galaxlite.Row"])
def test_row_factory_row_behaves_as_sqlite3_row(tmp_path, factory):
    def scenario(connect, path):
        con = items(connect, path)
        con.row_factory = sqlite3.Row if factory == "sqlite3.Row" or connect is sqlite3.connect else galaxlite.Row
        row = con.execute("SELECT id, Name, price FROM items ORDER BY id").fetchone()
        again = con.execute("SELECT id, Name, price FROM items ORDER BY id").fetchone()
        other = con.execute("SELECT id, Name, price FROM items ORDER BY id DESC").fetchone()
        try:
            row["missing"]
            missing = "no error"
        except IndexError as exc:
            missing = str(exc)
        observed = (row.keys(), row["name"], row["NAME"], row[1], row[-1], row[0:2], len(row),
                    tuple(row), row == again, row != other, hash(row) == hash(again), missing,
                    [r["id"] for r in con.execute("SELECT id FROM items ORDER BY id")])
        con.close()
        return observed

    expected, got = both(tmp_path, scenario)
    assert got == expected


def test_text_factory(tmp_path):
    def scenario(connect, path):
        con = items(connect, path)
        seen = []
        for factory in (bytes, lambda b: b.decode().upper(), str):
            con.text_factory = factory
            seen.append(con.execute("SELECT Name, price, x'00' FROM items ORDER BY id").fetchall())
        con.close()
        return seen

    expected, got = both(tmp_path, scenario)
    assert got == expected
    assert got[0][0] == (b"apple", 1.5, b"\x00")


def test_detect_types(tmp_path):
    sqlite3.register_converter("date", lambda b: ("date", b.decode()))
    galaxlite.register_converter("date", lambda b: ("date", b.decode()))
    galaxlite.register_converter("money", lambda b: ("money", b))
    sqlite3.register_converter("money", lambda b: ("money", b))

    def scenario(connect, path):
        con = items(connect, path, detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES)
        cur = con.execute('SELECT born, price AS "p [money]", id AS "i [money]", NULL AS "n [money]" '
                          "FROM items ORDER BY id")
        rows = cur.fetchall()
        names = [d[0] for d in cur.description]
        con.close()
        return rows, names

    expected, got = both(tmp_path, scenario)
    assert got == expected
    assert got[0][0] == (("date", "2024-01-02"), ("money", b"1.5"), ("money", b"1"), None)
    assert galaxlite.PARSE_DECLTYPES == sqlite3.PARSE_DECLTYPES


def test_numpy_scalars_bind_as_numbers(tmp_path):
    con = galaxlite.connect(tmp_path / "np.db")
    con.execute("CREATE TABLE t (a, b, c)")
    con.execute("INSERT INTO t VALUES (?, ?, ?)", (np.int64(7), np.float32(0.5), np.bool_(True)))
    con.execute("INSERT INTO t VALUES (:a, :b, :c)", {"a": np.uint8(3), "b": np.float64(2.5), "c": np.int16(-1)})
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", [(np.int32(i), i, np.str_("s")) for i in range(100)])
    con.commit()
    db = con.database
    db.bulk_insert("t", [(np.int64(1000), np.float16(1.5), None)])
    db.execute("INSERT INTO t VALUES (?, ?, ?)", (np.int64(8), None, None))
    assert db.query("SELECT a, typeof(a), b, typeof(b), c FROM t WHERE rowid <= 2") == [
        (7, "integer", 0.5, "real", 1), (3, "integer", 2.5, "real", -1)]
    assert db.query("SELECT count(*) FROM t WHERE typeof(a) = 'blob' OR typeof(b) = 'blob'") == [(0,)]
    assert db.query("SELECT count(*) FROM t WHERE a = ?", (np.int64(1000),)) == [(1,)]
    with pytest.raises(galaxlite.ProgrammingError, match="numpy datetime64"):
        con.execute("SELECT ?", (np.datetime64("2024-01-01"),))
    con.close()


# ------------------------------------------------------------------ opening


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_uri_mode_ro_reads_and_never_writes(tmp_path):
    path = tmp_path / "ro.db"
    items(galaxlite.connect, path).close()
    before = digest(path)
    con = galaxlite.connect(f"file:{path}?mode=ro", uri=True)
    assert con.execute("SELECT Name FROM items ORDER BY id").fetchall() == [("apple",), ("pear",)]
    with pytest.raises(galaxlite.OperationalError, match="readonly"):
        con.execute("INSERT INTO items (Name) VALUES ('fig')")
    con.rollback()
    with pytest.raises(galaxlite.OperationalError, match="readonly"):
        con.execute("CREATE VERSION TAG 'nope'")
    con.close()
    assert digest(path) == before
    assert not (tmp_path / "ro.db-wal").exists() or (tmp_path / "ro.db-wal").stat().st_size == 0
    with pytest.raises(galaxlite.OperationalError, match="does not exist"):
        galaxlite.connect(f"file:{tmp_path / 'absent.db'}?mode=ro", uri=True)
    with pytest.raises(galaxlite.OperationalError, match="does not exist"):
        galaxlite.connect(f"file:{tmp_path / 'absent.db'}?mode=rw", uri=True)
    assert not (tmp_path / "absent.db").exists()
    with pytest.raises(galaxlite.OperationalError, match="no such access mode"):
        galaxlite.connect(f"file:{path}?mode=rx", uri=True)
    with pytest.raises(galaxlite.NotSupportedError, match="'cache'"):
        galaxlite.connect("file::memory:?cache=shared", uri=True)
    mem = galaxlite.connect("file:whatever?mode=memory", uri=True)
    assert mem.execute("SELECT 1").fetchone() == (1,)
    mem.close()
    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("CREATE TABLE x (a)").connection.close()
    with pytest.raises(galaxlite.OperationalError, match="no galaxlite catalog"):
        galaxlite.connect(f"file:{plain}?mode=ro", uri=True)


def test_check_same_thread(tmp_path):
    def scenario(connect, path):
        con = connect(path)
        seen = []

        def use(c):
            try:
                c.execute("SELECT 1").fetchone()
                seen.append("ok")
            except Exception as exc:  # noqa: BLE001 - the class is the observation
                seen.append(pep249(exc))

        for c in (con, connect(path, check_same_thread=False)):
            t = threading.Thread(target=use, args=(c,))
            t.start()
            t.join()
        return seen

    expected, got = both(tmp_path, scenario)
    assert expected == ["ProgrammingError", "ok"]
    assert got == expected


def test_connect_takes_sqlite3_positional_arguments(tmp_path):
    class Mine(galaxlite.Connection):
        pass

    con = galaxlite.connect(tmp_path / "p.db", 1.0, 0, None, True, Mine, 64, False)
    assert isinstance(con, Mine) and con.isolation_level is None
    con.close()
    with pytest.raises(TypeError):
        galaxlite.connect(tmp_path / "p.db", factory=sqlite3.Connection)


# ------------------------------------------------------------------ user functions


class Total:
    def __init__(self):
        self.n = 0

    def step(self, value):
        self.n += value

    def inverse(self, value):
        self.n -= value

    def value(self):
        return self.n

    def finalize(self):
        return self.n


# sqlite3 reports a failing user function's exception as "unraisable" (its traceback hook)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_user_functions_aggregates_windows_collations(tmp_path):
    def scenario(connect, path):
        con = items(connect, path)
        con.create_function("twice", 1, lambda x: 2 * x, deterministic=True)
        con.create_aggregate("total", 1, Total)
        con.create_window_function("running", 1, Total)
        con.create_collation("backwards", lambda a, b: (a < b) - (a > b))
        out = [
            con.execute("SELECT twice(price), twice(Name) FROM items ORDER BY id").fetchall(),
            con.execute("SELECT total(price) FROM items").fetchone(),
            con.execute("SELECT running(id) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) "
                        "FROM items").fetchall(),
            con.execute("SELECT Name FROM items ORDER BY Name COLLATE backwards").fetchall(),
        ]
        con.create_function("twice", 1, None)
        try:
            con.execute("SELECT twice(1)")
        except Exception as exc:  # noqa: BLE001
            out.append(pep249(exc))
        con.create_function("fails", 0, lambda: 1 / 0)
        try:
            con.execute("SELECT fails()").fetchall()
        except Exception as exc:  # noqa: BLE001
            out.append(pep249(exc))
        con.close()
        return out

    expected, got = both(tmp_path, scenario)
    # sqlite3 says "no such function" with an OperationalError, galaxlite a ProgrammingError
    # (PEP 249: a mistake in the SQL, as docs/dbapi.md lists)
    assert expected[4] == "OperationalError" and got[4] == "ProgrammingError"
    assert got[:4] + got[5:] == expected[:4] + expected[5:]


def test_user_function_errors_and_reserved_names(tmp_path):
    con = items(galaxlite.connect, tmp_path / "f.db")
    con.create_function("fails", 1, lambda x: 1 / 0)
    with pytest.raises(galaxlite.OperationalError, match="'fails' raised .*ZeroDivisionError"):
        con.execute("UPDATE items SET price = fails(price)")
    assert con.execute("SELECT price FROM items ORDER BY id").fetchall() == [(1.5,), (2.0,)]
    con.create_function("np_value", 0, lambda: np.int64(5))
    assert con.execute("SELECT np_value(), typeof(np_value())").fetchone() == (5, "integer")
    for name in ("changes", "vector", "galaxlite_anything", "SEMANTIC_MATCH"):
        with pytest.raises(galaxlite.ProgrammingError, match="galaxlite's own"):
            con.create_function(name, 0, lambda: 1)
    with pytest.raises(galaxlite.ProgrammingError, match="galaxlite's own"):
        con.create_collation("NOCASE", lambda a, b: 0)
    assert con.execute("SELECT changes()").fetchone() is not None
    con.close()


# ------------------------------------------------------------------ dump, backup, counting


def test_iterdump_rebuilds_the_same_database_with_a_plain_client(tmp_path):
    con = items(galaxlite.connect, tmp_path / "d.db")
    con.execute("CREATE VERSION TAG 'v1'")
    con.execute("UPDATE items SET price = 9 WHERE Name = 'apple'")
    con.commit()
    dump = tmp_path / "dump.sql"
    dump.write_text("\n".join(con.iterdump()) + "\n")
    copy = tmp_path / "copy.db"
    subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                    "c.executescript(open(sys.argv[2]).read()); c.close()", str(copy), str(dump)],
                   check=True)
    back = galaxlite.connect(copy)
    query = "SELECT Name, price FROM items AT VERSION 'v1' ORDER BY id"
    assert back.execute(query).fetchall() == con.execute(query).fetchall() == [("apple", 1.5), ("pear", 2.0)]
    assert back.database.check() == []
    back.execute("DELETE FROM items WHERE Name = 'pear'")  # still versioned
    back.commit()
    assert back.execute("SELECT count(*) FROM items AT VERSION 'v1'").fetchone() == (2,)
    lines = list(con.iterdump())
    assert lines[0] == "BEGIN TRANSACTION;" and lines[-1] == "COMMIT;"
    assert not con.in_transaction
    for c in (con, back):
        c.close()


def test_backup_into_another_connection(tmp_path):
    src = items(galaxlite.connect, tmp_path / "s.db")
    src.execute("CREATE VERSION TAG 'v1'")
    src.execute("DELETE FROM items")
    src.commit()
    dst = galaxlite.connect(tmp_path / "t.db")
    dst.execute("CREATE TABLE other (x)")  # replaced by the copy
    calls = []
    src.backup(dst, pages=1, progress=lambda status, remaining, total: calls.append((status, remaining, total)))
    assert calls and calls[-1][:2] == (sqlite3.SQLITE_DONE, 0) and len(calls) == calls[0][2]
    assert dst.execute("SELECT count(*) FROM items AT VERSION 'v1'").fetchone() == (2,)
    assert dst.execute("SELECT count(*) FROM items").fetchone() == (0,)
    assert dst.database.check() == []
    with pytest.raises(galaxlite.NotSupportedError, match="sqlite3 connection"):
        src.backup(sqlite3.connect(":memory:"))
    with pytest.raises(galaxlite.ProgrammingError, match="same connection"):
        src.backup(src)
    for c in (src, dst):
        c.close()


def test_total_changes(tmp_path):
    def scenario(connect, path):
        con = items(connect, path)
        seen = [con.total_changes]
        con.execute("UPDATE items SET price = price + 1")
        con.execute("DELETE FROM items WHERE id = 1")
        con.executemany("INSERT INTO items (Name) VALUES (?)", [("a",), ("b",), ("c",)])
        seen.append(con.total_changes)
        con.rollback()
        con.executescript("INSERT INTO items (Name) VALUES ('x'); UPDATE items SET price = 0;")
        seen.append(con.total_changes)
        con.close()
        return seen

    expected, got = both(tmp_path, scenario)
    assert got == expected == [2, 8, 12]


def test_progress_handler_aborts_and_leaves_data_unchanged(tmp_path):
    con = items(galaxlite.connect, tmp_path / "p.db")
    calls = []
    con.set_progress_handler(lambda: calls.append(1) or len(calls) > 3, 10)
    with pytest.raises(galaxlite.OperationalError, match="interrupted"):
        con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                    "UPDATE items SET price = (SELECT max(i) FROM n WHERE i < 100000)")
    con.set_progress_handler(None, 10)
    con.rollback()
    assert con.execute("SELECT price FROM items ORDER BY id").fetchall() == [(1.5,), (2.0,)]
    assert con.database.check() == []
    con.close()


def test_interrupt_from_another_thread(tmp_path):
    con = galaxlite.connect(tmp_path / "i.db")
    started = threading.Event()
    con.set_progress_handler(lambda: started.set() and False, 1000)
    stopper = threading.Thread(target=lambda: started.wait(60) and con.interrupt())
    stopper.start()
    with pytest.raises(galaxlite.OperationalError, match="interrupted"):
        con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                    "SELECT count(*) FROM n").fetchall()
    stopper.join()
    assert con.execute("SELECT 1").fetchone() == (1,)
    con.close()


@pytest.mark.parametrize("method", ["blobopen", "deserialize", "load_extension", "set_authorizer",
                                    "set_trace_callback", "setlimit", "serialize"])
def test_habits_that_cannot_be_kept_say_so(tmp_path, method):
    con = galaxlite.connect(tmp_path / "n.db")
    with pytest.raises(galaxlite.NotSupportedError, match=f"{method}"):
        getattr(con, method)("main")
    con.close()

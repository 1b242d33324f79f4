"""A PEP 249 (DB-API 2.0) compliance suite for ``galaxlite.dbapi``.

Modelled on the long-standing ``dbapi20.py`` test module (Stuart Bishop's): the same
checks, written for pytest, run against ``galaxlite.dbapi`` and against the ``galaxlite``
package itself (which re-exports the module's names). Databases are real files.
"""

from __future__ import annotations

import time

import pytest

import galaxlite
import galaxlite.dbapi

TABLE_PREFIX = "dbapi20test_"
BOOZE = f"{TABLE_PREFIX}booze"
BARFLYS = f"{TABLE_PREFIX}barflys"
DDL1 = f"CREATE TABLE {BOOZE} (name VARCHAR(20))"
DDL2 = f"CREATE TABLE {BARFLYS} (name VARCHAR(20), drink VARCHAR(30))"
SAMPLES = ["Carlton Cold", "Carlton Draft", "Mountain Goat", "Redback", "Victoria Bitter", "XXXX"]


@pytest.fixture(params=["galaxlite.dbapi", "galaxlite"])
def driver(request):
    """The module under test: the DB-API module, and the package re-exporting it."""
    return galaxlite.dbapi if request.param == "galaxlite.dbapi" else galaxlite


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "dbapi20.db")


@pytest.fixture
def con(driver, path):
    connection = driver.connect(path)
    yield connection
    connection.close()


def populate(cur) -> None:
    for name in SAMPLES:
        cur.execute(f"INSERT INTO {BOOZE} VALUES (?)", (name,))


# ------------------------------------------------------------------ module interface


def test_connect(driver, path):
    con = driver.connect(path)
    try:
        assert isinstance(con, galaxlite.Connection)
    finally:
        con.close()


def test_apilevel(driver):
    assert driver.apilevel == "2.0"


def test_threadsafety(driver):
    assert driver.threadsafety in (0, 1, 2, 3)
    assert driver.threadsafety == 1  # share the module, not connections


def test_paramstyle(driver):
    assert driver.paramstyle in ("qmark", "numeric", "named", "format", "pyformat")
    assert driver.paramstyle == "qmark"


def test_exceptions(driver):
    assert issubclass(driver.Warning, Exception)
    assert issubclass(driver.Error, Exception)
    assert not issubclass(driver.Warning, driver.Error)
    assert issubclass(driver.InterfaceError, driver.Error)
    assert issubclass(driver.DatabaseError, driver.Error)
    for name in (
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
        "DataError",
    ):
        assert issubclass(getattr(driver, name), driver.DatabaseError), name


def test_exceptions_as_connection_attributes(driver, con):
    for name in (
        "Warning",
        "Error",
        "InterfaceError",
        "DatabaseError",
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert getattr(con, name) is getattr(driver, name), name


# ------------------------------------------------------------------ connection


def test_commit(con):
    con.commit()  # must work even with no changes made


def test_rollback(con):
    con.rollback()  # galaxlite supports transactions: must not raise


def test_cursor(con):
    cur = con.cursor()
    assert cur.connection is con


def test_cursor_isolation(con):
    # Two cursors of one connection are not isolated: each sees the other's changes.
    cur1, cur2 = con.cursor(), con.cursor()
    cur1.execute(DDL1)
    cur1.execute(f"INSERT INTO {BOOZE} VALUES ('Victoria Bitter')")
    cur2.execute(f"SELECT name FROM {BOOZE}")
    booze = cur2.fetchall()
    assert len(booze) == 1 and len(booze[0]) == 1
    assert booze[0][0] == "Victoria Bitter"


def test_close(con):
    cur = con.cursor()
    con.close()
    with pytest.raises(galaxlite.Error):
        cur.execute(DDL1)
    with pytest.raises(galaxlite.Error):
        con.commit()
    with pytest.raises(galaxlite.Error):
        con.cursor()


def test_close_is_idempotent(con):
    # as in sqlite3: closing a closed connection is not an error
    con.close()
    con.close()


# ------------------------------------------------------------------ cursor


def test_description(con):
    cur = con.cursor()
    cur.execute(DDL1)
    assert cur.description is None, "no description after a statement that returns no rows"
    cur.execute(f"SELECT name FROM {BOOZE}")
    assert len(cur.description) == 1
    assert len(cur.description[0]) == 7
    assert cur.description[0][0].lower() == "name"
    assert cur.description[0][1] == galaxlite.dbapi.STRING
    cur.execute(DDL2)
    assert cur.description is None, "description is reset by the next statement"


def test_rowcount(con):
    cur = con.cursor()
    cur.execute(DDL1)
    assert cur.rowcount == -1, "rowcount is -1 after a statement that changes no rows"
    cur.execute(f"INSERT INTO {BOOZE} VALUES ('Victoria Bitter')")
    assert cur.rowcount in (-1, 1)
    assert cur.rowcount == 1
    cur.execute(f"SELECT name FROM {BOOZE}")
    assert cur.rowcount in (-1, 1)
    assert cur.rowcount == -1  # like sqlite3: not determinable before fetching
    cur.execute(DDL2)
    assert cur.rowcount == -1


def test_callproc_is_optional(con):
    # SQLite has no stored procedures; PEP 249 makes callproc optional.
    assert not hasattr(con.cursor(), "callproc")


def test_cursor_close(con):
    cur = con.cursor()
    cur.close()
    with pytest.raises(galaxlite.Error):
        cur.execute(DDL1)
    with pytest.raises(galaxlite.Error):
        cur.fetchone()
    with pytest.raises(galaxlite.Error):
        cur.executemany("SELECT ?", [(1,)])


def test_execute(con):
    cur = con.cursor()
    cur.execute(DDL1)
    cur.execute(f"INSERT INTO {BOOZE} VALUES ('Victoria Bitter')")
    assert cur.rowcount in (-1, 1)
    cur.execute(f"INSERT INTO {BOOZE} VALUES (?)", ("Cooper's",))
    assert cur.rowcount in (-1, 1)
    cur.execute(f"INSERT INTO {BOOZE} VALUES (:beer)", {"beer": "Coopers Sparkling"})
    cur.execute(f"SELECT name FROM {BOOZE} ORDER BY name")
    assert [r[0] for r in cur.fetchall()] == ["Cooper's", "Coopers Sparkling", "Victoria Bitter"]


def test_executemany(con):
    cur = con.cursor()
    cur.execute(DDL1)
    cur.executemany(f"INSERT INTO {BOOZE} VALUES (?)", [("Cooper's",), ("Boag's",)])
    assert cur.rowcount in (-1, 2)
    assert cur.rowcount == 2
    cur.executemany(f"INSERT INTO {BOOZE} VALUES (:beer)", [{"beer": "A"}, {"beer": "B"}])
    assert cur.rowcount == 2
    cur.execute(f"SELECT name FROM {BOOZE} ORDER BY name")
    assert [r[0] for r in cur.fetchall()] == ["A", "B", "Boag's", "Cooper's"]


def test_fetchone(con):
    cur = con.cursor()
    with pytest.raises(galaxlite.Error):
        cur.fetchone()  # no statement executed yet
    cur.execute(DDL1)
    with pytest.raises(galaxlite.Error):
        cur.fetchone()  # a statement that returns no rows
    cur.execute(f"SELECT name FROM {BOOZE}")
    assert cur.fetchone() is None
    assert cur.rowcount in (-1, 0)
    cur.execute(f"INSERT INTO {BOOZE} VALUES ('Victoria Bitter')")
    with pytest.raises(galaxlite.Error):
        cur.fetchone()  # INSERT returns no rows
    cur.execute(f"SELECT name FROM {BOOZE}")
    row = cur.fetchone()
    assert len(row) == 1 and row[0] == "Victoria Bitter"
    assert cur.fetchone() is None
    assert cur.rowcount in (-1, 1)


def test_fetchmany(con):
    cur = con.cursor()
    with pytest.raises(galaxlite.Error):
        cur.fetchmany(4)
    cur.execute(DDL1)
    populate(cur)
    cur.execute(f"SELECT name FROM {BOOZE}")
    assert len(cur.fetchmany()) == 1, "default arraysize is 1"
    cur.arraysize = 10
    assert len(cur.fetchmany(3)) == 3, "an explicit size wins over arraysize"
    assert len(cur.fetchmany(4)) == 2
    assert cur.fetchmany(4) == []
    assert cur.rowcount in (-1, 6)

    cur.arraysize = 4
    cur.execute(f"SELECT name FROM {BOOZE}")
    assert len(cur.fetchmany()) == 4
    assert len(cur.fetchmany()) == 2
    assert cur.fetchmany() == []

    cur.arraysize = 6
    cur.execute(f"SELECT name FROM {BOOZE}")
    rows = sorted(r[0] for r in cur.fetchmany())
    assert rows == SAMPLES
    assert cur.fetchmany() == []
    assert cur.description is not None, "description stays valid after the last row"

    cur.execute(f"DELETE FROM {BOOZE}")
    cur.execute(f"SELECT name FROM {BOOZE}")
    assert cur.fetchmany() == []


def test_fetchall(con):
    cur = con.cursor()
    with pytest.raises(galaxlite.Error):
        cur.fetchall()
    cur.execute(DDL1)
    populate(cur)
    with pytest.raises(galaxlite.Error):
        cur.fetchall()  # the last statement was an INSERT
    cur.execute(f"SELECT name FROM {BOOZE}")
    rows = cur.fetchall()
    assert cur.rowcount in (-1, len(SAMPLES))
    assert sorted(r[0] for r in rows) == SAMPLES
    assert cur.fetchall() == []
    cur.execute(f"DELETE FROM {BOOZE}")
    cur.execute(f"SELECT name FROM {BOOZE}")
    assert cur.fetchall() == []
    assert cur.rowcount in (-1, 0)


def test_mixedfetch(con):
    cur = con.cursor()
    cur.execute(DDL1)
    populate(cur)
    cur.execute(f"SELECT name FROM {BOOZE}")
    rows1 = cur.fetchone()
    rows23 = cur.fetchmany(2)
    rows4 = cur.fetchone()
    rows56 = cur.fetchall()
    assert len(rows23) == 2 and len(rows56) == 2
    got = [rows1[0], rows23[0][0], rows23[1][0], rows4[0], rows56[0][0], rows56[1][0]]
    assert sorted(got) == SAMPLES


def test_nextset_is_optional(con):
    # SQLite statements produce one result set; PEP 249 makes nextset optional.
    assert not hasattr(con.cursor(), "nextset")


def test_arraysize(con):
    cur = con.cursor()
    assert cur.arraysize == 1


def test_setinputsizes(con):
    cur = con.cursor()
    cur.setinputsizes((25,))
    cur.execute(DDL1)
    cur.execute(f"INSERT INTO {BOOZE} VALUES (?)", ("x",))
    cur.execute(f"SELECT name FROM {BOOZE}")
    assert cur.fetchall() == [("x",)]


def test_setoutputsize_basic(con):
    cur = con.cursor()
    cur.setoutputsize(1000)
    cur.setoutputsize(2000, 0)
    cur.execute(DDL1)
    populate(cur)
    cur.execute(f"SELECT name FROM {BOOZE}")
    assert len(cur.fetchall()) == len(SAMPLES)


def test_none(con):
    cur = con.cursor()
    cur.execute(DDL2)
    cur.execute(f"INSERT INTO {BARFLYS} VALUES ('a', NULL)")
    cur.execute(f"INSERT INTO {BARFLYS} VALUES (?, ?)", ("b", None))
    cur.execute(f"SELECT drink FROM {BARFLYS}")
    assert cur.fetchall() == [(None,), (None,)]


def test_iteration(con):
    cur = con.cursor()
    cur.execute(DDL1)
    populate(cur)
    assert sorted(r[0] for r in cur.execute(f"SELECT name FROM {BOOZE}")) == SAMPLES
    cur.execute(f"SELECT name FROM {BOOZE} ORDER BY name")
    assert next(cur) == (SAMPLES[0],)
    assert [r[0] for r in cur] == SAMPLES[1:]


# ------------------------------------------------------------------ type objects and constructors


def test_date(driver, con):
    d1 = driver.Date(2002, 12, 25)
    d2 = driver.DateFromTicks(time.mktime((2002, 12, 25, 0, 0, 0, 0, 0, -1)))
    assert d1 == d2 == "2002-12-25"
    assert con.execute("SELECT date(?, '+1 day')", (d1,)).fetchone() == ("2002-12-26",)


def test_time(driver, con):
    t1 = driver.Time(13, 45, 30)
    t2 = driver.TimeFromTicks(time.mktime((2001, 1, 1, 13, 45, 30, 0, 0, -1)))
    assert t1 == t2 == "13:45:30"
    assert con.execute("SELECT time(?, '+30 seconds')", (t1,)).fetchone() == ("13:46:00",)


def test_timestamp(driver, con):
    t1 = driver.Timestamp(2002, 12, 25, 13, 45, 30)
    t2 = driver.TimestampFromTicks(time.mktime((2002, 12, 25, 13, 45, 30, 0, 0, -1)))
    assert t1 == t2 == "2002-12-25 13:45:30"
    assert con.execute("SELECT datetime(?)", (t1,)).fetchone() == (t1,)


def test_binary(driver, con):
    b = driver.Binary(b"Something")
    con.execute("CREATE TABLE blobs (b BLOB)")
    con.execute("INSERT INTO blobs VALUES (?)", (driver.Binary(b""),))
    con.execute("INSERT INTO blobs VALUES (?)", (b,))
    assert [r[0] for r in con.execute("SELECT b FROM blobs")] == [b"", b"Something"]


def test_type_objects(driver):
    assert driver.STRING == "TEXT" and driver.STRING == "VARCHAR(20)"
    assert driver.STRING != "INTEGER"
    assert driver.BINARY == "BLOB" and driver.BINARY == None  # noqa: E711 - no declared type
    assert driver.NUMBER == "INTEGER" and driver.NUMBER == "REAL" and driver.NUMBER == "NUMERIC"
    assert driver.NUMBER != "TEXT" and driver.NUMBER != "BLOB"
    assert driver.DATETIME == "DATE" and driver.DATETIME == "TIMESTAMP"
    assert driver.DATETIME != "TEXT"
    assert driver.ROWID == "INTEGER" and driver.ROWID != "INT8"
    assert len({driver.STRING, driver.BINARY, driver.NUMBER, driver.DATETIME, driver.ROWID}) == 5


def test_description_type_codes_compare_to_type_objects(driver, con):
    con.execute("CREATE TABLE typed (i INTEGER, r REAL, t TEXT, b BLOB, d DATE)")
    con.execute("INSERT INTO typed VALUES (1, 1.5, 'x', x'00', '2002-12-25')")
    desc = con.execute("SELECT i, r, t, b, d FROM typed").description
    assert [d[1] for d in desc] == ["INTEGER", "REAL", "TEXT", "BLOB", "DATE"]
    assert desc[0][1] == driver.NUMBER and desc[0][1] == driver.ROWID
    assert desc[1][1] == driver.NUMBER
    assert desc[2][1] == driver.STRING
    assert desc[3][1] == driver.BINARY
    assert desc[4][1] == driver.DATETIME

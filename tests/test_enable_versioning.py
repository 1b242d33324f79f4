"""``ALTER TABLE t ENABLE VERSIONING`` / ``Database.enable_versioning``: plain tables (made by
another program, or WITHOUT VERSIONING) put under versioning; its errors; FOR TRAINING with
nothing versioned; hex and negative ``AT VERSION`` timestamps.

The other program is the standard library's ``sqlite3`` in its own process (``plain``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import gl, ok, one_line_error

import galaxlite

PlainFactory = Callable[..., Any]  # conftest.plain: sqlite3 clients in their own processes

ENABLE = "ALTER TABLE {} ENABLE VERSIONING"


def schema_state(db: galaxlite.Database) -> tuple[list, list, list]:
    """What a failed statement must leave as it was: the schema, the catalog, the tags."""
    return (
        db.query("SELECT type, name, sql FROM sqlite_master ORDER BY name"),
        db.query("SELECT * FROM galaxlite_tables ORDER BY table_id, valid_from"),
        db.query("SELECT * FROM galaxlite_tags ORDER BY name"),
    )


# ------------------------------------------------------------------ a file another program made


def test_a_file_made_by_another_program(db_path: Path, plain: PlainFactory, open_db) -> None:
    """sqlite3 makes the file and its table; galaxlite opens it, versions the table, and
    from then on the plain client's UPDATE / DELETE / REPLACE / INSERT are versioned."""
    client = plain()
    client.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, qty INTEGER)")
    client.execute("INSERT INTO items (name, qty) VALUES ('apple', 1), ('pear', 2), ('fig', 3)")
    db = open_db()
    assert db.unversioned_tables() == ["items"] and db.versioned_tables() == []
    before = db.create_tag("before")
    db.execute(ENABLE.format("items"))
    assert db.unversioned_tables() == [] and db.versioned_tables() == ["items"]
    first = db.version
    assert first > before
    db.create_tag("v1")
    client.execute("UPDATE items SET qty = qty * 10 WHERE name = 'apple'")
    client.execute("DELETE FROM items WHERE name = 'pear'")
    client.execute("REPLACE INTO items (id, name, qty) VALUES (3, 'fig', 33)")
    client.execute("INSERT OR REPLACE INTO items (name, qty) VALUES ('apple', 5)")  # UNIQUE(name)
    client.execute("INSERT INTO items (name, qty) VALUES ('kiwi', 4)")
    db.create_tag("v2")
    client.execute("DELETE FROM items")
    v1 = [(1, "apple", 1), (2, "pear", 2), (3, "fig", 3)]
    v2 = [(3, "fig", 33), (4, "apple", 5), (5, "kiwi", 4)]
    assert db.query("SELECT * FROM items AT VERSION 'v1' ORDER BY id") == v1
    assert db.query("SELECT * FROM items AT VERSION ? ORDER BY id", (first,)) == v1
    assert db.query("SELECT * FROM items AT VERSION 'v2' ORDER BY id") == v2
    assert db.query("SELECT * FROM items") == []
    with pytest.raises(galaxlite.TableNotAtVersionError, match="its versions start at") as info:
        db.query("SELECT * FROM items AT VERSION 'before'")
    assert info.value.position == len("SELECT * FROM ")
    with pytest.raises(galaxlite.TableNotAtVersionError):
        db.query("SELECT * FROM items AT VERSION ?", (first - 1,))
    # the plain client sees the same rows through the file
    assert client.execute("SELECT count(*) FROM items").fetchall() == [(0,)]
    assert db.check() == []


def test_a_table_the_plain_client_makes_later(db: galaxlite.Database, plain: PlainFactory) -> None:
    """A table another program adds to a galaxlite file stays plain until enabled."""
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
    client = plain()
    client.execute("CREATE TABLE pairs (a TEXT, b INTEGER, note TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID")
    client.execute("INSERT INTO pairs VALUES ('x', 1, 'one'), ('y', 2, 'two')")
    db.create_tag("v0")
    assert db.unversioned_tables() == ["pairs"]
    out = ok("check", str(db.path))
    assert "note: table pairs is not versioned (ALTER TABLE pairs ENABLE VERSIONING)" in out
    version = db.enable_versioning("pairs")
    assert version == db.version
    assert "not versioned" not in ok("check", str(db.path))
    db.create_tag("v1")
    client.execute("UPDATE pairs SET note = 'uno' WHERE a = 'x'")
    client.execute("REPLACE INTO pairs VALUES ('y', 2, 'dos')")
    client.execute("INSERT INTO pairs VALUES ('z', 3, 'tres')")
    db.create_tag("v2")
    assert db.query("SELECT * FROM pairs AT VERSION 'v1' ORDER BY a") == [("x", 1, "one"), ("y", 2, "two")]
    assert db.query("SELECT * FROM pairs AT VERSION 'v2' ORDER BY a") == [
        ("x", 1, "uno"), ("y", 2, "dos"), ("z", 3, "tres"),
    ]
    with pytest.raises(galaxlite.TableNotAtVersionError):
        db.query("SELECT * FROM pairs AT VERSION 'v0'")


def test_many_rows_of_every_type_become_the_first_version(db_path: Path, plain: PlainFactory, open_db) -> None:
    """Every current row, with its exact values (NULL, blobs, floats, text), is the first
    version; an AUTOINCREMENT table and a user trigger keep working."""
    client = plain()
    client.execute(
        "CREATE TABLE m (id INTEGER PRIMARY KEY AUTOINCREMENT, i INTEGER, r REAL, t TEXT, b BLOB)"
    )
    client.execute("CREATE TABLE log (what TEXT)")
    client.execute("CREATE TRIGGER m_log AFTER UPDATE ON m BEGIN INSERT INTO log VALUES ('u'); END")
    client.execute(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000) "
        "INSERT INTO m (i, r, t, b) SELECT CASE WHEN x % 7 = 0 THEN NULL ELSE x END, x / 3.0, "
        "'t' || x, CASE WHEN x % 5 = 0 THEN NULL ELSE randomblob(x % 9) END FROM n"
    )
    client.execute("DELETE FROM m WHERE id % 3 = 0")  # holes in the rowids
    db = open_db()
    rows = Counter(db.query("SELECT * FROM m"))
    db.executescript("ALTER TABLE m ENABLE VERSIONING; ALTER TABLE log ENABLE VERSIONING")
    db.create_tag("v1")
    client.execute("UPDATE m SET t = 'changed' WHERE id < 100")
    client.execute("INSERT INTO m (i) VALUES (-1)")
    assert Counter(db.query("SELECT * FROM m AT VERSION 'v1'")) == rows
    assert db.query("SELECT count(*) FROM log AT VERSION 'v1'") == [(0,)]
    assert db.query("SELECT count(*) FROM log") == [(66,)]
    assert db.query("SELECT max(id) FROM m") == [(2001,)]


def test_without_versioning_table_in_a_transaction(db: galaxlite.Database) -> None:
    """Inside a transaction ENABLE is part of the transaction's version: rows written before
    and after it (up to a tag) are all in the first version; a rollback undoes it all."""
    db.execute("CREATE TABLE p (x INTEGER) WITHOUT VERSIONING")
    db.execute("INSERT INTO p VALUES (1)")
    db.execute("BEGIN")
    db.execute(ENABLE.format("p"))
    db.execute("INSERT INTO p VALUES (2)")
    db.execute("ROLLBACK")
    assert db.unversioned_tables() == ["p"]
    assert db.query("SELECT name FROM sqlite_master WHERE name LIKE '\\_gl\\_%' ESCAPE '\\'") == []
    with db.transaction():
        db.execute("INSERT INTO p VALUES (2)")
        db.execute(ENABLE.format("p"))
        db.execute("INSERT INTO p VALUES (3)")
        db.create_tag("inside")  # the tag comes after every write of the transaction so far
        db.execute("INSERT INTO p VALUES (4)")
    first = db.query("SELECT valid_from FROM galaxlite_tables WHERE name = 'p'")[0][0]
    assert db.query("SELECT x FROM p AT VERSION ? ORDER BY x", (first,)) == [(1,), (2,), (3,)]
    assert db.query("SELECT x FROM p AT VERSION 'inside' ORDER BY x") == [(1,), (2,), (3,)]
    assert db.query("SELECT x FROM p AT VERSION ? ORDER BY x", (db.version,)) == [(1,), (2,), (3,), (4,)]


def test_schema_changes_after_enable_keep_the_past(db: galaxlite.Database, plain: PlainFactory) -> None:
    db.execute("CREATE TABLE p (a, b) WITHOUT VERSIONING")
    db.execute("INSERT INTO p VALUES (1, 'x')")
    db.enable_versioning("p")
    db.create_tag("v1")
    db.execute("ALTER TABLE p DROP COLUMN b")
    db.execute("ALTER TABLE p RENAME TO q")
    plain().execute("INSERT INTO q VALUES (2)")
    assert db.query("SELECT * FROM p AT VERSION 'v1'") == [(1, "x")]
    assert db.query("SELECT * FROM q ORDER BY a") == [(1,), (2,)]


# ------------------------------------------------------------------ errors


@pytest.fixture
def odd(db: galaxlite.Database) -> galaxlite.Database:
    """A file with one of each thing ENABLE VERSIONING must refuse."""
    db.executescript(
        """
        CREATE TABLE versioned (x);
        CREATE TABLE plain_t (x) WITHOUT VERSIONING;
        CREATE TABLE serial (id INTEGER PRIMARY KEY AUTOINCREMENT) WITHOUT VERSIONING;
        CREATE VIEW v AS SELECT x FROM versioned;
        CREATE VIRTUAL TABLE f USING fts5(body);
        CREATE TABLE unaddressable (rowid, _rowid_, oid) WITHOUT VERSIONING;
        INSERT INTO unaddressable VALUES (1, 2, 3);
        """
    )
    db.execute("CREATE TEMP TABLE scratch (x)")
    db.execute("INSERT INTO serial DEFAULT VALUES")  # makes sqlite_sequence
    db.execute("CREATE SNAPSHOT s AS SELECT x FROM versioned")
    db.create_tag("v1")
    return db


@pytest.mark.parametrize(
    "name, error, message",
    [
        ("nope", galaxlite.ProgrammingError, "no such table: nope"),
        ("versioned", galaxlite.ProgrammingError, "table 'versioned' is versioned already"),
        ("VERSIONED", galaxlite.ProgrammingError, "table 'versioned' is versioned already"),
        ("galaxlite_tags", galaxlite.ProgrammingError, "galaxlite internal table"),
        ("_gl_h1", galaxlite.ProgrammingError, "galaxlite internal table"),
        ("sqlite_sequence", galaxlite.ProgrammingError, "SQLite's own table"),
        ("db4ai_snapshot", galaxlite.ProgrammingError, "the dataset snapshots' catalog"),
        ("v", galaxlite.ProgrammingError, "'v' is a view"),
        ('"s@1.0.0"', galaxlite.ProgrammingError, "'s@1.0.0' is a view"),  # a snapshot's
        ("f", galaxlite.NotSupportedError, "'f' is a virtual table"),
        ("f_data", galaxlite.NotSupportedError, "shadow table of a virtual table"),
        ("unaddressable", galaxlite.NotSupportedError, "rows cannot be addressed"),
        ("scratch", galaxlite.NotSupportedError, "TEMP table"),
        ("temp.plain_t", galaxlite.NotSupportedError, "TEMP table"),
        ("other.plain_t", galaxlite.NotSupportedError, "main database, not 'other'"),
    ],
)
def test_what_cannot_be_enabled(odd: galaxlite.Database, name: str, error: type, message: str) -> None:
    """Each refusal is a galaxlite error naming the problem at the table's name, and the
    file is left exactly as it was."""
    before = schema_state(odd)
    sql = f"ALTER TABLE {name} ENABLE VERSIONING"
    with pytest.raises(error, match=message) as info:
        odd.execute(sql)
    assert info.value.position == len("ALTER TABLE ")
    assert "line 1, column 13" in str(info.value)
    assert schema_state(odd) == before
    odd.execute(ENABLE.format("plain_t"))  # and the connection goes on working


@pytest.mark.parametrize(
    "sql, error, message, position",
    [
        ("ALTER TABLE plain_t AT VERSION 'v1' ENABLE VERSIONING", galaxlite.ReadOnlyVersionError,
         "the past cannot be changed", 12),
        ("ALTER TABLE plain_t ENABLE VERSIONING NOW", galaxlite.SqlSyntaxError, "unexpected text", 38),
        ("ALTER TABLE plain_t ENABLE", galaxlite.SqlSyntaxError, "expected RENAME, ADD, DROP, ALTER COLUMN or ENABLE VERSIONING", 20),
        ("ALTER TABLE ENABLE VERSIONING", galaxlite.SqlSyntaxError, "expected RENAME, ADD, DROP, ALTER COLUMN or ENABLE", 19),
    ],
)
def test_enable_syntax_errors(odd: galaxlite.Database, sql: str, error: type, message: str, position: int) -> None:
    before = schema_state(odd)
    with pytest.raises(error, match=message) as info:
        odd.execute(sql)
    assert info.value.position == position
    assert schema_state(odd) == before


def test_a_table_a_plain_client_rebuilt_is_not_enabled_again(db: galaxlite.Database, plain: PlainFactory) -> None:
    """A versioned table dropped and made again by a client that bypassed galaxlite: its
    catalog entry is stale, so ENABLE points at `galaxlite check` rather than guess."""
    db.execute("CREATE TABLE t (x)")
    plain().execute("DROP TABLE t")
    plain().execute("CREATE TABLE t (x)")
    with pytest.raises(galaxlite.ProgrammingError, match="galaxlite check") as info:
        db.execute(ENABLE.format("t"))
    assert info.value.position == len("ALTER TABLE ")
    db.execute("DROP TABLE t")  # leave the file clean for the fixture's check


def test_the_api_names_the_call_not_sql(odd: galaxlite.Database) -> None:
    with pytest.raises(galaxlite.ProgrammingError, match="is versioned already") as info:
        odd.enable_versioning("versioned")
    assert "line 1" not in str(info.value)
    with pytest.raises(galaxlite.ProgrammingError, match="no such table: odd name"):
        odd.enable_versioning("odd name")
    with pytest.raises(galaxlite.ProgrammingError, match="must be a str"):
        odd.enable_versioning(3)  # type: ignore[arg-type]
    odd.execute('CREATE TABLE "odd ""name""" (x) WITHOUT VERSIONING')
    assert odd.enable_versioning('odd "name"') == odd.version


# ------------------------------------------------------------------ FOR TRAINING with nothing versioned


@pytest.mark.parametrize("how", ["sql", "api", "cli"])
def test_training_export_with_nothing_versioned(tmp_path: Path, how: str) -> None:
    """An error naming the remedy; no tag, no export row, no exports folder."""
    folder = tmp_path / "data"
    with galaxlite.Database(folder) as db:
        db.execute("CREATE TABLE notes (body TEXT) WITHOUT VERSIONING")
        db.execute("INSERT INTO notes VALUES ('a')")
    with galaxlite.Database(folder) as db:
        if how == "cli":
            message = one_line_error(gl("export", str(folder), "e1"))
        else:
            with pytest.raises(galaxlite.TrainingExportError) as info:
                if how == "sql":
                    db.execute("CREATE VERSION TAG 'e1' FOR TRAINING TRAINING SEED 3")
                else:
                    db.create_training_snapshot("e1")
            message = str(info.value)
            assert ("at line 1, column 1" in message) == (how == "sql")
        assert 'ALTER TABLE "notes" ENABLE VERSIONING' in message
        assert "no tag was created" in message
        assert db.tags() == [] and db.exports() == []
        assert db.query("SELECT count(*) FROM galaxlite_exports") == [(0,)]
        assert not (folder / "exports").exists()
        db.enable_versioning("notes")
        db.create_training_snapshot("e1")
        assert [e.rows for e in db.exports("e1")] == [1]
    assert galaxlite.Database(folder).check() == []


def test_training_export_of_an_empty_file_says_create_table(tmp_path: Path) -> None:
    with galaxlite.Database(tmp_path / "data") as db:
        with pytest.raises(galaxlite.TrainingExportError, match="CREATE TABLE makes a versioned table"):
            db.execute("CREATE VERSION TAG 'e1' FOR TRAINING")
        assert db.tags() == []


# ------------------------------------------------------------------ hex and negative AT VERSION


@pytest.fixture
def tagged(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.create_tag("v1")
    db.execute("UPDATE t SET x = 2")
    return db


def test_hex_timestamps_are_read_as_sqlite_reads_them(tagged: galaxlite.Database) -> None:
    version = tagged.tag_version("v1")
    for text in (hex(version), hex(version).upper().replace("X", "x"), "0x" + f"{version:x}".zfill(16)):
        assert tagged.query(f"SELECT x FROM t AT VERSION {text}") == [(1,)], text
        assert tagged.query(f"SELECT x FROM t AT VERSION {text} WHERE x > 0x0") == [(1,)]
    assert tagged.query("SELECT 0x1F, 0X10") == [(31, 16)]  # SQLite's own hex literals, untouched
    with pytest.raises(galaxlite.TableNotAtVersionError, match="did not exist at version 31:") as info:
        tagged.query("SELECT * FROM t AT VERSION 0x1F")
    assert info.value.position == len("SELECT * FROM ")
    with pytest.raises(galaxlite.FutureVersionError, match="9223372036854775807"):
        tagged.query("SELECT * FROM t AT VERSION 0x7FFFFFFFFFFFFFFF")
    with pytest.raises(galaxlite.SqlSyntaxError, match="hex literal too big") as info:
        tagged.query("SELECT * FROM t AT VERSION 0x10000000000000000")
    assert info.value.position == len("SELECT * FROM t AT VERSION ")


@pytest.mark.parametrize(
    "sql, params, shown",
    [
        ("SELECT * FROM t AT VERSION -5", None, "-5"),
        ("SELECT * FROM t AT VERSION - 5", None, "-5"),
        ("SELECT * FROM t AT VERSION -0x5", None, "-5"),
        ("SELECT * FROM t AT VERSION 0xFFFFFFFFFFFFFFFF", None, "-1"),  # SQLite: -1
        ("SELECT * FROM t AT VERSION 0x8000000000000000", None, "-9223372036854775808"),
        ("SELECT * FROM t AT VERSION ?", (-5,), "-5"),
        ("SELECT * FROM t AT VERSION :v", {"v": -1}, "-1"),
    ],
)
def test_negative_timestamps_are_no_version(tagged: galaxlite.Database, sql: str, params: Any, shown: str) -> None:
    with pytest.raises(galaxlite.VersionError) as info:
        tagged.query(sql, params)
    assert type(info.value) is galaxlite.VersionError  # not "in the future"
    assert f"AT VERSION {shown} is no version: a version is a tag name or a µs timestamp ≥ 0" in str(info.value)
    assert info.value.position == len("SELECT * FROM ")


def test_signed_and_zero_timestamps(tagged: galaxlite.Database) -> None:
    version = tagged.tag_version("v1")
    assert tagged.query(f"SELECT x FROM t AT VERSION +{version}") == [(1,)]
    assert tagged.query("SELECT x FROM t AT VERSION ?", (version,)) == [(1,)]
    with pytest.raises(galaxlite.TableNotAtVersionError):
        tagged.query("SELECT * FROM t AT VERSION 0")
    with pytest.raises(galaxlite.TableNotAtVersionError):
        tagged.query("SELECT * FROM t AT VERSION -0")


def test_through_the_dbapi(db_path: Path, plain: PlainFactory) -> None:
    client = plain()
    client.execute("CREATE TABLE t (x)")
    client.execute("INSERT INTO t VALUES (1)")
    conn = galaxlite.connect(str(db_path))
    try:
        cur = conn.cursor()
        cur.execute("ALTER TABLE t ENABLE VERSIONING")
        cur.execute("CREATE VERSION TAG 'v1'")
        conn.commit()
        client.execute("UPDATE t SET x = 2")
        cur.execute("SELECT x FROM t AT VERSION 'v1'")
        assert cur.fetchall() == [(1,)]
        with pytest.raises(galaxlite.ProgrammingError, match="versioned already"):
            cur.execute("ALTER TABLE t ENABLE VERSIONING")
    finally:
        conn.close()
    with galaxlite.Database(db_path) as db:
        assert db.check() == [] and db.versioned_tables() == ["t"]

"""The openGauss DB4AI document's statements, run as written, and openGauss's own checks.

``SEED`` is every complete statement of the DB4AI snapshots README (seeds/003 holds its text
up to §7.4; §7.5-7.8 give the SAMPLE / PUBLISH / ARCHIVE / PURGE examples), in the document's
order and spelling (its typographic quotes ’_’ included). The tables they read are made here.
Of the 24, 19 run; the 5 that do not fail with a galaxlite error saying why: 4 name schemas
other than public (galaxlite keeps snapshots in one schema), and the §7.4 example is
self-contradictory (``in`` is a reserved word, and ``INSERT SELECT *`` from a 5-column table
into the 4-column snapshot), so the test makes the snapshot it would have made to go on.
"""

from __future__ import annotations

import pytest

import galaxlite
from galaxlite.transpile import SqlSyntaxError, parse_statement

SEED = [
 "SET db4ai_snapshot_mode = CSS;",
 "CREATE SNAPSHOT m0 AS SELECT a1, a3, a6, a8, a2, pk, a1 b9, a7, a5 FROM test_data;",
 "CREATE SNAPSHOT m0 FROM @1.0.0 USING ( UPDATE SNAPSHOT SET a1 = 5 WHERE pk % 10 = 0; ALTER SNAPSHOT ADD \" u+ \" INTEGER, ADD \"x <> y\"INT DEFAULT 2, ADD t CHAR(10) DEFAULT '', DROP a2, DROP COLUMN IF EXISTS b9, DROP COLUMN IF EXISTS b10; UPDATE SNAPSHOT SET \"x <> y\" = 8 WHERE pk < 100; ALTER SNAPSHOT DROP \" u+ \", DROP IF EXISTS \" x+ \"; DELETE FROM SNAPSHOT WHERE pk = 3 );",
 "CREATE SNAPSHOT m0 FROM @2.0.0 USING ( UPDATE SNAPSHOT AS i SET a5 = o.a2 FROM test_data o WHERE i.pk = o.pk AND o.a3 % 8 = 0 );",
 "CREATE SNAPSHOT m0 FROM @2.0.1 USING ( DELETE FROM SNAPSHOT USING test_data o WHERE SNAPSHOT.pk = o.pk AND o.A7 % 2 = 0 );",
 "CREATE SNAPSHOT m0 FROM @2.1.0 USING ( INSERT INTO SNAPSHOT SELECT a1, a3, a6, a8, a2, pk+1000 pk, a7, a5, a4 FROM test_data WHERE pk % 10 = 4 );",
 "ALTER DATABASE SET db4ai_snapshot_version_delimiter = '#';",
 "ALTER DATABASE SET db4ai_snapshot_version_separator = ’_’;",
 "SELECT * FROM public.data@1.2.3;",
 "SELECT * FROM accounting.invoice@2021;",
 "SELECT * FROM user.cars@cleaned;",
 "SELECT * FROM user.cars@\"rev 1.1\";",
 "SELECT * FROM user.cars@'rev 1.1';",
 "SELECT * FROM public.\"data@1.2.3\";",
 "SELECT * FROM public.data#1_2_3;",
 "SET db4ai_snapshot_mode = CSS;",
 "ALTER DATABASE name SET db4ai_snapshot_version_delimiter = '#';",
 "ALTER DATABASE name SET db4ai_snapshot_version_separator = '_';",
 "CREATE SNAPSHOT public.cars AS SELECT id, make, price, modified FROM cars_table;",
 "CREATE SNAPSHOT public.cars FROM @1.0.0 USING ( ALTER ADD year int, DROP make; INSERT SELECT * FROM cars_table WHERE modified=CURRENT_DATE; UPDATE SET year=in.year FROM cars_table in WHERE SNAPSHOT.id=in.id; DELETE WHERE modified < CURRENT_DATE - 30 );",
 "SAMPLE SNAPSHOT public.cars@2.0.0 STRATIFY BY color AS _train AT RATIO .8, AS _test AT RATIO .2;",
 "PUBLISH SNAPSHOT public.cars@2.0.0;",
 "ARCHIVE SNAPSHOT public.cars@2.0.0;",
 "PURGE SNAPSHOT public.cars@2.0.0;",
]

SETUP = """
CREATE TABLE test_data (pk INTEGER PRIMARY KEY, a1, a2, a3, a4, a5, a6, a7, a8);
INSERT INTO test_data SELECT value, value, value * 2, value * 3, value * 4, value * 5, value * 6,
  value * 7, value * 8 FROM (WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s
  WHERE value < 200) SELECT value FROM s);
CREATE TABLE cars_table (id INTEGER PRIMARY KEY, make TEXT, price REAL, modified TEXT, year INT);
INSERT INTO cars_table VALUES (1, 'vw', 1.5, date('now'), 2020), (2, 'bmw', 3.5, '2000-01-01', 2010);
CREATE SNAPSHOT data@1.2.3 AS SELECT * FROM test_data;
"""
SCHEMAS = {10: "accounting", 11: "user", 12: "user", 13: "user"}
CONTRADICTORY = 20
# what the §7.4 example means, written so that it runs (and gives SAMPLE its color column)
CARS_2 = ("CREATE SNAPSHOT public.cars FROM @1.0.0 USING (ALTER ADD year int, ADD color text, DROP make; "
          "UPDATE SET year = o.year, color = 'red' FROM cars_table o WHERE SNAPSHOT.id = o.id)")


def test_the_seed_statements_run_as_written(db: galaxlite.Database) -> None:
    db.executescript(SETUP)
    ran, failed = [], {}
    for number, sql in enumerate(SEED, 1):
        if number == 9:  # the same snapshot made under the delimiter '#' and separator '_'
            db.execute("CREATE SNAPSHOT data@1.2.3 AS SELECT * FROM test_data")
        try:
            db.execute(sql).fetchall()
            ran.append(number)
        except galaxlite.Error as exc:
            failed[number] = exc
            if number == CONTRADICTORY:
                db.execute(CARS_2)
    assert (len(SEED), len(ran)) == (24, 19)
    assert sorted(failed) == [*SCHEMAS, CONTRADICTORY]
    for number, schema in SCHEMAS.items():
        assert isinstance(failed[number], galaxlite.NotSupportedError)
        assert str(failed[number]).startswith(
            f'schema "{schema}" does not exist: galaxlite keeps every snapshot in one schema, public'
        )
    assert "table snapshot has 4 columns but 5 values were supplied" in str(failed[CONTRADICTORY])
    names = {s.name for s in db.snapshots()}
    assert {"m0@2.2.0", "data@1.2.3", "data#1_2_3", "cars#1_0_0", "cars_train#2_0_0", "cars_test#2_0_0"} <= names
    assert "cars#2_0_0" not in names  # purged by the last statement
    assert db.query("SELECT count(*) FROM public.data#1_2_3") == [(200,)]
    assert db.query('SELECT count(*) FROM public."data@1.2.3"') == [(200,)]
    # m0 (made under "@" and "."): pk 3 and even a7 (7 pk) deleted; positional INSERT: pk+1000 lands in a7
    m0 = db.query('SELECT count(*), sum(a7 % 2 = 0), sum("x <> y" = 8) FROM "m0@2.2.0"')
    assert m0 == [(100 - 1 + 20, 20, 49)]


def test_seed_settings_scopes(db: galaxlite.Database) -> None:
    """SET SESSION is SET; SET LOCAL lasts until the transaction ends (outside one: no effect,
    as in PostgreSQL); ALTER DATABASE name SET stores the value in the file."""
    db.execute("SET SESSION db4ai_snapshot_mode = CSS")
    assert db.query("SHOW db4ai_snapshot_mode") == [("CSS",)]
    db.begin()
    db.execute("SET LOCAL db4ai_snapshot_mode TO MSS")
    assert db.query("SHOW db4ai_snapshot_mode") == [("MSS",)]
    db.commit()
    assert db.query("SHOW db4ai_snapshot_mode") == [("CSS",)]
    db.execute("SET LOCAL db4ai_snapshot_mode = MSS")
    assert db.query("SHOW db4ai_snapshot_mode") == [("CSS",)]
    db.begin()
    db.execute("SET LOCAL db4ai_snapshot_version_delimiter = '#'")
    db.rollback()
    assert db.query("SHOW db4ai_snapshot_version_delimiter") == [("@",)]
    db.execute("ALTER DATABASE mydb SET db4ai_snapshot_version_separator = ’_’")
    assert db.query("SELECT value FROM galaxlite_meta WHERE key = 'db4ai_snapshot_version_separator'") == [("_",)]


def test_hash_is_a_name_only_inside_a_relation_name() -> None:
    assert parse_statement("SELECT * FROM t, public.data#1_2_3 AS d").sql == 'SELECT * FROM t, main."data#1_2_3" AS d'
    for sql in ("SELECT 1 # 2", "SELECT * FROM data #1", "SELECT * FROM data#"):
        with pytest.raises(SqlSyntaxError, match="unrecognized token '#'"):
            parse_statement(sql)


# openGauss's regression cases (its prepare-snapshot API test), as statements
REGRESSION = [
    ("ALTER ADD column, ADD b", "unable to extract column name in ADD operation: 'ADD column, ADD b'", "ADD column"),
    ("ALTER DROP ColuMn iF eXistS, ADD b",
     "unable to extract column name in DROP operation: 'DROP ColuMn iF eXistS, ADD b'", "DROP"),
    ('ALTER ADD "abc"d int', 'syntax error at or near "int"', "int"),
    ("DELETE USING a USING b", "multiple USING clauses in DELETE at: 'USING b'", "USING b"),
    ("DELETE USING t JOIN u USING (id) USING b", "multiple USING clauses in DELETE at: 'USING b'", "USING b"),
    ("ALTER SET nothing", "illegal SET clause in ALTER at: 'SET nothing'", "SET"),
    ("ALTER AS AliaS", "illegal AS clause in ALTER at: 'AS AliaS'", "AS"),
    ("ALTER Values( a b)", "illegal SQL clause in ALTER at: 'Values( a b)'", "Values"),
    ("ALTER; ALTER ADD x int", "missing auxiliary clauses in ALTER before: 'ALTER'", "ALTER;"),
    ("INSERT; UPDATE SET a = 1", "missing auxiliary clauses in INSERT before: 'UPDATE'", "INSERT"),
    ("UPDATE; DELETE", "missing auxiliary clauses in UPDATE before: 'DELETE'", "UPDATE"),
]


@pytest.mark.parametrize("using, message, near", REGRESSION)
def test_opengauss_regression_wording(db: galaxlite.Database, using: str, message: str, near: str) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INT)")
    db.execute("CREATE SNAPSHOT s AS SELECT * FROM t")
    sql = f"CREATE SNAPSHOT s FROM @1.0.0 USING ({using})"
    with pytest.raises(galaxlite.ProgrammingError) as info:
        db.execute(sql)
    assert str(info.value).startswith(message + " at line 1, column ")
    assert sql[info.value.position:].startswith(near)
    assert [s.name for s in db.snapshots()] == ["s@1.0.0"]


def test_opengauss_version_hints(db: galaxlite.Database) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.execute("CREATE SNAPSHOT s@zzz AS SELECT * FROM t")
    with pytest.raises(galaxlite.SnapshotError) as info:
        db.execute("CREATE SNAPSHOT s FROM @zzz USING (DELETE)")
    assert info.value.hint == "provide custom version using i_vers parameter for new snapshot"
    with pytest.raises(galaxlite.SnapshotError) as info:
        db.execute("CREATE SNAPSHOT s@'x@34' FROM @zzz USING (DELETE)")
    assert str(info.value).startswith("i_vers may contain only one single, leading '@' character")
    assert info.value.hint == "specify snapshot version as [@]x.y.z or [@]label with optional, leading '@'"

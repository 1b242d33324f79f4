"""The postgres dialect: statements read as PostgreSQL, translated by sqlglot, with
PostgreSQL's meaning (the expected values are what PostgreSQL returns for them); what cannot
keep its meaning is refused with a galaxlite error, and the default dialect runs SQL as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import gl, ok, one_line_error

import galaxlite
from galaxlite import transpile


@pytest.fixture
def pg(db_path: Path):
    database = galaxlite.Database(db_path, dialect="postgres")
    database.execute("CREATE TABLE t (id integer PRIMARY KEY, name text, x real)")
    database.execute("INSERT INTO t (name, x) SELECT 'N' || n::text, n / 2.0 FROM generate_series(1, 10) AS g(n)")
    yield database
    database.close()


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SELECT count(*), sum(id) FROM t", (10, 55)),
        ("SELECT 3.7::int, (-3.7)::int, 2.5::int, '42'::int, 7::int", (4, -4, 3, 42, 7)),
        ("SELECT x::int FROM t WHERE id = 3", (2,)),  # 1.5 rounds to 2 (SQLite's CAST: 1)
        ("SELECT count(*) FROM t WHERE name LIKE 'n%'", (0,)),  # case-sensitive
        ("SELECT count(*) FROM t WHERE name LIKE 'N1%'", (2,)),
        ("SELECT count(*) FROM t WHERE name NOT LIKE 'N_'", (1,)),
        ("SELECT count(*) FROM t WHERE name ILIKE 'n1%'", (2,)),
        ("SELECT 'a_b' LIKE 'a\\_b', 'axb' LIKE 'a\\_b', 'a*b' LIKE 'a*b', 'ab' LIKE 'a*b'", (1, 0, 1, 0)),
        ("SELECT count(*) FROM t WHERE random() >= 0 AND random() < 1", (10,)),
        ("SELECT sum(v) FROM generate_series(10, 1, -3) AS s(v)", (10 + 7 + 4 + 1,)),
        ("SELECT count(*) FROM generate_series(1, 0)", (0,)),
        ("SELECT max(generate_series) FROM generate_series(1, 5)", (5,)),
        ("SELECT CURRENT_DATE - 30 = date('now', '-30 days'), CURRENT_DATE + 1 > CURRENT_DATE", (1, 1)),
        ("SELECT now() - interval '1 day' < now(), now() + interval '2 hours' > now()", (1, 1)),
        ("SELECT now()::date = CURRENT_DATE", (1,)),
        ("SELECT string_agg(name, ',') FROM t WHERE id < 3", ("N1,N2",)),
    ],
)
def test_postgres_meanings(pg: galaxlite.Database, sql: str, expected: tuple) -> None:
    assert pg.query(sql) == [expected]


def test_random_filter_keeps_a_fifth(pg: galaxlite.Database) -> None:
    """random() <= 0.2 keeps about a fifth of the rows (SQLite's integer random(): half)."""
    pg.execute("CREATE TABLE big AS SELECT * FROM generate_series(1, 20000) AS g(n)")
    (kept,) = pg.query("SELECT count(*) FROM big WHERE RANDOM() <= 0.2")[0]
    assert 3400 < kept < 4600  # 4000 ± 10 standard deviations
    with galaxlite.Database(pg.path) as plain:
        (half,) = plain.query("SELECT count(*) FROM big WHERE RANDOM() <= 0.2")[0]
    assert 9000 < half < 11000


def test_galaxlite_syntax_inside_postgres_statements(pg: galaxlite.Database) -> None:
    pg.execute("CREATE VERSION TAG 'v1'")
    pg.execute("DELETE FROM t WHERE id::text LIKE '1%'")
    assert pg.query("SELECT count(*) FROM t AT VERSION 'v1' WHERE name ILIKE 'n%'") == [(10,)]
    assert pg.query("SELECT count(*) FROM t") == [(8,)]
    pg.execute("CREATE SNAPSHOT s AS SELECT id, name, x::int AS xi FROM t AT VERSION 'v1' WHERE id::text LIKE '1%'")
    assert pg.query("SELECT * FROM s@1.0.0 ORDER BY id") == [(1, "N1", 1), (10, "N10", 5)]
    pg.execute(
        "CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE RANDOM() < 0; "
        "UPDATE SET xi = xi * 10 WHERE name ILIKE '%0'; INSERT INTO SNAPSHOT SELECT 99, 'z', 3.6::int; "
        "DELETE FROM SNAPSHOT AS d USING t o WHERE d.id = o.id AND o.name LIKE 'n%')"
    )
    assert pg.query("SELECT * FROM s@1.1.0 ORDER BY id") == [(1, "N1", 1), (10, "N10", 50), (99, "z", 4)]
    (snap,) = [s for s in pg.snapshots() if s.name == "s@1.1.0"]
    assert "ESCAPE" in " ".join(snap.commands)  # the lineage records the SQLite that ran


@pytest.mark.parametrize(
    "sql, message",
    [
        ("SELECT 'a'::boolean", "a cast to boolean has no SQLite meaning"),
        ("SELECT name FROM t WHERE name LIKE name", "LIKE with a pattern that is not a string literal"),
        ("SELECT generate_series(1, 3)", "generate_series(...) is translated only as a table in FROM"),
        ("SELECT * FROM generate_series(1, 3, 0)", "step size cannot equal zero"),
        ("SELECT interval '1 day'", "INTERVAL arithmetic other than date / timestamp"),
        ("SELECT now() + interval '1 fortnight'", "has no SQLite date modifier"),
        ("SELECT E'\\\\x'", "sqlglot cannot translate this statement"),
        ("SELECT name FROM t WHERE name LIKE 'a!%' ESCAPE '!'", "LIKE ... ESCAPE"),
    ],
)
def test_refused_rather_than_run_otherwise(pg: galaxlite.Database, sql: str, message: str) -> None:
    with pytest.raises(galaxlite.NotSupportedError, match="under the postgres dialect|sqlglot") as info:
        pg.execute(sql)
    assert message in str(info.value)


def test_postgres_syntax_errors_are_galaxlite_errors(pg: galaxlite.Database) -> None:
    with pytest.raises(galaxlite.ProgrammingError, match="^PostgreSQL syntax error"):
        pg.execute("SELECT * FROM t WHERE")


def test_the_setting_and_the_default(db: galaxlite.Database) -> None:
    """SET galaxlite.dialect switches a session; the default reads SQLite as written."""
    assert db.query("SHOW galaxlite.dialect") == [("sqlite",)]
    assert db.query("SELECT 'ABC' LIKE 'a%', CAST(3.7 AS INTEGER)") == [(1, 3)]
    db.execute("SET galaxlite.dialect = 'postgres'")
    assert db.query("SHOW galaxlite.dialect") == [("postgres",)]
    assert db.query("SELECT 'ABC' LIKE 'a%', 3.7::int") == [(0, 4)]
    db.execute("RESET galaxlite.dialect")
    assert db.query("SELECT 'ABC' LIKE 'a%'") == [(1,)]
    for sql, cls in [("SET galaxlite.dialect = mysql", galaxlite.ProgrammingError),
                     ("ALTER DATABASE SET galaxlite.dialect = postgres", galaxlite.NotSupportedError)]:
        with pytest.raises(cls, match="galaxlite.dialect"):
            db.execute(sql)
    with pytest.raises(galaxlite.ProgrammingError, match="unknown SQL dialect 'mysql'"):
        galaxlite.Database(db.path, dialect="mysql")


def test_scripts_translate_statement_by_statement(db_path: Path) -> None:
    with galaxlite.Database(db_path, dialect="postgres") as pg:
        pg.executescript("START TRANSACTION; CREATE TABLE u (a int); INSERT INTO u SELECT n::int FROM "
                         "generate_series(1, 4) AS g(n); COMMIT; SET db4ai_snapshot_mode = CSS")
        assert pg.query("SELECT sum(a) FROM u") == [(10,)]
    assert transpile.translate("SELECT 1; SELECT 'a;b'", "postgres") == "SELECT 1;\nSELECT 'a;b'"


def test_cli_dialect_option(db_path: Path) -> None:
    out = ok("--dialect", "postgres", str(db_path), "SELECT 3.7::int AS i, 'ABC' LIKE 'a%' AS l", "--format", "csv")
    assert out.splitlines() == ["i,l", "4,0"]
    assert ok(str(db_path), "SELECT CAST(3.7 AS INTEGER) AS i", "--format", "csv").splitlines() == ["i", "3"]
    message = one_line_error(gl("--dialect", "postgres", str(db_path), "SELECT 'a'::boolean"))
    assert "a cast to boolean has no SQLite meaning" in message

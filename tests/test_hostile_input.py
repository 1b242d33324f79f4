"""Hostile input: whatever text a user sends, only ``galaxlite.Error`` subclasses come out,
and a statement that fails leaves the database exactly as it was (the embedding cache
aside: embeddings computed before the error stay cached, by design).

The quick version runs a few hundred generated and mutated statements; ``make test-long``
runs many more (``GALAXLITE_LONG=1``).
"""

from __future__ import annotations

import os

import apsw
import figures
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galaxlite

LONG = bool(os.environ.get("GALAXLITE_LONG"))

# Statements that exercise every front-end rule; mutations of them reach the odd corners.
SEEDS = [
    "SELECT * FROM t AT VERSION 'v1'",
    "SELECT id, a FROM t AT VERSION 'v1' WHERE a LIKE 'x%' ORDER BY id",
    "SELECT count(*) FROM t, u AT VERSION 'v1' WHERE t.id = u.id",
    "SELECT * FROM snap@1.0.0",
    "SELECT * FROM snap@1.0.0 AS s WHERE s.id > 1",
    "INSERT INTO t (a) VALUES ('new')",
    "UPDATE t SET a = a || 'x' WHERE id = 2",
    "DELETE FROM t WHERE id = 3",
    "BULK INSERT INTO t (a) VALUES ('b1'), ('b2')",
    "CREATE VERSION TAG 'v2'",
    "DROP VERSION TAG 'v2'",
    "CREATE TABLE n (id INTEGER PRIMARY KEY, s TEXT)",
    "ALTER TABLE t ADD COLUMN extra INTEGER",
    "CREATE SNAPSHOT s2 FROM @1.0.0 COMMENT IS 'c' AS SELECT * FROM t",
    "SAMPLE SNAPSHOT snap@1.0.0 STRATIFY BY a AS _s AT RATIO .5",
    "PUBLISH SNAPSHOT snap@1.0.0",
    "ARCHIVE SNAPSHOT snap@1.0.0",
    "SELECT * FROM t WHERE SEMANTIC_MATCH(a, 'hello')",
    "SELECT 'a;b', \"a\"\"b\" FROM t -- comment",
    "CREATE VIEW w AS SELECT * FROM t AT VERSION 'v1'",
]
NASTY = ["'", '"', ";", "--", "/*", "*/", "\x00", "\ud800", "\udfff", "9" * 40, "-9223372036854775809",
         "@", "@1.", "AT VERSION", "(", ")", ",", "?", ":x", "$", "`", "[", "\\", "\n", "ε", "\U0001f600"]


def _state(path: str) -> list[tuple]:
    """Everything stored except the embedding cache, in a fixed order."""
    conn = apsw.Connection(path, flags=apsw.SQLITE_OPEN_READONLY)
    try:
        out: list[tuple] = []
        objects = list(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"))
        out.extend(objects)
        for kind, name, _, _ in objects:
            if kind == "table" and name != "galaxlite_embeddings":
                quoted = '"' + name.replace('"', '""') + '"'
                out.append((name, sorted(map(repr, conn.execute(f"SELECT * FROM {quoted}")))))
        return out
    finally:
        conn.close()


@pytest.fixture
def populated(tmp_path):
    path = str(tmp_path / "h.db")
    db = galaxlite.Database(path)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, b REAL)")
    db.executemany("INSERT INTO t (a) VALUES (?)", [("x1",), ("x2",), ("y3",)])
    db.executemany("INSERT INTO u (b) VALUES (?)", [(1.5,), (2.5,)])
    db.execute("CREATE VERSION TAG 'v1'")
    db.execute("CREATE SNAPSHOT snap AS SELECT * FROM t")
    yield db, path
    db.close()


def _run(db: galaxlite.Database, path: str, sql: str) -> None:
    figures.add("statements fuzzed")
    before = _state(path)
    try:
        db.execute(sql).fetchall()
    except galaxlite.Error:
        assert db.in_transaction is False
        assert _state(path) == before, f"failed statement changed the database: {sql!r}"
    except BaseException as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{type(exc).__name__} escaped for {sql!r}: {exc}")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'a\x00b' FROM t AT VERSION 'v1'",
        "SELECT 'a\x00b' FROM snap@1.0.0",
        "CREATE TABLE u\ud800 (a)",
        "SELECT * FROM t AT VERSION '\ud800'",
        "SELECT * FROM t AT VERSION 99999999999999999999999999",
        "SELECT * FROM t AT VERSION -1",
        "SELECT * FROM t WHERE SEMANTIC_MATCH(a, '\x00')",
    ],
)
def test_known_hostile_statements_raise_galaxlite_errors(populated, sql: str) -> None:
    db, path = populated
    _run(db, path, sql)


def test_nul_inside_a_literal_of_a_rewritten_statement_is_refused_with_position(populated) -> None:
    db, _ = populated
    with pytest.raises(galaxlite.ProgrammingError, match="unrecognized token") as info:
        db.execute("SELECT 'a\x00b' FROM t AT VERSION 'v1'")
    assert "column 8" in str(info.value)


def test_lone_surrogate_is_refused_where_it_stands(populated) -> None:
    db, _ = populated
    with pytest.raises(galaxlite.ProgrammingError, match="lone surrogate, which is not valid UTF-8 at line 1, column 15"):
        db.execute("CREATE TABLE u\ud800 (a)")


@st.composite
def mutated(draw) -> str:
    sql = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["insert", "delete", "truncate", "swap"]))
        pos = draw(st.integers(0, len(sql)))
        if kind == "insert":
            sql = sql[:pos] + draw(st.sampled_from(NASTY) | st.text(max_size=3)) + sql[pos:]
        elif kind == "delete":
            sql = sql[:pos] + sql[pos + draw(st.integers(1, 6)):]
        elif kind == "truncate":
            sql = sql[:pos]
        else:
            sql = sql[:pos] + draw(st.sampled_from(SEEDS)) + sql[pos:]
    return sql


@settings(
    max_examples=2000 if LONG else 150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sql=mutated())
def test_mutated_statements_only_raise_galaxlite_errors_and_change_nothing(populated, sql: str) -> None:
    db, path = populated
    _run(db, path, sql)

"""The front end: lexing, statement splitting, statement rules, AT VERSION references."""

from __future__ import annotations

import ast
import pathlib

import pytest

from galaxlite import transpile
from galaxlite.transpile import plan as P
from galaxlite.transpile.errors import PastIsReadOnly, SqlSyntaxError, UnsupportedSyntax, line_col
from galaxlite.transpile.vectors import vector_check


def texts(sql: str) -> list[str]:
    return [s.text for s in transpile.split_statements(sql)]


def test_split_respects_quotes_comments_and_parentheses():
    sql = """SELECT ';' AS a; -- a comment; still a comment
    SELECT "x;y" FROM t /* ; */ ; CREATE SNAPSHOT s FROM @1.0.0 USING (INSERT 1; DELETE 2)"""
    assert texts(sql) == [
        "SELECT ';' AS a",
        'SELECT "x;y" FROM t',
        "CREATE SNAPSHOT s FROM @1.0.0 USING (INSERT 1; DELETE 2)",
    ]


def test_split_keeps_trigger_bodies_whole():
    sql = """CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        INSERT INTO log VALUES (new.a);
        UPDATE c SET n = CASE WHEN n > 1 THEN 0 ELSE n + 1 END;
    END; SELECT 1;"""
    parts = texts(sql)
    assert len(parts) == 2
    assert parts[0].endswith("END")
    assert parts[1] == "SELECT 1"


def test_split_empty_and_blank_statements():
    assert texts(" ; ;; -- nothing\n") == []


def test_unterminated_string_reports_position():
    with pytest.raises(SqlSyntaxError) as info:
        transpile.parse_script("SELECT 1;\nSELECT 'abc")
    assert info.value.position == 17
    assert "line 2, column 8" in str(info.value)


def test_line_col():
    assert line_col("ab\ncd", 4) == (2, 2)


@pytest.mark.parametrize(
    "sql, kind",
    [
        ("SELECT 1", P.READ),
        ("values (1)", P.READ),
        ("WITH x AS (SELECT 1) SELECT * FROM x", P.READ),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", P.WRITE),
        ("INSERT INTO t VALUES (1)", P.WRITE),
        ("REPLACE INTO t VALUES (1)", P.WRITE),
        ("UPDATE t SET a = 1", P.WRITE),
        ("DELETE FROM t", P.WRITE),
        ("CREATE INDEX i ON t(a)", P.OTHER),
        ("PRAGMA user_version", P.OTHER),
        ("CREATE TABLE t(a)", P.CREATE_TABLE),
        ("create temp table t(a)", P.CREATE_TABLE),
        ("ALTER TABLE t ADD COLUMN b", P.ALTER_TABLE),
        ("DROP TABLE IF EXISTS t", P.DROP_TABLE),
        ("CREATE VERSION TAG 'a'", P.CREATE_TAG),
        ("DROP VERSION TAG 'a'", P.DROP_TAG),
        ("BULK INSERT INTO t VALUES (1)", P.BULK_INSERT),
        ("BEGIN IMMEDIATE", P.BEGIN),
        ("END TRANSACTION", P.COMMIT),
        ("ROLLBACK", P.ROLLBACK),
        ("ROLLBACK TO sp", P.ROLLBACK_TO),
        ("SAVEPOINT sp", P.SAVEPOINT),
        ("RELEASE sp", P.RELEASE),
    ],
)
def test_statement_kinds(sql, kind):
    assert transpile.parse_statement(sql).kind == kind


def test_plain_statement_runs_as_original_text():
    sql = "SELECT  CAST(x AS NUMERIC) FROM t WHERE a = ?1 -- keep me"
    plan = transpile.parse_statement(sql)
    assert plan.sql == "SELECT  CAST(x AS NUMERIC) FROM t WHERE a = ?1"
    assert plan.template is None


def test_without_versioning_is_removed_from_the_sql():
    for sql, expected in [
        ("CREATE TABLE t (a) WITHOUT VERSIONING", "CREATE TABLE t (a)"),
        ("CREATE TABLE t (a PRIMARY KEY) WITHOUT ROWID, WITHOUT VERSIONING", "CREATE TABLE t (a PRIMARY KEY) WITHOUT ROWID"),
        ("CREATE TABLE t (a) WITHOUT VERSIONING, STRICT", "CREATE TABLE t (a) STRICT"),
    ]:
        plan = transpile.parse_statement(sql)
        assert plan.sql == expected
        assert plan.detail.versioned is False
    assert transpile.parse_statement("CREATE TABLE t (a) STRICT").detail.versioned is True
    assert transpile.parse_statement("CREATE TEMP TABLE t (a)").detail.versioned is False
    assert transpile.parse_statement("CREATE TABLE temp.t (a)").detail.versioned is False


def test_at_version_refs_and_aliases():
    plan = transpile.parse_statement(
        "SELECT * FROM docs AT VERSION 'v1' AS d JOIN docs AT VERSION 17 ON 1 "
        "JOIN main.x AT VERSION :when y WHERE a = ?"
    )
    assert [r.table for r in plan.refs] == ["docs", "docs", "x"]
    assert plan.refs[0].version == P.VersionSpec(tag="v1")
    assert plan.refs[1].version == P.VersionSpec(timestamp=17)
    assert plan.refs[2].version == P.VersionSpec(param="when")
    assert plan.refs[2].schema == "main"
    rendered = plan.template.render(["(A)", "(B)", "(C)"])
    assert rendered == 'SELECT * FROM (A) AS d JOIN (B) AS "docs" ON 1 JOIN (C) y WHERE a = ?'


def test_at_version_positional_parameter_is_consumed():
    plan = transpile.parse_statement("SELECT * FROM t AT VERSION ? WHERE a = ? AND b = ?")
    assert plan.consumed_params == (0,)
    plan = transpile.parse_statement("SELECT * FROM t WHERE a = ? AND EXISTS (SELECT 1 FROM u AT VERSION ?)")
    assert plan.consumed_params == (1,)


def test_at_version_inside_strings_and_comments_is_not_syntax():
    plan = transpile.parse_statement("SELECT 't AT VERSION 1' /* t AT VERSION 2 */")
    assert plan.refs == ()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t AT VERSION 'v' VALUES (1)",
        "UPDATE t AT VERSION 'v' SET a = 1",
        "UPDATE OR IGNORE t AT VERSION 'v' SET a = 1",
        "DELETE FROM t AT VERSION 'v'",
        "REPLACE INTO t AT VERSION 'v' VALUES (1)",
    ],
)
def test_writes_to_the_past_are_refused(sql):
    with pytest.raises(PastIsReadOnly) as info:
        transpile.parse_statement(sql)
    assert info.value.position == sql.index("t AT")


def test_reading_the_past_inside_a_write_is_allowed():
    plan = transpile.parse_statement("INSERT INTO t SELECT * FROM t AT VERSION 'v'")
    assert plan.kind == P.WRITE and len(plan.refs) == 1


@pytest.mark.parametrize(
    "sql, message",
    [
        ("SELECT * FROM t AT VERSION", "needs a tag name"),
        ("SELECT * FROM t AT VERSION 1.5", "integer"),
        ("SELECT * FROM t AT VERSION ''", "must not be empty"),
        ("SELECT * FROM t AT VERSION x", "tag name"),
        ("CREATE VERSION TAG ''", "must not be empty"),
        ("CREATE VERSION TAG x", "string literal"),
        ("CREATE VERSION TAG 'x' FOR TRAINING WITH TRAINING PRECISION 'fp16'", "unknown training precision"),
        ("CREATE VERSION TAG 'x' FOR TRAINING TRAINING SEED -1", "non-negative integer"),
        ("CREATE VERSION TAG 'x' FOR TRAINING TRAINING SEED 18446744073709551616", "64 bits"),
        ("CREATE VERSION TAG 'x' FOR TRAINING TRAINING SEED 1 TRAINING SEED 2", "twice"),
        ("CREATE VERSION TAG 'x' extra", "unexpected text"),
        ("ALTER TABLE t FROB", "expected RENAME, ADD, DROP, ALTER COLUMN or ENABLE VERSIONING"),
        ("SELECT a AT VERSION 'v' FROM t", "FROM or JOIN clause"),
        ("SELECT * FROM t WHERE x AT VERSION 'v'", "FROM or JOIN clause"),
    ],
)
def test_syntax_errors_name_the_problem(sql, message):
    with pytest.raises(SqlSyntaxError) as info:
        transpile.parse_statement(sql)
    assert message in str(info.value)
    assert info.value.position is not None


def test_numbered_parameter_in_at_version_is_not_supported():
    with pytest.raises(UnsupportedSyntax):
        transpile.parse_statement("SELECT * FROM t AT VERSION ?2")


def test_training_options_parse():
    plan = transpile.parse_statement(
        "CREATE VERSION TAG 'e42' FOR TRAINING WITH TRAINING PRECISION 'RaBitQ' TRAINING SEED 42"
    )
    assert plan.detail == P.TagStatement("e42", training=P.TrainingOptions("rabitq", 42))
    plan = transpile.parse_statement("CREATE VERSION TAG 't' FOR TRAINING")
    assert plan.detail.training == P.TrainingOptions("float32", None)


def test_bulk_insert_is_plain_insert_underneath():
    plan = transpile.parse_statement("BULK INSERT INTO training_data (id, text) SELECT 1, 'a'")
    assert plan.sql == "INSERT INTO training_data (id, text) SELECT 1, 'a'"
    assert plan.detail.table == P.TableName(None, "training_data")


def test_plans_are_cached():
    assert transpile.parse_statement("SELECT 42") is transpile.parse_statement("SELECT 42")


def test_one_statement_only():
    with pytest.raises(SqlSyntaxError, match="one statement at a time"):
        transpile.parse_statement("SELECT 1; SELECT 2")


def test_vector_check_failure_reads_the_check_the_front_end_writes():
    name = vector_check('my "col"', 3).split('"', 1)[1].rsplit('" CHECK', 1)[0].replace('""', '"')
    failure = transpile.vector_check_failure(f"CHECK constraint failed: {name}")
    assert failure == transpile.VectorCheckFailure('my "col"', 3)
    assert transpile.vector_check_failure("CHECK constraint failed: positive") is None


def test_front_end_imports_only_itself_at_module_level():
    """galaxlite.transpile is the lowest layer: no engine imports, and no imports inside
    functions (which would hide a cycle between its own modules)."""
    folder = pathlib.Path(transpile.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        top = set(tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for name in names:
                    if name.startswith("galaxlite"):
                        assert node in top, f"{path.name}:{node.lineno} imports {name} inside a function"
                        assert name.startswith("galaxlite.transpile"), f"{path.name} imports the engine: {name}"

"""SQLite's own sqllogictest files, run through galaxlite (and through plain SQLite as a check).

Every ``CREATE TABLE`` of these scripts makes a versioned table, so each file checks that
versioned tables give exactly SQLite's answers. The same files run on plain apsw show that
the runner (``tests/sqllogic.py``) reads the expected answers the way SQLite's runner does.
``make test`` runs the plain ``*.test`` files; ``make test-long`` (``GALAXLITE_LONG=1``) also
the compressed ones in ``fixtures/sqllogictest/long`` (select4, and one file of each family of
SQLite's ``index/`` and ``random/`` corpus), ~25 MB of scripts.
"""

from __future__ import annotations

import os
from pathlib import Path

import apsw
import figures
import pytest
import sqllogic

import galaxlite

LONG = bool(os.environ.get("GALAXLITE_LONG"))
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sqllogictest"
QUICK_CORPUS = sorted(FIXTURES.rglob("*.test"))
LONG_CORPUS = sorted(FIXTURES.rglob("*.test.gz"))
CORPUS = QUICK_CORPUS + (LONG_CORPUS if LONG else [])
CORPUS_IDS = [p.relative_to(FIXTURES).as_posix() for p in CORPUS]
EXPECTED_CORPUS = {
    "select1.test",
    "select2.test",
    "select3.test",
    "select5.test",
    *(
        f"evidence/{name}.test"
        for name in (
            "in1",
            "in2",
            "slt_lang_aggfunc",
            "slt_lang_createtrigger",
            "slt_lang_createview",
            "slt_lang_dropindex",
            "slt_lang_droptable",
            "slt_lang_droptrigger",
            "slt_lang_dropview",
            "slt_lang_reindex",
            "slt_lang_replace",
            "slt_lang_update",
        )
    ),
    *(
        f"long/{name}.test.gz"
        for name in (
            "select4",
            "index_between_1_slt_good_0",
            "index_commute_10_slt_good_0",
            "index_delete_1_slt_good_0",
            "index_in_10_slt_good_3",
            "index_orderby_10_slt_good_0",
            "index_orderby_nosort_10_slt_good_0",
            "index_random_10_slt_good_0",
            "random_aggregates_slt_good_0",
            "random_expr_slt_good_0",
            "random_groupby_slt_good_0",
            "random_select_slt_good_0",
        )
    ),
}


def run_on_galaxlite(script: str, folder: Path) -> sqllogic.Outcome:
    """Run a script on a fresh galaxlite database in ``folder``."""
    with galaxlite.Database(folder / "slt.db") as db:
        return sqllogic.run(sqllogic.parse(script), sqllogic.GalaxliteEngine(db))


def run_on_sqlite(script: str, folder: Path) -> sqllogic.Outcome:
    """Run a script on a fresh plain SQLite database in ``folder``, set up as the reference
    runner sets up SQLite (default settings but ``synchronous=OFF``)."""
    conn = apsw.Connection(str(folder / "baseline.db"))
    conn.execute("PRAGMA synchronous = OFF")
    try:
        return sqllogic.run(sqllogic.parse(script), sqllogic.ApswEngine(conn))
    finally:
        conn.close()


RUNNERS = {"galaxlite": run_on_galaxlite, "sqlite": run_on_sqlite}


def assert_all_match(outcome: sqllogic.Outcome, name: str) -> None:
    """Fail with the first few mismatching records (line numbers, SQL, what differed)."""
    assert outcome.executed > 0, f"{name}: no record was run"
    if outcome.mismatches:
        pytest.fail(outcome.report(name), pytrace=False)


# ------------------------------------------------------------------------------------ the corpus


def test_the_whole_corpus_is_there() -> None:
    found = {p.relative_to(FIXTURES).as_posix() for p in QUICK_CORPUS + LONG_CORPUS}
    assert found == EXPECTED_CORPUS
    assert (FIXTURES / "README.md").is_file()


@pytest.mark.parametrize("path", CORPUS, ids=CORPUS_IDS)
def test_galaxlite_gives_sqlites_answers(path: Path, tmp_path: Path) -> None:
    outcome = sqllogic.run_file_on_galaxlite(path, tmp_path)
    figures.add("sqllogictest records", outcome.executed)
    assert_all_match(outcome, path.relative_to(FIXTURES).as_posix())


@pytest.mark.parametrize("path", CORPUS, ids=CORPUS_IDS)
def test_plain_sqlite_gives_the_expected_answers(path: Path, tmp_path: Path) -> None:
    outcome = sqllogic.run_file_on_sqlite(path, tmp_path)
    assert_all_match(outcome, path.relative_to(FIXTURES).as_posix())


def test_the_command_line_runs_files_and_folders(capsys: pytest.CaptureFixture[str]) -> None:
    evidence = FIXTURES / "evidence"
    assert sqllogic.main([str(evidence / "in2.test"), str(evidence)]) == 0
    out = capsys.readouterr().out
    assert out.count("\nok ") == 12 and "13 of 13 files ok on galaxlite" in out


def test_the_command_line_reports_a_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "wrong.test"
    script.write_text("query I nosort\nSELECT 1\n----\n2\n")
    assert sqllogic.main(["--engine", "sqlite", str(script)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "got '1', expected '2'" in out and "0 of 1 files ok on sqlite" in out


# ------------------------------------------------------------------------------------ galaxlite
# Scripts (in the same format) for what the corpus does not reach. Each runs on plain SQLite
# too, which shows the expectations are SQLite's own answers.

EXTRA_SCRIPTS = {
    # SQLite's changes() is the row count of the last INSERT/UPDATE/DELETE statement.
    "changes_function": """
statement ok
CREATE TABLE t1(x INTEGER PRIMARY KEY, y TEXT)

statement ok
INSERT INTO t1 VALUES(1,'a'),(2,'b'),(3,'c')

query I nosort
SELECT changes()
----
3

statement ok
INSERT OR IGNORE INTO t1 VALUES(1,'again')

query I nosort
SELECT changes()
----
0

statement ok
DELETE FROM t1 WHERE x >= 2

query I nosort
SELECT changes()
----
2
""",
    # The reference runner keeps the rows a query gave before a step failed.
    "error_after_the_first_row": """
statement ok
CREATE TABLE t1(x INTEGER)

statement ok
INSERT INTO t1 VALUES(1)

query I nosort
SELECT x FROM t1 UNION ALL SELECT abs(-9223372036854775807 - 1)
----
1
""",
    # REPLACE replaces the row. (Whether it fires DELETE triggers differs on purpose: galaxlite
    # turns recursive_triggers on for REPLACE statements so the replaced row's history is kept;
    # tests/test_database.py::test_replace_fires_delete_triggers_to_keep_history covers that.)
    "replace_and_a_delete_trigger": """
statement ok
CREATE TABLE t1(x INTEGER PRIMARY KEY, y TEXT)

statement ok
CREATE TABLE log(m TEXT)

statement ok
CREATE TRIGGER t1_deleted AFTER DELETE ON t1 BEGIN INSERT INTO log VALUES('deleted ' || OLD.x); END

statement ok
INSERT INTO t1 VALUES(1,'a')

statement ok
REPLACE INTO t1 VALUES(1,'b')

query IT nosort
SELECT x, y FROM t1
----
1
b
""",
    # ... and a trigger does not fire itself again.
    "a_trigger_that_inserts_into_its_table": """
statement ok
CREATE TABLE t1(n INTEGER)

statement ok
CREATE TRIGGER t1_next AFTER INSERT ON t1 WHEN NEW.n < 5 BEGIN INSERT INTO t1 VALUES(NEW.n + 1); END

statement ok
INSERT INTO t1 VALUES(1)

query I rowsort
SELECT n FROM t1
----
1
2
""",
    # A record holding several statements (sqlite3_exec runs them all) and a trigger body.
    "several_statements_in_one_record": """
statement ok
CREATE TABLE t1(x INTEGER);
CREATE INDEX t1x ON t1(x);

statement ok
CREATE TRIGGER t1_ins AFTER INSERT ON t1 BEGIN SELECT 1; SELECT 2; END;

statement ok
INSERT INTO t1 VALUES(1); INSERT INTO t1 VALUES(2);

query I rowsort
SELECT x FROM t1
----
1
2

statement error
DROP INDEX t1x; DROP INDEX t1x;
""",
}


@pytest.mark.parametrize("engine", sorted(RUNNERS))
@pytest.mark.parametrize("name", sorted(EXTRA_SCRIPTS))
def test_extra_scripts(name: str, engine: str, tmp_path: Path) -> None:
    outcome = RUNNERS[engine](EXTRA_SCRIPTS[name], tmp_path)
    assert_all_match(outcome, f"{name} on {engine}")


# ------------------------------------------------------------------------------------ the runner


def test_parse_reads_records_conditions_and_expected_lines() -> None:
    records = sqllogic.parse(
        "# a comment\n"
        "hash-threshold 4\n"
        "\n"
        "statement ok\n"
        "CREATE TABLE t(a)\n"
        "\n"
        "skipif mysql\n"
        "onlyif sqlite # comment\n"
        "query IT rowsort label-7\n"
        "SELECT a,\n"
        "# comment inside\n"
        "  'x' FROM t\n"
        "----\n"
        "1\n"
        "x\n"
        "   \n"
        "query I\n"
        "SELECT 1\n"
    )
    assert [r.command for r in records] == ["hash-threshold", "statement", "query", "query"]
    assert records[0].args == ("4",)
    statement, query, bare = records[1:]
    assert (statement.line, statement.args, statement.sql) == (4, ("ok",), "CREATE TABLE t(a)")
    assert query.line == 9
    assert query.args == ("IT", "rowsort", "label-7")
    assert query.conditions == (("skipif", "mysql"), ("onlyif", "sqlite"))
    assert query.sql == "SELECT a,\n  'x' FROM t"
    assert query.expected == ("1", "x")
    assert bare.expected is None and bare.args == ("I",)
    assert query.applies_to("SQLite") and not query.applies_to("mysql")


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (None, "I", "NULL"),
        (None, "T", "NULL"),
        ("", "T", "(empty)"),
        ("a\tb", "T", "a@b"),
        ("é", "T", "@@"),
        (b"ab", "T", "ab"),
        (7, "T", "7"),
        (1e20, "T", "1.0e+20"),
        (1.0, "T", "1.0"),
        (42, "I", "42"),
        (2.9, "I", "2"),
        (-2.9, "I", "-2"),
        ("12abc", "I", "12"),
        ("abc", "I", "0"),
        (2**32 + 5, "I", "5"),
        (2**31, "I", "-2147483648"),
        (3, "R", "3.000"),
        (1.23456, "R", "1.235"),
        (0.0625, "R", "0.063"),
        ("2.5e1x", "R", "25.000"),
        (-(2.0**63), "R", "-9223372036854776000.000"),
    ],
)
def test_render_follows_sqlites_c_api(value: object, kind: str, shown: str) -> None:
    assert sqllogic.render(value, kind) == shown


def test_sorting_and_hashing() -> None:
    rows = [["2", "b"], ["10", "a"], ["2", "a"]]
    assert sqllogic.arrange(rows, "nosort") == ["2", "b", "10", "a", "2", "a"]
    assert sqllogic.arrange(rows, "rowsort") == ["10", "a", "2", "a", "2", "b"]
    assert sqllogic.arrange(rows, "valuesort") == ["10", "2", "2", "a", "a", "b"]
    # md5 of "1\n2\n"
    assert sqllogic.hash_line(["1", "2"]) == "2 values hashing to 6ddb4095eb719e2a9f0a3f95677d24e0"


FAILING_SCRIPT = """
statement ok
CREATE TABLE t(a INTEGER)

statement ok
INSERT INTO t VALUES(1),(2),(3)

statement error
SELECT a FROM t

statement ok
SELECT nope FROM t

query I rowsort
SELECT a FROM t
----
1
2
4

query II nosort
SELECT a FROM t
----

hash-threshold 2

query I nosort
SELECT a FROM t
----
1
2
3

query I nosort label-x
SELECT 1

query I nosort label-x
SELECT 2

skipif sqlite
query I nosort
SELECT 'skipped'
----
wrong

onlyif mysql
halt

query I nosort
SELECT 1
----
1

halt

query I nosort
SELECT 'after halt'
----
wrong
"""


@pytest.mark.parametrize("engine", sorted(RUNNERS))
def test_the_runner_reports_each_kind_of_mismatch(engine: str, tmp_path: Path) -> None:
    outcome = RUNNERS[engine](FAILING_SCRIPT, tmp_path)
    problems = {m.line: m.problem for m in outcome.mismatches}
    assert sorted(problems) == [8, 11, 14, 21, 27, 37]
    assert "an error was expected" in problems[8]
    assert problems[11].startswith("statement failed") and "nope" in problems[11]
    assert "got '4'" not in problems[14] and "expected '4'" in problems[14]
    assert "wrong number of result columns" in problems[21]
    assert "3 values hashing to" in problems[27]
    assert "labeled result [label-x]" in problems[37]
    assert outcome.skipped == 2
    assert outcome.halted_at == 54


def test_a_foreign_exception_is_a_mismatch(tmp_path: Path) -> None:
    class Leaky(sqllogic.ApswEngine):
        sql_errors = (galaxlite.Error,)  # apsw's own errors now count as leaks

    conn = apsw.Connection(str(tmp_path / "leaky.db"))
    outcome = sqllogic.run(sqllogic.parse("statement error\nSELECT * FROM nowhere\n"), Leaky(conn))
    conn.close()
    assert len(outcome.mismatches) == 1
    assert "foreign exception" in outcome.mismatches[0].problem

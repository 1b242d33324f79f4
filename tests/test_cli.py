"""The ``galaxlite`` command line, run as real subprocesses on real database files."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import gl, ok, one_line_error

import galaxlite

COMMANDS = ["query", "shell", "tags", "snapshots", "lineage", "export", "exports", "verify", "info", "demo",
            "diff", "gc"]


@pytest.fixture
def shop(tmp_path) -> str:
    """A database file with a versioned table, a tag, and a change after it."""
    path = str(tmp_path / "shop.db")
    ok(
        path,
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL);"
        "INSERT INTO items (name, price) VALUES ('apple', 1.5), ('pear', 2), ('fig', NULL);"
        "CREATE VERSION TAG 'v1';"
        "UPDATE items SET price = 3 WHERE name = 'fig';",
    )
    return path


# ------------------------------------------------------------------ query


def test_default_command_is_query(shop):
    out = ok(shop, "SELECT * FROM items ORDER BY id")
    assert out.splitlines() == [
        " id | name  | price",
        "----+-------+-------",
        "  1 | apple |   1.5",
        "  2 | pear  |   2.0",
        "  3 | fig   |   3.0",
        "(3 rows)",
    ]
    assert ok("query", shop, "SELECT * FROM items ORDER BY id") == out


def test_write_statements_report_rows_changed(tmp_path):
    path = str(tmp_path / "w.db")
    out = ok(path, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2); DELETE FROM t WHERE x = 1")
    assert out.splitlines() == ["2 rows changed", "1 row changed"]


def test_time_travel_and_tags(shop):
    out = ok(shop, "SELECT price FROM items AT VERSION 'v1' WHERE name = 'fig'")
    assert "NULL" in out.splitlines()[2]
    out = ok(shop, "CREATE VERSION TAG 'v2'")
    assert out.splitlines()[0].strip() == "version"
    assert int(out.splitlines()[2]) == galaxlite.Database(shop).tag_version("v2")


def test_formats(shop):
    sql = "SELECT id, name, price, x'00ff' AS b FROM items ORDER BY id"
    rows = list(csv.reader(io.StringIO(ok("query", shop, sql, "--format", "csv"))))
    assert rows[0] == ["id", "name", "price", "b"]
    assert rows[1:] == [["1", "apple", "1.5", "00ff"], ["2", "pear", "2.0", "00ff"], ["3", "fig", "3.0", "00ff"]]
    data = json.loads(ok("query", shop, sql, "--format", "json"))
    assert data[0] == {"id": 1, "name": "apple", "price": 1.5, "b": "00ff"}
    assert len(data) == 3
    lines = ok(shop, sql, "--format", "jsonl").splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["apple", "pear", "fig"]
    assert json.loads(ok(shop, "SELECT * FROM items WHERE id < 0", "--format", "json")) == []
    # csv and json print no "rows changed" chatter, only result sets
    assert ok(shop, "UPDATE items SET price = price", "--format", "csv") == ""


def test_table_cells(tmp_path):
    path = str(tmp_path / "c.db")
    out = ok(path, "SELECT NULL AS n, x'0102' AS b, zeroblob(40) AS big, 'a\nb' AS nl, printf('%.100c', 'x') AS long")
    row = out.splitlines()[2]
    assert "NULL" in row and "x'0102'" in row and "(40 bytes)" in row and "a\\nb" in row
    assert "x" * 79 + "…" in row and "x" * 81 not in row


def test_sql_from_a_file_and_from_stdin(shop, tmp_path):
    script = tmp_path / "q.sql"
    script.write_text("-- a comment\nSELECT count(*) AS n\nFROM items;\n")
    assert ok("query", shop, "-f", str(script), "--format", "csv") == "n\n3\n"
    assert ok("query", shop, "-f", "-", "--format", "csv", stdin="SELECT 1 AS one;") == "one\n1\n"
    assert ok(shop, "-", "--format", "csv", stdin="SELECT 2 AS two") == "two\n2\n"
    assert ok(shop, "--format", "csv", stdin="SELECT 3 AS three") == "three\n3\n"


def test_script_with_its_own_transaction(shop):
    ok(shop, "BEGIN; INSERT INTO items (name) VALUES ('kiwi'); DELETE FROM items WHERE name = 'pear'; COMMIT")
    assert ok(shop, "SELECT group_concat(name, ' ') AS names FROM items", "--format", "csv") == "names\napple fig kiwi\n"


def test_statements_before_an_error_stay_done(shop):
    proc = gl(shop, "INSERT INTO items (name) VALUES ('kiwi'); SELEC 1; INSERT INTO items (name) VALUES ('lime')")
    assert "syntax error" in one_line_error(proc)
    assert proc.stdout == "1 row changed\n"
    assert ok(shop, "SELECT count(*) FROM items", "--format", "csv") == "count(*)\n4\n"


# ------------------------------------------------------------------ errors


def test_sql_errors_are_one_line(shop):
    assert "syntax error" in one_line_error(gl(shop, "SELEC 1"))
    assert one_line_error(gl(shop, "SELECT * FROM nope")) == "no such table: nope at line 1, column 15 near 'nope'"
    assert "unknown version tag 'v9'" in one_line_error(gl(shop, "SELECT * FROM items AT VERSION 'v9'"))
    message = one_line_error(gl(shop, "SELECT 'multi\nline' FROM\nnope"))
    assert message == "no such table: nope at line 3, column 1 near 'nope'"


def test_debug_shows_the_traceback(shop):
    for args in (["--debug", shop, "SELECT * FROM nope"], [shop, "SELECT * FROM nope", "--debug"]):
        proc = gl(*args)
        assert proc.returncode == 1
        assert "Traceback (most recent call last)" in proc.stderr
        assert proc.stderr.splitlines()[-1].startswith("galaxlite: error: no such table: nope at line 1")


def test_usage_errors_exit_2(shop, tmp_path):
    assert "Missing argument 'DB'" in one_line_error(gl("query"), 2)
    assert "'xml' is not one of" in one_line_error(gl(shop, "SELECT 1", "--format", "xml"), 2)
    script = tmp_path / "q.sql"
    script.write_text("SELECT 1")
    assert "not both" in one_line_error(gl(shop, "SELECT 1", "-f", str(script)), 2)
    assert "does not exist" in one_line_error(gl("tags", str(tmp_path / "missing.db")), 2)
    assert "No such option" in one_line_error(gl("info", shop, "--verbose"), 2)


def test_not_a_database(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    assert "not a database" in one_line_error(gl("info", str(junk)))


def test_broken_pipe_is_quiet(tmp_path):
    path = str(tmp_path / "big.db")
    proc = subprocess.run(
        [
            "bash",
            "-c",
            f'"{sys.executable}" -m galaxlite.cli "{path}" '
            '"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) '
            'SELECT i FROM n" --format csv | head -n 2',
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout == "i\n1\n"
    assert proc.stderr == ""


# ------------------------------------------------------------------ other commands


def test_tags(shop):
    ok(shop, "CREATE VERSION TAG 'v2'")
    lines = ok("tags", shop).splitlines()
    assert lines[0].split("|")[0].strip() == "name"
    assert [line.split("|")[0].strip() for line in lines[2:4]] == ["v1", "v2"]
    data = json.loads(ok("tags", shop, "--format", "json"))
    db = galaxlite.Database(shop)
    assert [(t["name"], t["version"]) for t in data] == [(t.name, t.version) for t in db.tags()]
    db.close()


def test_snapshots_and_lineage(shop):
    # (the commands in depth: tests/test_snapshots.py)
    assert ok("snapshots", shop).splitlines()[-1] == "(0 rows)"
    assert 'snapshot main."cars@1.0.0" does not exist' in one_line_error(gl("lineage", shop, "cars@1.0.0"))
    assert "expected NAME@VERSION" in one_line_error(gl("lineage", shop, "cars"), 2)
    ok(shop, "CREATE SNAPSHOT cars AS SELECT name FROM items")
    assert "cars@1.0.0" in ok("snapshots", shop)
    assert ok("lineage", shop, "cars@1.0.0").splitlines()[1] == "    SELECT name FROM items"


def test_export_validates_its_options_then_exports(shop):
    assert "'bad' is not one of 'float32', 'sq8', 'rabitq'" in one_line_error(
        gl("export", shop, "t1", "--precision", "bad"), 2
    )
    assert "--seed" in one_line_error(gl("export", shop, "t1", "--seed", "-1"), 2)
    assert "--seed" in one_line_error(gl("export", shop, "t1", "--seed", str(2**64)), 2)
    db = galaxlite.Database(shop)
    assert [t.name for t in db.tags()] == ["v1"]  # no tag was made
    db.close()
    proc = gl("export", shop, "t1", "--precision", "sq8", "--seed", "42")
    assert proc.returncode == 0 and proc.stderr == "exporting tag 't1' (sq8)\n"
    assert "1 table exported (sq8, shuffled with seed 42)" in proc.stdout  # tests/test_training_export.py
    db = galaxlite.Database(shop)
    assert [t.name for t in db.tags()] == ["v1", "t1"]
    db.close()


def test_info(shop, tmp_path):
    ok(
        shop,
        "UPDATE items SET price = price + 1; DELETE FROM items WHERE name = 'pear';"
        "CREATE TABLE notes (x) WITHOUT VERSIONING; INSERT INTO notes VALUES (1);"
        "CREATE TABLE gone (x); INSERT INTO gone VALUES (1); DROP TABLE gone",
    )
    out = ok("info", shop)
    lines = out.splitlines()
    assert lines[0] == f"database  {shop}"
    size = os.path.getsize(shop)
    assert f"({size:,} bytes)" in lines[1] and "WAL" in lines[1]
    assert "exports" in out and "none yet" in out
    rows = {line.split("|")[0].strip(): [c.strip() for c in line.split("|")[1:]] for line in lines if "|" in line}
    # items: 2 rows now; history: fig's first price, 3 rows closed by the update, pear deleted
    assert rows["items"][:4] == ["2", "5", "1", "12.0 KiB"] and rows["items"][4] == "-"
    assert rows["gone (dropped)"] == ["-", "1", "1", "-", "-"]
    assert rows["notes"] == ["1"]
    assert "tags: 1" in out and rows["v1"][0].isdigit()


def test_help_everywhere_with_an_example():
    top = ok("--help")
    assert "Example" in top
    for command in COMMANDS:
        assert command in top
        text = ok(command, "--help")
        assert "Example" in text, command
        assert f"galaxlite {command}" in text or command == "query", command
    assert ok("--version").strip() == f"galaxlite, version {galaxlite.__version__}"


def test_console_script_is_installed(shop):
    script = Path(sys.executable).parent / "galaxlite"
    assert script.exists(), "run `make install`: the console script is missing"
    proc = subprocess.run([str(script), shop, "SELECT count(*) AS n FROM items", "--format", "csv"],
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "n\n3\n", "")


# ------------------------------------------------------------------ demo


def test_demo_builds_a_database_and_narrates(tmp_path):
    target = tmp_path / "demo"
    out = ok("demo", str(target))
    for expected in (
        "BULK INSERT INTO docs FROM '", "200 rows changed",  # the fixture's docs.csv
        "CREATE VERSION TAG 'raw'",
        "AT VERSION 'raw' AS past JOIN docs AS now",
        "FROM docs CHANGES BETWEEN VERSION 'raw' AND VERSION 'clean'",
        "ALTER TABLE docs RENAME COLUMN text TO body",
        "ALTER TABLE reviews ENABLE VERSIONING",
        "RESTORE TABLE reviews TO VERSION", "SET galaxlite.dialect = 'postgres'",
        "con.row_factory = sqlite3.Row", "('cooking', ['id', 'label'])",  # galaxlite.connect's habits
        "PURGE HISTORY BEFORE VERSION 'reviewed'", "HistoryPurgedError: the history of table 'reviews'",
        f"galaxlite browse {target}",
        "SAMPLE SNAPSHOT corpus@1.1.0 STRATIFY BY label",
        "FOR TRAINING",
        "body: float32[32, 384]",  # sq8 codes decoded by galaxlite.training_batches
        f"galaxlite shell {target}",
    ):
        assert expected in out, expected
    with galaxlite.Database(target) as db:
        assert [t.name for t in db.tags()] == ["raw", "clean", "split", "reviewed", "train-v1"]
        tables = ["docs", "labels", "reviews"]  # exported at tag time, again, and at rabitq4
        assert [(e.table, e.precision, e.seed) for e in db.exports("train-v1")] == [
            *((t, "sq8", 42) for t in tables), *((t, "sq8", 42) for t in tables),
            *((t, "rabitq4", None) for t in tables),
        ]
        assert all(v.ok for v in db.verify_export("train-v1"))
        # the plain client's table, versioned by ENABLE VERSIONING, and its UPDATE after it
        assert db.unversioned_tables() == []
        ((first,),) = db.query("SELECT valid_from FROM galaxlite_tables WHERE name = 'reviews'")
        assert db.query("SELECT verdict FROM reviews WHERE doc_id = 1") == [("unsure",)]  # RESTOREd
        # the plain UPDATE, then the RESTORE, both seen by no tag: purged before 'reviewed'
        assert db.query("SELECT count(*) FROM reviews CHANGES BETWEEN VERSION 'reviewed' AND VERSION 'train-v1'"
                        ) == [(0,)]
        with pytest.raises(galaxlite.HistoryPurgedError):
            db.query("SELECT verdict FROM reviews AT VERSION ? WHERE doc_id = 1", (first,))
        assert {h.table: h.horizon for h in db.history_sizes()}["docs"] == db.tag_version("reviewed")
        with pytest.raises(galaxlite.TableNotAtVersionError):
            db.query("SELECT * FROM reviews AT VERSION 'clean'")
        assert [s.name for s in db.lineage("corpus_train@1.1.0")] == [
            "corpus@1.0.0", "corpus@1.1.0", "corpus_train@1.1.0"
        ]
        train, test = (db.query(f"SELECT count(*) FROM corpus_{x}@1.1.0")[0][0] for x in ("train", "test"))
        assert train + test == db.query("SELECT count(*) FROM corpus@1.1.0")[0][0]
        count = "SELECT count(*) FROM docs AT VERSION ?"
        assert db.query(count, ("raw",)) == [(200,)]
        assert db.query(count, ("clean",)) == [(193,)]
        assert db.query("SELECT count(*) FROM docs WHERE label = 'science' AND id = 40") == [(1,)]
        assert db.query("SELECT label FROM docs AT VERSION 'raw' WHERE id = 40") == [("cooking",)]
        columns = [d[0] for d in db.execute("SELECT * FROM docs AT VERSION 'raw'").description]
        assert columns == ["id", "text", "label", "source"]
    # the printed results are the database's: the counts before and after cleaning
    assert " 200 |   193" in out


def test_demo_refuses_a_directory_with_a_database(tmp_path):
    target = tmp_path / "demo"
    ok("demo", str(target))
    assert "already holds a galaxlite database" in one_line_error(gl("demo", str(target)))


def test_demo_default_directory_is_fresh():
    prefix = "galaxlite demo: building a database in "
    made = []
    try:
        for _ in range(2):
            first = ok("demo").splitlines()[0]
            assert first.startswith(prefix)
            made.append(Path(first.removeprefix(prefix)))
            assert (made[-1] / "galaxlite.db").is_file()
        assert made[0] != made[1]
    finally:
        for where in made:
            shutil.rmtree(where, ignore_errors=True)


# ------------------------------------------------------------------ documented examples

REPO = Path(__file__).resolve().parents[1]
MARKER = "<!-- dbapi-cli examples -->"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def documentation() -> Path:
    """README.md once the DB-API/CLI sections are merged into it, else their own file."""
    readme = REPO / "README.md"
    if readme.is_file() and MARKER in readme.read_text(encoding="utf-8"):
        return readme
    return REPO / "docs" / "dbapi-cli.md"


def example_blocks() -> list[tuple[str, str]]:
    """(language, code) of the fenced python and console blocks after the marker."""
    text = documentation().read_text(encoding="utf-8")
    assert MARKER in text
    text = text[text.index(MARKER) :]
    return [(m[1], m[2]) for m in FENCE.finditer(text) if m[1] in ("python", "console")]


def console_steps(block: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for each ``$ `` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def output_pattern(expected: list[str]) -> re.Pattern:
    """A regex for the expected lines: ``...`` is any text, a ``...`` line any lines."""
    parts = []
    for line in expected:
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(r"[^\n]*".join(re.escape(p) for p in line.rstrip().split("...")) + r"\n")
    return re.compile("".join(parts))


def test_documented_examples(tmp_path):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("GALAXLITE_DEBUG", None)
    blocks = example_blocks()
    assert {lang for lang, _ in blocks} == {"python", "console"}
    for number, (lang, code) in enumerate(blocks, 1):
        where = f"{documentation().name}, example {number} ({lang})"
        if lang == "python":
            proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, f"{where} failed:\n{proc.stderr}"
            continue
        for command, expected in console_steps(code):
            proc = subprocess.run(["bash", "-c", command + " 2>&1"], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)
            fails = any(line.startswith("galaxlite: error:") for line in expected)
            assert (proc.returncode != 0) == fails, f"{where}: {command}\n{proc.stdout}"
            got = "\n".join(line.rstrip() for line in proc.stdout.splitlines())
            got = got + "\n" if got else ""
            assert output_pattern(expected).fullmatch(got), (
                f"{where}: {command}\nexpected:\n" + "\n".join(expected) + f"\ngot:\n{got}"
            )

"""A command line that never surprises: mistyped commands, Ctrl-C, valid JSON, wide
characters, error positions in a whole script, a transaction left open.

Every test runs the real ``galaxlite`` command in a subprocess (Ctrl-C: a SIGINT to it, and
in the shell through a pseudo-terminal, as a person typing).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_shell import Terminal  # tests/ is on sys.path

import galaxlite

FOREVER = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
           "SELECT count(*) FROM n")
HUGE_WRITE = ("INSERT INTO t (x) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
              "LIMIT 1000000000000) SELECT i FROM n")
WAIT = 60.0  # a hang guard: how long a test waits for output that must come


def cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "galaxlite.cli", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_a_mistyped_command_creates_nothing(tmp_path):
    (tmp_path / "shop.db").touch()
    before = sorted(p.name for p in tmp_path.iterdir())
    done = cli("infos", "shop.db", cwd=tmp_path)
    assert done.returncode == 2
    assert "no such command 'infos' (did you mean 'info'?)" in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    done = cli("frobnicate", "SELECT 1", cwd=tmp_path)
    assert done.returncode == 2 and "no such command 'frobnicate'" in done.stderr
    # what looks like a database still is one: a suffix, a folder path, an existing folder
    assert cli("new.db", "SELECT 1", cwd=tmp_path).returncode == 0
    assert cli("./data", "SELECT 1", cwd=tmp_path).returncode == 0
    assert (tmp_path / "new.db").is_file() and (tmp_path / "data" / "galaxlite.db").is_file()
    assert cli("data", "SELECT 1", cwd=tmp_path).returncode == 0


def wait_for(stream, text: str) -> str:
    """Read ``stream`` (a pipe) line by line until a line holds ``text``."""
    seen = ""
    deadline = time.monotonic() + WAIT
    while text not in seen:
        line = stream.readline()
        if not line or time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never came; got {seen!r}")
        seen += line
    return seen


@pytest.mark.parametrize("statement", [FOREVER, HUGE_WRITE])
def test_ctrl_c_stops_a_one_shot_statement(tmp_path, statement):
    db = tmp_path / "c.db"
    assert cli(str(db), "CREATE TABLE t (x)", cwd=tmp_path).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "galaxlite.cli", str(db), f"SELECT 'started'; {statement}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(proc.stdout, "(1 row)")
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=WAIT)
    finally:
        proc.kill()
        proc.wait()
    assert code == 130
    assert proc.stderr.read() == "galaxlite: error: interrupted\n"
    with galaxlite.Database(db) as database:
        assert database.query("SELECT count(*) FROM t") == [(0,)]
        assert database.check() == []


def test_ctrl_c_stops_a_statement_in_the_shell(tmp_path):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "TERM": "dumb",
           "GALAXLITE_HISTORY": str(tmp_path / "history"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    term = Terminal([sys.executable, "-m", "galaxlite.cli", "shell", str(tmp_path / "s.db")], env)
    try:
        term.expect("galaxlite> ")
        term.send("CREATE TABLE t (x);")
        term.expect("galaxlite> ")
        term.send(f"SELECT 'started'; {HUGE_WRITE};")
        term.expect("(1 row)")
        for _ in range(int(WAIT)):
            os.kill(term.pid, signal.SIGINT)
            try:
                term.expect("error: interrupted", wait=1.0)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError(f"Ctrl-C did not stop the statement:\n{term.seen.decode(errors='replace')}")
        term.expect("galaxlite> ")
        term.send("SELECT count(*) + 42 AS n FROM t;")
        assert " 42" in term.expect("(1 row)")
        term.send(".quit")
        assert term.wait() == 0
    finally:
        term.close()


def test_json_is_always_valid(tmp_path):
    query = "SELECT 1e999 AS up, -1e999 AS down, 0.5 AS half, NULL AS none_, x'00ff' AS b"
    for fmt in ("json", "jsonl"):
        done = cli(str(tmp_path / "j.db"), query, "--format", fmt, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Infinity" not in done.stdout and "NaN" not in done.stdout

        def strict(text):
            return json.loads(text, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))

        data = strict(done.stdout) if fmt == "json" else [strict(line) for line in done.stdout.splitlines()]
        assert data == [{"up": float("inf"), "down": float("-inf"), "half": 0.5, "none_": None, "b": "00ff"}]


def test_table_format_aligns_wide_characters(tmp_path):
    done = cli(str(tmp_path / "w.db"),
               "SELECT '東京' AS city, 1 AS n UNION ALL SELECT 'Paris', 22 "
               "UNION ALL SELECT '👍ok', 333 UNION ALL SELECT 'e\u0301te\u0301', 4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()[:6]
    assert lines == [
        " city  | n",
        "-------+-----",
        " 東京  |   1",
        " Paris |  22",
        " 👍ok  | 333",
        " e\u0301te\u0301   |   4",
    ]


def test_error_positions_count_from_the_start_of_the_script(tmp_path):
    script = "SELECT 1;\nSELECT 2;\n\nSELECT * FROM nope;\n"
    (tmp_path / "s.sql").write_text(script)
    for args, stdin in ((["q.db", script], None), (["q.db", "-f", "s.sql"], None),
                        (["shell", "q.db"], script)):
        done = cli(*args, cwd=tmp_path, stdin=stdin)
        assert done.returncode == 1
        assert "no such table: nope at line 4, column 15" in done.stderr, (args, done.stderr)
    done = cli("q.db", "SELECT 1; SELEC 2", cwd=tmp_path)
    assert "at line 1, column 11" in done.stderr


def test_a_script_that_leaves_a_transaction_open_fails(tmp_path):
    for args, stdin in ((["o.db", "CREATE TABLE t (x); BEGIN; INSERT INTO t VALUES (1)"], None),
                        (["shell", "o.db"], "BEGIN;\nINSERT INTO t VALUES (2);\n")):
        done = cli(*args, cwd=tmp_path, stdin=stdin)
        assert done.returncode == 1, (args, done)
        assert "left a transaction open: it was rolled back" in done.stderr
    with galaxlite.Database(tmp_path / "o.db") as database:
        assert database.query("SELECT count(*) FROM t") == [(0,)]
    done = cli("o.db", "BEGIN; INSERT INTO t VALUES (3); COMMIT", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""

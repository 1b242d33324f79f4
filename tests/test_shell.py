"""``galaxlite shell``: driven through a real pseudo-terminal (and through a pipe).

The pseudo-terminal is the standard library's ``pty.fork``: the shell sees a terminal,
so it prompts, uses readline and gets SIGINT from Ctrl-C, as with a person typing.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import galaxlite
from galaxlite.cli.shell import Shell, is_complete

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]")
WAIT = 30.0  # seconds before a test gives up on output that never comes (a hang guard)


class Terminal:
    """A child process on a pseudo-terminal: type lines, wait for output."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the shell
            try:
                # as from a terminal: SIGINT at its default, even when the test run itself
                # was started with SIGINT ignored (a background job of a non-interactive shell)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.seen = b""  # everything read so far (ANSI sequences removed)
        self.pos = 0  # how much of it earlier expect() calls consumed
        self.status: int | None = None

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            return False
        self.seen += chunk
        self.seen = ANSI.sub(b"", self.seen)
        return True

    def expect(self, text: str, wait: float = WAIT) -> str:
        """Wait until ``text`` appears after the previous match; return what came before it."""
        needle = text.encode()
        deadline = time.monotonic() + wait
        while needle not in self.seen[self.pos :]:
            if time.monotonic() > deadline or not self._read(0.1):
                if needle in self.seen[self.pos :]:
                    break
                raise AssertionError(f"{text!r} never came; the terminal shows:\n{self.seen.decode(errors='replace')}")
        at = self.seen.index(needle, self.pos)
        before = self.seen[self.pos : at].decode(errors="replace")
        self.pos = at + len(needle)
        return before

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def control(self, char: str) -> None:
        os.write(self.fd, bytes([ord(char.upper()) - 64]))

    def interrupt(self) -> None:
        """The SIGINT that Ctrl-C sends, until the shell shows it took it.

        The signal is sent to the shell's process directly: under load the terminal's own
        Ctrl-C was seen to go unnoticed by a waiting readline (CI). A SIGINT that lands after
        readline printed its prompt but before it waits for input is only noticed at the
        next signal (a race in CPython's readline module, which a person typing never hits),
        so a signal that shows nothing is sent again.
        """
        for _ in range(20):
            os.kill(self.pid, signal.SIGINT)
            try:
                self.expect("^C", wait=1.0)
                return
            except AssertionError:
                continue
        raise AssertionError(f"Ctrl-C was ignored; the terminal shows:\n{self.seen.decode(errors='replace')}")

    def wait(self) -> int:
        """Wait for the child to exit (reading its last output); its exit status."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            open_ = self._read(0.1)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.status = os.waitstatus_to_exitcode(status)
                while open_ and self._read(0.05):
                    pass
                return self.status
        raise AssertionError(f"the shell did not exit; it shows:\n{self.seen.decode(errors='replace')}")

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)


@pytest.fixture
def history(tmp_path) -> Path:
    return tmp_path / "history"


@pytest.fixture
def terminal(tmp_path, history):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TERM": "dumb",
        "GALAXLITE_HISTORY": str(history),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    term = Terminal([sys.executable, "-m", "galaxlite.cli", "shell", str(tmp_path / "s.db")], env)
    yield term
    term.close()


def test_interactive_session(terminal, history, tmp_path):
    t = terminal
    assert "Type .help" in t.expect("galaxlite> ")
    t.send("CREATE TABLE docs (id INTEGER PRIMARY KEY, text TEXT, label TEXT);")
    t.expect("galaxlite> ")
    # a statement over three lines: continuation prompts until the ';'
    t.send("INSERT INTO docs (text, label)")
    t.expect("...> ")
    t.send("VALUES ('a;b', 'x'),")
    t.expect("...> ")
    t.send("('cd', 'y');")
    assert "2 rows changed" in t.expect("galaxlite> ")
    t.send("CREATE VERSION TAG 'v1';")
    t.expect("galaxlite> ")
    t.send("UPDATE docs SET label = 'z';")
    t.expect("galaxlite> ")
    t.send("SELECT d.id, d.label, p.label AS was FROM docs AS d")
    t.send("JOIN docs AT VERSION 'v1' AS p USING (id);")
    out = t.expect("(2 rows)")
    assert " id | label | was" in out
    assert "  1 | z     | x" in out and "  2 | z     | y" in out
    t.expect("galaxlite> ")
    # a ';' inside a string spanning lines does not end the statement
    t.send("SELECT 'one;")
    t.expect("...> ")
    t.send("two' AS s;")
    assert "one;\\ntwo" in t.expect("(1 row)")
    t.expect("galaxlite> ")
    # meta commands
    t.send(".tables")
    assert re.search(r"docs\s+\|\s+versioned", t.expect("galaxlite> "))
    t.send(".tags")
    assert re.search(r"v1\s+\|\s+\d{16}", t.expect("galaxlite> "))
    t.send(".schema docs")
    assert "CREATE TABLE docs (id INTEGER PRIMARY KEY, text TEXT, label TEXT);" in t.expect("galaxlite> ")
    t.send(".snapshots")
    t.expect("(no snapshots)")
    t.expect("galaxlite> ")
    t.send(".help")
    assert ".quit" in t.expect("galaxlite> ")
    # an error is reported and the shell goes on
    t.send("SELECT * FROM nope;")
    assert "error: no such table: nope" in t.expect("galaxlite> ")
    t.send(".mode csv")
    t.expect("galaxlite> ")
    t.send("SELECT count(*) AS n FROM docs;")
    assert "n\r\n2" in t.expect("galaxlite> ")
    t.send(".quit")
    assert t.wait() == 0
    entries = history.read_text().splitlines()
    assert "INSERT INTO docs (text, label) VALUES ('a;b', 'x'), ('cd', 'y');" in entries
    assert ".tags" in entries
    with galaxlite.Database(tmp_path / "s.db") as db:
        assert db.query("SELECT label FROM docs ORDER BY id") == [("z",), ("z",)]


def test_ctrl_c_cancels_the_statement_and_ctrl_d_leaves(terminal, tmp_path):
    t = terminal
    t.expect("galaxlite> ")
    t.send("CREATE TABLE t (x);")
    t.expect("galaxlite> ")
    t.send("INSERT INTO t")
    t.expect("...> ")
    t.interrupt()
    t.expect("galaxlite> ")  # back to a fresh statement, not a continuation
    t.send("INSERT INTO t VALUES (1);")
    assert "1 row changed" in t.expect("galaxlite> ")
    t.send("BEGIN; INSERT INTO t VALUES (2);")
    t.expect("galaxlite> ")
    t.control("d")
    assert t.wait() == 0
    assert "rolled back" in t.seen.decode()
    with galaxlite.Database(tmp_path / "s.db") as db:
        assert db.query("SELECT x FROM t") == [(1,)]


def test_history_is_read_back(tmp_path, history):
    history.write_text("SELECT 40 + 2 AS answer;\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "TERM": "dumb",
        "GALAXLITE_HISTORY": str(history),
    }
    t = Terminal([sys.executable, "-m", "galaxlite.cli", "shell", str(tmp_path / "h.db")], env)
    try:
        t.expect("galaxlite> ")
        os.write(t.fd, b"\x1b[A\r")  # arrow up: the last statement of the saved history
        assert "42" in t.expect("(1 row)")
        t.expect("galaxlite> ")
        t.send(".exit")
        assert t.wait() == 0
    finally:
        t.close()


def test_piped_input_runs_without_prompts(tmp_path):
    script = (
        "CREATE TABLE t (x);\n"
        "INSERT INTO t VALUES (1),\n(2);\n"
        ".tables\n"
        "SELECT sum(x) AS total FROM t;\n"
        "SELEC 1;\n"
        "SELECT 'last' AS w"  # no ';' at the end of input: still run
    )
    proc = subprocess.run(
        [sys.executable, "-m", "galaxlite.cli", "shell", str(tmp_path / "p.db")],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1  # a statement failed
    assert "galaxlite>" not in proc.stdout
    assert "2 rows changed" in proc.stdout
    assert re.search(r"t\s+\|\s+versioned", proc.stdout)
    assert " total\n-------\n     3\n(1 row)" in proc.stdout
    assert proc.stdout.rstrip().endswith(" w\n------\n last\n(1 row)")
    assert proc.stderr.startswith("error: near \"SELEC\": syntax error")


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("SELECT 1;", True),
        ("SELECT 1", False),
        ("SELECT 1; -- done", True),
        ("SELECT ';'", False),
        ("SELECT 'a;", False),
        ("SELECT 1 /* ; */", False),
        ("SELECT 1; /* open comment", False),
        ("CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1;", False),
        ("CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;", True),
        ("SELECT 1; SELECT 2;", True),
        ("SELECT 1; SELECT 2", False),
        ("   ", False),
        ("CREATE VERSION TAG 'v;1';", True),
    ],
)
def test_statement_completeness(text, complete):
    assert is_complete(text) is complete


def test_help_has_a_line_for_every_meta_command():
    with galaxlite.Database(":memory:") as db:
        shell = Shell(db, stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO())
        text = shell.help_text()
    for name in shell.meta:
        assert re.search(rf"^  (\.\w+, )*{re.escape(name)}\b[^\n]*?  +\S", text, re.MULTILINE), name
    assert text.startswith("Enter SQL statements") and "Examples:" in text

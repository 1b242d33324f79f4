"""Shared fixtures: real database files in pytest's per-test temporary folder.

* ``db_path`` — the path of the test's database file (``tmp_path / "t.db"``, not created).
* ``db`` — a ``galaxlite.Database`` on ``db_path``; closed after the test.
* ``open_db`` — opens more ``Database`` objects on the same file (other connections);
  all closed after the test.
* ``plain`` — opens the same file with the standard library's ``sqlite3`` (the "plain
  client", an older SQLite than galaxlite's), in autocommit mode; closed after the test.

The plain client runs in a **separate process**. Two different SQLite libraries in one
process (apsw's and the standard library's) do not see each other's POSIX locks, so they
can corrupt a shared file — a hazard of the test, not of galaxlite, which in real use meets
plain clients in other processes (https://sqlite.org/howtocorrupt.html, "multiple copies of
SQLite linked into the same application").
"""

from __future__ import annotations

import pickle
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import galaxlite

_SERVER = r"""
import pickle, sqlite3, struct, sys

inp, out = sys.stdin.buffer, sys.stdout.buffer


def send(obj):
    data = pickle.dumps(obj)
    out.write(struct.pack("<I", len(data)) + data)
    out.flush()


def recv():
    head = inp.read(4)
    if len(head) < 4:
        return None
    return pickle.loads(inp.read(struct.unpack("<I", head)[0]))


path, options = recv()
conn = sqlite3.connect(path, isolation_level=None, **options)
send(("ok", sqlite3.sqlite_version))
while (message := recv()) is not None:
    sql, params = message
    try:
        cur = conn.execute(sql, params)
        send(("ok", (cur.fetchall(), [d[0] for d in cur.description or ()])))
    except sqlite3.Error as exc:
        send(("error", (type(exc).__name__, str(exc))))
conn.close()
"""


class PlainResult:
    """The rows of one statement run by the plain client (a small part of sqlite3.Cursor)."""

    def __init__(self, rows: list[tuple], columns: list[str]):
        self._rows = rows
        self.description = tuple((c, None, None, None, None, None, None) for c in columns) or None

    def fetchall(self) -> list[tuple]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple | None:
        return self._rows.pop(0) if self._rows else None


class PlainClient:
    """A standard-library ``sqlite3`` connection living in its own process.

    ``execute`` runs one statement there and returns its rows; an SQLite error is raised
    here as the same ``sqlite3`` exception class with the same message.
    """

    def __init__(self, path: str | Path, **options: Any):
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._send((str(path), options))
        self.sqlite_version: str = self._receive()

    def _send(self, obj: Any) -> None:
        data = pickle.dumps(obj)
        self._proc.stdin.write(struct.pack("<I", len(data)) + data)
        self._proc.stdin.flush()

    def _receive(self) -> Any:
        head = self._proc.stdout.read(4)
        if len(head) < 4:
            raise RuntimeError("the plain sqlite3 client process ended")
        status, value = pickle.loads(self._proc.stdout.read(struct.unpack("<I", head)[0]))
        if status == "error":
            name, message = value
            raise getattr(sqlite3, name, sqlite3.DatabaseError)(message)
        return value

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PlainResult:
        self._send((sql, tuple(params)))
        rows, columns = self._receive()
        return PlainResult(rows, columns)

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
            self._proc.stdout.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's database file lives."""
    return tmp_path / "t.db"


def assert_checks(database: galaxlite.Database) -> None:
    """``galaxlite check`` passes on every database a test leaves behind (a test that damages
    a file on purpose does it on a database of its own, not on these fixtures')."""
    if database.closed:
        database = galaxlite.Database(database.path)
    try:
        problems = database.check()
    finally:
        database.close()
    assert problems == [], "galaxlite check fails on the test's database:\n" + "\n".join(map(str, problems))


@pytest.fixture
def db(db_path: Path) -> Iterator[galaxlite.Database]:
    """A galaxlite database in a real file, closed (and checked) when the test ends."""
    database = galaxlite.Database(db_path)
    yield database
    if not database.closed and database.in_transaction:
        database.rollback()
    assert_checks(database)


@pytest.fixture
def open_db(db_path: Path) -> Iterator[Callable[..., galaxlite.Database]]:
    """A factory of extra ``Database`` connections to ``db_path`` (keyword args pass through)."""
    opened: list[galaxlite.Database] = []

    def open_(**kwargs) -> galaxlite.Database:
        database = galaxlite.Database(db_path, **kwargs)
        opened.append(database)
        return database

    yield open_
    for database in reversed(opened):
        database.close()
    if opened:
        assert_checks(opened[0])


@pytest.fixture
def plain(db_path: Path) -> Iterator[Callable[..., PlainClient]]:
    """A factory of plain ``sqlite3`` clients of ``db_path`` (or ``path``), each in its own
    process; keyword args go to ``sqlite3.connect``."""
    opened: list[PlainClient] = []

    def open_(path: str | Path | None = None, **options: Any) -> PlainClient:
        client = PlainClient(path or db_path, **{"timeout": 5.0, **options})
        opened.append(client)
        return client

    yield open_
    for client in reversed(opened):
        client.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures the suites counted (``tests/figures.py``), for README "Guarantees"."""
    import figures

    if figures.FIGURES:
        terminalreporter.section("galaxlite figures")
        for line in figures.lines():
            terminalreporter.write_line(line)

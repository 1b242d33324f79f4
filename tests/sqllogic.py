"""A small sqllogictest parser and runner (the format of SQLite's sqllogictest corpus).

A script is a series of records separated by blank lines; lines starting with ``#`` are
comments and are ignored everywhere. Records:

``statement ok`` / ``statement error``
    the following lines are one SQL text, which must succeed / must fail.
``query <types> [nosort|rowsort|valuesort] [label]``
    SQL lines, then ``----``, then the expected values one per line (or one line
    ``N values hashing to <md5>``). ``types`` has one letter per column: ``I`` integer,
    ``T`` text, ``R`` real.
``hash-threshold N``
    results with more than N values are compared by their md5 (0: never hash).
``halt``
    stop running the script.

Any record may be preceded by ``skipif <engine>`` / ``onlyif <engine>`` lines.

The semantics follow the reference runner (``sqllogictest.c`` and ``slt_sqlite.c``):
values are rendered as SQLite's C API renders them (``sqlite3_column_int`` for ``I``,
``%.3f`` of ``sqlite3_column_double`` for ``R``, ``sqlite3_column_text`` for ``T``, with
non-printable bytes shown as ``@``), NULL is ``NULL`` and an empty text ``(empty)``.
Sorting compares the rendered strings. Queries with a label must give the same hash as
every earlier query with that label. A query that fails while stepping (it prepared) gives
the rows it returned before the error, as in the reference; one that cannot be prepared
fails. This runner is stricter than the reference in one way: the number of values must
match the expected values too.

Run files or folders from the command line (each file on a fresh galaxlite database, or with
``--engine sqlite`` on plain SQLite; ``.test.gz`` files are read compressed), with timings::

    .venv/bin/python tests/sqllogic.py fixtures/sqllogictest/select1.test ...
    .venv/bin/python tests/sqllogic.py fixtures/sqllogictest        # every file under it
    .venv/bin/python tests/sqllogic.py --engine sqlite path/to/sqllogictest/test/index
"""

from __future__ import annotations

import gzip
import hashlib
import math
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import apsw

DEFAULT_HASH_THRESHOLD = 8  # the reference runner's default when a script sets none
ENGINE_NAME = "sqlite"  # what skipif/onlyif lines are matched against (case-insensitive)
SORT_MODES = ("nosort", "rowsort", "valuesort")
_INT_PREFIX = re.compile(rb"^[ \t\n\f\r\v]*([+-]?)0*([0-9]*)")
_REAL_PREFIX = re.compile(rb"^[ \t\n\f\r\v]*([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


# ------------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a script.

    ``line`` is the 1-based line of the record's command (after any skipif/onlyif lines);
    ``args`` the up-to-three tokens after the command; ``expected`` the lines after
    ``----`` (None when a query has no ``----`` line).
    """

    line: int
    command: str
    args: tuple[str, ...] = ()
    sql: str = ""
    expected: tuple[str, ...] | None = None
    conditions: tuple[tuple[str, str], ...] = ()

    def applies_to(self, engine: str) -> bool:
        """False when a skipif/onlyif line excludes ``engine``."""
        for kind, name in self.conditions:
            match = name.lower() == engine.lower()
            if (kind == "skipif" and match) or (kind == "onlyif" and not match):
                return False
        return True


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) for every non-comment line; all-blank lines become ``""``."""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip():
            yield number, ""
        elif not line.startswith("#"):
            yield number, line


def _groups(text: str) -> Iterator[list[tuple[int, str]]]:
    """The blank-line separated groups of non-comment lines."""
    group: list[tuple[int, str]] = []
    for number, line in _lines(text):
        if line:
            group.append((number, line))
        elif group:
            yield group
            group = []
    if group:
        yield group


def _record(group: list[tuple[int, str]]) -> Record:
    """Parse one group of lines into a Record."""
    conditions = []
    while len(group) > 1 and group[0][1].split()[0] in ("skipif", "onlyif"):
        tokens = group[0][1].split()
        conditions.append((tokens[0], tokens[1] if len(tokens) > 1 else ""))
        group = group[1:]
    line, head = group[0]
    tokens = head.split()
    command, args = tokens[0], tuple(tokens[1:4])
    body = [text for _, text in group[1:]]
    sql, expected = "\n".join(body), None
    if command == "query" and "----" in body:
        cut = body.index("----")
        sql, expected = "\n".join(body[:cut]), tuple(body[cut + 1 :])
    return Record(line, command, args, sql, expected, tuple(conditions))


def parse(text: str) -> list[Record]:
    """All records of a script, in order."""
    return [_record(group) for group in _groups(text)]


# ------------------------------------------------------------------------------------ values


def _to_int64(value: Any) -> int:
    """``sqlite3_column_int64`` of a non-NULL value."""
    if isinstance(value, bool | int):
        return max(_I64_MIN, min(_I64_MAX, int(value)))
    if isinstance(value, float):
        if math.isnan(value):
            return 0
        if value <= _I64_MIN:
            return _I64_MIN
        if value >= _I64_MAX:
            return _I64_MAX
        return int(value)
    raw = value.encode() if isinstance(value, str) else bytes(value)
    sign, digits = _INT_PREFIX.match(raw).groups()
    number = int(digits or b"0")
    return max(_I64_MIN, min(_I64_MAX, -number if sign == b"-" else number))


def _to_int32(value: Any) -> int:
    """``sqlite3_column_int``: the low 32 bits of the 64-bit value, as a signed int."""
    low = _to_int64(value) & 0xFFFFFFFF
    return low - 2**32 if low >= 2**31 else low


def _to_double(value: Any) -> float:
    """``sqlite3_column_double`` of a non-NULL value."""
    if isinstance(value, bool | int | float):
        return float(value)
    raw = value.encode() if isinstance(value, str) else bytes(value)
    found = _REAL_PREFIX.match(raw)
    return float(found.group(1)) if found else 0.0


class _Sqlite:
    """A private in-memory SQLite connection used only to render values exactly as SQLite."""

    _conn: apsw.Connection | None = None

    @classmethod
    def scalar(cls, sql: str, value: Any) -> Any:
        if cls._conn is None:
            cls._conn = apsw.Connection(":memory:")
        return cls._conn.execute(sql, (value,)).fetchall()[0][0]


def _printable(raw: bytes) -> str:
    """C-string text with bytes outside ' '..'~' shown as '@' (as slt_sqlite.c does)."""
    raw = raw.split(b"\0", 1)[0]
    if not raw:
        return "(empty)"
    return "".join(chr(b) if 32 <= b <= 126 else "@" for b in raw)


def _text(value: Any) -> str:
    """``sqlite3_column_text`` of a non-NULL value, rendered for a ``T`` column."""
    if isinstance(value, bytes | bytearray | memoryview):
        return _printable(bytes(value))
    if isinstance(value, float):
        value = _Sqlite.scalar("SELECT CAST(? AS TEXT)", value)
    return _printable(str(value).encode())


def render(value: Any, kind: str) -> str:
    """One result value as the reference runner prints it for column type ``kind``."""
    if value is None:
        return "NULL"
    if kind == "I":
        return str(_to_int32(value))
    if kind == "R":
        return _Sqlite.scalar("SELECT printf('%.3f', ?)", _to_double(value))
    if kind == "T":
        return _text(value)
    raise ValueError(f"unknown column type {kind!r}")


def render_rows(rows: Sequence[Sequence[Any]], types: str) -> list[list[str]]:
    """Every row rendered value by value."""
    return [[render(v, t) for v, t in zip(row, types, strict=False)] for row in rows]


def arrange(rows: list[list[str]], sort: str) -> list[str]:
    """The flat value list, sorted as ``sort`` says (comparing the rendered strings)."""
    if sort == "rowsort":
        rows = sorted(rows, key=lambda r: [v.encode() for v in r])
    values = [v for row in rows for v in row]
    if sort == "valuesort":
        values.sort(key=str.encode)
    return values


def digest(values: Sequence[str]) -> str:
    """md5 of the values, each followed by a newline (hex)."""
    md5 = hashlib.md5()
    for value in values:
        md5.update(value.encode() + b"\n")
    return md5.hexdigest()


def hash_line(values: Sequence[str]) -> str:
    return f"{len(values)} values hashing to {digest(values)}"


# ------------------------------------------------------------------------------------ running


@dataclass(frozen=True, slots=True)
class QueryResult:
    """What a query gave: its column count (None if unknown), its rows, and the SQL error
    that stopped it after those rows (None if it ran to completion)."""

    width: int | None
    rows: list[tuple]
    error: BaseException | None = None


class Engine(Protocol):
    """A database under test.

    ``sql_errors`` are the exception types the engine raises for a failing SQL text;
    any other exception is itself a mismatch (e.g. a raw driver exception escaping).
    """

    name: str
    sql_errors: tuple[type[BaseException], ...]

    def statement(self, sql: str) -> None:
        """Run a statement to completion."""

    def query(self, sql: str) -> QueryResult:
        """Run a query; an SQL error raised before the first row propagates."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A record whose outcome differs from the script's expectation."""

    line: int
    sql: str
    problem: str

    def __str__(self) -> str:
        sql = self.sql if len(self.sql) <= 300 else self.sql[:300] + " ..."
        return f"line {self.line}: {self.problem}\n    SQL: {sql}"


@dataclass
class Outcome:
    """What running a script gave."""

    mismatches: list[Mismatch] = field(default_factory=list)
    executed: int = 0
    skipped: int = 0
    halted_at: int | None = None
    step_errors: list[tuple[int, str]] = field(default_factory=list)  # (line, error) of queries

    def report(self, name: str, limit: int = 5) -> str:
        head = f"{name}: {len(self.mismatches)} mismatching records of {self.executed} run"
        shown = "\n".join(str(m) for m in self.mismatches[:limit])
        more = len(self.mismatches) - limit
        return f"{head}\n{shown}" + (f"\n... and {more} more" if more > 0 else "")


@dataclass
class _State:
    threshold: int = DEFAULT_HASH_THRESHOLD
    labels: dict[str, str] = field(default_factory=dict)


def _describe_error(exc: BaseException) -> str:
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}: {exc}"


def _run_statement(record: Record, engine: Engine) -> str | None:
    """The problem with a statement record, or None."""
    want = record.args[0] if record.args else ""
    if want not in ("ok", "error"):
        return f"statement argument should be 'ok' or 'error', not {want!r}"
    try:
        engine.statement(record.sql)
    except engine.sql_errors as exc:
        return f"statement failed: {_describe_error(exc)}" if want == "ok" else None
    except Exception as exc:  # noqa: BLE001 - a foreign exception is the finding
        return f"raised a foreign exception (not {engine.sql_errors}): {_describe_error(exc)}"
    return "statement succeeded but an error was expected" if want == "error" else None


def _query_header(record: Record) -> tuple[str, str, str] | str:
    """(types, sort, label) of a query record, or the problem with its header."""
    types = record.args[0] if record.args else ""
    sort = record.args[1] if len(record.args) > 1 else "nosort"
    label = record.args[2] if len(record.args) > 2 else ""
    if not types or any(t not in "ITR" for t in types):
        return f"bad type string {types!r}"
    if sort not in SORT_MODES:
        return f"unknown sort mode {sort!r}"
    return types, sort, label


def _compare(values: list[str], expected: Sequence[str], state: _State) -> str | None:
    """The difference between the values and the expected lines, or None."""
    hashed = state.threshold > 0 and len(values) > state.threshold
    got = [hash_line(values)] if hashed else values
    if got == list(expected):
        return None
    for i, (g, e) in enumerate(zip(got, expected, strict=False)):
        if g != e:
            return f"value {i + 1}: got {g!r}, expected {e!r} (got {len(got)} lines: {got[:12]})"
    return f"got {len(got)} lines, expected {len(expected)}: got {got[:12]}, expected {list(expected)[:12]}"


def _execute_query(record: Record, engine: Engine) -> QueryResult | str:
    """Run a query the way the reference runner does, or say why it failed.

    The reference prepares the statement (an error there fails the record), then steps it
    until it stops returning rows: an error while stepping just ends the result. An error
    raised before the first row is told apart by preparing ``EXPLAIN <sql>``: if that
    works, the statement prepared and the error came from stepping.
    """
    try:
        return engine.query(record.sql)
    except engine.sql_errors as exc:
        try:
            engine.query("EXPLAIN " + record.sql)
        except engine.sql_errors:
            return f"query failed: {_describe_error(exc)}"
        return QueryResult(None, [], exc)
    except Exception as exc:  # noqa: BLE001 - a foreign exception is the finding
        return f"raised a foreign exception (not {engine.sql_errors}): {_describe_error(exc)}"


def _run_query(record: Record, engine: Engine, state: _State, outcome: Outcome) -> str | None:
    """The problem with a query record, or None."""
    header = _query_header(record)
    if isinstance(header, str):
        return header
    types, sort, label = header
    result = _execute_query(record, engine)
    if isinstance(result, str):
        return result
    if result.error is not None:
        outcome.step_errors.append((record.line, _describe_error(result.error)))
    widths = {len(r) for r in result.rows} | ({result.width} if result.width is not None else set())
    if widths - {len(types)}:
        return f"wrong number of result columns: expected {len(types)}, got {sorted(widths)}"
    values = arrange(render_rows(result.rows, types), sort)
    if label:
        seen = state.labels.setdefault(label[:20], digest(values))
        if seen != digest(values):
            return f"labeled result [{label}] does not agree with previous values"
    if record.expected is None:
        return None
    return _compare(values, record.expected, state)


def run(records: Sequence[Record], engine: Engine) -> Outcome:
    """Run every record on ``engine``; collect the mismatches."""
    outcome, state = Outcome(), _State()
    for record in records:
        if not record.applies_to(engine.name):
            outcome.skipped += 1
            continue
        problem: str | None = None
        if record.command == "statement":
            outcome.executed += 1
            problem = _run_statement(record, engine)
        elif record.command == "query":
            outcome.executed += 1
            problem = _run_query(record, engine, state, outcome)
        elif record.command == "hash-threshold":
            state.threshold = int(record.args[0]) if record.args else 0
        elif record.command == "halt":
            outcome.halted_at = record.line
            break
        else:
            outcome.mismatches.append(Mismatch(record.line, "", f"unknown record {record.command!r}"))
            break
        if problem is not None:
            outcome.mismatches.append(Mismatch(record.line, record.sql, problem))
    return outcome


# ------------------------------------------------------------------------------------ engines


def _is_script(sql: str) -> bool:
    """True when ``sql`` holds more than one statement (found with SQLite's own tokenizer)."""
    for i, char in enumerate(sql):
        if char == ";" and apsw.complete(sql[: i + 1]):
            return bool(sql[i + 1 :].strip())
    return False


def _drain(rows: Iterator[tuple], errors: tuple[type[BaseException], ...]) -> tuple[list[tuple], BaseException | None]:
    """All rows an iterator gives before it ends or raises one of ``errors``."""
    got: list[tuple] = []
    try:
        for row in rows:
            got.append(row)
    except errors as exc:
        return got, exc
    return got, None


class GalaxliteEngine:
    """galaxlite as the engine under test: all SQL goes through ``galaxlite.Database``.

    A statement record is one ``execute``; a record holding several statements (run by the
    reference with ``sqlite3_exec``) is one ``executescript``.
    """

    name = ENGINE_NAME

    def __init__(self, db: Any):
        import galaxlite

        self.db = db
        self.sql_errors: tuple[type[BaseException], ...] = (galaxlite.Error,)

    def statement(self, sql: str) -> None:
        if _is_script(sql):
            self.db.executescript(sql)
        else:
            self.db.execute(sql).fetchall()

    def query(self, sql: str) -> QueryResult:
        result = self.db.execute(sql)
        rows, error = _drain(result, self.sql_errors)
        description = result.description
        return QueryResult(len(description) if description is not None else None, rows, error)


class ApswEngine:
    """Plain SQLite through apsw: the baseline that the expected answers come from."""

    name = ENGINE_NAME
    sql_errors: tuple[type[BaseException], ...] = (apsw.Error,)

    def __init__(self, conn: apsw.Connection):
        self.conn = conn

    def statement(self, sql: str) -> None:
        self.conn.execute(sql).fetchall()

    def query(self, sql: str) -> QueryResult:
        cursor = self.conn.cursor()
        cursor.execute(sql)
        try:
            width: int | None = len(cursor.get_description())
        except apsw.ExecutionCompleteError:
            width = None
        rows, error = _drain(cursor, self.sql_errors)
        return QueryResult(width, rows, error)


def read_script(path: Path) -> str:
    """The text of a script file (``.gz``: gzip-compressed)."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    return path.read_text()


def run_file_on_galaxlite(path: Path, folder: Path) -> Outcome:
    """Run one script on a fresh galaxlite database in ``folder``."""
    import galaxlite

    with galaxlite.Database(folder / f"{path.stem}.db") as db:
        return run(parse(read_script(path)), GalaxliteEngine(db))


def run_file_on_sqlite(path: Path, folder: Path) -> Outcome:
    """Run one script on a fresh plain SQLite database in ``folder``, set up as the reference
    runner sets up SQLite (default settings but ``synchronous=OFF``)."""
    conn = apsw.Connection(str(folder / f"{path.stem}.db"))
    conn.execute("PRAGMA synchronous = OFF")
    try:
        return run(parse(read_script(path)), ApswEngine(conn))
    finally:
        conn.close()


RUNNERS = {"galaxlite": run_file_on_galaxlite, "sqlite": run_file_on_sqlite}


def script_files(names: Sequence[str]) -> list[Path]:
    """The files named, a folder standing for every ``*.test`` / ``*.test.gz`` in it."""
    found: list[Path] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.name.endswith((".test", ".test.gz")))
        else:
            found.append(path)
    return found


def main(argv: Sequence[str]) -> int:
    """Run the named scripts (files or folders) on galaxlite, or with ``--engine sqlite`` on
    plain SQLite; print each file's result and time, then the totals. Exit status 1 if any
    record mismatched."""
    import argparse

    parser = argparse.ArgumentParser(prog="python tests/sqllogic.py", description=main.__doc__)
    parser.add_argument("files", nargs="+", help="sqllogictest files (.test, .test.gz) or folders")
    parser.add_argument("--engine", choices=sorted(RUNNERS), default="galaxlite")
    parser.add_argument("--show", type=int, default=5, help="mismatches shown per file")
    args = parser.parse_args(argv)
    failed = records = 0
    started = time.perf_counter()
    files = script_files(args.files)
    for path in files:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            outcome = RUNNERS[args.engine](path, Path(folder))
            seconds = time.perf_counter() - start
        records += outcome.executed
        status = "ok" if not outcome.mismatches else "FAIL"
        print(f"{status:4} {seconds:7.2f}s  {outcome.executed:6} run  {path}")
        if outcome.mismatches:
            failed += 1
            print(outcome.report(str(path), args.show))
    print(f"{len(files) - failed} of {len(files)} files ok on {args.engine}; {records} records run "
          f"in {time.perf_counter() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Differential SQL: the same plain SQLite scripts run through galaxlite and through raw apsw.

The scripts live in ``fixtures/differential/*.sql`` (format below and in that folder's
README). Each runs three times, each on a fresh database file: on plain SQLite through apsw
(the baseline: plain tables), and through galaxlite — ``galaxlite.Database`` and the DB-API
``galaxlite.connect(path, autocommit=True)`` — where every ``CREATE TABLE`` makes a
versioned table. For every statement the engines must agree on:

* the rows and the column names (``None`` when the statement has no result columns);
* ``rowcount``: SQLite's ``changes()`` after an INSERT/UPDATE/DELETE/REPLACE (also one with a
  ``WITH`` prefix), -1 after anything else (the summed ``changes()`` for ``--! many``);
* ``lastrowid`` after such a write (``sqlite3_last_insert_rowid``);
* then ``SELECT changes(), last_insert_rowid()`` run on each (SQLite's counters as any SQL
  sees them);
* or, when the statement fails, the galaxlite exception class that ``EXPECTED_ERRORS`` gives
  for the apsw exception (the classes galaxlite documents in ``docs/dbapi.md``: a constraint
  is an ``IntegrityError``, malformed SQL a ``SqlSyntaxError``, a missing table a
  ``ProgrammingError``, ...) (messages are shown, not compared: galaxlite adds where the
  error is, and words binding errors as ``sqlite3`` does).

After the script: the same user tables (main and temp) with the same columns and rows, each
tag made by ``--! tag`` reads (``AT VERSION``) exactly what a plain copy taken at that point
holds, and ``db.check()`` finds nothing.

Script format
-------------
A script is SQL text; statements end where SQLite's own tokenizer says a statement is
complete (``apsw.complete``), so trigger bodies and strings holding ``;`` need nothing
special. Comments and blank lines between statements are ignored. Lines starting with
``--!`` are directives, one per line:

``--! params <JSON>``
    the parameters of the next statement: a JSON array (``?``, ``?NNN``) or object
    (``:name``, ``@name``, ``$name``); ``{"hex": "00ff"}`` stands for a BLOB.
``--! many <JSON array of parameter sets>`` / ``--! many-range <N>``
    run the next statement once per parameter set (``executemany``), as one all-or-nothing
    unit (galaxlite makes it one version); ``many-range N`` gives the sets ``[1] ... [N]``
    (64 or more INSERTs take galaxlite's bulk path).
``--! error``
    the next statement fails on SQLite (a statement that fails without it is a corpus mistake).
``--! tag <name>``
    make version tag ``name`` now (galaxlite) / copy every main table (the baseline).
``--! xfail <reason>`` (before the first statement)
    the whole script is a known difference: a strict xfail with that reason.

Run scripts from the command line (each on fresh databases; prints the differences)::

    python tests/differential.py fixtures/differential/*.sql
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import apsw

import galaxlite

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "differential"
_DIRECTIVE = re.compile(r"--!\s*([\w-]+)\s*(.*)$")
_INTERNAL = ("sqlite_", "_gl_", "galaxlite_", "db4ai_")
# a write: its first word is one of these and it writes a table (DROP TABLE is authorized as
# a DELETE of the table too)
_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*\n|/\*.*?\*/)*(\w*)", re.S)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "WITH")

# apsw's exception → the galaxlite class galaxlite documents for that mistake (in order: the
# first isinstance match wins; malformed SQL is told apart by SQLite's message)
EXPECTED_ERRORS: tuple[tuple[type[BaseException], type[galaxlite.Error]], ...] = (
    (apsw.ConstraintError, galaxlite.IntegrityError),
    (apsw.MismatchError, galaxlite.IntegrityError),
    (apsw.SQLError, galaxlite.ProgrammingError),
    (apsw.BindingsError, galaxlite.ProgrammingError),
    (apsw.RangeError, galaxlite.ProgrammingError),
    (KeyError, galaxlite.ProgrammingError),  # apsw: a named parameter missing from the dict
    (apsw.TooBigError, galaxlite.DataError),
    (apsw.BusyError, galaxlite.OperationalError),
    (apsw.LockedError, galaxlite.OperationalError),
    (apsw.ReadOnlyError, galaxlite.OperationalError),
)
_SYNTAX = ("syntax error", "incomplete input", "unrecognized token")


def expected_error(exc: BaseException) -> type[galaxlite.Error]:
    """The galaxlite class documented for what apsw raised."""
    for raw, cls in EXPECTED_ERRORS:
        if isinstance(exc, raw):
            if cls is galaxlite.ProgrammingError and any(s in str(exc) for s in _SYNTAX):
                return galaxlite.SqlSyntaxError
            return cls
    return galaxlite.DatabaseError


def sqlite_message(exc: BaseException) -> str:
    """SQLite's message of an apsw exception (without apsw's ``SQLError: `` prefix)."""
    return re.sub(r"^\w+Error: ", "", str(exc))


# ------------------------------------------------------------------------------------ parsing


@dataclass(frozen=True, slots=True)
class Step:
    """One statement (``sql``) or one tag (``tag``) of a script, at 1-based ``line``."""

    line: int
    sql: str = ""
    params: Any = None
    many: list | None = None
    error: bool | None = False  # None: either (generated statements)
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    steps: tuple[Step, ...]
    xfail: str | None = None

    @property
    def statements(self) -> int:
        return sum(1 for s in self.steps if s.tag is None)


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    return value


def parse(text: str, name: str = "<script>") -> Script:
    """The steps of a script (see the module docstring for the format)."""
    steps: list[Step] = []
    pending: dict[str, Any] = {}
    xfail = None
    buffer: list[str] = []
    start = 0

    def fail(line: int, problem: str) -> ValueError:
        return ValueError(f"{name}, line {line}: {problem}")

    for number, line in enumerate(text.splitlines(), start=1):
        directive = _DIRECTIVE.match(line.strip()) if not buffer else None
        if directive:
            word, rest = directive.groups()
            if word == "params":
                pending["params"] = _decode(json.loads(rest))
            elif word == "many":
                pending["many"] = [_decode(p) for p in json.loads(rest)]
            elif word == "many-range":
                pending["many"] = [(i,) for i in range(1, int(rest) + 1)]
            elif word == "error":
                pending["error"] = True
            elif word == "tag":
                if pending:
                    raise fail(number, "a tag cannot take statement directives")
                steps.append(Step(number, tag=rest.strip()))
            elif word == "xfail":
                if steps:
                    raise fail(number, "xfail belongs before the first statement")
                xfail = rest.strip()
            else:
                raise fail(number, f"unknown directive {word!r}")
            continue
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        if not buffer:
            start = number
        buffer.append(line)
        sql = "\n".join(buffer)
        if apsw.complete(sql):
            steps.append(Step(start, sql.strip(), **pending))
            pending, buffer = {}, []
    if buffer or pending:
        raise fail(start, "the script ends inside a statement")
    return Script(name, tuple(steps), xfail)


def load(path: Path) -> Script:
    return parse(path.read_text(), path.name)


def corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.sql"))


# ------------------------------------------------------------------------------------ outcomes


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one statement gave on one engine."""

    columns: tuple[str, ...] | None = None
    rows: tuple[tuple, ...] = ()
    rowcount: int = -1
    lastrowid: int | None = None  # after a write only
    counters: tuple = ()  # SELECT changes(), last_insert_rowid() right after
    error: type[BaseException] | None = None  # on the baseline: the galaxlite class expected
    message: str = ""
    raw: str = ""  # on the baseline: apsw's class

    def shown(self) -> str:
        if self.error is not None:
            return f"{self.raw or self.error.__name__}: {self.message}"
        return (f"columns={self.columns} rows={list(self.rows)[:8]} rowcount={self.rowcount} "
                f"lastrowid={self.lastrowid} counters={self.counters}")


def _columns(description: Sequence | None) -> tuple[str, ...] | None:
    return tuple(d[0] for d in description) if description else None


class Baseline:
    """Plain SQLite through apsw, set up as galaxlite sets up its connection (foreign keys on)."""

    name = "sqlite"

    def __init__(self, path: Path):
        # no statement cache: the authorizer that tells writes apart runs at every prepare
        self.conn = apsw.Connection(str(path), statementcachesize=0)
        self.conn.execute("PRAGMA foreign_keys = ON")

    def _prepared(self) -> tuple[list, Callable]:
        """A list that an authorizer and an exec tracer fill while a statement prepares."""
        seen: list = []

        def authorizer(op: int, a: str | None, b: str | None, db: str | None, inner: str | None) -> int:
            if op in (apsw.SQLITE_INSERT, apsw.SQLITE_UPDATE, apsw.SQLITE_DELETE) and inner is None:
                if a is not None and not a.lower().startswith("sqlite_"):
                    seen.append("write")
            return apsw.SQLITE_OK

        return seen, authorizer

    def run(self, step: Step) -> Outcome:
        conn = self.conn
        seen, authorizer = self._prepared()
        described: list = []
        cur = conn.cursor()

        def tracer(cursor: apsw.Cursor, _sql: str, _bindings: Any) -> bool:
            described.append(cursor.get_description())
            return True

        cur.exec_trace = tracer
        conn.authorizer = authorizer
        try:
            if step.many is not None:
                total = 0
                conn.execute("SAVEPOINT differential_many")
                try:
                    for params in step.many:
                        rows = tuple(cur.execute(step.sql, params))
                        total += conn.changes()
                except (apsw.Error, KeyError):
                    conn.execute("ROLLBACK TO differential_many; RELEASE differential_many")
                    raise
                conn.execute("RELEASE differential_many")
                rowcount = total
            else:
                rows = tuple(cur.execute(step.sql, step.params))
                rowcount = conn.changes()
        except (apsw.Error, KeyError) as exc:
            return Outcome(error=expected_error(exc), message=sqlite_message(exc),
                           raw=type(exc).__name__, counters=self.counters())
        finally:
            conn.authorizer = None
        write = bool(seen) and _FIRST_WORD.match(step.sql).group(1).upper() in _WRITES
        return Outcome(
            _columns(described[0]) if described and step.many is None else None,
            rows if step.many is None else (),
            rowcount if write else -1,
            conn.last_insert_rowid() if write else None,
            self.counters(),
        )

    def counters(self) -> tuple:
        return tuple(self.conn.execute("SELECT changes(), last_insert_rowid()").fetchall()[0])

    def read(self, sql: str) -> tuple[tuple[str, ...] | None, list[tuple]]:
        described: list = []
        cur = self.conn.cursor()
        cur.exec_trace = lambda cursor, _sql, _bindings: described.append(cursor.get_description()) or True
        rows = list(cur.execute(sql))
        return _columns(described[0]) if described else None, rows

    def close(self) -> None:
        self.conn.close()


class GalaxliteDatabase:
    """galaxlite through ``galaxlite.Database``."""

    name = "galaxlite.Database"
    many_lastrowid = True

    def __init__(self, path: Path):
        self.db = galaxlite.Database(path)

    def _execute(self, step: Step) -> tuple[tuple[str, ...] | None, tuple, int, int | None]:
        if step.many is not None:
            result = self.db.executemany(step.sql, step.many)
            return None, (), result.rowcount, result.lastrowid
        result = self.db.execute(step.sql, step.params)
        rows = tuple(result.fetchall())
        return _columns(result.description), rows, result.rowcount, result.lastrowid

    def run(self, step: Step, write: bool) -> Outcome:
        try:
            columns, rows, rowcount, lastrowid = self._execute(step)
        except galaxlite.Error as exc:
            return Outcome(error=type(exc), message=str(exc), counters=self.counters())
        return Outcome(columns, rows, rowcount, lastrowid if write else None, self.counters())

    def counters(self) -> tuple:
        return tuple(self.read("SELECT changes(), last_insert_rowid()")[1][0])

    def read(self, sql: str) -> tuple[tuple[str, ...] | None, list[tuple]]:
        result = self.db.execute(sql)
        rows = result.fetchall()
        return _columns(result.description), rows

    def tag(self, name: str) -> None:
        self.db.execute("CREATE VERSION TAG ?", (name,))

    def database(self) -> galaxlite.Database:
        return self.db

    def close(self) -> None:
        self.db.close()


class GalaxliteDbapi(GalaxliteDatabase):
    """galaxlite through the DB-API: ``galaxlite.connect(path, autocommit=True)``, so that
    transaction control is the script's own, as on plain SQLite."""

    name = "galaxlite.connect"
    many_lastrowid = False  # as in sqlite3: executemany() leaves lastrowid alone

    def __init__(self, path: Path):
        self.con = galaxlite.connect(path, autocommit=True)
        self.cur = self.con.cursor()

    def _execute(self, step: Step) -> tuple[tuple[str, ...] | None, tuple, int, int | None]:
        cur = self.cur
        if step.many is not None:
            cur.executemany(step.sql, step.many)
            return None, (), cur.rowcount, cur.lastrowid
        cur.execute(step.sql, step.params if step.params is not None else ())
        rows = tuple(cur.fetchall()) if cur.description else ()
        return _columns(cur.description), rows, cur.rowcount, cur.lastrowid

    def read(self, sql: str) -> tuple[tuple[str, ...] | None, list[tuple]]:
        cur = self.con.execute(sql)
        return _columns(cur.description), cur.fetchall()

    def tag(self, name: str) -> None:
        self.con.execute("CREATE VERSION TAG ?", (name,))

    def database(self) -> galaxlite.Database:
        return self.con.database

    def close(self) -> None:
        self.con.close()


ENGINES: dict[str, type[GalaxliteDatabase]] = {
    GalaxliteDatabase.name: GalaxliteDatabase,
    GalaxliteDbapi.name: GalaxliteDbapi,
}


# ------------------------------------------------------------------------------------ comparing


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def user_tables(read: Callable[[str], tuple], schema: str = "main") -> list[str]:
    """The user's tables of ``schema`` (not SQLite's nor galaxlite's own), by name."""
    master = "sqlite_temp_master" if schema == "temp" else "sqlite_master"
    _, rows = read(f"SELECT name FROM {master} WHERE type = 'table' ORDER BY name")
    return [n for (n,) in rows if not n.lower().startswith(_INTERNAL)]


def _contents(read: Callable[[str], tuple], sql: str) -> tuple[tuple[str, ...] | None, list[str]]:
    columns, rows = read(sql)
    return columns, sorted(map(repr, rows))


def tables_of(read: Callable[[str], tuple]) -> dict[str, tuple]:
    """Every user table (main and temp) → (column names, sorted rows)."""
    found = {}
    for schema in ("main", "temp"):
        for name in user_tables(read, schema):
            found[f"{schema}.{name}"] = _contents(read, f"SELECT * FROM {schema}.{_q(name)}")
    return found


@dataclass
class Report:
    """The differences met running one script on one galaxlite engine."""

    script: str
    engine: str
    statements: int = 0
    differences: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{self.script} on {self.engine}: {len(self.differences)} differences in {self.statements} statements"
        return "\n".join([head, *self.differences[:8]])


def _difference(step: Step, want: Outcome, got: Outcome) -> str | None:
    if want.error is not None:
        cls = want.error
        if got.error is not cls:
            return f"expected {cls.__name__} ({want.shown()}), got {got.shown()}"
        return None if got.counters == want.counters else f"counters: {got.counters} != {want.counters}"
    if got.error is not None:
        return f"SQLite gave {want.shown()}, galaxlite raised {got.shown()}"
    for part in ("columns", "rows", "rowcount", "lastrowid", "counters"):
        if getattr(got, part) != getattr(want, part):
            return f"{part}: galaxlite {getattr(got, part)!r} != SQLite {getattr(want, part)!r}"
    return None


def run_script(script: Script, folder: Path, engine: type[GalaxliteDatabase]) -> Report:
    """Run ``script`` on plain SQLite and on ``engine`` in ``folder``; report differences."""
    report = Report(script.name, engine.name)
    plain = Baseline(folder / "plain.db")
    under = engine(folder / "galaxlite.db")
    copies: dict[str, dict[str, tuple]] = {}
    try:
        for step in script.steps:
            where = f"line {step.line}"
            if step.tag is not None:
                copies[step.tag] = {
                    n: _contents(plain.read, f"SELECT * FROM main.{_q(n)}") for n in user_tables(plain.read)
                }
                under.tag(step.tag)
                continue
            report.statements += 1
            want = plain.run(step)
            if step.error is not None and (want.error is not None) != step.error:
                report.differences.append(
                    f"{where}: corpus mistake: SQLite {'failed' if want.error else 'succeeded'} "
                    f"({want.shown()}) but the script says {'error' if step.error else 'ok'}"
                )
            if step.many is not None and not engine.many_lastrowid:
                want = replace(want, lastrowid=None)
            got = under.run(step, want.lastrowid is not None)
            if (problem := _difference(step, want, got)) is not None:
                report.differences.append(f"{where}: {problem}\n    SQL: {step.sql[:300]}")
        report.differences.extend(_final_differences(plain, under, copies))
    finally:
        under.close()
        plain.close()
    return report


def _final_differences(plain: Baseline, under: GalaxliteDatabase, copies: dict) -> Iterator[str]:
    want, got = tables_of(plain.read), tables_of(under.read)
    if sorted(want) != sorted(got):
        yield f"after the script: tables {sorted(got)} != SQLite's {sorted(want)}"
    for name in sorted(set(want) & set(got)):
        if want[name] != got[name]:
            yield f"after the script: table {name}: galaxlite {got[name]} != SQLite {want[name]}"
    for tag, tables in copies.items():
        for name, contents in tables.items():
            try:
                seen = _contents(under.read, f"SELECT * FROM {_q(name)} AT VERSION '{tag}'")
            except galaxlite.Error as exc:
                yield f"tag {tag!r}: reading {name} failed: {type(exc).__name__}: {exc}"
                continue
            if seen != contents:
                yield f"tag {tag!r}: table {name} reads {seen}, the copy taken then holds {contents}"
    problems = under.database().check()
    if problems:
        yield "db.check(): " + "; ".join(map(str, problems))


def main(argv: Sequence[str]) -> int:
    """Run the named scripts on every galaxlite engine; print the differences."""
    failed = 0
    for name in argv:
        script = load(Path(name))
        for engine in ENGINES.values():
            with tempfile.TemporaryDirectory() as folder:
                report = run_script(script, Path(folder), engine)
            status = "ok" if not report.differences else ("xfail" if script.xfail else "DIFF")
            print(f"{status:5} {report.statements:4} statements  {engine.name:18}  {name}")
            if report.differences:
                failed += script.xfail is None
                print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

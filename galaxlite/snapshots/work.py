"""The working table W of a snapshot being made, the USING commands run on it, and errors
located in the user's statement.

Every snapshot is made the same way: a working table W receives the rows (a query's, or a
parent's: in CSS each keeps its matrix rowid as its rowid), the USING commands run on W in
order, then W *is* the MSS table, or is compared with the matrix (CSS, ``css``). W is TEMP
table ``snapshot`` whenever a command may name it, so subqueries read the snapshot being
built (``DELETE WHERE rowid NOT IN (SELECT min(rowid) FROM snapshot GROUP BY a, b)``); it
is TEMP ``_gl_w`` when the session has a TEMP object named ``snapshot`` already. An MSS
snapshot whose commands never name it is built in place, in its own ``_gl_s<id>``.

The commands are SQL built from the user's texts, and run the way galaxlite runs any
statement: through the front end (AT VERSION, ``name@version``, SEMANTIC_MATCH, VECTOR(n)
checks) and rendering. An error they meet is reported about the user's statement: where
the user's text it comes from starts (or, for an error located in that text, where it
points), with W called "snapshot" in the message and the part of the statement named
(``blame``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import apsw

from galaxlite import errors as E
from galaxlite import transpile
from galaxlite.engine import render as rendering
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.storage.snapshot_catalog import Snapshot, free_rowid, source_sql
from galaxlite.storage.snapshot_names import error_at
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q

WORK = "snapshot"
WORK_FALLBACK = "_gl_w"
PICK = "_gl_pick"  # SAMPLE: the parent rows a sample takes (TEMP)


# ---------------------------------------------------------------------- running SQL


def _moved(err: E.Error, plan: P.Plan, position: int, what: str | None,
           internal: str | None = None) -> E.Error:
    """The same error, about the user's statement at ``position`` (``what``: which part;
    the working table ``internal`` is called "snapshot" in the message)."""
    message = E.bare_message(err)
    if internal is not None:  # "table temp.snapshot has 4 columns" → "table snapshot ..."
        message = re.sub(rf'(?:\b(?:main|temp)\.)?"?\b{re.escape(internal)}\b"?', "snapshot",
                         message)
    message += f" (in {what})" if what else ""
    new = copy.copy(err)
    E.relocate(new, message, plan.source, position)
    return new


@contextmanager
def blame(plan: P.Plan, position: int, what: str | None = None, text: str | None = None,
          base: int = 0, internal: str | None = None) -> Iterator[None]:
    """Errors raised inside are reported at ``position`` of ``plan``'s SQL, or — for an error
    located in ``text``, the user's text found at offset ``base`` — where it points."""
    try:
        yield
        return
    except transpile.TranspileError as exc:
        err = E.from_transpile(exc)
    except apsw.Error as exc:
        err = E.from_apsw(exc, text)
    except E.Error as exc:
        err = exc
    located = text is not None and err.sql == text and err.position is not None
    at = base + err.position if located else position
    raise _moved(err, plan, at, what, internal) from None


@dataclass
class StatementParams:
    """The statement's parameters, handed out to the SQL texts that use them, in order."""

    values: Params
    used: int = 0

    def take(self, plan: P.Plan) -> Params:
        values = self.values
        if values is None or isinstance(values, Mapping):
            return values
        taken = list(values[self.used : self.used + plan.param_markers])
        self.used += plan.param_markers
        return taken

    def check_all_used(self, plan: P.Plan) -> None:
        """Too many positional values is an error, as for any statement (apsw's wording)."""
        values = self.values
        if values is not None and not isinstance(values, Mapping) and len(values) > self.used:
            raise error_at(
                E.ProgrammingError,
                f"Incorrect number of bindings supplied.  The USING commands use {self.used} "
                f"and there are {len(values)} supplied",
                plan, plan.position,
            )


def run(session: Session, sql: str, params: StatementParams | None = None) -> None:
    """Run SQL built from the user's texts the way galaxlite runs any statement: through the
    front end (AT VERSION, ``name@version``, SEMANTIC_MATCH, VECTOR(n) checks) and render."""
    plan = transpile.parse_statement(sql)
    values = params.take(plan) if params is not None else None
    rendered, values = rendering.render(session, plan, values)
    session.conn.execute(rendered, values).fetchall()  # (to the end, even with RETURNING)


def check_addressable(plan: P.Plan, names: Sequence[str], position: int) -> None:
    """A snapshot must leave one of rowid / _rowid_ / oid free (MSS and CSS alike)."""
    try:
        free_rowid(names)
    except E.NotSupportedError as exc:
        raise error_at(E.NotSupportedError, str(exc), plan, position) from None


def scalar(conn: apsw.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The one value ``sql`` returns."""
    return next(conn.execute(sql, params))[0]


# ---------------------------------------------------------------------- the working table


@dataclass
class Work:
    """The working table W: its name, its columns (name, definition) in order, and — when
    its rows carry the rowids of the parent's matrix rows (CSS child of a CSS parent) — the
    parent's physical column of each inherited column (lower-cased name → column)."""

    table: str
    columns: list[tuple[str, str]]
    matrix: Snapshot | None = None
    inherited: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.columns]

    @property
    def temp(self) -> bool:
        return self.table in (WORK, WORK_FALLBACK)

    @property
    def ref(self) -> str:
        """W in SQL, qualified (the TEMP one too: SEMANTIC_* look a bare name up in main)."""
        return f"{'temp' if self.temp else 'main'}.{q(self.table)}"


def create_table(conn: apsw.Connection, table: str, columns: Sequence[tuple[str, str]],
                 temp: bool) -> None:
    """CREATE [TEMP] TABLE ``table`` of ``columns`` (name, definition)."""
    defs = ", ".join(f"{q(n)} {d}".rstrip() for n, d in columns)
    sql = f"CREATE {'TEMP ' if temp else ''}TABLE {q(table)} ({defs})"
    conn.execute(transpile.parse_statement(sql).sql)  # the front end adds VECTOR(n) checks


def new_work(session: Session, snap_id: int, mode: str, columns: list[tuple[str, str]],
             in_place: bool = True) -> Work:
    """An empty W: the MSS table itself (``in_place``), or TEMP "snapshot"."""
    conn = session.conn
    if mode == "MSS" and in_place:
        table = f"_gl_s{snap_id}"
    else:
        taken = scalar(conn, "SELECT count(*) FROM temp.sqlite_master WHERE name = ? "
                       "COLLATE NOCASE", (WORK,))
        table = WORK_FALLBACK if taken else WORK
    create_table(conn, table, columns, temp=table != f"_gl_s{snap_id}")
    return Work(table, list(columns))


_NAMES_SNAPSHOT = re.compile(r"\bsnapshot\b", re.IGNORECASE)


def work_from(session: Session, snap_id: int, mode: str, parent: Snapshot,
              pick: bool = False, commands: Sequence[P.SnapshotCommand] = ()) -> Work:
    """W holding the parent's rows (only those in TEMP table _gl_pick when ``pick``); TEMP
    when a command may name ``snapshot`` (its correlation name, or a subquery's table)."""
    in_place = not any(_NAMES_SNAPSHOT.search(p) for c in commands for p in c.pieces[1:])
    work = new_work(session, snap_id, mode, [(c.name, c.definition) for c in parent.columns],
                    in_place)
    names = ", ".join(q(n) for n in work.names)
    where = f" WHERE _gl_rid IN (SELECT r FROM temp.{PICK})" if pick else ""
    source = f"(SELECT * FROM ({source_sql(parent, rowid=True)}){where})"
    if mode == "CSS" and parent.mode == "CSS":
        work.matrix = parent
        work.inherited = {c.name.lower(): c.physical for c in parent.columns}
        rid = free_rowid(work.names)
        session.conn.execute(
            f"INSERT INTO {work.ref} ({rid}, {names}) SELECT _gl_rid, {names} FROM {source}"
        )
    else:
        session.conn.execute(
            f"INSERT INTO {work.ref} ({names}) SELECT {names} FROM {source} ORDER BY _gl_rid"
        )
    return work


def apply(session: Session, plan: P.Plan, work: Work, cmd: P.SnapshotCommand,
          params: StatementParams, number: int) -> None:
    """Run one USING command on W."""
    what = f"USING command {number}: {' '.join(p for p in cmd.pieces if p)}"
    table = work.ref
    alias = q(cmd.alias) if cmd.alias else "snapshot"
    where = f" WHERE {cmd.where}" if cmd.where else ""
    with blame(plan, cmd.position, what, internal=work.table):
        if cmd.op == "INSERT":
            run(session, f"INSERT INTO {table} {cmd.insert}", params)
        elif cmd.op == "UPDATE":
            from_ = f" FROM {cmd.from_}" if cmd.from_ else ""
            run(session, f"UPDATE {table} AS {alias} SET {cmd.set}{from_}{where}", params)
        elif cmd.op == "DELETE" and cmd.using:
            rid = free_rowid(work.names)
            run(
                session,
                f"DELETE FROM {table} WHERE {rid} IN (SELECT {alias}.{rid} FROM {table} AS "
                f"{alias}, {cmd.using}{where})",
                params,
            )
        elif cmd.op == "DELETE":
            run(session, f"DELETE FROM {table} AS {alias}{where}", params)
        elif cmd.op == "ALTER":
            for action in cmd.alter:
                _alter(session, plan, work, action, cmd.position)
        else:  # pragma: no cover - the front end only produces the four operations
            raise E.NotSupportedError(f"unknown USING operation {cmd.op!r}")


def _alter(session: Session, plan: P.Plan, work: Work, action: P.AlterAction,
           position: int) -> None:
    names = [n.lower() for n in work.names]
    col = action.column
    if action.action == "add":
        if col.lower() in names:
            raise error_at(
                E.SnapshotError, f'column "{col}" already exists in current snapshot', plan,
                position,
            )
        run(session, f"ALTER TABLE {work.ref} ADD COLUMN {q(col)} {action.definition}".rstrip())
        work.columns.append((col, action.definition))
        check_addressable(plan, work.names, position)
        return
    if col.lower() not in names:
        if action.if_exists:
            return
        raise error_at(
            E.SnapshotError,
            f"unable to map field \"{col}\" to backing table in DROP operation: '{action.text}'",
            plan, position,
        )
    run(session, f"ALTER TABLE {work.ref} DROP COLUMN {q(col)}")
    del work.columns[names.index(col.lower())]
    work.inherited.pop(col.lower(), None)  # a column added again later is a new one

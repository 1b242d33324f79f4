"""CREATE SNAPSHOT: a root from a query (``CREATE SNAPSHOT m0 AS SELECT ...``), or a new
version of a parent (``CREATE SNAPSHOT m0 FROM @1.0.0 USING (DELETE WHERE ...; ...)``).

A root's working table W receives the query's rows under the query's column names and
declared types (a source column's built-in collation other than BINARY — NOCASE, RTRIM —
is kept, so comparisons on the snapshot behave as on its source, as in openGauss). A
derived version's W receives the parent's rows, then the USING commands run on it in
order, each with its share of the statement's parameters. The recipe goes into the
catalog's ``commands`` in openGauss's encoding: ``[projection, "FROM ...", ""]`` for a
root, the USING pieces for a version.
"""

from __future__ import annotations

import apsw

from galaxlite import errors as E
from galaxlite import transpile
from galaxlite.engine import render as rendering
from galaxlite.engine.result import describe
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.snapshots.names import bumped, check_free, full_name, version_text
from galaxlite.snapshots.parameters import in_force
from galaxlite.snapshots.registry import finish, register
from galaxlite.snapshots.work import (
    StatementParams,
    apply,
    blame,
    check_addressable,
    new_work,
    work_from,
)
from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.snapshot_catalog import Snapshot, lookup
from galaxlite.storage.snapshot_names import MODE, NAMING, Settings, error_at, schema_of
from galaxlite.transpile import plan as P


def create_snapshot(session: Session, plan: P.Plan, params: Params) -> list[tuple[str, str]]:
    """``CREATE SNAPSHOT ... AS <query>`` or ``CREATE SNAPSHOT ... FROM @v USING (...)``;
    the (schema, name) of the new snapshot."""
    d: P.CreateSnapshot = plan.detail
    s = in_force(session, plan, d.name.position, (MODE, *NAMING))
    schema = schema_of(plan, d.name)
    with catalog_writer(session.conn):
        if d.query is not None:
            snap = _create_root(session, plan, d, s, schema, params)
        else:
            snap = _create_derived(session, plan, d, s, schema, params)
    return [(snap.schema, snap.name)]


def _collation(conn: apsw.Connection, schema: str | None, table: str | None,
               column: str | None) -> str | None:
    """The collation of a result column's source table column when it is a built-in one
    other than BINARY (NOCASE, RTRIM), else None. A snapshot column keeps it, so comparisons
    on the snapshot behave as on its source (as in openGauss)."""
    if table is None:
        return None
    collation = conn.column_metadata(schema, table, column)[1].upper()
    return collation if collation in ("NOCASE", "RTRIM") else None


def _create_root(session: Session, plan: P.Plan, d: P.CreateSnapshot, s: Settings, schema: str,
                 params: Params) -> Snapshot:
    pos = d.name.position
    version = (
        version_text(d.name.version, s, plan, pos) if d.name.version is not None
        else s.separator.join(("1", "0", "0"))
    )
    name = full_name(plan, d.name.name, version, s, pos)
    check_free(session, plan, schema, name, pos)
    conn = session.conn
    at = d.query_position
    with blame(plan, at, text=d.query, base=at):
        query = transpile.parse_statement(d.query)
        if query is None or query.kind != P.READ:
            raise error_at(
                E.SnapshotError, "CREATE SNAPSHOT ... AS needs a query (SELECT, WITH or VALUES)",
                plan, at,
            )
        sql, values = rendering.render(session, query, params)
    with blame(plan, at, text=d.query if sql == d.query else None, base=at):
        described = describe(conn, sql, values, full=True)
    columns: list[tuple[str, str]] = []
    for col, decl, *origin in described or ():
        if col.lower() in (n.lower() for n, _ in columns):
            raise error_at(E.SnapshotError, f'column "{col}" specified more than once', plan, at)
        collation = _collation(conn, *origin)
        columns.append((col, f"{decl or ''} COLLATE {collation}".strip() if collation
                        else decl or ""))
    check_addressable(plan, [n for n, _ in columns], at)
    projection = d.projection if d.projection is not None else d.query
    commands = [projection, d.from_clause or "", ""]
    snap_id = register(conn, schema=schema, prefix=d.name.name, version=version, name=name,
                       mode=s.mode, commands=commands, comment=d.comment, parent=None,
                       published=True)
    work = new_work(session, snap_id, s.mode, columns)
    with blame(plan, at, "the snapshot's query"):
        conn.execute(f"INSERT INTO {work.ref} SELECT * FROM ({sql})", values)
    return finish(conn, snap_id, s.mode, work)


def _create_derived(session: Session, plan: P.Plan, d: P.CreateSnapshot, s: Settings,
                    schema: str, params: Params) -> Snapshot:
    pos = d.name.position
    parent = lookup(session.conn, plan, P.SnapshotName(d.name.schema, d.name.name, d.parent, pos),
                    s, what="parent snapshot")
    if d.name.version is not None:
        version = version_text(d.name.version, s, plan, pos)
    else:
        version = bumped(plan, parent, d.commands, s, pos)
    name = full_name(plan, parent.prefix, version, s, pos)
    check_free(session, plan, schema, name, pos)
    commands = [piece for cmd in d.commands for piece in cmd.pieces]
    snap_id = register(session.conn, schema=schema, prefix=parent.prefix, version=version,
                       name=name, mode=s.mode, commands=commands, comment=d.comment,
                       parent=parent, published=False)
    work = work_from(session, snap_id, s.mode, parent, commands=d.commands)
    values = StatementParams(params)
    for number, cmd in enumerate(d.commands, 1):
        apply(session, plan, work, cmd, values, number)
    values.check_all_used(plan)
    return finish(session.conn, snap_id, s.mode, work)

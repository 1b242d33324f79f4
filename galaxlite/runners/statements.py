"""Runners of reads, writes and versioned-table DDL (CREATE / ALTER / DROP TABLE, ALTER TABLE
... ENABLE VERSIONING)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import apsw

from galaxlite import errors as E
from galaxlite import snapshots, storage
from galaxlite.engine.binding import BIND_ERRORS, statement_error
from galaxlite.engine.render import recalled_render, render
from galaxlite.engine.result import Result, describe
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.runners import embeddings
from galaxlite.runners.bulk_writes import bulk_insert
from galaxlite.semantic import declared
from galaxlite.storage import clock, set_writes
from galaxlite.storage.guards import catalog_writer
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q


def run_read(session: Session, plan: P.Plan, params: Params) -> Result:
    conn = session.conn
    if plan.refs and not conn.in_transaction:
        return _read_in_one_snapshot(session, plan, params)
    sql, params = render(session, plan, params) if plan.refs or plan.semantic else (plan.sql, params)
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
    except BIND_ERRORS as exc:
        raise statement_error(exc, plan, sql) from None
    return Result(cur, None, (conn, sql, params))


def _read_in_one_snapshot(session: Session, plan: P.Plan, params: Params) -> Result:
    """An AT VERSION read outside a transaction: rendered and run in one read snapshot.

    What the rendering reads (rows closed since the version, bulk ranges appended since)
    lets it leave out or inline parts of the query, which is only right if the query sees
    the same file: so both run in one read transaction, committed as soon as the query has
    started — a running statement keeps its snapshot until it finishes, and the connection
    is back in autocommit mode at once.

    Once rendered, a statement's rendering is remembered (``Session.remembered``): run again
    while the file is unchanged (a lookup by key, repeated), it runs at once, and one probe
    made while it runs (so in its read snapshot) confirms that the file is still what the
    rendering was made from — else it is rendered again, as above.
    """
    conn = session.conn
    known = recalled_render(session, plan, params)
    if known is not None:
        cur = conn.cursor()
        try:
            cur.execute(*known)
        except BIND_ERRORS as exc:
            raise statement_error(exc, plan, known[0]) from None
        if session.memo.still_as_recalled(conn, session.write_epoch):
            return Result(cur, None, (conn, *known))
        cur.close()
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT version FROM galaxlite_clock").fetchall()  # the snapshot starts here
        sql, params = render(session, plan, params)
        cur = conn.cursor()
        try:
            cur.execute(sql, params)
        except BIND_ERRORS as exc:
            raise statement_error(exc, plan, sql) from None
    finally:
        conn.execute("COMMIT")  # (read-only: ends the transaction, not the statement)
    return Result(cur, None, (conn, sql, params))


def rendered_write(session: Session, plan: P.Plan, params: Params) -> tuple[str, Params]:
    """The SQL of a write; rendering AT VERSION / SEMANTIC_MATCH reads, so in an open
    transaction the write lock is taken first (``Session.claim_write_lock``)."""
    if not plan.refs and not plan.semantic:
        return plan.sql, params
    try:
        session.claim_write_lock()
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    return render(session, plan, params)


def run_write(session: Session, plan: P.Plan, params: Params) -> Result:
    sql, params = rendered_write(session, plan, params)
    conn = session.conn
    shape = plan.detail
    changes_rows = isinstance(shape, P.ChangeRows)
    ran = False  # whether SQLite ran the statement itself (see failed_write)
    try:
        # UPDATE / DELETE may run three statements: all-or-nothing inside a transaction too
        with session.writing(plan, atomic=changes_rows, triggers=False, statement=True) as scope:
            try:
                paths = session.write_paths
                tv = paths.set_based(plan, params, session.schema_conflicts()) if shape is not None else None
                paths.triggers(tv is None)
                if tv is not None and changes_rows:
                    lastrowid = conn.last_insert_rowid()
                    bind = params if isinstance(params, dict) or not params else tuple(params)[: shape.last_param]
                    set_writes.version_changes(conn, tv, shape, bind, clock.current(conn))
                    conn.set_last_insert_rowid(lastrowid)
                cur = conn.cursor()
                ran = True
                cur.execute(sql, params)
                desc, rows = None, []
                if plan.returning:
                    try:
                        desc = cur.get_description()
                    except apsw.ExecutionCompleteError:  # RETURNING, but no row was written
                        desc = describe(conn, sql, params)
                    rows = list(cur)
            except apsw.Error:
                failed_write(session, sql, params, ran)
                raise
            rowcount, lastrowid = conn.changes(), conn.last_insert_rowid()
            if tv is not None and not changes_rows and rowcount:
                if scope.mode != "begin" and not plan.returning and session.is_plan_of(plan):
                    session.note_append(plan.source, tv, lastrowid)  # versioned by settle()
                else:
                    set_writes.version_inserted_row(conn, tv, lastrowid, clock.current(conn))
                    conn.set_last_insert_rowid(lastrowid)
    except BIND_ERRORS as exc:
        raise statement_error(exc, plan, sql) from None
    session.changes = rowcount
    return Result(iter(rows), desc, rowcount=rowcount, lastrowid=lastrowid)


def failed_write(session: Session, sql: str, params: Params, ran: bool = True) -> None:
    """Make ``changes()`` (``session.changes``) say what SQLite's says after the write ``sql``
    failed: a statement that started and failed sets it (to 0, or to the rows an ``OR FAIL``
    kept), one that could not be prepared or bound leaves it alone. ``ran=False``: galaxlite's
    own statements failed before ``sql`` ran (SQLite's statement would have failed: 0)."""
    conn = session.conn
    changes = conn.changes() if ran else 0
    try:
        describe(conn, sql, params)
    except apsw.Error:
        return
    session.changes = changes


def run_bulk_insert(session: Session, plan: P.Plan, params: Params) -> Result:
    d: P.InsertInto = plan.detail
    sql, params = rendered_write(session, plan, params)
    conn = session.conn

    def run() -> int:
        try:
            conn.execute(sql, params)
        except apsw.Error:
            failed_write(session, sql, params)
            raise
        return conn.changes()

    try:
        with session.writing(plan, pin=False, triggers=False):
            count = bulk_insert(session, d.table, run, replaces=bool(plan.conflict_clauses) or d.upsert)
            lastrowid = conn.last_insert_rowid()
    except BIND_ERRORS as exc:
        raise statement_error(exc, plan, sql) from None
    session.changes = count
    return Result(iter(()), rowcount=count, lastrowid=lastrowid)


def run_ddl(
    session: Session, plan: P.Plan, work: Callable[[apsw.Connection, int], None]
) -> Result:
    """Run ``work(conn, version)`` as one versioned schema change."""
    conn = session.conn
    session.schema_changed()
    lastrowid = conn.last_insert_rowid()  # catalog inserts must not show through
    try:
        with session.writing(), catalog_writer(conn):
            work(conn, clock.current(conn))
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    finally:
        conn.set_last_insert_rowid(lastrowid)
    return Result(iter(()))


def run_create_table(session: Session, plan: P.Plan, params: Params) -> Result:
    d: P.CreateTable = plan.detail
    session.check_not_internal(plan, d.table.name)
    if d.table.schema and d.table.schema.lower() not in ("main", "temp", "temporary") and d.versioned:
        raise E.sql_error(
            E.NotSupportedError,
            f"versioned tables live in the main database, not {d.table.schema!r} "
            "(add WITHOUT VERSIONING for a plain table there)",
            plan.source,
            plan.position,
        )
    resolved = embeddings.resolve_all(session, plan, d.table.name, d.embeddings)
    if not d.versioned:
        if not resolved:
            return run_other(session, plan, params)
        return _with_declarations(session, plan, params, d.table.name, resolved, new_table=True)
    sql, params = render(session, plan, params)

    def work(conn: apsw.Connection, version: int) -> None:
        # (a query, not Connection.table_exists, which refuses a name with a NUL in it: SQLite
        # then refuses the statement itself, as it does every other one with a NUL in a name)
        existed = bool(list(conn.execute(
            "SELECT 1 FROM pragma_table_list WHERE schema = 'main' AND name = ? COLLATE NOCASE",
            (d.table.name,))))
        conn.execute(sql, params)
        if not existed:
            storage.make_versioned(conn, d.table.name, version)
            embeddings.declare_all(conn, d.table.name, resolved)

    return run_ddl(session, plan, work)


def _with_declarations(
    session: Session, plan: P.Plan, params: Params, table: str, resolved: list, *, new_table: bool,
) -> Result:
    """A plain table's CREATE TABLE / ADD COLUMN with EMBEDDING clauses: the statement and
    the declarations in one transaction (none when CREATE TABLE IF NOT EXISTS found one)."""
    conn = session.conn
    try:
        with session.writing(pin=False), catalog_writer(conn):
            existed = new_table and conn.table_exists("main", table)
            run_other(session, plan, params).fetchall()
            if not existed:
                embeddings.declare_all(conn, embeddings.stored_name(conn, table), resolved)
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    return Result(iter(()))


def _versioned_or_none(session: Session, plan: P.Plan, table: P.TableName) -> storage.TableVersion | None:
    session.check_not_internal(plan, table.name)
    if table.is_temp or (table.schema and table.schema.lower() != "main"):
        return None
    return storage.current_version(session.conn, table.name)


def run_alter_table(session: Session, plan: P.Plan, params: Params) -> Result:
    d: P.AlterTable = plan.detail
    tv = _versioned_or_none(session, plan, d.table)
    resolved = embeddings.resolve_all(session, plan, d.table.name, d.embeddings)
    if tv is None:
        if not d.table.is_temp and (d.table.schema or "main").lower() == "main" and (
                resolved or d.action != "add_column"):
            return _plain_alter(session, plan, params, d, resolved)
        return run_other(session, plan, params)
    if d.action == "rename_table":
        session.check_not_internal(plan, d.new)

    def work(conn: apsw.Connection, version: int) -> None:
        storage.alter_table(
            conn, tv, d.action, version, lambda: conn.execute(plan.sql), old=d.old, new=d.new
        )
        declared.follow_schema_change(conn, d.action, tv.name, d.old, d.new)
        embeddings.declare_all(conn, tv.name, resolved)

    return run_ddl(session, plan, work)


def _plain_alter(
    session: Session, plan: P.Plan, params: Params, d: P.AlterTable | P.DropTable, resolved: list
) -> Result:
    """ALTER / DROP TABLE of a plain table, with the catalog of its embedding columns kept in
    step (in the same transaction)."""
    conn = session.conn
    if not resolved and not declared.records(conn, embeddings.stored_name(conn, d.table.name)):
        return run_other(session, plan, params)
    action, old, new = (
        ("drop_table", None, None) if isinstance(d, P.DropTable) else (d.action, d.old, d.new)
    )
    try:
        with session.writing(pin=False), catalog_writer(conn):
            table = embeddings.stored_name(conn, d.table.name)
            run_other(session, plan, params).fetchall()
            declared.follow_schema_change(conn, action, table, old, new)
            embeddings.declare_all(conn, table, resolved)
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    return Result(iter(()))


def run_drop_table(session: Session, plan: P.Plan, params: Params) -> Result:
    d: P.DropTable = plan.detail
    tv = _versioned_or_none(session, plan, d.table)
    if tv is None:
        if d.table.is_temp or (d.table.schema or "main").lower() != "main":
            return run_other(session, plan, params)
        return _plain_alter(session, plan, params, d, [])

    def work(conn: apsw.Connection, version: int) -> None:
        def drop() -> None:
            try:
                conn.execute(plan.sql)
            except apsw.Error:  # a foreign key of another table: the implicit DELETE failed
                failed_write(session, plan.sql, params)
                raise

        storage.drop_table(conn, tv, version, drop)
        declared.follow_schema_change(conn, "drop_table", tv.name)

    return run_ddl(session, plan, work)


def run_enable_versioning(session: Session, plan: P.Plan, params: Params) -> Result:
    """``ALTER TABLE t ENABLE VERSIONING``: plain table ``t`` versioned from now on, its current
    rows its first version (a tag made before does not see the table)."""
    d: P.EnableVersioning = plan.detail
    name = _plain_table(session, plan, d)

    def work(conn: apsw.Connection, version: int) -> None:
        try:
            storage.make_versioned(conn, name, version)
        except E.Error as exc:  # rows that cannot be addressed
            raise E.placed(exc, plan.source, d.position) from None

    return run_ddl(session, plan, work)


def _plain_table(session: Session, plan: P.Plan, d: P.EnableVersioning) -> str:
    """The stored name of the plain table ``d`` names, or the error that says why it is none."""
    table, conn = d.table, session.conn
    session.check_not_internal(replace(plan, position=d.position), table.name)

    def refuse(cls: type[E.Error], message: str) -> E.Error:
        return E.sql_error(cls, message, plan.source, d.position)

    for prefix, owner in (("sqlite_", "SQLite's own"), ("db4ai_", "the dataset snapshots' catalog")):
        if table.name.lower().startswith(prefix):
            raise refuse(E.ProgrammingError, f"{table.name!r} is {owner} table, not one of yours to version")
    if table.is_temp or (table.schema is None and conn.table_exists("temp", table.name)):
        raise refuse(E.NotSupportedError, f"{table.name!r} is a TEMP table: TEMP tables vanish with "
                     f"their connection and are never versioned (main.{q(table.name)} names the file's table)")
    if table.schema is not None and table.schema.lower() != "main":
        raise refuse(E.NotSupportedError, f"versioned tables live in the main database, not {table.schema!r}")
    found = list(conn.execute(
        "SELECT type, name FROM pragma_table_list WHERE schema = 'main' AND name = ? COLLATE NOCASE",
        (table.name,),
    ))
    if not found:
        raise refuse(E.ProgrammingError, f"no such table: {table.name}")
    kind, name = found[0]
    if kind == "view":
        raise refuse(E.ProgrammingError, f"{name!r} is a view: only tables can be versioned (version "
                     "the tables it reads, and read them AT VERSION)")
    if kind in ("virtual", "shadow"):
        what = "a virtual table" if kind == "virtual" else "a shadow table of a virtual table"
        raise refuse(E.NotSupportedError, f"{name!r} is {what}: its rows live in the module's own "
                     "storage, which versioning triggers cannot follow")
    tv = storage.current_version(conn, name)
    if tv is not None and storage.is_intact(conn, tv):
        raise refuse(E.ProgrammingError, f"table {name!r} is versioned already")
    if tv is not None:
        raise refuse(E.ProgrammingError, f"table {name!r} is recorded as versioned, but its versioning "
                     "triggers are gone (dropped or rebuilt by a client that bypassed galaxlite): run "
                     "`galaxlite check` on the file")
    return name


_INDEX_DDL = re.compile(r"\s*(CREATE\s+UNIQUE\s+INDEX|DROP\s+INDEX)\b", re.I)


def run_other(session: Session, plan: P.Plan, params: Params) -> Result:
    session.write_paths.triggers(True)  # whatever it is, it runs as any client's would
    if isinstance(plan.detail, P.DropView):
        snapshots.check_not_a_snapshot_view(session, plan, plan.detail.view)
    session.schema_changed()  # CREATE TRIGGER / CREATE TABLE WITHOUT VERSIONING / ...
    if _INDEX_DDL.match(plan.sql):
        # a plain client's REPLACE must see the new set of UNIQUE indexes (versioned.sql, stash)
        conn = session.conn
        try:
            with session.writing(pin=False):
                result = run_read(session, plan, params)
                result.fetchall()
                storage.refresh_insert_triggers(conn)
        except apsw.Error as exc:
            raise statement_error(exc, plan, plan.sql) from None
        return Result(iter(()))
    return run_read(session, plan, params)

"""Runners of ``RESTORE TABLE``, ``PURGE HISTORY`` and ``BULK INSERT ... FROM 'file'``.

(``t CHANGES BETWEEN ...`` is a read: ``galaxlite.engine.render`` fills its hole.)
"""

from __future__ import annotations

import os

import apsw
import pyarrow as pa

from galaxlite import errors as E
from galaxlite import storage
from galaxlite.engine.binding import statement_error
from galaxlite.engine.render import readable, version_of
from galaxlite.engine.result import Result
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.runners.bulk_writes import bulk_insert
from galaxlite.runners.statements import run_read
from galaxlite.storage import changes, clock, load, restore, retention
from galaxlite.storage.guards import catalog_writer
from galaxlite.transpile import history as H
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q

PURGE_COLUMNS = (("table", "TEXT"), ("rows_freed", "INTEGER"), ("bytes_freed", "INTEGER"),
                 ("horizon", "INTEGER"))


def _version(session: Session, plan: P.Plan, spec: P.VersionSpec, position: int, params: Params) -> int:
    return version_of(session, plan, P.VersionRef(None, "", spec, position), params)


def run_restore(session: Session, plan: P.Plan, params: Params) -> Result:
    """``RESTORE TABLE t1[, t2] TO VERSION a``: every table as it was at ``a``, as one new
    version (one transaction)."""
    d: H.RestoreTables = plan.detail
    version = _version(session, plan, d.version, d.position, params)
    conn = session.conn
    tables: list[storage.TableVersion] = []
    for name in d.tables:
        session.check_not_internal(plan, name.name)
        tv = None if name.is_temp or (name.schema or "main").lower() != "main" else storage.current_version(conn, name.name)
        if tv is None:
            raise E.sql_error(E.ProgrammingError, f"no versioned table {name.name!r} to restore",
                              plan.source, plan.position)
        if any(t.table_id == tv.table_id for t in tables):
            raise E.sql_error(E.ProgrammingError, f"table {tv.name!r} named twice", plan.source, plan.position)
        tables.append(tv)
    try:
        restore.check_schemas(conn, tables, version)
    except E.Error as exc:
        raise E.placed(exc, plan.source, d.position) from None
    lastrowid = conn.last_insert_rowid()
    written = 0
    try:
        with session.writing(plan):
            for tv in tables:
                past = storage.version_at(conn, tv.name, version)
                if past is not None:
                    readable(session, plan, P.VersionRef(None, tv.name, d.version, d.position), past, version)
                try:
                    written += restore.restore_table(conn, tv, version, clock.current(conn))
                except E.Error as exc:
                    raise E.placed(exc, plan.source, d.position) from None
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    finally:
        conn.set_last_insert_rowid(lastrowid)
    session.changes = written
    return Result(iter(()), rowcount=written)


def run_purge_history(session: Session, plan: P.Plan, params: Params) -> Result:
    """``PURGE HISTORY [OF t] BEFORE VERSION a``: one row per table (rows and bytes freed)."""
    d: H.PurgeHistory = plan.detail
    before = _version(session, plan, d.version, d.position, params)
    conn = session.conn
    table_id = None
    if d.table is not None:
        session.check_not_internal(plan, d.table.name)
        tv = storage.current_version(conn, d.table.name)
        if tv is None:
            raise E.sql_error(E.ProgrammingError, f"no versioned table {d.table.name!r}",
                              plan.source, plan.position)
        table_id = tv.table_id
    session.schema_changed()  # the guard trigger is made again
    lastrowid = conn.last_insert_rowid()
    try:
        with session.writing(pin=False), catalog_writer(conn):
            found = retention.purge(conn, before, table_id)
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    finally:
        conn.set_last_insert_rowid(lastrowid)
    rows = [(p.table, p.rows, p.bytes, p.horizon) for p in found]
    session.changes = sum(p.rows for p in found)
    return Result(iter(rows), PURGE_COLUMNS, rowcount=session.changes)


def run_bulk_load(session: Session, plan: P.Plan, params: Params) -> Result:
    """``BULK INSERT INTO t [(cols)] FROM 'path' [WITH (...)]``: the file's rows as one version."""
    d: H.BulkLoad = plan.detail
    try:
        source = load.file_source(d.path, dict(d.options))
    except E.Error as exc:
        raise E.placed(exc, plan.source, plan.position) from None
    count = load_rows(session, d.table.name, source, d.columns)
    return Result(iter(()), rowcount=count)


def load_rows(session: Session, table: str, source: load.Source, columns=None, progress=None) -> int:
    """Insert every row of ``source`` into ``table`` as one version, on the bulk path."""
    conn = session.conn
    tv = storage.current_version(conn, table) if conn.table_exists("main", table) else None
    name = tv.name if tv is not None else table
    target = load.Target.of(conn, name, columns, source)
    inserter = load.Inserter(conn, target, source, progress)
    with session.writing(pin=False, triggers=False):
        count = bulk_insert(session, P.TableName(None, name), inserter.run, inserter.run_fast,
                            replaces=False, lowest=lambda: inserter.lowest)
        conn.set_last_insert_rowid(conn.last_insert_rowid())
    session.changes = count
    return count


def load_data(session: Session, table: str, data: object, columns=None, progress=None) -> int:
    """``Database.bulk_insert`` of a file path or of Arrow data (``columns``: for a file, the
    table columns its columns go to; for Arrow data, the columns to take, by name)."""
    if isinstance(data, str | os.PathLike):
        return load_rows(session, table, load.file_source(data, {}), columns, progress)
    if columns and isinstance(data, pa.Table | pa.RecordBatch):
        data, columns = data.select(list(columns)), None
    return load_rows(session, table, load.arrow_source(data), columns, progress)


def diff_summary(session: Session, a: str | int, b: str | int) -> pa.Table:
    """One row per versioned table that existed at ``a`` or ``b``: the number of rows
    inserted, deleted and updated from ``a`` to ``b``."""
    conn = session.conn
    ends = []
    for v in (a, b):
        ref = P.VersionRef(None, "", P.VersionSpec(param=0), 0)
        ends.append(version_of(session, P.Plan(P.READ, "", source=""), ref, (v,)))
    found = []
    for name in changes.tables_between(conn, *ends):
        sql = f"SELECT _change, count(*) FROM {q(name)} CHANGES BETWEEN VERSION ? AND VERSION ? GROUP BY _change"
        counts = dict(run_read(session, session.plan(sql), (a, b)).fetchall())
        found.append((name, counts.get("insert", 0), counts.get("delete", 0), counts.get("update_after", 0)))
    names = ("table", "inserted", "deleted", "updated")
    types = (pa.string(), pa.int64(), pa.int64(), pa.int64())
    return pa.table([pa.array([r[i] for r in found], t) for i, t in enumerate(types)], names=names)

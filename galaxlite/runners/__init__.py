"""Running statements: plan kind → runner, and the three ways to run SQL text.

The front end turns SQL text into a ``Plan`` whose ``kind`` picks one small runner function
from ``RUNNERS`` (adding a statement means adding a row, here and in the front end's rule
table). ``execute``, ``executemany`` and ``executescript`` are what the ``Database`` facade
and the DB-API module call, with a ``Session``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from sys import getrefcount

import apsw

from galaxlite import errors as E
from galaxlite import transpile
from galaxlite.engine.binding import (
    BIND_ERRORS,
    PLAIN_TYPES,
    bindable,
    bindable_all,
    binding_error,
    statement_error,
)
from galaxlite.engine.result import CursorResult, Result, run_on
from galaxlite.engine.session import PLAIN_READ, Session
from galaxlite.engine.writes import ChangeCounter
from galaxlite.params import Params
from galaxlite.runners.bulk_writes import bulk_insert
from galaxlite.runners.embeddings import run_set_embedding, run_show_health
from galaxlite.runners.history import run_bulk_load, run_purge_history, run_restore
from galaxlite.runners.snapshot_statements import (
    run_set_parameter,
    run_show_parameter,
    run_snapshot,
)
from galaxlite.runners.statements import (
    failed_write,
    run_alter_table,
    run_bulk_insert,
    run_create_table,
    run_drop_table,
    run_enable_versioning,
    run_other,
    run_read,
    run_write,
)
from galaxlite.runners.tags import run_create_tag, run_drop_tag
from galaxlite.runners.transactions import (
    run_begin,
    run_commit,
    run_release,
    run_rollback,
    run_rollback_to,
    run_savepoint,
)
from galaxlite.transpile import plan as P

BULK_EXECUTEMANY_MIN = 64  # executemany of at least this many INSERTs takes the bulk path

Runner = Callable[[Session, P.Plan, Params], Result]

RUNNERS: dict[str, Runner] = {
    P.READ: run_read,
    P.OTHER: run_other,
    P.WRITE: run_write,
    P.CREATE_TABLE: run_create_table,
    P.ALTER_TABLE: run_alter_table,
    P.ENABLE_VERSIONING: run_enable_versioning,
    P.DROP_TABLE: run_drop_table,
    P.CREATE_TAG: run_create_tag,
    P.DROP_TAG: run_drop_tag,
    P.BULK_INSERT: run_bulk_insert,
    P.BEGIN: run_begin,
    P.COMMIT: run_commit,
    P.ROLLBACK: run_rollback,
    P.ROLLBACK_TO: run_rollback_to,
    P.SAVEPOINT: run_savepoint,
    P.RELEASE: run_release,
    P.CREATE_SNAPSHOT: run_snapshot,
    P.SAMPLE_SNAPSHOT: run_snapshot,
    P.MANAGE_SNAPSHOT: run_snapshot,
    P.SET_PARAMETER: run_set_parameter,
    P.SHOW_PARAMETER: run_show_parameter,
    P.SET_EMBEDDING: run_set_embedding,
    P.SHOW_EMBEDDING_HEALTH: run_show_health,
    P.RESTORE_TABLE: run_restore,
    P.PURGE_HISTORY: run_purge_history,
    P.BULK_LOAD: run_bulk_load,
}


def execute(session: Session, sql: str, params: Params = None, cursor: apsw.Cursor | None = None) -> Result:
    """Run one statement (SQLite or galaxlite syntax). ``cursor``: an apsw cursor of the
    session's connection to run a plain query on (the DB-API reuses its cursors).

    ``Database.execute`` is this function bound to the database's session: every line of
    the two hot paths below runs once per statement, and a call more would be most of what
    galaxlite adds to SQLite's own time.
    """
    entry = session.as_written.get(sql)
    if entry is not None:
        if type(params) is tuple:  # bindable()'s test inlined (plain values: one test each)
            for value in params:
                if type(value) not in PLAIN_TYPES:
                    params = bindable(params)
                    break
        elif params is not None:
            params = bindable(params)
        if entry is PLAIN_READ:
            if not session.has_pending:
                # The hot path of a plain query (no galaxlite syntax, plan cached): run as
                # written, on a new ``CursorResult`` (cheaper than apsw's
                # Connection.execute, and than wrapping its cursor).
                try:
                    if cursor is None:
                        result = CursorResult(session.write_paths.conn)  # (``conn``: a property)
                        result.query = sql, params
                        return run_on(result, sql, params)
                    cursor.execute(sql, params)
                except BIND_ERRORS as exc:
                    raise binding_error(exc, sql) from None
                return Result(cursor, None, (cursor.connection, sql, params))
        elif session.pinned:
            # The hot path of a one-row INSERT into a versioned table, again in the same
            # transaction (``entry``: its run, see ``Session.note_append``): run as written
            # with the triggers off, on one reused apsw cursor, its rowid noted for
            # ``Session.settle``, which versions every row appended so far before the next
            # other statement.
            paths = session.write_paths
            if paths.triggers_on:
                paths.triggers(False)
            conn = paths.conn
            try:
                paths.cursor.execute(sql, params)
            except BIND_ERRORS as exc:
                if not isinstance(exc, apsw.ThreadingViolationError):
                    failed_write(session, sql, params)  # changes() as SQLite's after it
                    raise statement_error(exc, session.plan(sql), sql) from None
                try:  # the reused cursor is running this INSERT already (a function it calls
                    conn.execute(sql, params)  # runs it again): a cursor of its own, as before
                except BIND_ERRORS as again:
                    failed_write(session, sql, params)
                    raise statement_error(again, session.plan(sql), sql) from None
            lastrowid = conn.last_insert_rowid()
            changed = conn.changes()  # (0: INSERT OR IGNORE ignored it)
            if changed:
                entry.append(lastrowid)
                session.has_pending = True
            session.last_changes = changed  # (``session.changes = changed``, without the call)
            session.total_changes += changed
            result = _APPENDED[0]
            if getrefcount(result) == _UNHELD:  # nobody holds the previous one-row INSERT's
                # result (it has no cursor, no snapshot): it serves again (saves an allocation)
                result.rowcount, result.lastrowid = changed, lastrowid
                return result
            result = _APPENDED[0] = Result(_NO_ROWS, None, None, changed, lastrowid)
            return result
    params = bindable(params)
    if session.has_pending:
        session.settle()
    if session.as_written.get(sql) is PLAIN_READ:  # a plain query after appended rows
        return execute(session, sql, params, cursor)  # were versioned
    plan = session.plan(sql)
    if plan is None:
        return Result(iter(()))
    return RUNNERS[plan.kind](session, plan, params)


_NO_ROWS = iter(())  # (always exhausted: one serves every result without rows)
_APPENDED = [Result(_NO_ROWS, None, None, 0, None)]  # the one-row INSERT result to serve again


def _references() -> int:
    """``getrefcount`` of ``_APPENDED[0]`` seen as ``execute`` sees it (same code)."""
    result = _APPENDED[0]
    return getrefcount(result)


# its count when nobody else holds it; -1 (never serve again) where a holder would not show
_UNHELD = _references()
_held = _APPENDED[0]
if _references() != _UNHELD + 1:
    _UNHELD = -1
del _held


def executemany(session: Session, sql: str, seq_of_parameters: Iterable[Params]) -> Result:
    """Run one statement once per parameter set, as one version.

    A plain ``INSERT`` into a versioned table with many parameter sets takes the bulk path
    (no per-row trigger work), with the same result.
    """
    session.settle()
    plan = session.plan(sql)
    if plan is None:
        return Result(iter(()))
    if plan.kind not in (P.WRITE, P.BULK_INSERT, P.READ, P.OTHER):
        raise E.ProgrammingError(f"executemany() cannot run a {plan.kind.replace('_', ' ')} statement")
    if plan.refs:
        raise E.NotSupportedError("executemany() with AT VERSION: use execute() per parameter set")
    if not isinstance(seq_of_parameters, Sequence):
        seq_of_parameters = list(seq_of_parameters)
    seq_of_parameters = bindable_all(seq_of_parameters)
    target = plan.detail.table if isinstance(plan.detail, P.InsertInto) else None
    conn = session.conn
    counter = ChangeCounter(conn)
    bulk = target is not None and (
        plan.kind == P.BULK_INSERT or len(seq_of_parameters) >= BULK_EXECUTEMANY_MIN
    )
    try:
        with session.writing(plan, pin=not bulk, triggers=not bulk):

            def run() -> int:  # rowcount: the sum of changes() of every execution
                counter.reset()
                with failing_write(session, plan.sql, seq_of_parameters):
                    conn.cursor().executemany(plan.sql, counter.wrap(seq_of_parameters))
                return counter.total()

            def fast_run() -> int:  # no trigger: every change counted is an inserted row
                before = conn.total_changes()
                with failing_write(session, plan.sql, seq_of_parameters):
                    conn.cursor().executemany(plan.sql, seq_of_parameters)
                counter.last = conn.changes()
                return conn.total_changes() - before

            replaces = bool(plan.conflict_clauses) or plan.detail.upsert if bulk else True
            inserted = bulk_insert(session, target, run, fast_run, replaces=replaces) if bulk else run()
            lastrowid = conn.last_insert_rowid()
    except BIND_ERRORS as exc:
        raise binding_error(exc, plan.source, plan.position) from None
    session.changes = counter.last  # changes() is the last execution's count
    session.total_changes += inserted - counter.last
    return Result(iter(()), rowcount=inserted, lastrowid=lastrowid)


@contextmanager
def failing_write(session: Session, sql: str, seq_of_parameters: Sequence[Params]) -> Iterator[None]:
    """``changes()`` after a failed ``executemany`` is SQLite's after the failed execution."""
    try:
        yield
    except apsw.Error:
        failed_write(session, sql, seq_of_parameters[0] if seq_of_parameters else None)
        raise


def executescript(session: Session, script: str) -> None:
    """Run every statement of ``script``.

    Outside a transaction, a script without its own BEGIN/COMMIT runs as one atomic
    transaction: if a statement fails, none of the script's changes remain.
    """
    try:
        plans = transpile.parse_script(script, session.dialect)
    except transpile.TranspileError as exc:
        raise E.from_transpile(exc) from None
    controls = {P.BEGIN, P.COMMIT, P.ROLLBACK, P.SAVEPOINT, P.RELEASE}
    atomic = not session.conn.in_transaction and not any(p.kind in controls for p in plans)
    if not atomic:
        for plan in plans:
            RUNNERS[plan.kind](session, plan, None).fetchall()
        return
    # a script that writes takes the write lock up front (waiting for it): one that read
    # first could not wait for it later (see galaxlite.engine.writes.claim_write_lock)
    execute(session, "BEGIN" if all(p.kind == P.READ for p in plans) else "BEGIN IMMEDIATE")
    try:
        for plan in plans:
            RUNNERS[plan.kind](session, plan, None).fetchall()
    except BaseException:
        if session.conn.in_transaction:
            execute(session, "ROLLBACK")
        raise
    if session.conn.in_transaction:
        execute(session, "COMMIT")

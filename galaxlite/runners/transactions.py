"""Runners of BEGIN / COMMIT / ROLLBACK / SAVEPOINT / RELEASE / ROLLBACK TO.

They run as written; what they add is bookkeeping of the clock's pin: a transaction's writes
share one version, pinned before its first write and unpinned just before it commits (an
outermost SAVEPOINT outside a transaction is a transaction too, ended by its RELEASE).
"""

from __future__ import annotations

import apsw

from galaxlite.engine.binding import statement_error
from galaxlite.engine.result import Result
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.runners.statements import run_read
from galaxlite.storage import clock
from galaxlite.transpile import plan as P


def run_begin(session: Session, plan: P.Plan, params: Params) -> Result:
    session.outer_savepoint = None
    return run_read(session, plan, params)


def run_commit(session: Session, plan: P.Plan, params: Params) -> Result:
    conn = session.conn
    if conn.in_transaction:
        try:
            # a transaction that only read must not ask for the write lock to commit
            if clock.is_pinned(conn):
                clock.unpin(conn)
        except apsw.Error as exc:
            raise statement_error(exc, plan, plan.sql) from None
    session.outer_savepoint = None
    session.local_settings.clear()  # SET LOCAL ends with the transaction
    return run_read(session, plan, params)


def run_rollback(session: Session, plan: P.Plan, params: Params) -> Result:
    session.outer_savepoint = None
    session.local_settings.clear()
    return run_read(session, plan, params)


def run_savepoint(session: Session, plan: P.Plan, params: Params) -> Result:
    if not session.conn.in_transaction:
        session.outer_savepoint = plan.detail.name.lower()
    return run_read(session, plan, params)


def run_release(session: Session, plan: P.Plan, params: Params) -> Result:
    conn = session.conn
    if session.outer_savepoint == plan.detail.name.lower() and conn.in_transaction:
        clock.unpin(conn)
        session.pinned = False
        session.outer_savepoint = None
    return run_read(session, plan, params)


def run_rollback_to(session: Session, plan: P.Plan, params: Params) -> Result:
    session.pinned = False  # rolling back to a savepoint may undo the pin
    session.write_epoch += 1  # ... and what was remembered since
    return run_read(session, plan, params)

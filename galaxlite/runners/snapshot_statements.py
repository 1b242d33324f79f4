"""Runners of the dataset-snapshot statements and the ``db4ai_*`` parameters."""

from __future__ import annotations

import apsw

from galaxlite import snapshots
from galaxlite.engine.binding import statement_error
from galaxlite.engine.result import Result
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.transpile import plan as P

_WORK = {
    P.CREATE_SNAPSHOT: snapshots.create,
    P.SAMPLE_SNAPSHOT: snapshots.sample,
    P.MANAGE_SNAPSHOT: snapshots.manage,
}


def run_snapshot(session: Session, plan: P.Plan, params: Params) -> Result:
    """CREATE / SAMPLE / PUBLISH / ARCHIVE / PURGE SNAPSHOT: all or nothing; the (schema,
    name) of each snapshot made or changed, like openGauss."""
    conn = session.conn
    lastrowid = conn.last_insert_rowid()  # catalog inserts must not show through
    try:
        with session.writing(pin=False):  # snapshots change no versioned table: no new version
            rows = _WORK[plan.kind](session, plan, params)
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    finally:
        conn.set_last_insert_rowid(lastrowid)
        session.schema_changed()
    return Result(iter(rows), (("schema", "TEXT"), ("name", "TEXT")))


def run_set_parameter(session: Session, plan: P.Plan, params: Params) -> Result:
    try:
        snapshots.set_parameter(session, plan)
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    return Result(iter(()))


def run_show_parameter(session: Session, plan: P.Plan, params: Params) -> Result:
    name, value = snapshots.show_parameter(session, plan)
    return Result(iter([(value,)]), ((name, "TEXT"),))

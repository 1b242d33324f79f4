"""The ``db4ai_*`` parameters: SET / RESET / SHOW, and ALTER DATABASE SET / RESET.

``db4ai_snapshot_mode`` (MSS or CSS: the storage model of the snapshots made next),
``db4ai_snapshot_version_delimiter`` and ``db4ai_snapshot_version_separator`` (the
characters of full names, "m0@1.0.0") and ``db4ai_sample_seed`` (SAMPLE's draw). SET holds
a value for this session only; ALTER DATABASE SET stores it in the file (``galaxlite_meta``)
for every session that has not SET it. A value is checked against the others in force in
each scope it applies to: a delimiter may not equal the separator of any of them. How the
values in force are read is ``galaxlite.storage.snapshot_names``.
"""

from __future__ import annotations

from collections.abc import Sequence

from galaxlite import errors as E
from galaxlite.engine.session import Session
from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.snapshot_names import (
    DEFAULTS,
    MODE,
    Settings,
    checked_value,
    error_at,
    invalid_message,
    persisted,
    settings_in_force,
    values_in_force,
)
from galaxlite.transpile import plan as P
from galaxlite.transpile.dialects import DIALECTS

DIALECT = "galaxlite.dialect"


def in_force(session: Session, plan: P.Plan | None = None, position: int | None = None,
             need: Sequence[str] = tuple(DEFAULTS)) -> Settings:
    """The parameters in force for ``session``; those the statement ``need``s checked."""
    return settings_in_force(session.conn, session.parameters(), plan, position, need)


def _parameter(plan: P.Plan) -> str:
    """The (lower-cased) name of the parameter a SET / SHOW / RESET names."""
    p: P.Parameter = plan.detail
    name = p.name.lower()
    if name != DIALECT and name not in DEFAULTS:  # (the front end refuses them first)
        raise error_at(
            E.SnapshotParameterError, f'unrecognized configuration parameter "{p.name}"', plan,
            p.position,
        )
    return name


def set_parameter(session: Session, plan: P.Plan) -> None:
    """``SET p = v`` / ``RESET p`` (this session) and ``ALTER DATABASE SET p = v`` /
    ``ALTER DATABASE RESET p`` (stored in the file, for every session that has not SET it)."""
    p: P.Parameter = plan.detail
    conn, local = session.conn, session.local_settings if p.local else session.settings
    name = _parameter(plan)
    if name == DIALECT:
        _set_dialect(session, plan)
        return
    if p.local and not conn.in_transaction:
        return  # PostgreSQL's rule: SET LOCAL outside a transaction block has no effect
    value = None
    if p.value is not None:
        stored = {**DEFAULTS, **persisted(conn)}
        scopes = [stored, {**stored, **local}] if p.persist else [{**stored, **session.parameters(), **local}]
        checked = [checked_value(name, str(p.value), s) for s in scopes]
        if any(c is None for c in checked):
            raise error_at(E.SnapshotParameterError, invalid_message(name, str(p.value)), plan,
                           p.position)
        value = checked[0]
    if not p.persist:
        if value is None:
            local.pop(name, None)
        else:
            local[name] = value
        return
    with session.writing(pin=False), catalog_writer(conn):
        if value is None:
            conn.execute("DELETE FROM galaxlite_meta WHERE key = ?", (name,))
        else:
            conn.execute(
                "INSERT INTO galaxlite_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (name, value),
            )


def _set_dialect(session: Session, plan: P.Plan) -> None:
    """``SET galaxlite.dialect = sqlite | postgres`` (``RESET``: sqlite): how this session
    reads its next statements. A session setting only: it is not stored in the file."""
    p: P.Parameter = plan.detail
    value = (p.value or "sqlite").lower()
    if p.persist or p.local:
        raise error_at(
            E.NotSupportedError,
            f"{DIALECT} is a session setting: use SET {DIALECT} = ... (not "
            f"{'ALTER DATABASE' if p.persist else 'SET LOCAL'})", plan, p.position,
        )
    if value not in DIALECTS:
        raise error_at(
            E.SnapshotParameterError,
            f'invalid value for parameter "{DIALECT}": "{p.value}" (expected one of '
            f"{', '.join(DIALECTS)})", plan, p.position,
        )
    session.set_dialect(value)


def show_parameter(session: Session, plan: P.Plan) -> tuple[str, str | None]:
    """(parameter name, value in force) for ``SHOW p``; the value is NULL for an unset seed."""
    name = _parameter(plan)
    if name == DIALECT:
        return name, session.dialect
    value = values_in_force(session.conn, session.parameters())[name]
    return name, (value.upper() if name == MODE and value is not None else value)

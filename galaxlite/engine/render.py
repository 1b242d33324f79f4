"""Rendering a plan: the SQL that runs for it.

The front end leaves holes in a plan's template where ``t AT VERSION x`` and
``name@version`` stood, and marks ``SEMANTIC_MATCH`` / ``SEMANTIC_SCORE`` calls. Rendering
resolves each AT VERSION reference to a version (a tag, a µs timestamp, or a bound
parameter) and fills its hole with a subquery of the table as it was then
(``galaxlite.storage.as_of``); a snapshot reference becomes the snapshot's rows (or, in a
definition SQLite keeps, its view); semantic calls become lookups of TEMP tables filled now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from galaxlite import errors as E
from galaxlite import storage
from galaxlite.engine.session import Session
from galaxlite.params import Params, bound_value
from galaxlite.storage import changes, clock, retention, snapshot_catalog
from galaxlite.storage.tags import tag_version
from galaxlite.transpile import history as H
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q


def render(session: Session, plan: P.Plan, params: Params) -> tuple[str, Params]:
    """The SQL to run for ``plan``: AT VERSION references resolved into subqueries,
    SEMANTIC_MATCH / SEMANTIC_SCORE calls into lookups of TEMP tables filled now."""
    if not plan.refs and not plan.semantic:
        return plan.sql, params
    versions: list[int] = []
    subqueries: list[str] = []
    views: dict[int, str] = {}  # snapshot refs (name@version) → view name
    for i, ref in enumerate(plan.refs):
        if isinstance(ref, P.SnapshotRef):
            # a statement reads the snapshot's storage; a definition that SQLite keeps
            # (CREATE VIEW / TRIGGER) names its view, so a PURGE makes it fail loudly
            views[i], rows = snapshot_catalog.view_of(session.conn, session.parameters(), plan, ref)
            versions.append(-1)
            subqueries.append(f"main.{q(views[i])}" if plan.kind == P.OTHER else f"({rows})")
            continue
        if isinstance(ref, H.ChangesRef):  # t CHANGES BETWEEN VERSION a AND VERSION b
            versions.append(-1)
            subqueries.append(changes_of(session, plan, ref, params))
            continue
        versions.append(version_of(session, plan, ref, params))
        subqueries.append(as_of(session, plan, ref, versions[-1]))
    consumed = set(plan.consumed_params)
    pieces = subqueries
    if plan.semantic:
        if views:
            plan = snapshot_catalog.with_views(plan, views)
        pieces = subqueries + session.semantic.render(plan, params, versions, subqueries)
        consumed |= session.semantic.consumed(plan)
    sql = plan.template.render(pieces)
    if plan.kind == P.READ and not plan.semantic and all(type(r) is P.VersionRef for r in plan.refs):
        key = ("rendered", id(plan), tuple(versions), session.conn.in_transaction)
        session.remembered(key, lambda: (plan, sql))  # for ``recalled_render``
    return sql, _unconsumed(params, consumed)


def _unconsumed(params: Params, consumed: set[int] | tuple[int, ...]) -> Params:
    """``params`` without the positional ones the rendering consumed (AT VERSION ?)."""
    if consumed and params is not None and not isinstance(params, Mapping):
        return [p for i, p in enumerate(params) if i not in consumed]
    return params


def recalled_render(session: Session, plan: P.Plan, params: Params) -> tuple[str, Params] | None:
    """``render``'s answer for a read from what the session remembers of a rendering made in a
    read snapshot, without reading the file (None when it is not remembered). The caller
    confirms, once its query has started, that the file is still what was remembered
    (``Memo.still_as_recalled``)."""
    versions = []
    for ref in plan.refs:
        if type(ref) is not P.VersionRef:
            return None
        tag, ts = _version_named(plan, ref, params)
        version = session.memo.recall(session.write_epoch, ("tag", tag)) if tag is not None else ts
        if version is None or version < 0 or (tag is None and version > clock.now_us()):
            return None  # (the full rendering says what is wrong with it)
        versions.append(version)
    known = session.memo.recall(session.write_epoch, ("rendered", id(plan), tuple(versions), True))
    if known is None or known[0] is not plan:
        return None
    if any(ref.version.param is not None for ref in plan.refs):
        params = _unconsumed(params, plan.consumed_params)
    return known[1], params


def param_value(plan: P.Plan, ref: P.VersionRef, params: Params) -> Any:
    """The value bound to the parameter of ``ref`` (an AT VERSION ? or a tag name ?)."""
    key = ref.version.param
    try:
        return bound_value(params, key)
    except LookupError:
        raise E.sql_error(
            E.ProgrammingError, f"no value bound for AT VERSION parameter {key!r}", plan.source, ref.position
        ) from None


def version_of(session: Session, plan: P.Plan, ref: P.VersionRef, params: Params) -> int:
    """The µs version ``ref`` names: a tag's, a timestamp, or a bound parameter's."""
    tag, ts = _version_named(plan, ref, params)
    conn = session.conn
    if tag is not None:
        version = session.remembered(("tag", tag), lambda: tag_version(conn, tag))
        if version is None:
            raise E.sql_error(E.UnknownTagError, f"unknown version tag {tag!r}", plan.source, ref.position)
        return version
    if ts < 0:
        raise E.sql_error(
            E.VersionError,
            f"AT VERSION {ts} is no version: a version is a tag name or a µs timestamp ≥ 0",
            plan.source,
            ref.position,
        )
    if ts > clock.now_us() and ts > (latest := max(clock.now_us(), clock.current(conn))):
        raise E.sql_error(
            E.FutureVersionError, f"AT VERSION {ts} is in the future (now is {latest})",
            plan.source, ref.position,
        )
    return ts


def _version_named(plan: P.Plan, ref: P.VersionRef, params: Params) -> tuple[str | None, int | None]:
    """(tag, timestamp) that ``ref`` names, one of them None (a parameter's value checked)."""
    spec = ref.version
    tag, ts = spec.tag, spec.timestamp
    if spec.param is not None:
        value = param_value(plan, ref, params)
        if isinstance(value, str):
            tag = value
        elif isinstance(value, int) and not isinstance(value, bool):
            ts = value
        else:
            raise E.sql_error(
                E.ProgrammingError,
                f"AT VERSION parameter must be a tag name (str) or a µs timestamp (int), "
                f"not {type(value).__name__}",
                plan.source,
                ref.position,
            )
    return tag, ts


def as_of(session: Session, plan: P.Plan, ref: P.VersionRef, version: int) -> str:
    """The subquery that reads ``ref``'s table as it was at ``version`` (remembered while
    the file's data stays the same: it depends on the catalogs, history and ranges only)."""
    key = _as_of_key(plan, ref, version, session.conn.in_transaction)
    return session.remembered(key, lambda: _as_of(session, plan, ref, version))


def _as_of_key(plan: P.Plan, ref: P.VersionRef, version: int, in_transaction: bool) -> tuple:
    """What ``as_of``'s subquery depends on besides the file's data. (A read outside a
    transaction is rendered inside one: ``runners.statements``.)"""
    return ("as_of", ref.schema, ref.table.lower(), version, plan.kind == P.OTHER, in_transaction)


def _as_of(session: Session, plan: P.Plan, ref: P.VersionRef, version: int) -> str:
    conn = session.conn
    if ref.schema is not None and ref.schema.lower() != "main":
        raise E.sql_error(
            E.NotSupportedError,
            f"AT VERSION reads versioned tables of the main database, not {ref.schema!r}",
            plan.source,
            ref.position,
        )
    past = storage.version_at(conn, ref.table, version)
    if past is None:
        raise E.sql_error(E.TableNotAtVersionError, _missing(session, ref, version), plan.source, ref.position)
    readable(session, plan, ref, past, version)
    now = storage.current_of(conn, past.table_id)
    if now is not None and not storage.is_intact(conn, now):
        raise E.sql_error(
            E.TableNotAtVersionError,
            f"versioned table {now.name!r} was dropped or rebuilt by a client that bypassed "
            "galaxlite (its versioning triggers are gone), so its past cannot be read "
            "faithfully: run `galaxlite check` on the file",
            plan.source, ref.position,
        )
    if plan.kind == P.OTHER:  # CREATE VIEW / TRIGGER: SQLite keeps the SQL and reruns it
        return storage.as_of_sql(past, now, version, collations=storage.collations(conn, now), durable=True)
    # Leaving out the history part is only safe when the probe and the query share one
    # read snapshot, i.e. inside a transaction (in autocommit a writer could close rows
    # in between).
    with_history = not conn.in_transaction or storage.closed_since(conn, past, version)
    # The same for inlining the bulk ranges appended since: in autocommit the query probes
    # the ranges table itself (None), in its own read snapshot.
    newer = storage.ranges_after(conn, now, version) if now is not None and conn.in_transaction else None
    return storage.as_of_sql(past, now, version, with_history, newer, storage.collations(conn, now))


def readable(session: Session, plan: P.Plan, ref: P.VersionRef, tv: storage.TableVersion, version: int) -> None:
    """Refuse to read ``tv``'s table at a version whose history was purged."""
    try:
        retention.check_readable(session.conn, tv, version)
    except E.Error as exc:
        raise E.placed(exc, plan.source, ref.position) from None


def changes_of(session: Session, plan: P.Plan, ref: H.ChangesRef, params: Params) -> str:
    """The subquery of ``ref``'s changes between its two versions."""
    conn = session.conn
    ends = [version_of(session, plan, side, params) for side in ref.sides()]
    if ref.schema is not None and ref.schema.lower() != "main":
        raise E.sql_error(E.NotSupportedError, f"CHANGES BETWEEN reads versioned tables of the "
                          f"main database, not {ref.schema!r}", plan.source, ref.position)
    try:
        sql, shown = changes.changes_sql(conn, ref.table, *ends)
        for v in ends:
            retention.check_readable(conn, shown, v)
    except E.Error as exc:
        raise E.placed(exc, plan.source, ref.position) from None
    return sql


def _missing(session: Session, ref: P.VersionRef, version: int) -> str:
    """Why table ``ref`` has no schema at ``version``."""
    conn = session.conn
    first = storage.first_version(conn, ref.table)
    if first is not None and first > version:
        return (
            f"table {ref.table!r} did not exist at version {version}: its versions start at "
            f"{first} (when it was created, or put under versioning)"
        )
    if first is not None:
        return f"table {ref.table!r} did not exist at version {version} (it had been dropped)"
    if conn.table_exists(None, ref.table):
        return (
            f"table {ref.table!r} is not versioned, so it has no past to read (ALTER TABLE "
            f"{q(ref.table)} ENABLE VERSIONING versions it from then on)"
        )
    if snapshot_catalog.find(conn, ref.table) is not None:
        return (
            f"{ref.table!r} is a dataset snapshot: snapshots never change, so they have "
            "no versions to read (leave out AT VERSION)"
        )
    return f"no such table: {ref.table}"

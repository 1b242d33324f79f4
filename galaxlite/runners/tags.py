"""Runners of ``CREATE VERSION TAG [... FOR TRAINING]`` and ``DROP VERSION TAG``.

A tag names one version: creating it advances the clock, so that every earlier write is
inside the tag and every later one (even in the same transaction) outside. FOR TRAINING also
writes every versioned table as of the tag as a Lance dataset; the files are complete before
the tag commits, and go again if the commit fails.
"""

from __future__ import annotations

from collections.abc import Callable

import apsw

from galaxlite import errors as E
from galaxlite import exports
from galaxlite.engine.binding import statement_error
from galaxlite.engine.render import param_value
from galaxlite.engine.result import Result
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.runners.exports import record
from galaxlite.storage import check, clock
from galaxlite.storage.check import unversioned_tables
from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.tags import seed_to_sql, tag_exists, versioned_tables
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier

Progress = Callable[[int, int], object]


def tag_name(plan: P.Plan, params: Params) -> str:
    """The tag name a tag statement names (a literal or a bound parameter)."""
    d: P.TagStatement = plan.detail
    if d.name is not None:
        return d.name
    value = param_value(plan, P.VersionRef(None, "", P.VersionSpec(param=d.param), plan.position), params)
    if not isinstance(value, str) or not value:
        raise E.sql_error(
            E.ProgrammingError, "a version tag name must be a non-empty string", plan.source, plan.position
        )
    return value


def run_create_tag(session: Session, plan: P.Plan, params: Params, progress: Progress | None = None) -> Result:
    """``CREATE VERSION TAG name [FOR TRAINING ...]``; ``progress(done, total)`` for exports."""
    d: P.TagStatement = plan.detail
    name = tag_name(plan, params)
    training = d.training
    if training is not None:
        _check_can_export(session, plan)
        session.clean_exports()
    conn = session.conn
    lastrowid = conn.last_insert_rowid()
    written = None
    try:
        with session.writing(pin=False), catalog_writer(conn):
            if tag_exists(conn, name):
                raise E.sql_error(
                    E.DuplicateTagError, f"version tag {name!r} already exists", plan.source, plan.position
                )
            tables = versioned_tables(conn) if training is not None else []
            if training is not None and not tables:
                raise _nothing_to_export(conn, plan)
            version = clock.advance(conn)
            session.pinned = False  # later writes, even in this transaction, come after the tag
            created = clock.now_us()
            conn.execute(
                "INSERT INTO galaxlite_tags (name, version, created_us, for_training, precision, seed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, version, created, training is not None,
                 None if training is None else training.precision,
                 None if training is None else seed_to_sql(training.seed)),
            )
            if training is not None:
                if check.outdated_catalogs(conn):
                    check.bring_catalogs_up_to_date(conn)
                written = exports.write_exports(
                    conn, session.semantic, session.exports_dir, tables, tag=name,
                    version=version, precision=training.precision, seed=training.seed,
                    progress=progress,
                )
                record(conn, written, tag=name, version=version, precision=training.precision,
                       seed=training.seed, created=created)
    except BaseException as exc:
        if written is not None:
            exports.discard(written)
        if isinstance(exc, apsw.Error):
            raise statement_error(exc, plan, plan.sql) from None
        raise
    finally:
        conn.set_last_insert_rowid(lastrowid)
    if written is not None:
        exports.finish(written)
    return Result(iter([(version,)]), (("version", "INTEGER"),), rowcount=-1)


def _nothing_to_export(conn: apsw.Connection, plan: P.Plan) -> E.Error:
    plain = unversioned_tables(conn)
    remedy = (
        f"ALTER TABLE {quote_identifier(plain[0])} ENABLE VERSIONING puts a plain table under "
        f"versioning (plain tables here: {', '.join(map(repr, plain[:5]))}"
        f"{', ...' if len(plain) > 5 else ''})"
        if plain else "CREATE TABLE makes a versioned table"
    )
    return E.sql_error(
        E.TrainingExportError,
        f"CREATE VERSION TAG ... FOR TRAINING exports the versioned tables, and there is none: "
        f"{remedy}; no tag was created",
        plan.source, plan.position,
    )


def _check_can_export(session: Session, plan: P.Plan) -> None:
    why = None
    if session.exports_dir is None:
        why = (
            "writes Lance datasets into the exports folder next to the database file, and an "
            "in-memory database has none: open a file or directory database"
        )
    elif session.conn.in_transaction:
        why = (
            "cannot run inside a transaction (the files it writes could not be rolled back "
            "with it): COMMIT or ROLLBACK first"
        )
    if why is not None:
        raise E.sql_error(
            E.NotSupportedError, f"CREATE VERSION TAG ... FOR TRAINING {why}; no tag was created",
            plan.source, plan.position,
        )


def run_drop_tag(session: Session, plan: P.Plan, params: Params) -> Result:
    d: P.TagStatement = plan.detail
    name = tag_name(plan, params)
    conn = session.conn
    try:
        with session.writing(pin=False), catalog_writer(conn):
            conn.execute("DELETE FROM galaxlite_tags WHERE name = ?", (name,))
            if not conn.changes() and not d.if_exists:
                raise E.sql_error(E.UnknownTagError, f"unknown version tag {name!r}", plan.source, plan.position)
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    return Result(iter(()))

"""``Session``: one connection to a galaxlite file and the state its statements share.

The engine's internal API. The ``Database`` facade, the DB-API module, the statement
runners, snapshots, semantic search and exports all work through a session, never through
``Database``'s insides:

* ``conn`` — the apsw connection (``InterfaceError`` once closed); opening it sets WAL,
  ``synchronous = NORMAL``, foreign keys, and creates the catalog if it is missing;
* ``plan(sql)`` — the front end's plan of a statement, cached by text; ``as_written``
  holds the texts that run exactly as written (the two hot paths of ``runners.execute``);
* ``writing(...)`` — a write scope (``galaxlite.engine.writes``): the transaction or
  savepoint a write runs in, with the clock pinned once per transaction (``pin``,
  ``pinned``); ``claim_write_lock()`` takes the write lock before a write's first read;
* ``changes`` (what SQL ``changes()`` reports), ``outer_savepoint``, ``settings`` (the
  ``db4ai_*`` parameters SET in this session), ``semantic`` (the semantic-search engine).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import apsw

from galaxlite import errors as E
from galaxlite import exports, transpile
from galaxlite.engine.connection import open_connection
from galaxlite.engine.memo import Memo
from galaxlite.engine.write_paths import WritePaths, named_conflicts
from galaxlite.engine.writes import WriteScope, claim_write_lock
from galaxlite.semantic import SemanticEngine
from galaxlite.storage import (
    TableVersion,
    bulk_append,
    check,
    checkpoint,
    clock,
    current_version,
    guards,
    set_writes,
)
from galaxlite.storage.files import RemoteExports
from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.tags import export_folders
from galaxlite.transpile import plan as P

RESERVED_PREFIXES = ("_gl_", "galaxlite_")
PLAIN_READ = "plain read"  # ``Session.as_written`` of a query that runs as written
PLAN_CACHE_SIZE = 2048


def _check_readable(conn: apsw.Connection, filename: str) -> None:
    """A file opened read-only must be a complete galaxlite file: nothing can be created."""
    if filename == ":memory:":
        raise E.NotSupportedError("a read-only database cannot be in memory (nothing could be in it)")
    missing = [t for t in ("galaxlite_tables", "galaxlite_tags", "galaxlite_clock") if not conn.table_exists("main", t)]
    if missing:
        raise E.OperationalError(
            f"cannot open {filename!r} read-only: it has no galaxlite catalog (no table "
            f"{missing[0]}); open it once read-write to make one"
        )


class Session:
    """An open galaxlite connection and its statement state (see the module docstring)."""

    def __init__(
        self, filename: str, exports_dir: Path | RemoteExports | None, *, timeout: float, foreign_keys: bool,
        embedder: str | None, read_only: bool = False,
    ):
        self.filename, self.exports_dir = filename, exports_dir
        self.read_only = read_only
        self._conn: apsw.Connection | None = None
        try:
            conn = open_connection(filename, read_only)  # statements kept off the lookaside
            self._conn = conn
            conn.set_busy_timeout(int(timeout * 1000))
            if read_only:
                _check_readable(conn, filename)
            elif filename != ":memory:" and conn.pragma("journal_mode") != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(
                f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}; PRAGMA synchronous = NORMAL"
            )
            # changes() must count the user's statement, not the clock bookkeeping after it.
            conn.create_scalar_function("changes", lambda: self.last_changes, 0)
            guards.install(conn)  # galaxlite_catalog_writer(), which the guards call
            make = guards.catalogs_to_make(conn)  # (a damaged catalog: DatabaseError)
            if make and not read_only:
                with conn, catalog_writer(conn):  # no write lock when the catalog is complete
                    guards.make_catalogs(conn, make)
                conn.set_last_insert_rowid(0)
        except apsw.Error as exc:
            self._close_quietly()
            raise E.from_apsw(exc) from None
        except E.Error:
            self._close_quietly()
            raise
        self._plans: dict[str, P.Plan | None] = {}
        # SQL texts that run as written (one probe for both hot paths): a plain query → PLAIN_READ,
        # a one-row INSERT of the open transaction → its run of rowids (``note_append``)
        self.as_written: dict[str, object] = {}
        self.outer_savepoint: str | None = None
        self.last_changes = 0  # what SQL changes() reports: rows changed by the last user write
        self.total_changes = 0  # the sum of them since the connection opened
        # True once the open transaction holds its version (see storage/clock.py): every
        # later write in it skips the pin. Reset whenever the transaction ends or may have
        # lost the pin.
        self.pinned = False
        # One-row INSERTs of an open transaction on the set-based path are versioned together
        # before the next other statement (see ``append``): ``appends`` maps the SQL text of
        # such an INSERT to its table's list of appended rowids in ``pending``.
        self.appends: dict[str, list[int]] = {}
        self.pending: dict[int, tuple[TableVersion, list[int]]] = {}
        self.has_pending = False
        conn.set_commit_hook(self._committed)
        conn.set_rollback_hook(self._transaction_ended)
        self._schema_clauses: frozenset[str] | None = None  # REPLACE/FAIL used in the schema
        self.write_paths = WritePaths(conn)  # triggers or the set-based path
        # What reading the past learnt from the file (tag versions, AT VERSION subqueries),
        # valid while the file holds the same data: see ``remembered``.
        self.write_epoch = 0
        self.memo = Memo()
        # SET db4ai_* parameters of this session (over ALTER DATABASE SET ones), and SET LOCAL
        # ones (over both, until the transaction ends)
        self.settings: dict[str, str] = {}
        self.local_settings: dict[str, str] = {}
        self.dialect = "sqlite"  # how statements are read (galaxlite.transpile.dialects)
        # SEMANTIC_MATCH / SEMANTIC_SCORE, the embedding cache, vector() and list/array bindings;
        # ``embedder``: the default embedder's name (None: a column's recorded one, else minilm)
        try:
            self.semantic = SemanticEngine(conn, embedder)
            self.semantic.install()
        except BaseException:
            self._close_quietly()
            raise
        checkpoint.close_at_exit(self)
        if not read_only:
            self._adopt_foreign_columns()
            self.clean_exports()

    @property
    def changes(self) -> int:
        """Rows changed by the last user write (what SQL ``changes()`` reports)."""
        return self.last_changes

    @changes.setter
    def changes(self, count: int) -> None:
        self.last_changes = count
        self.total_changes += count

    def _adopt_foreign_columns(self) -> None:
        """Columns another tool added to a versioned table get history from now on; files
        and tables made by an older galaxlite get today's guards and triggers."""
        conn = self.conn
        try:
            tables, old = check.columns_to_adopt(conn), check.outdated(conn)
            stale = check.catalog_outdated(conn) or check.outdated_catalogs(conn)
            if tables or old or stale or check.guards_outdated(conn):
                with self.writing(pin=bool(tables or old)), catalog_writer(conn):
                    check.bring_catalog_up_to_date(conn)
                    if check.outdated_catalogs(conn):
                        check.bring_catalogs_up_to_date(conn)
                    check.bring_up_to_date(conn, old)
                    check.adopt_columns(conn, check.columns_to_adopt(conn), clock.current(conn))
        except apsw.BusyError:
            pass  # another connection is writing: the next open adopts them
        except apsw.Error as exc:
            self.close()
            raise E.from_apsw(exc) from None

    def clean_exports(self) -> list[str]:
        """Remove what killed exports left in the exports folder, never a live export of
        another process (see ``galaxlite.exports.leftovers``); returns the names removed."""
        if self.exports_dir is None:
            return []
        try:
            return exports.clean_leftovers(self.exports_dir, lambda: export_folders(self.conn))
        except (OSError, apsw.Error):
            return []  # the next writer tries again

    # ------------------------------------------------------------------ connection

    @property
    def conn(self) -> apsw.Connection:
        conn = self._conn
        if conn is None:
            raise E.InterfaceError("the database is closed")
        return conn

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        """Close the connection. An open transaction is rolled back."""
        conn = self._conn
        if conn is None:
            return
        self.as_written.clear()  # (the hot paths take ``write_paths.conn``)
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        finally:
            conn.close()
            self._conn = None

    def _close_quietly(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ plans

    def plan(self, sql: str) -> P.Plan | None:
        """The plan of ``sql`` (None for an empty statement), from the cache when it is there."""
        plan = self._plans.get(sql)
        if plan is not None:
            return plan
        if not isinstance(sql, str):
            raise E.InterfaceError(f"SQL must be a str, not {type(sql).__name__}")
        try:
            sql.encode("utf-8")  # SQLite takes UTF-8: a lone surrogate cannot reach it
        except UnicodeEncodeError as exc:
            raise E.sql_error(
                E.ProgrammingError, "the SQL text holds a lone surrogate, which is not valid UTF-8",
                sql, exc.start,
            ) from None
        try:
            plan = transpile.parse_statement(sql, self.dialect)
        except transpile.TranspileError as exc:
            raise E.from_transpile(exc) from None
        if len(self._plans) > PLAN_CACHE_SIZE:
            self._plans.clear()
            self.as_written.clear()
            self.as_written.update(self.appends)
        self._plans[sql] = plan
        if plan is not None and plan.kind == P.READ and not plan.refs and plan.sql == sql:
            self.as_written[sql] = PLAIN_READ
        return plan

    # ------------------------------------------------------------------ writes

    def parameters(self) -> dict[str, str]:
        """The parameters this session SET, SET LOCAL ones over SET ones."""
        return {**self.settings, **self.local_settings} if self.local_settings else self.settings

    def set_dialect(self, dialect: str) -> None:
        """Read the next statements in ``dialect`` (plans of the other one are forgotten)."""
        if dialect != self.dialect:
            self.dialect = dialect
            self._plans.clear()
            self.as_written.clear()
            self._end_append_runs()  # (rows they appended are still versioned by settle)

    def _transaction_ended(self) -> bool:
        self.local_settings.clear()
        self.pinned = False
        self.write_epoch += 1  # a rollback: what was remembered inside may be gone
        self._forget_appends()
        return False

    def _committed(self) -> bool:
        if self.has_pending:
            # Never happens (every COMMIT runs through ``settle`` first), but rows without
            # their version must never be committed: the commit becomes a rollback.
            self._forget_appends()
            return True
        self.local_settings.clear()
        self.pinned = False
        self._forget_appends()
        if self.filename != ":memory:":
            checkpoint.note_commit(self.filename)
        return False  # (returning True would turn the commit into a rollback)

    def _forget_appends(self) -> None:
        self._end_append_runs()
        self.pending.clear()
        self.has_pending = False

    def _end_append_runs(self) -> None:
        """The one-row INSERTs of the hot path take the general path again."""
        for sql in self.appends:
            self.as_written.pop(sql, None)
        self.appends.clear()

    def note_append(self, sql: str, tv: TableVersion, rowid: int) -> None:
        """A one-row INSERT ``sql`` appended ``rowid`` to ``tv`` with the triggers off, in the
        open transaction: it is versioned by the next ``settle``, and the same SQL takes the
        hot path (``runners.append``) until the transaction ends or the schema changes."""
        entry = self.pending.get(tv.table_id)
        if entry is None:
            entry = self.pending[tv.table_id] = (tv, [])
        entry[1].append(rowid)
        self.appends[sql] = self.as_written[sql] = entry[1]
        self.has_pending = True

    def is_plan_of(self, plan: P.Plan) -> bool:
        """Is ``plan`` the cached plan of its own text (a statement run on its own)?"""
        return self._plans.get(plan.source) is plan

    def settle(self) -> None:
        """Version the rows appended since the last call (``note_append``): before any
        statement other than such an INSERT, so that nothing ever sees them unversioned."""
        if not self.has_pending:
            return
        self.has_pending = False
        conn = self.conn
        lastrowid = conn.last_insert_rowid()  # the user's, not the bookkeeping's
        version = clock.current(conn)
        for tv, rowids in self.pending.values():
            if rowids:
                set_writes.version_appended_rows(conn, tv, rowids, version)
                rowids.clear()
        conn.set_last_insert_rowid(lastrowid)
        self.write_epoch += 1

    def pin(self) -> None:
        """Give the open transaction its version, once."""
        if not self.pinned:
            clock.pin(self.conn)
            self.pinned = True

    def claim_write_lock(self) -> None:
        """In an open transaction that holds no lock yet, take the write lock now (waiting up
        to the busy timeout), before a write reads anything: see ``engine.writes``."""
        claim_write_lock(self.conn)

    def writing(
        self, plan: P.Plan | None = None, *, pin: bool = True, atomic: bool = True, triggers: bool = True,
        statement: bool = False,
    ) -> WriteScope:
        """``with session.writing(plan):`` a write that becomes (part of) one version.

        ``atomic=False`` for a single statement, which SQLite already makes all-or-nothing
        inside a transaction (no savepoint needed). With a ``plan``, REPLACE and
        ON CONFLICT FAIL get what they need (see ``WriteScope``). ``pin=False`` for writes
        that change no versioned table (tags, snapshots, parameters). ``triggers=False``: the
        caller switches the connection's triggers itself (``write_paths``); every other write
        runs with them on. ``statement=True``: the write is one user statement (which, under a
        FAIL conflict resolution, is not all-or-nothing in SQLite either: the set-based path,
        the only one that runs more, is refused then).
        """
        self.settle()
        if triggers and not self.write_paths.triggers_on:
            self.write_paths.triggers(True)
        self.write_epoch += 1
        claim_write_lock(self.conn)  # before schema_conflicts() reads
        conflicts = plan.conflict_clauses | self.schema_conflicts() if plan is not None else ()
        if statement and "FAIL" in conflicts:
            atomic = False  # ON CONFLICT FAIL / RAISE(FAIL) keep what the statement wrote before
        return WriteScope(
            self,
            pin=pin,
            atomic=atomic,
            keep_partial="FAIL" in conflicts and not atomic,  # BULK stays all-or-nothing
            recursive="REPLACE" in conflicts,
        )

    def reset(self) -> None:
        """Forget every plan and everything learnt from the file (after the whole file was
        replaced, by a backup into it)."""
        self._plans.clear()
        self.as_written.clear()
        self.schema_changed()

    def schema_changed(self) -> None:
        """Forget what was learnt from the schema (after DDL)."""
        self._schema_clauses = None
        self.settle()
        self._end_append_runs()
        self.write_paths.forget()
        self.write_epoch += 1

    def schema_conflicts(self) -> frozenset[str]:
        """Conflict resolutions (REPLACE, FAIL) named by table constraints or user triggers."""
        if self._schema_clauses is None:
            self._schema_clauses = named_conflicts(self.conn)
        return self._schema_clauses

    def bulk(
        self,
        table: P.TableName,
        version: int,
        run: Callable[[], int],
        fast_run: Callable[[], int] | None = None,
    ) -> int:
        """Run an insert on the trigger-free path when the table allows it, else through
        triggers (``run``). ``fast_run``, if given, is how to run it without the insert
        trigger (its count may include changes other than inserted rows: then the fast path
        is refused, and the triggers give the same result)."""
        conn = self.conn
        tv = current_version(conn, table.name) if not table.is_temp else None
        if tv is not None:
            inserted = [0]

            def counted() -> int:
                inserted[0] = (fast_run or run)()
                return inserted[0]

            if bulk_append(conn, tv, version, counted):
                return inserted[0]
        return run()

    def remembered(self, key: object, compute: Callable[[], object]) -> object:
        """``compute()``, remembered under ``key`` until the file's data changes
        (``galaxlite.engine.memo``)."""
        return self.memo.remembered(self.conn, self.write_epoch, key, compute)

    def check_not_internal(self, plan: P.Plan, name: str) -> None:
        """Refuse a user statement that would create or change a galaxlite internal table."""
        if name.lower().startswith(RESERVED_PREFIXES):
            raise E.sql_error(
                E.ProgrammingError,
                f"{name!r} is a galaxlite internal table (names starting with _gl_ or galaxlite_ "
                "are reserved)",
                plan.source,
                plan.position,
            )

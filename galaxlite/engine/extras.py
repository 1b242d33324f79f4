"""SQLite's own extension points on a galaxlite ``Database``, as ``sqlite3`` offers them.

User functions, aggregates, window functions and collations (their exceptions become
``OperationalError`` naming the function, their numpy results plain numbers), progress
handlers, ``interrupt()`` (from any thread), ``total_changes`` (rows changed by the user's
statements, not by galaxlite's bookkeeping), ``iterdump()`` (the SQL text of the whole
file), ``backup_to`` (a page-by-page copy into another open database) and ``plain_sql``
(the SQLite text galaxlite runs for a query, which any SQLite client can run on the file:
how a tool that only speaks SQLite reads a table as of a tag). ``Database`` inherits them
from ``SQLiteExtras``; the DB-API connection hands them on.

galaxlite's own SQL functions (``changes``, ``vector``, ``vector_text``, ``galaxlite_*``)
and the collations its catalog queries use (``BINARY``, ``NOCASE``, ``RTRIM``) cannot be
replaced: that would change what galaxlite's triggers and catalog queries compute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import apsw

from galaxlite import errors as E
from galaxlite.engine.binding import bindable, bindable_value
from galaxlite.engine.render import render
from galaxlite.engine.session import RESERVED_PREFIXES, Session
from galaxlite.params import Params
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q

RESERVED_FUNCTIONS = frozenset({"changes", "vector", "vector_text", "semantic_match", "semantic_score"})
RESERVED_COLLATIONS = frozenset({"binary", "nocase", "rtrim"})
PROGRESS_ID = "galaxlite.user"  # the id of the handler set_progress_handler() sets


def _check_name(name: Any, what: str, reserved: frozenset[str]) -> str:
    if not isinstance(name, str) or not name:
        raise E.ProgrammingError(f"the {what} name must be a non-empty str, not {name!r}")
    low = name.lower()
    if low in reserved or low.startswith(RESERVED_PREFIXES):
        raise E.ProgrammingError(
            f"{what} {name!r} is galaxlite's own and cannot be replaced (choose another name)"
        )
    return name


def _check_narg(narg: Any) -> int:
    if isinstance(narg, bool) or not isinstance(narg, int) or not -1 <= narg <= 127:
        raise E.ProgrammingError(f"narg must be an integer from -1 (any) to 127, not {narg!r}")
    return narg


def _guarded(name: str, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its exceptions as ``OperationalError`` naming the function (as sqlite3's
    "user-defined function raised exception") and numpy results as plain numbers."""

    def call(*args: Any) -> Any:
        try:
            return bindable_value(fn(*args))
        except E.Error:
            raise
        except Exception as exc:
            raise E.OperationalError(
                f"user-defined {part} {name!r} raised an exception: {type(exc).__name__}: {exc}"
            ) from exc

    return call


def _aggregate_factory(name: str, cls: type, window: bool) -> Callable[[], tuple]:
    """apsw's factory form (context, step, final[, value, inverse]) for a ``sqlite3``-style
    aggregate class: ``step(*args)``, ``finalize()`` (and ``value()``, ``inverse(*args)``)."""

    def factory() -> tuple:
        instance = _guarded(name, "aggregate's __init__", cls)()
        methods = ("step", "finalize", "value", "inverse") if window else ("step", "finalize")
        bound = []
        for method in methods:
            fn = getattr(instance, method, None)
            if fn is None:
                raise E.ProgrammingError(f"aggregate class of {name!r} has no {method}() method")
            guarded = _guarded(name, f"aggregate's {method}()", fn)
            bound.append(lambda _ctx, *args, g=guarded: g(*args))
        return (None, *bound)

    return factory


class SQLiteExtras:
    """The ``sqlite3``-style extension points of a ``Database`` (see the module docstring)."""

    session: Session

    def create_function(
        self, name: str, narg: int, func: Callable[..., Any] | None, *, deterministic: bool = False
    ) -> None:
        """Make ``func`` the SQL function ``name`` of ``narg`` arguments (-1: any number);
        ``func=None`` removes it. ``deterministic=True`` lets SQLite use it in indexes.

        >>> from galaxlite import Database
        >>> db = Database(":memory:")
        >>> db.create_function("double", 1, lambda x: 2 * x, deterministic=True)
        >>> db.query("SELECT double(21)")
        [(42,)]
        """
        _check_name(name, "function", RESERVED_FUNCTIONS)
        narg = _check_narg(narg)
        conn = self.session.conn
        if func is None:
            conn.create_scalar_function(name, None, narg)
            return
        if not callable(func):
            raise E.ProgrammingError("func must be callable (or None to remove the function)")
        conn.create_scalar_function(
            name, _guarded(name, "function", func), narg, deterministic=bool(deterministic)
        )

    def create_aggregate(self, name: str, narg: int, aggregate_class: type | None) -> None:
        """Make ``aggregate_class`` (made once per group, with ``step(*args)`` and
        ``finalize()``) the SQL aggregate ``name``; None removes it."""
        _check_name(name, "function", RESERVED_FUNCTIONS)
        narg = _check_narg(narg)
        factory = None if aggregate_class is None else _aggregate_factory(name, aggregate_class, False)
        self.session.conn.create_aggregate_function(name, factory, narg)

    def create_window_function(self, name: str, narg: int, aggregate_class: type | None) -> None:
        """Make ``aggregate_class`` (``step``, ``value``, ``inverse``, ``finalize``) the
        aggregate window function ``name``; None removes it."""
        _check_name(name, "function", RESERVED_FUNCTIONS)
        narg = _check_narg(narg)
        factory = None if aggregate_class is None else _aggregate_factory(name, aggregate_class, True)
        self.session.conn.create_window_function(name, factory, narg)

    def create_collation(self, name: str, func: Callable[[str, str], int] | None) -> None:
        """Make ``func(a, b)`` (negative, 0 or positive) the collation ``name``; None removes it."""
        _check_name(name, "collation", RESERVED_COLLATIONS)
        if func is not None and not callable(func):
            raise E.ProgrammingError("the collation must be callable (or None to remove it)")
        self.session.conn.create_collation(
            name, None if func is None else _guarded(name, "collation", func)
        )

    def set_progress_handler(self, handler: Callable[[], Any] | None, n: int) -> None:
        """Call ``handler()`` every ``n`` SQLite virtual-machine steps; a true result aborts
        the statement (``OperationalError: interrupted``, the transaction's changes of that
        statement undone). ``None`` removes it."""
        conn = self.session.conn
        if handler is None:
            conn.set_progress_handler(None, id=PROGRESS_ID)
            return
        if not callable(handler):
            raise E.ProgrammingError("the progress handler must be callable (or None)")
        conn.set_progress_handler(lambda: bool(handler()), max(int(n), 1), id=PROGRESS_ID)

    def interrupt(self) -> None:
        """Abort the statement running on this database at its next step (from any thread):
        it raises ``OperationalError: interrupted``."""
        self.session.conn.interrupt()

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted by this connection's statements since it opened
        (galaxlite's own bookkeeping, history and triggers not counted)."""
        return self.session.total_changes

    def plain_sql(self, sql: str, parameters: Params = None) -> str:
        """The plain SQLite query galaxlite runs for query ``sql`` (``AT VERSION`` and
        ``name@version`` resolved, now, into subqueries of the file's history tables): any
        SQLite client can run it on the file, with the same rows as ``sql`` (it keeps the
        ``?`` of parameters that are not versions).

        >>> from galaxlite import Database
        >>> db = Database(":memory:")
        >>> _ = db.execute("CREATE TABLE t (x)")
        >>> v1 = db.create_tag("v1")
        >>> db.plain_sql("SELECT x FROM t")
        'SELECT x FROM t'
        >>> "_gl_h" in db.plain_sql("SELECT x FROM t AT VERSION 'v1'")
        True
        """
        session = self.session
        plan = session.plan(sql)
        if plan is None or plan.kind != P.READ:
            raise E.NotSupportedError("plain_sql() renders one query (SELECT, VALUES, WITH ...)")
        if plan.semantic:
            raise E.NotSupportedError(
                "plain_sql(): SEMANTIC_MATCH / SEMANTIC_SCORE read TEMP tables that only the "
                "galaxlite connection running the query has"
            )
        text, _ = render(session, plan, bindable(parameters))
        return text

    def iterdump(self) -> Iterator[str]:
        """The SQL text of the whole file, one statement at a time, as ``sqlite3``'s
        ``iterdump()``: every table (galaxlite's history and catalogs included) with its
        rows, then indexes, triggers and views. Feed it to a plain SQLite client on an empty
        file (``sqlite3 copy.db < dump.sql``) to get the same galaxlite database back. It
        reads one snapshot of the file (a read transaction, ended when the dump is)."""
        conn = self.session.conn
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")
        try:
            yield from _dump(conn)
        finally:
            if own and conn.in_transaction:
                conn.execute("COMMIT")

    def backup_to(
        self,
        target: SQLiteExtras,
        *,
        pages: int = -1,
        progress: Callable[[int, int, int], object] | None = None,
    ) -> None:
        """Copy this database, page by page (``pages`` at a time, -1: all at once), into the
        open database ``target``, replacing what it held; ``progress(status, remaining,
        total)`` is called after each step, as in ``sqlite3``. The training exports stay
        where they are (``Database.backup(path)`` copies them too)."""
        if not isinstance(target, SQLiteExtras):
            raise E.NotSupportedError(
                "backup() copies into another galaxlite database or connection; a sqlite3 "
                "connection in this process cannot share the file safely: use "
                "Database.backup(path) to write a copy to a file"
            )
        if target is self or target.session is self.session:
            raise E.ProgrammingError("target cannot be the same connection instance")
        if target.session.read_only:
            raise E.OperationalError("target is read-only")
        if target.session.conn.in_transaction:
            raise E.OperationalError("target is in transaction")
        step = pages if isinstance(pages, int) and pages > 0 else -1
        try:
            with target.session.conn.backup("main", self.session.conn, "main") as job:
                while not job.done:
                    job.step(step)
                    if progress is not None:
                        status = apsw.SQLITE_DONE if job.done else apsw.SQLITE_OK
                        progress(status, job.remaining, job.page_count)
        except apsw.Error as exc:
            raise E.from_apsw(exc) from None
        finally:
            target.session.reset()


def _dump(conn: apsw.Connection) -> Iterator[str]:
    """The statements of ``iterdump`` (the order of Python's ``sqlite3``)."""
    yield "BEGIN TRANSACTION;"
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_schema WHERE sql NOT NULL AND type = 'table' ORDER BY name"
    ).fetchall()
    sequences: list[str] = []
    for name, sql in tables:
        if name == "sqlite_sequence":
            sequences = [
                f"INSERT INTO \"sqlite_sequence\" VALUES({_literal(n)},{seq});"
                for n, seq in conn.execute("SELECT name, seq FROM sqlite_sequence")
            ]
            continue
        if name.startswith("sqlite_stat"):
            yield "ANALYZE sqlite_schema;"
            continue
        if name.startswith("sqlite_"):
            continue
        if sql.upper().startswith("CREATE VIRTUAL TABLE"):
            yield (
                "PRAGMA writable_schema=ON;\nINSERT INTO sqlite_schema(type,name,tbl_name,"
                f"rootpage,sql) VALUES('table',{_literal(name)},{_literal(name)},0,{_literal(sql)});"
            )
            continue
        yield f"{sql};"
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({q(name)})")]
        values = "||','||".join(f"quote({q(c)})" for c in columns)
        head = _literal(f"INSERT INTO {q(name)} VALUES(")
        for (line,) in conn.execute(f"SELECT {head}||{values}||')' FROM {q(name)}"):
            yield f"{line};"
    if sequences:
        yield 'DELETE FROM "sqlite_sequence";'
        yield from sequences
    for (sql,) in conn.execute(
        "SELECT sql FROM sqlite_schema WHERE sql NOT NULL AND type IN ('index', 'trigger', 'view')"
    ):
        yield f"{sql};"
    if any(sql.upper().startswith("CREATE VIRTUAL TABLE") for _, sql in tables):
        yield "PRAGMA writable_schema=OFF;"
    yield "COMMIT;"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"

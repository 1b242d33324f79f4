"""The guards of galaxlite's own tables, and how galaxlite's own statements get past them.

Every catalog (``schema/catalog.sql``, ``schema/snapshots.sql``) and the history / ranges
tables of versioned tables refuse other clients' writes with triggers that call
``galaxlite_catalog_writer()``: an SQL function that only galaxlite connections define
(``install``, at open). Outside galaxlite it does not exist, so another client's write to a
guarded table fails when SQLite prepares it ("no such function: galaxlite_catalog_writer"),
before it changes anything; the versioning triggers that plain clients' ordinary writes
fire never call it. On a galaxlite connection it returns 1 only inside ``catalog_writer``,
so a user's statement (or a user's trigger) run by galaxlite is refused too.

``catalog_writer(conn)`` is *the* way galaxlite's code opens the guards, for everything it
writes itself: catalog rows (tags, table versions, export records, snapshots, parameters,
the embedding cache), pinning the clock, bulk ranges, and deleting or rewriting history
and ranges rows (retention: ``with catalog_writer(conn): conn.execute("DELETE FROM
_gl_h1 WHERE ...")``). Nested scopes are fine; it holds no lock and writes nothing.

Opening a file (``catalogs_to_make``) makes the catalogs of a new file. A catalog another
program dropped, renamed or changed is not silently made again empty: the file does not
open, with an error naming the catalog (made again: the embedding cache, the clock, put back
at the latest version the file records, and a catalog nothing in the file refers to, which
files of an early galaxlite lack). Guards dropped or changed by another program are not made
again at open either: ``galaxlite check`` names them, ``--repair`` makes them again. Files
whose guards an older galaxlite made (``GUARDS_LEVEL``) get today's at open.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import apsw

from galaxlite import errors as E
from galaxlite import schema
from galaxlite.storage import declarations, table_versions
from galaxlite.transpile import quote_identifier as q

WRITER_FUNCTION = "galaxlite_catalog_writer"
# The guards' generation, recorded in galaxlite_meta: files of a lower (or no) level were
# made by an older galaxlite (level 0-1: guards that trusted a galaxlite_meta marker row any
# client could insert; 2: history and companion guards that let through values a real
# write would use, no stash guards; 3: history guards that did not look for an overlap in
# rowid tables without an INTEGER PRIMARY KEY, nor, in those with one, for a row whose key
# is not its rowid) and are brought up to date when a writer opens them.
GUARDS_LEVEL = 4
LEVEL_KEY = "galaxlite_guards"
_LEGACY_MARKERS = ("galaxlite_catalog_writer", "db4ai_snapshot_writer")

_depth: weakref.WeakKeyDictionary[apsw.Connection, list[int]] = weakref.WeakKeyDictionary()


def install(conn: apsw.Connection) -> None:
    """Define ``galaxlite_catalog_writer()`` on ``conn`` (innocuous: usable in triggers
    with ``PRAGMA trusted_schema = OFF``; not deterministic: its value changes)."""
    depth = [0]
    _depth[conn] = depth
    conn.create_scalar_function(WRITER_FUNCTION, lambda: 1 if depth[0] else 0, 0, flags=apsw.SQLITE_INNOCUOUS)


@contextmanager
def catalog_writer(conn: apsw.Connection) -> Iterator[None]:
    """Open the guards for galaxlite's own writes inside (see the module docstring)."""
    depth = _depth.get(conn)
    if depth is None:
        install(conn)
        depth = _depth[conn]
    depth[0] += 1
    try:
        yield
    finally:
        depth[0] -= 1


# ---------------------------------------------------------------------- the catalog's SQL


@cache
def catalog_statements() -> tuple[tuple[str, str, str, str], ...]:
    """(kind, name, table, SQL) of each statement of the catalog's SQL, in order: kind is
    table, index, trigger or insert; table the one it is on (SQL without IF NOT EXISTS)."""
    out = []
    buffer = ""
    for line in schema.catalog_sql().splitlines(keepends=True):
        if not buffer and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buffer += line
        if not apsw.complete(buffer):
            continue
        sql = re.sub(r"\bIF NOT EXISTS ", "", buffer.strip().rstrip(";"), count=1)
        buffer = ""
        if m := re.match(r"CREATE TABLE (\w+)", sql):
            out.append(("table", m.group(1), m.group(1), sql))
        elif m := re.match(r"CREATE (?:UNIQUE )?INDEX (\w+) ON (\w+)", sql):
            out.append(("index", m.group(1), m.group(2), sql))
        elif m := re.match(r"CREATE TRIGGER (\w+) .*? ON (\w+)", sql, re.S):
            out.append(("trigger", m.group(1), m.group(2), sql))
        elif m := re.match(r"INSERT INTO (\w+)", sql):
            out.append(("insert", m.group(1), m.group(1), sql))
        else:  # pragma: no cover - catalog.sql holds only the statements above
            raise ValueError(sql)
    return tuple(out)


CATALOGS = tuple(name for kind, name, _, _ in catalog_statements() if kind == "table")
CATALOG_GUARDS = tuple(name for kind, name, _, _ in catalog_statements() if kind == "trigger")
# Catalogs made again (empty) when missing: their loss loses nothing (a cache; the clock,
# whose next version is then the wall clock's, later than any earlier one).
_REMADE_WHEN_MISSING = ("galaxlite_embeddings", "galaxlite_clock")
_WHAT_IS_LOST = {
    "galaxlite_meta": "the parameters set with ALTER DATABASE SET",
    "galaxlite_tags": "every version tag",
    "galaxlite_tables": "which tables are versioned and where their history is",
    "galaxlite_exports": "the records of the training exports",
    "galaxlite_embedding_columns": "which embedder each column's embeddings come from",
    "galaxlite_embedding_history": "which embedding declarations exports of older tags use",
    "db4ai_snapshot": "every snapshot",
    "galaxlite_purges": "which versions PURGE HISTORY removed (their reads would be incomplete)",
}


def catalog_trigger_sql() -> dict[str, str]:
    """Name → SQL of the catalogs' guards as galaxlite makes them."""
    return {name: sql for kind, name, _, sql in catalog_statements() if kind == "trigger"}


@cache
def catalog_columns() -> dict[str, tuple[str, ...]]:
    """Each catalog's columns as galaxlite makes them."""
    conn = apsw.Connection(":memory:")
    try:
        conn.execute(";".join(sql for kind, _, _, sql in catalog_statements() if kind == "table"))
        return {t: tuple(r[1] for r in conn.execute("SELECT * FROM pragma_table_info(?)", (t,))) for t in CATALOGS}
    finally:
        conn.close()


# Catalog columns that a later galaxlite added at the end (a file made before lacks them; a
# writer opening it adds them: storage.check.bring_catalog_up_to_date / bring_catalogs_up_to_date).
ADDED_LATER = {"galaxlite_embedding_columns": {"declared"}, "galaxlite_exports": {"lance_version"}}


def catalog_damage(conn: apsw.Connection) -> list[str]:
    """What is wrong with the catalogs' tables (missing while the file holds what they
    described, without a column galaxlite uses, rows galaxlite cannot read), each naming the
    catalog; the embedding cache and the clock missing is not."""
    out = []
    present = _tables(conn)
    for table in CATALOGS:
        if table not in present:
            if table not in _REMADE_WHEN_MISSING and _referred_to(conn, table, present):
                out.append(f"catalog {table} is missing (dropped or renamed outside galaxlite): "
                           f"{_WHAT_IS_LOST[table]} can no longer be known")
            continue
        have = {r[1].lower() for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}
        gone = [c for c in catalog_columns()[table] if c.lower() not in have]
        if gone and table in ADDED_LATER and tuple(gone) == catalog_columns()[table][-len(gone):] \
                and set(gone) <= ADDED_LATER[table]:
            gone = []  # an older galaxlite's catalog: opening brings it up to date
        if gone:
            out.append(f"catalog {table} lost column(s) {', '.join(gone)} (dropped or renamed "
                       "outside galaxlite)")
        elif table == "galaxlite_tables":
            out.extend(_unreadable_table_versions(conn))
    return out


def _unreadable_table_versions(conn: apsw.Connection) -> list[str]:
    bad = []
    for row in conn.execute(f"{table_versions.SELECT_VERSION} ORDER BY table_id, valid_from"):
        try:
            tv = table_versions.version_of_row(row)
            ok = (isinstance(tv.table_id, int) and isinstance(tv.name, str) and isinstance(tv.valid_from, int)
                  and (tv.valid_to is None or isinstance(tv.valid_to, int)) and tv.key_columns
                  and all(isinstance(k, str) for k in tv.key_columns)
                  and all(len(c) == 2 and all(isinstance(x, str) for x in c) for c in tv.columns)
                  and tv.history == f"_gl_h{tv.table_id}" and tv.companion == f"_gl_c{tv.table_id}")
        except (ValueError, TypeError):
            ok = False
        if not ok:
            bad.append(repr(row[:2]))
    if not bad:
        return []
    return [f"catalog galaxlite_tables has row(s) galaxlite did not write and cannot read "
            f"(table_id, name: {', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''})"]


def clock_row_missing(conn: apsw.Connection) -> bool:
    (n,) = next(conn.execute("SELECT count(*) FROM galaxlite_clock WHERE id = 1"))
    return n == 0


def restore_clock(conn: apsw.Connection) -> None:
    """Put the clock's row back (inside ``catalog_writer``) at ``_latest_version``, so that
    versions never go back; the next one is at least the wall clock's."""
    conn.execute("INSERT INTO galaxlite_clock (id, version, pinned) VALUES (1, ?, 0)", (_latest_version(conn),))


def _latest_version(conn: apsw.Connection) -> int:
    """The latest version the file records anywhere (tags, table versions, history,
    companions, ranges, exports, embedding declarations)."""
    parts = ["SELECT max(version) FROM galaxlite_tags", "SELECT max(valid_from) FROM galaxlite_tables",
             "SELECT max(valid_to) FROM galaxlite_tables", "SELECT max(version) FROM galaxlite_exports",
             "SELECT max(max(valid_from), coalesce(max(valid_to), 0)) FROM galaxlite_embedding_history"]
    for (tid,) in conn.execute("SELECT DISTINCT table_id FROM galaxlite_tables"):
        for table, column in ((f"_gl_h{tid}", "valid_to"), (f"_gl_c{tid}", "valid_from"), (f"_gl_r{tid}", "valid_from")):
            if isinstance(tid, int) and conn.table_exists("main", table):
                parts.append(f"SELECT max({column}) FROM {table}")
    latest = 0
    for sql in parts:
        try:
            (value,) = next(conn.execute(sql))
        except apsw.Error:
            continue
        if isinstance(value, int):
            latest = max(latest, value)
    return latest


def _referred_to(conn: apsw.Connection, catalog: str, present: set[str]) -> bool:
    """Does the file hold what missing ``catalog`` described (so that making it again empty
    would lose something)? (Files of an early galaxlite lack some catalogs: those are made.)"""
    def rows(table: str, where: str = "1") -> bool:
        return table in present and bool(list(conn.execute(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1")))

    if catalog == "db4ai_snapshot":
        return any(re.fullmatch(r"_gl_[sm]\d+", t) for t in present)
    if catalog == "galaxlite_exports":
        return rows("galaxlite_tags", "for_training")
    if catalog == "galaxlite_embedding_columns":
        return rows("galaxlite_embeddings")
    if catalog == declarations.HISTORY:
        return rows("galaxlite_meta", f"key = '{declarations.MARKER}'")
    if catalog == "galaxlite_tables":
        return any(re.fullmatch(r"_gl_[hc]\d+", t) for t in present)
    if catalog == "galaxlite_tags":
        return rows("galaxlite_tables") or rows("galaxlite_exports")
    if catalog == "galaxlite_purges":
        return rows("galaxlite_meta", "key = 'history_purged'")
    return True


def catalogs_to_make(conn: apsw.Connection) -> list[str]:
    """The catalog tables to make as the file is opened: all of them for a new file, else
    else those missing that nothing in the file refers to (the embedding cache and the
    clock always). Raises ``DatabaseError`` when another
    program dropped, renamed or changed a catalog (see the module docstring)."""
    present = _tables(conn)
    missing = [t for t in CATALOGS if t not in present]
    if len(missing) == len(CATALOGS):
        return missing
    damage = catalog_damage(conn)
    if damage:
        raise E.DatabaseError(
            f"{conn.filename or 'the database'}: " + "; ".join(damage)
            + ". galaxlite does not make it again: restore the file from a backup"
        )
    if "galaxlite_clock" not in missing and clock_row_missing(conn):
        missing.append("galaxlite_clock")
    return missing


def make_catalogs(conn: apsw.Connection, tables: list[str]) -> None:
    """Create catalog ``tables`` with their indexes, guards and first rows (inside
    ``catalog_writer``); a new file is at today's ``GUARDS_LEVEL``."""
    wanted = {t.lower() for t in tables}
    new = len(wanted) == len(CATALOGS)
    if "galaxlite_clock" in wanted and "galaxlite_clock" in _tables(conn):
        wanted.discard("galaxlite_clock")  # (only its row is gone)
        restore_clock(conn)
    for _, _, table, sql in catalog_statements():
        if table.lower() in wanted:
            conn.execute(sql)
    if "galaxlite_clock" in wanted and not new:
        conn.execute("UPDATE galaxlite_clock SET version = ?", (_latest_version(conn),))
    if declarations.HISTORY in wanted:
        declarations.start(conn)
    if new:
        set_level(conn)


def _tables(conn: apsw.Connection) -> set[str]:
    return {n.lower() for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# ---------------------------------------------------------------------- guards of the file


def guard_problems(conn: apsw.Connection) -> tuple[list[str], list[str]]:
    """(missing, changed): the catalogs' guards that are not as galaxlite makes them."""
    return compare_triggers(conn, catalog_trigger_sql())


def compare_triggers(conn: apsw.Connection, expected: dict[str, str]) -> tuple[list[str], list[str]]:
    """(missing, changed) among the triggers ``expected`` (name → SQL)."""
    have = triggers(conn)
    missing = [n for n in expected if n not in have]
    changed = [n for n in expected if n in have and not same_sql(have[n], expected[n])]
    return missing, changed


def triggers(conn: apsw.Connection) -> dict[str, str]:
    """Name → SQL of the file's triggers."""
    return {n: s for n, s in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}


def same_sql(a: str, b: str) -> bool:
    """The same statement, whitespace and ``IF NOT EXISTS`` aside."""
    def norm(s: str) -> str:
        return " ".join(re.sub(r"\bIF NOT EXISTS\b", " ", s).split()).rstrip(";").strip()
    return norm(a) == norm(b)


def remake_triggers(conn: apsw.Connection, expected: dict[str, str], names: list[str]) -> None:
    """Drop (if there) and create triggers ``names`` of ``expected`` (inside ``catalog_writer``)."""
    for name in names:
        conn.execute(f"DROP TRIGGER IF EXISTS {q(name)}")
        conn.execute(expected[name])


def repair_guards(conn: apsw.Connection) -> None:
    """Make the missing or changed catalog guards again (inside ``catalog_writer``)."""
    missing, changed = guard_problems(conn)
    present = _tables(conn)
    expected = catalog_trigger_sql()
    on = {name: table for kind, name, table, _ in catalog_statements() if kind == "trigger"}
    remake_triggers(conn, expected, [n for n in missing + changed if on[n].lower() in present])


def level(conn: apsw.Connection) -> int:
    """The file's ``GUARDS_LEVEL`` (0: made by a galaxlite older than levels)."""
    for (value,) in conn.execute("SELECT value FROM galaxlite_meta WHERE key = ?", (LEVEL_KEY,)):
        return value if isinstance(value, int) else 0
    return 0


def set_level(conn: apsw.Connection) -> None:
    conn.execute("INSERT OR REPLACE INTO galaxlite_meta (key, value) VALUES (?, ?)", (LEVEL_KEY, GUARDS_LEVEL))


def upgrade_catalog_guards(conn: apsw.Connection) -> None:
    """Replace the catalogs' guards of an older galaxlite with today's (inside
    ``catalog_writer``; the caller records the level once the tables' guards are done too)."""
    expected = catalog_trigger_sql()
    remake_triggers(conn, expected, list(expected))
    conn.execute(
        f"DELETE FROM galaxlite_meta WHERE key IN ({', '.join('?' * len(_LEGACY_MARKERS))})", _LEGACY_MARKERS
    )


# ---------------------------------------------------------------------- snapshot storage

_EVENTS = ("INSERT", "UPDATE", "DELETE")


def read_only_triggers(table: str) -> dict[str, str]:
    """Name → SQL of the triggers that make snapshot storage ``table`` read-only for every
    client (snapshots are immutable); galaxlite drops them inside its own transaction while
    it writes a CSS matrix, and makes them again."""
    out = {}
    for event in _EVENTS:
        name = f"{table}_read_only_{event.lower()}"
        out[name] = (
            f"CREATE TRIGGER {q(name)} BEFORE {event} ON {q(table)} "
            f"BEGIN SELECT RAISE(ABORT, 'galaxlite: snapshot storage {table} is "
            "read-only (snapshots are immutable: CREATE SNAPSHOT ... FROM makes a new "
            "version)'); END"
        )
    return out

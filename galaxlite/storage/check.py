"""Checking a file's versioning, and repairing what can be repaired without inventing history.

Other tools write to a galaxlite file with plain SQLite: their writes are versioned by the
triggers in the file, but a tool can also drop those triggers (a DROP TABLE, or a rebuild by
create-copy-drop-rename as sqlite-utils' ``transform`` does), change a table's columns, or
damage the file. ``find_problems`` looks at every versioned table, catalog and snapshot:

* the file passes ``PRAGMA integrity_check``; the catalogs are there with their columns, and
  every catalog guard is there as galaxlite makes it (``storage.guards``);
* each versioned table exists with its history, companion and ranges tables, every trigger
  galaxlite puts on them (versioning triggers and guards) as galaxlite makes it, and the
  columns its catalog records;
* no two versions of a row overlap (a forged history row; ``check_data``), and no companion
  row is left without a current row (a plain client's REPLACE through a partial UNIQUE
  index leaves them; rows deleted while the triggers were missing leave them too: then
  their versions never reached history, which is not repairable);
* every snapshot's storage is there with its columns and its read-only triggers.

``repair`` mends what it can: missing or changed guards and triggers are made again, a
column added by another tool is adopted (it gets history from now on), stale companion rows
are removed. What it cannot mend without inventing history (a table dropped or rebuilt
outside galaxlite after rows were deleted, a column dropped or renamed outside it, forged
or lost row versions, snapshot storage) stays a problem, reported with what is wrong.
``unversioned_tables`` lists the user's plain tables (not problems: WITHOUT VERSIONING is a
choice; ``ALTER TABLE t ENABLE VERSIONING`` versions one).

Opening a file never re-makes a dropped guard: the finding stays until ``repair``. Files
made by an older galaxlite get today's guards at open (``guards_outdated``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import apsw

from galaxlite import schema
from galaxlite.storage import check_data, guards
from galaxlite.storage.table_versions import TableVersion, current_versions, table_columns
from galaxlite.storage.tables import (
    alter_table,
    history_indexes,
    install_key_index,
)
from galaxlite.storage.triggers import (
    companion_keys,
    exec_section,
    install_triggers,
    render_section,
)
from galaxlite.transpile import quote_identifier as q

_INTERNAL = ("_gl_", "galaxlite_", "sqlite_", "db4ai_")
_GUARD_SECTIONS = ("history_guards", "companion_guards", "ranges_guards")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: ``table`` (None for the file, a catalog or a snapshot), what is wrong,
    and the repair that ``repair`` would make (None: none without inventing history)."""

    table: str | None
    problem: str
    repair: str | None = None

    def __str__(self) -> str:
        where = f"table {self.table}" if self.table else "file"
        fix = f" (repairable: {self.repair})" if self.repair else " (not repairable)"
        return f"{where}: {self.problem}{fix}"


def _sections(tv: TableVersion) -> list[str]:
    return ["insert_trigger", "update_delete_triggers", "history_guards", "companion_guards"] + (
        ["ranges_guards"] if tv.rowid_table else [])


def _expected_triggers(conn: apsw.Connection, tv: TableVersion) -> dict[str, str]:
    """Trigger name → SQL of every trigger galaxlite puts on ``tv``'s tables."""
    found = {}
    for section in _sections(tv):
        found.update(_section_triggers(conn, section, tv))
    return found


def _section_triggers(conn: apsw.Connection, section: str, tv: TableVersion) -> dict[str, str]:
    """Trigger name → SQL of the triggers of versioned.sql section ``section`` for ``tv``."""
    text = render_section(conn, section, tv)
    return {m.group(1): m.group(0) for m in re.finditer(r"CREATE TRIGGER (\S+) .*?\nEND", text, re.S)}


def _user_triggers(tv: TableVersion) -> set[str]:
    return {f"{tv.prefix}_{s}" for s in ("bi", "bu", "ai", "au", "ak", "ad")}


def table_problems(conn: apsw.Connection, tv: TableVersion, triggers: dict[str, str]) -> list[Finding]:
    """What is wrong with versioned table ``tv`` (see the module docstring)."""
    name = tv.name
    if not conn.table_exists("main", name):
        return [Finding(name, "the table was dropped outside galaxlite: the rows it held then "
                              "were never copied into history")]
    out = []
    for part, table in (("history", tv.history), ("companion", tv.companion), ("stash", tv.stash)) + (
        (("ranges", tv.ranges),) if tv.rowid_table else ()
    ):
        if not conn.table_exists("main", table):
            out.append(Finding(name, f"its {part} table {table} is missing"))
    if out:
        return out
    for part, table, wanted in _internal_columns(tv):
        have = {r[1].lower() for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}
        gone = [c for c in wanted if c.lower() not in have]
        if gone:
            out.append(Finding(name, f"its {part} table {table} lost column(s) {', '.join(gone)} "
                                     "(changed outside galaxlite): its past cannot be read"))
    if out:
        return out
    actual = [c for c, _ in table_columns(conn, name)]
    recorded = [n for n, _ in tv.columns]
    if actual[: len(recorded)] != recorded:
        gone = [c for c in recorded if c not in actual]
        return [Finding(name, f"its columns changed outside galaxlite: galaxlite recorded "
                              f"{recorded}, the table has {actual}"
                              + (f" ({', '.join(gone)} gone: its past values cannot be read as of now)" if gone else ""))]
    if len(actual) > len(recorded):
        out.append(Finding(name, f"column(s) {', '.join(actual[len(recorded):])} added outside galaxlite "
                                 "have no history yet", "adopt them: history from now on"))
    expected = _expected_triggers(conn, tv)
    user = _user_triggers(tv)
    missing = [t for t in expected if t not in triggers]
    changed = [t for t in expected if t in triggers and not guards.same_sql(triggers[t], expected[t])]
    unversioned = set(missing + changed) & user
    gone = check_data.rows_gone_without_history(conn, tv)
    if unversioned and gone:
        out.append(Finding(name, f"{gone} row version(s) were removed while its versioning triggers "
                                 f"({', '.join(sorted(unversioned))}) were missing or changed (the "
                                 "table dropped and made again outside galaxlite?): they never "
                                 "reached history"))
        return out
    if missing or changed:
        what = "missing" if missing and not changed else "missing or changed"
        out.append(Finding(name, f"versioning triggers {what}: {', '.join(sorted(missing + changed))}"
                                 + (" (writes since then were not versioned)" if unversioned else ""),
                           "make them again"))
    gone = check_data.rows_gone_without_history(conn, tv, ranges=False) if gone else 0
    if gone:
        out.append(Finding(name, f"{gone} companion row(s) without a current row (left by a "
                                 "REPLACE without recursive triggers)", "remove them"))
    overlaps = check_data.overlapping_versions(conn, tv)
    if overlaps:
        out.append(Finding(name, f"{overlaps} row version(s) in {tv.history} overlap another version "
                                 "of the same row (history rows forged outside galaxlite?): what "
                                 "the past reads is not what was written"))
    return out


def _internal_columns(tv: TableVersion) -> list[tuple[str, str, list[str]]]:
    """(part, table, the columns galaxlite reads) of ``tv``'s history, companion, ranges."""
    keys, _ = companion_keys(tv)
    out = [("history", tv.history, [h for _, h in tv.columns] + ["_gl_rowid", "valid_from", "valid_to"]),
           ("companion", tv.companion, [*keys, "valid_from"])]
    if tv.rowid_table:
        out.append(("ranges", tv.ranges, ["lo", "hi", "valid_from"]))
    return out


def find_problems(conn: apsw.Connection) -> list[Finding]:
    """Every problem of the file's versioning (an empty list: all is well)."""
    out = []
    integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        out.extend(Finding(None, f"integrity_check: {line}") for line in integrity)
    damage = guards.catalog_damage(conn)
    if damage:
        return out + [Finding(None, d) for d in damage]
    missing, changed = guards.guard_problems(conn)
    if missing or changed:
        what = "missing" if not changed else "missing or changed" if missing else "changed"
        out.append(Finding(None, f"catalog guards {what}: {', '.join(missing + changed)} (other "
                                 "clients' writes to those catalogs were not refused since)",
                           "make them again"))
    triggers = guards.triggers(conn)
    for tv in current_versions(conn):
        out.extend(_checked(f"table {tv.name}", tv.name, lambda tv=tv: table_problems(conn, tv, triggers)))
    out.extend(_checked("the snapshots (catalog db4ai_snapshot)", None, lambda: [
        Finding(None, problem, fix) for problem, fix in check_data.snapshot_problems(conn)]))
    out.extend(_checked("the embedding declarations", None, lambda: [
        Finding(None, problem, fix) for problem, fix in check_data.embedding_history_problems(conn)]))
    return out


def _checked(what: str, table: str | None, find) -> list[Finding]:
    """``find()``, or the finding that it cannot be checked (data written outside galaxlite
    that galaxlite cannot read)."""
    try:
        return find()
    except (apsw.Error, ValueError, TypeError, KeyError) as exc:
        return [Finding(table, f"{what} cannot be checked: {type(exc).__name__}: {exc} (written "
                               "outside galaxlite?)")]


def unversioned_tables(conn: apsw.Connection) -> list[str]:
    """The user's plain (unversioned) tables of the main database (not views, nor virtual
    tables and their shadow tables, which no trigger can version)."""
    versioned = {tv.name.lower() for tv in current_versions(conn)}
    return [
        n for (n,) in conn.execute(
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' ORDER BY name"
        )
        if n.lower() not in versioned and not n.lower().startswith(_INTERNAL)
    ]


def repair(conn: apsw.Connection, version: int) -> None:
    """Mend every repairable problem (inside the caller's write transaction and
    ``guards.catalog_writer``; ``version`` is the transaction's version, from which adopted
    columns have history)."""
    guards.repair_guards(conn)
    check_data.repair_snapshots(conn)
    check_data.repair_embedding_history(conn, version)
    triggers = guards.triggers(conn)
    for tv in current_versions(conn):
        found = table_problems(conn, tv, triggers)
        if not found or any(f.repair is None for f in found):
            continue
        for f in found:
            if f.problem.startswith("column(s)"):
                tv = alter_table(conn, tv, "add_column", version, lambda: None)
            elif f.problem.startswith("versioning triggers"):
                remake_triggers(conn, tv)
            elif f.problem.endswith("(left by a REPLACE without recursive triggers)"):
                # (the companion's guard lets a row go once no current row has its key)
                keys, key_exprs = companion_keys(tv)
                match = " AND ".join(f"t.{e} = {q(tv.companion)}.{k}" for k, e in zip(keys, key_exprs, strict=True))
                conn.execute(
                    f"DELETE FROM {q(tv.companion)} WHERE NOT EXISTS (SELECT 1 FROM {q(tv.name)} AS t WHERE {match})"
                )


def remake_triggers(conn: apsw.Connection, tv: TableVersion) -> None:
    """Drop and make again every trigger galaxlite puts on ``tv``'s tables."""
    for name in _user_triggers(tv) | set(_expected_triggers(conn, tv)):
        conn.execute(f"DROP TRIGGER IF EXISTS {q(name)}")
    for section in _GUARD_SECTIONS:
        if section != "ranges_guards" or tv.rowid_table:
            exec_section(conn, section, tv)
    install_triggers(conn, tv)


def columns_to_adopt(conn: apsw.Connection) -> list[TableVersion]:
    """Versioned tables to which another tool added columns (ALTER TABLE ... ADD COLUMN)
    since galaxlite last recorded their schema: cheap enough to ask at every open."""
    out = []
    for tv in current_versions(conn):
        recorded = [n for n, _ in tv.columns]
        actual = [c for c, _ in table_columns(conn, tv.name)]
        if len(actual) > len(recorded) and actual[: len(recorded)] == recorded:
            out.append(tv)
    return out


def outdated(conn: apsw.Connection) -> list[TableVersion]:
    """Versioned tables made by an older galaxlite: without the stash (see versioned.sql),
    their triggers would let a plain client's REPLACE drop history; without the key index
    on history, reading one key of the past scans the versions closed since (and, without
    the rowid index, the history guard of a table without an INTEGER PRIMARY KEY)."""
    indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    return [tv for tv in current_versions(conn)
            if conn.table_exists("main", tv.name) and (
                not conn.table_exists("main", tv.stash)
                or not set(history_indexes(conn, tv)) <= indexes)]


def guards_outdated(conn: apsw.Connection) -> bool:
    """Were the file's guards made by an older galaxlite (``guards.GUARDS_LEVEL``)?"""
    return guards.level(conn) < guards.GUARDS_LEVEL


def bring_up_to_date(conn: apsw.Connection, tables: list[TableVersion]) -> None:
    """Give ``tables`` (see ``outdated``) what today's galaxlite makes, and a file whose
    guards an older galaxlite made today's guards (inside ``guards.catalog_writer``)."""
    for tv in tables:
        if not conn.table_exists("main", tv.stash):
            exec_section(conn, "stash", tv)
            exec_section(conn, "drop_triggers", tv)
            install_triggers(conn, tv)
        install_key_index(conn, tv)
    if guards_outdated(conn):
        guards.upgrade_catalog_guards(conn)
        for tv in current_versions(conn):
            _upgrade_table_guards(conn, tv)
        guards.set_level(conn)


# Triggers on a versioned table's tables that an older galaxlite did not make (guards level 3:
# the stash's guards); the others, when missing, stay missing for check to name.
_ADDED_LATER = ("_p_no_forgery", "_p_no_update")


def _upgrade_table_guards(conn: apsw.Connection, tv: TableVersion) -> None:
    """Replace the guards and versioning triggers an older galaxlite put on ``tv``'s tables
    with today's: those there are made again as galaxlite makes them now, those it did not
    make are added (inside ``guards.catalog_writer``)."""
    if not conn.table_exists("main", tv.name):
        return
    have = guards.triggers(conn)
    for section in ("insert_trigger", "update_delete_triggers", *_GUARD_SECTIONS):
        if section == "ranges_guards" and not tv.rowid_table:
            continue
        wanted = _section_triggers(conn, section, tv)
        names = [n for n in wanted if n in have or n.endswith(_ADDED_LATER)]
        if not all(conn.table_exists("main", t) for t in _section_tables(tv, section)):
            continue
        guards.remake_triggers(conn, wanted, names)


def _section_tables(tv: TableVersion, section: str) -> tuple[str, ...]:
    return {"insert_trigger": (tv.name, tv.stash), "update_delete_triggers": (tv.name,), "history_guards": (tv.history,),
            "companion_guards": (tv.companion,), "ranges_guards": (tv.ranges,)}[section]


def catalog_outdated(conn: apsw.Connection) -> bool:
    """Is the catalog one an older galaxlite made (``galaxlite_embedding_columns`` without
    its ``declared`` column)?"""
    if not conn.table_exists("main", "galaxlite_embedding_columns"):
        return False
    names = {r[1] for r in conn.execute("SELECT * FROM pragma_table_info('galaxlite_embedding_columns')")}
    return "declared" not in names


def bring_catalog_up_to_date(conn: apsw.Connection) -> None:
    """Give an older catalog (see ``catalog_outdated``) what today's galaxlite makes."""
    if catalog_outdated(conn):
        conn.execute("ALTER TABLE galaxlite_embedding_columns ADD COLUMN declared INTEGER NOT NULL DEFAULT 0")


def outdated_catalogs(conn: apsw.Connection) -> bool:
    """Does ``galaxlite_exports`` have an older galaxlite's shape (one export per tag and
    table, no Lance version)?"""
    columns = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info('galaxlite_exports')")}
    return bool(columns) and "lance_version" not in columns


def bring_catalogs_up_to_date(conn: apsw.Connection) -> None:
    """Rebuild ``galaxlite_exports`` as ``schema/catalog.sql`` makes it today, keeping its rows
    (an older export was always its dataset's first Lance version, 1); inside the caller's
    write transaction, with the catalog guards open."""
    create = re.search(r"CREATE TABLE IF NOT EXISTS galaxlite_exports \(.*?\n\);", schema.catalog_sql(), re.S)
    kept = ("tag, version, table_name, path, precision, seed, row_count, content_hash, created_us")
    conn.execute("ALTER TABLE galaxlite_exports RENAME TO _gl_old_exports")
    conn.execute(create.group(0))
    conn.execute(f"INSERT INTO galaxlite_exports ({kept}, lance_version) SELECT {kept}, 1 FROM _gl_old_exports "
                 "ORDER BY version, table_name")
    conn.execute("DROP TABLE _gl_old_exports")  # and its triggers: catalog.sql makes them again
    conn.execute(schema.catalog_sql())


def adopt_columns(conn: apsw.Connection, tables: list[TableVersion], version: int) -> None:
    """Record the added columns of ``tables`` (see ``columns_to_adopt``) from ``version`` on:
    they get history from then; the past keeps the schema it had."""
    for tv in tables:
        alter_table(conn, tv, "add_column", version, lambda: None)

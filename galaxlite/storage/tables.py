"""Versioned tables: the user's table, its history table, its companion, its triggers.

Layout (a real current table plus a history table filled by triggers, with valid_from kept
out of the user's table so that it looks exactly like a plain table; docs/storage.md has
the measurements behind it):

* ``t`` — the user's table exactly as declared: current rows only. ``SELECT *``,
  positional INSERT, UPSERT, RETURNING, constraints and foreign keys are SQLite's own.
* ``_gl_c<id>`` (companion) — ``valid_from`` of current rows, keyed by rowid (or by the
  primary key of a WITHOUT ROWID table).
* ``_gl_r<id>`` (ranges, rowid tables) — a bulk insert versions all its rows with one row
  ``(lo, hi, valid_from)``; a current row without a companion row has the valid_from of
  the latest range covering its rowid.
* ``_gl_h<id>`` (history) — closed row versions: the user's columns under stable names
  ``h0, h1, ...`` plus ``[valid_from, valid_to)``, indexed by ``valid_to``.
* AFTER INSERT/UPDATE/DELETE triggers on ``t`` maintain both, so writes from any client
  are versioned. Schema versions are rows of ``galaxlite_tables``.

How the past is read from these tables is ``galaxlite.storage.as_of``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import apsw

from galaxlite import errors as E
from galaxlite import schema
from galaxlite.transpile import quote_identifier as q

MAX_VERSION = 2**63 - 1


@dataclass(frozen=True, slots=True)
class TableVersion:
    """One schema version of a versioned table (a row of ``galaxlite_tables``)."""

    table_id: int
    name: str
    valid_from: int
    valid_to: int | None
    history: str
    companion: str
    key_columns: tuple[str, ...]  # ("rowid",) or the WITHOUT ROWID primary key
    columns: tuple[tuple[str, str], ...]  # (user column name, history column)

    @property
    def rowid_table(self) -> bool:
        return self.key_columns in (("rowid",), ("_rowid_",), ("oid",))

    @property
    def prefix(self) -> str:
        return f"_gl_t{self.table_id}"

    @property
    def stash(self) -> str:
        """The versions a plain client's insert is about to replace (see versioned.sql)."""
        return f"_gl_p{self.table_id}"

    @property
    def ranges(self) -> str:
        """Rowid ranges appended by bulk inserts, with their valid_from (rowid tables)."""
        return f"_gl_r{self.table_id}"

    def history_column(self, name: str) -> str | None:
        return next((h for n, h in self.columns if n.lower() == name.lower()), None)


_SELECT_VERSION = (
    "SELECT table_id, name, valid_from, valid_to, history, companion, key_columns, columns "
    "FROM galaxlite_tables "
)


def version_of_row(row) -> TableVersion:
    tid, name, vf, vt, hist, comp, keys, cols = row
    return TableVersion(
        tid, name, vf, vt, hist, comp, tuple(json.loads(keys)), tuple(map(tuple, json.loads(cols)))
    )


def current_version(conn: apsw.Connection, name: str) -> TableVersion | None:
    """The schema in force of versioned table ``name``; None if it is not versioned."""
    for row in conn.execute(
        _SELECT_VERSION + "WHERE name = ? COLLATE NOCASE AND valid_to IS NULL", (name,)
    ):
        return version_of_row(row)
    return None


def version_at(conn: apsw.Connection, name: str, version: int) -> TableVersion | None:
    """The schema of table ``name`` as of ``version``; None if it did not exist then."""
    for row in conn.execute(
        _SELECT_VERSION + "WHERE name = ? COLLATE NOCASE AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to > ?) ORDER BY valid_from DESC LIMIT 1",
        (name, version, version),
    ):
        return version_of_row(row)
    return None


def current_versions(conn: apsw.Connection) -> list[TableVersion]:
    """The schema in force of every versioned table the catalog lists as existing."""
    return [version_of_row(row) for row in conn.execute(_SELECT_VERSION + "WHERE valid_to IS NULL ORDER BY name")]


def current_of(conn: apsw.Connection, table_id: int) -> TableVersion | None:
    """The schema in force of the table with this id (None once it was dropped)."""
    for row in conn.execute(
        _SELECT_VERSION + "WHERE table_id = ? AND valid_to IS NULL", (table_id,)
    ):
        return version_of_row(row)
    return None


def is_intact(conn: apsw.Connection, tv: TableVersion) -> bool:
    """Does the user's table of ``tv`` still exist with its versioning triggers? (A client
    that bypassed galaxlite — a plain DROP TABLE, a rebuild by create-copy-drop-rename —
    leaves the catalog saying the table is versioned when it no longer is.)"""
    if not conn.table_exists("main", tv.name):
        return False
    (found,) = next(conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?) "
        "AND tbl_name = ? COLLATE NOCASE",
        (f"{tv.prefix}_au", f"{tv.prefix}_ad", tv.name),
    ))
    return found == 2


def first_version(conn: apsw.Connection, name: str) -> int | None:
    """When a versioned table of this name first appeared (for error messages)."""
    for (vf,) in conn.execute(
        "SELECT min(valid_from) FROM galaxlite_tables WHERE name = ? COLLATE NOCASE", (name,)
    ):
        return vf
    return None


def _record(conn: apsw.Connection, tv: TableVersion) -> None:
    # Several schema changes in one transaction share its version: only the last one counts.
    conn.execute(
        "DELETE FROM galaxlite_tables WHERE table_id = ? AND valid_from = ?",
        (tv.table_id, tv.valid_from),
    )
    conn.execute(
        "UPDATE galaxlite_tables SET valid_to = ? WHERE table_id = ? AND valid_to IS NULL",
        (tv.valid_from, tv.table_id),
    )
    conn.execute(
        "INSERT INTO galaxlite_tables (table_id, name, valid_from, valid_to, history, companion, "
        "key_columns, columns) VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
        (
            tv.table_id,
            tv.name,
            tv.valid_from,
            tv.history,
            tv.companion,
            json.dumps(list(tv.key_columns)),
            json.dumps([list(c) for c in tv.columns]),
        ),
    )


def table_columns(conn: apsw.Connection, name: str) -> list[tuple[str, int]]:
    """(name, pk position) of every column of ``name``, generated ones included."""
    return [
        (row[1], row[5])
        for row in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (name,))
        if row[6] in (0, 2, 3)
    ]


def _is_without_rowid(conn: apsw.Connection, name: str) -> bool:
    for (wr,) in conn.execute("SELECT wr FROM pragma_table_list WHERE name = ? AND schema = 'main'", (name,)):
        return bool(wr)
    return False


def rowid_alias(column_names: Sequence[str]) -> str | None:
    """The first of rowid, _rowid_, oid that no column of ``column_names`` shadows (None:
    all three are columns, and the rows cannot be addressed by rowid).

    >>> rowid_alias(["a", "ROWID"]), rowid_alias(["rowid", "_rowid_", "oid"])
    ('_rowid_', None)
    """
    taken = {c.lower() for c in column_names}
    return next((a for a in ("rowid", "_rowid_", "oid") if a not in taken), None)


def companion_keys(tv: TableVersion) -> tuple[list[str], list[str]]:
    """(companion key columns, the matching key expressions on the user's table)."""
    keys = [f"_gl_k{i}" for i in range(len(tv.key_columns))]
    key_exprs = list(tv.key_columns) if tv.rowid_table else [q(k) for k in tv.key_columns]
    return keys, key_exprs


def placeholders(tv: TableVersion, conflicts: str = "0") -> dict[str, str]:
    """The values that fill versioned.sql's templates for this table version (``conflicts``:
    ``conflict_sql``, for the insert triggers)."""
    keys, key_exprs = companion_keys(tv)
    names = [n for n, _ in tv.columns]
    c_is_old_key = " AND ".join(f"{k} = OLD.{e}" for k, e in zip(keys, key_exprs, strict=True))
    return {
        "ranges": q(tv.ranges),
        "ranges_index": q(tv.ranges + "_lo"),
        "old_valid_from": valid_from_sql(tv, "OLD.", c_is_old_key),
        "table": q(tv.name),
        "history": q(tv.history),
        "companion": q(tv.companion),
        "prefix": tv.prefix,
        "history_index": q(tv.history + "_valid_to"),
        "history_columns": ", ".join(h for _, h in tv.columns) if tv.columns else "h_none",
        "history_names": ", ".join(h for _, h in tv.columns),
        "old_values": ", ".join(f"OLD.{q(n)}" for n in names),
        "old_rowid": f"OLD.{tv.key_columns[0]}" if tv.rowid_table else "NULL",
        "new_key": ", ".join(f"NEW.{k}" for k in key_exprs),
        "c_is_old_key": c_is_old_key,
        "key_unchanged": " AND ".join(f"OLD.{e} IS NEW.{e}" for e in key_exprs),
        "key_is_old_c": " AND ".join(f"{e} = OLD.{k}" for k, e in zip(keys, key_exprs, strict=True)),
        "companion_key_defs": (
            "_gl_k0 INTEGER PRIMARY KEY"
            if tv.rowid_table
            else ", ".join(keys)
        ),
        "companion_keys": ", ".join(keys),
        "companion_pk": "" if tv.rowid_table else f", PRIMARY KEY ({', '.join(keys)})",
        "companion_options": "" if tv.rowid_table else " WITHOUT ROWID",
        **_stash_placeholders(tv, keys, key_exprs, conflicts),
    }


def _stash_placeholders(tv: TableVersion, keys: list[str], key_exprs: list[str], conflicts: str) -> dict[str, str]:
    stash = q(tv.stash)
    hist = [h for _, h in tv.columns]
    pairs = list(zip(keys, key_exprs, strict=True))
    return {
        "stash": stash,
        "stash_key_defs": "_gl_k0 INTEGER PRIMARY KEY" if tv.rowid_table else ", ".join(keys),
        "stash_value_defs": ", ".join(hist) if hist else "h_none",
        "stash_pk": "" if tv.rowid_table else f", PRIMARY KEY ({', '.join(keys)})",
        "stash_options": "" if tv.rowid_table else " WITHOUT ROWID",
        "stash_columns": ", ".join(keys + hist + ["valid_from"]),
        "o_conflicts_with_new": conflicts,
        "o_key": ", ".join(f"o.{e}" for e in key_exprs),
        "o_values": ", ".join(f"o.{q(n)}" for n, _ in tv.columns),
        "o_valid_from": valid_from_sql(
            tv, "o.", " AND ".join(f"{k} = o.{e}" for k, e in pairs)
        ),
        "s_values": ", ".join(f"s.{h}" for h in hist),
        "s_rowid": "s._gl_k0" if tv.rowid_table else "NULL",
        "s_keys": ", ".join(f"s.{k}" for k in keys),
        "s_is_new_key": " AND ".join(f"s.{k} = NEW.{e}" for k, e in pairs),
        "t_is_s_key": " AND ".join(f"t.{e} = s.{k}" for k, e in pairs),
        "stash_is_new_key": " AND ".join(f"{k} = NEW.{e}" for k, e in pairs),
        "t_is_stash_key": " AND ".join(f"t.{e} = {stash}.{k}" for k, e in pairs),
        "s_is_old_key": " AND ".join(f"{k} = OLD.{e}" for k, e in pairs),
    }


def conflict_sql(conn: apsw.Connection, tv: TableVersion) -> str:
    """SQL (on row alias ``o``, in an insert trigger) that is true for the existing rows a new
    row conflicts with: same rowid, or same values in the columns of a UNIQUE index or the
    primary key (with the index's collations). Partial and expression indexes are left out:
    a REPLACE through one of those keeps no history (docs/guarantees.md)."""
    terms = [f"o.{tv.key_columns[0]} = NEW.{tv.key_columns[0]}"] if tv.rowid_table else []
    for _, index, unique, _, partial in conn.execute("SELECT * FROM pragma_index_list(?)", (tv.name,)):
        if not unique or partial:
            continue
        cols = [(name, coll) for _, cid, name, _, coll, key in
                conn.execute("SELECT * FROM pragma_index_xinfo(?)", (index,)) if key]
        if any(name is None for name, _ in cols):
            continue
        terms.append("(" + " AND ".join(
            f"o.{q(name)} = NEW.{q(name)} COLLATE {coll}" for name, coll in cols
        ) + ")")
    return " OR ".join(terms) or "0"


def valid_from_sql(tv: TableVersion, row: str, companion_match: str) -> str:
    """SQL for the valid_from of the current row ``row`` (``OLD.`` or ``t.``): its companion
    row's, else (rowid tables) that of the latest bulk range covering its rowid."""
    own = f"(SELECT valid_from FROM {q(tv.companion)} WHERE {companion_match})"
    if not tv.rowid_table:
        return own
    rowid = f"{row}{tv.key_columns[0]}"
    return (
        f"coalesce({own}, (SELECT valid_from FROM {q(tv.ranges)} WHERE lo <= {rowid} "
        f"AND hi >= {rowid} ORDER BY valid_from DESC LIMIT 1))"
    )


def exec_section(conn: apsw.Connection, section: str, tv: TableVersion) -> None:
    conflicts = conflict_sql(conn, tv) if section == "insert_trigger" else "0"
    conn.execute(schema.render(section, **placeholders(tv, conflicts)))


def install_triggers(conn: apsw.Connection, tv: TableVersion) -> None:
    exec_section(conn, "insert_trigger", tv)
    exec_section(conn, "update_delete_triggers", tv)


def refresh_insert_triggers(conn: apsw.Connection) -> int:
    """Remake the insert triggers whose conflict test no longer matches their table's UNIQUE
    indexes (after CREATE UNIQUE INDEX / DROP INDEX); returns how many tables."""
    stored = {n: sql for n, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    changed = 0
    for tv in current_versions(conn):
        if not conn.table_exists("main", tv.name) or f"{tv.prefix}_bi" not in stored:
            continue  # damaged or older tables: galaxlite check reports them
        if f"WHERE {conflict_sql(conn, tv)};" not in stored[f"{tv.prefix}_bi"]:
            exec_section(conn, "drop_insert_trigger", tv)
            exec_section(conn, "insert_trigger", tv)
            changed += 1
    return changed


def make_versioned(conn: apsw.Connection, name: str, version: int) -> TableVersion:
    """Put existing plain table ``name`` under versioning at ``version``.

    Its current rows become row versions valid from ``version``.
    """
    cols = table_columns(conn, name)
    names = [c for c, _ in cols]
    if _is_without_rowid(conn, name):
        key = tuple(c for c, pk in sorted((c for c in cols if c[1]), key=lambda c: c[1]))
    else:
        alias = rowid_alias(names)
        if alias is None:
            raise E.NotSupportedError(
                f"table {name!r} has columns named rowid, _rowid_ and oid, so its rows cannot be "
                "addressed for versioning: declare an INTEGER PRIMARY KEY or add WITHOUT VERSIONING"
            )
        key = (alias,)
    (tid,) = next(conn.execute("SELECT coalesce(max(table_id), 0) + 1 FROM galaxlite_tables"))
    tv = TableVersion(
        table_id=tid,
        name=name,
        valid_from=version,
        valid_to=None,
        history=f"_gl_h{tid}",
        companion=f"_gl_c{tid}",
        key_columns=key,
        columns=tuple((n, f"h{i}") for i, n in enumerate(names)),
    )
    exec_section(conn, "history", tv)
    exec_section(conn, "companion", tv)
    exec_section(conn, "stash", tv)
    if tv.rowid_table:
        exec_section(conn, "ranges", tv)
    fill_companion(conn, tv, version)
    install_triggers(conn, tv)
    _record(conn, tv)
    return tv


def _key_select(tv: TableVersion) -> str:
    return ", ".join(tv.key_columns if tv.rowid_table else (q(k) for k in tv.key_columns))


def fill_companion(conn: apsw.Connection, tv: TableVersion, version: int, where: str = "") -> int:
    """Record ``version`` as valid_from of current rows that have no companion row yet."""
    conn.execute(
        f"INSERT INTO {q(tv.companion)} SELECT {_key_select(tv)}, ? FROM {q(tv.name)} {where}",
        (version,),
    )
    return conn.changes()


def close_current_rows(conn: apsw.Connection, tv: TableVersion, version: int) -> None:
    """Copy every current row into history as closed at ``version``.

    Used before a change that would lose what the past saw (DROP COLUMN, DROP TABLE).
    Rows written at ``version`` itself were never visible to any tag and are skipped.
    """
    keys, key_exprs = companion_keys(tv)
    match = " AND ".join(f"{k} = t.{e}" for k, e in zip(keys, key_exprs, strict=True))
    values = ", ".join(f"t.{q(n)}" for n, _ in tv.columns)
    rowid = f"t.{tv.key_columns[0]}" if tv.rowid_table else "NULL"
    conn.execute(
        f"INSERT INTO {q(tv.history)} ({', '.join(h for _, h in tv.columns)}, _gl_rowid, "
        f"valid_from, valid_to) SELECT * FROM (SELECT {values}, {rowid}, "
        f"{valid_from_sql(tv, 't.', match)} AS vf, ? FROM {q(tv.name)} AS t) WHERE vf < ?",
        (version, version),
    )


def restart_current_rows(conn: apsw.Connection, tv: TableVersion, version: int) -> None:
    """Make every current row's version start at ``version`` (after ``close_current_rows``)."""
    conn.execute(f"UPDATE {q(tv.companion)} SET valid_from = ?", (version,))
    if tv.rowid_table:
        rowid = tv.key_columns[0]
        conn.execute(
            f"INSERT INTO {q(tv.ranges)} SELECT min({rowid}), max({rowid}), ? FROM {q(tv.name)} "
            f"WHERE {rowid} IS NOT NULL HAVING count(*) > 0",
            (version,),
        )


def _next_schema(tv: TableVersion, version: int, **changes) -> TableVersion:
    values = {f: getattr(tv, f) for f in TableVersion.__slots__}
    values.update(valid_from=version, valid_to=None, **changes)
    return TableVersion(**values)


def alter_table(
    conn: apsw.Connection,
    tv: TableVersion,
    action: str,
    version: int,
    run_user_sql: Callable[[], None],
    old: str | None = None,
    new: str | None = None,
) -> TableVersion:
    """Run the user's ALTER TABLE and record the new schema version; the past stays readable."""
    exec_section(conn, "drop_triggers", tv)
    if action == "drop_column":
        # The dropped values of current rows must survive for older versions: close them.
        close_current_rows(conn, tv, version)
        restart_current_rows(conn, tv, version)
    run_user_sql()
    if action == "rename_table":
        nxt = _next_schema(tv, version, name=new)
    elif action == "rename_column":
        nxt = _next_schema(
            tv, version, columns=tuple((new if n.lower() == old.lower() else n, h) for n, h in tv.columns)
        )
        if not tv.rowid_table:
            nxt = _next_schema(
                nxt, version,
                key_columns=tuple(new if k.lower() == old.lower() else k for k in tv.key_columns),
            )
    elif action == "add_column":
        names = [c for c, _ in table_columns(conn, tv.name)]
        added = [n for n in names if tv.history_column(n) is None]
        used = {h for _, h in all_history_columns(conn, tv)}
        columns = list(tv.columns)
        for n in added:
            h = f"h{len(used)}"
            used.add(h)
            conn.execute(f"ALTER TABLE {q(tv.history)} ADD COLUMN {h}")
            conn.execute(f"ALTER TABLE {q(tv.stash)} ADD COLUMN {h}")
            columns.append((n, h))
        nxt = _next_schema(tv, version, columns=tuple(columns))
    elif action == "drop_column":
        nxt = _next_schema(
            tv, version, columns=tuple((n, h) for n, h in tv.columns if n.lower() != old.lower())
        )
    else:  # pragma: no cover - the front end only produces the actions above
        raise ValueError(action)
    install_triggers(conn, nxt)
    _record(conn, nxt)
    return nxt


def all_history_columns(conn: apsw.Connection, tv: TableVersion) -> list[tuple[str, str]]:
    return [
        (row[1], row[1])
        for row in conn.execute("SELECT * FROM pragma_table_info(?)", (tv.history,))
        if row[1].startswith("h")
    ]


def drop_table(conn: apsw.Connection, tv: TableVersion, version: int, run_user_sql: Callable[[], None]) -> None:
    """Drop the user's table; its rows stay readable AT VERSION before ``version``."""
    close_current_rows(conn, tv, version)
    run_user_sql()  # drops the table and its triggers
    conn.execute(f"DROP TABLE {q(tv.companion)}")
    conn.execute(f"DROP TABLE IF EXISTS {q(tv.ranges)}")
    conn.execute(f"DROP TABLE IF EXISTS {q(tv.stash)}")
    conn.execute(
        "UPDATE galaxlite_tables SET valid_to = ? WHERE table_id = ? AND valid_to IS NULL",
        (version, tv.table_id),
    )

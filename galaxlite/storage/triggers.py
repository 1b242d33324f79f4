"""The versioning triggers of a table: the placeholders that fill ``schema/versioned.sql``'s
templates, the conflict test of the insert trigger, and (re)installing them.
"""

from __future__ import annotations

import apsw

from galaxlite import schema
from galaxlite.storage.table_versions import TableVersion, current_versions
from galaxlite.transpile import quote_identifier as q


def companion_keys(tv: TableVersion) -> tuple[list[str], list[str]]:
    """(companion key columns, the matching key expressions on the user's table)."""
    keys = [f"_gl_k{i}" for i in range(len(tv.key_columns))]
    key_exprs = list(tv.key_columns) if tv.rowid_table else [q(k) for k in tv.key_columns]
    return keys, key_exprs


def placeholders(tv: TableVersion, conflicts: str = "0", rowid_column: str | None = None) -> dict[str, str]:
    """The values that fill versioned.sql's templates for this table version (``conflicts``:
    ``conflict_sql``, for the insert triggers; ``rowid_column``: ``rowid_history_column``,
    for the history guard's key probe)."""
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
        **_guard_placeholders(tv, keys, rowid_column),
        **_history_guard_placeholders(tv, keys, rowid_column),
        **_new_row_placeholders(tv, keys, key_exprs),
    }


def _guard_placeholders(tv: TableVersion, keys: list[str], rowid_column: str | None) -> dict[str, str]:
    """The companion guards' tests (versioned.sql, companion_guards)."""
    history_keys = _history_keys(tv)

    def closed(row: str) -> str:
        """Is the version of companion row ``row`` closed by this write (at NEW.valid_from)?"""
        in_history = " AND ".join(f"h.{h} = {row}.{k}" for h, k in zip(history_keys, keys, strict=True))
        return (
            f"EXISTS (SELECT 1 FROM {q(tv.history)} AS h WHERE h.valid_to = NEW.valid_from "
            f"AND h.valid_from = {row}.valid_from AND {in_history})"
        )

    bulk_row_moved = ""
    if tv.rowid_table:
        # a companion row for a row that has none: the row's bulk range version (b, the
        # latest range covering it) ends
        # now, which needs the same proof as a companion row's (closed now), or the row is
        # new: noted in the stash without a version by the insert triggers, or (a REPLACE
        # with recursive triggers) its DELETE trigger closed the version that b started
        h = q(tv.history)
        probe = f"h.{rowid_column} = NEW._gl_k0 AND " if rowid_column else ""
        bulk_row_moved = (
            f" OR (NOT EXISTS (SELECT 1 FROM {q(tv.companion)} AS c WHERE c._gl_k0 = NEW._gl_k0) "
            f"AND EXISTS (SELECT 1 FROM {q(tv.ranges)} AS b WHERE b.lo <= NEW._gl_k0 AND b.hi >= NEW._gl_k0 "
            f"AND b.valid_from < NEW.valid_from AND NOT EXISTS (SELECT 1 FROM {q(tv.ranges)} AS n "
            f"WHERE n.lo <= NEW._gl_k0 AND n.hi >= NEW._gl_k0 AND n.valid_from > b.valid_from) "
            f"AND NOT EXISTS (SELECT 1 FROM {h} AS h WHERE h.valid_to = NEW.valid_from "
            f"AND h._gl_rowid = NEW._gl_k0 AND h.valid_from = b.valid_from) "
            f"AND NOT EXISTS (SELECT 1 FROM {q(tv.stash)} AS s WHERE s._gl_k0 = NEW._gl_k0 "
            f"AND s.valid_from IS NULL) "
            f"AND NOT EXISTS (SELECT 1 FROM {h} AS h WHERE {probe}h.valid_to > b.valid_from "
            f"AND h._gl_rowid = NEW._gl_k0 AND h.valid_from = b.valid_from)))"
        )
    return {
        "c_is_new": " AND ".join(f"c.{k} = NEW.{k}" for k in keys),
        "c_key_unchanged": " AND ".join(f"OLD.{k} IS NEW.{k}" for k in keys),
        "c_closed": closed("c"),
        "old_closed": closed("OLD"),
        "bulk_row_moved": bulk_row_moved,
    }


def _history_keys(tv: TableVersion) -> list[str]:
    """The history columns that hold a row's key (rowid tables: ``_gl_rowid``)."""
    if tv.rowid_table:
        return ["_gl_rowid"]
    return [tv.history_column(k) or "NULL" for k in tv.key_columns]


def _latest_range(tv: TableVersion, rowid: str) -> str:
    """SQL: the valid_from of the latest bulk range covering ``rowid`` (NULL: none)."""
    # (max(), not ORDER BY ... LIMIT 1: no sorter per probe, a tenth of a plain REPLACE's cost)
    return f"(SELECT max(valid_from) FROM {q(tv.ranges)} WHERE lo <= {rowid} AND hi >= {rowid})"


def rowid_history_column(conn: apsw.Connection, tv: TableVersion) -> str | None:
    """The history column of rowid table ``tv``'s INTEGER PRIMARY KEY (the first column of
    its history key index), None if it has none (then history has an index on ``_gl_rowid``
    instead: ``tables.install_key_index``)."""
    if not tv.rowid_table:
        return None
    pk = [(r[1], r[2]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (tv.name,)) if r[5]]
    if len(pk) != 1 or pk[0][1].upper() != "INTEGER":
        return None
    return tv.history_column(pk[0][0])


def _history_guard_placeholders(tv: TableVersion, keys: list[str], rowid_column: str | None) -> dict[str, str]:
    """The history guard's tests (versioned.sql, history_guards): the current valid_from of
    the new history row's key, a closed version of the key it overlaps."""
    history_keys = _history_keys(tv)
    match = " AND ".join(f"{k} = NEW.{h}" for k, h in zip(keys, history_keys, strict=True))
    overlap = "h.valid_to > NEW.valid_from AND h.valid_from < NEW.valid_to"
    if not tv.rowid_table:
        probe = " AND ".join(f"h.{h} = NEW.{h}" for h in history_keys) + f" AND {overlap}"
    elif rowid_column:  # (the key index leads with it; it equals _gl_rowid)
        probe = f"h.{rowid_column} = NEW._gl_rowid AND h._gl_rowid = NEW._gl_rowid AND {overlap}"
    else:  # (no INTEGER PRIMARY KEY: the rowid index, tables.install_key_index)
        probe = f"h._gl_rowid = NEW._gl_rowid AND {overlap}"
    return {
        "h_current": valid_from_sql(tv, "NEW.", match, rowid="NEW._gl_rowid"),
        "h_key_not_rowid": f"NEW.{rowid_column} IS NOT NEW._gl_rowid" if rowid_column else "0",
        "h_overlaps_new": probe,
    }


def _new_row_placeholders(tv: TableVersion, keys: list[str], key_exprs: list[str]) -> dict[str, str]:
    """The insert triggers' note of a new row inside a bulk range, and the stash guard's
    tests (versioned.sql, insert_trigger)."""
    pairs = list(zip(keys, key_exprs, strict=True))
    match = " AND ".join(f"{k} = t.{e}" for k, e in pairs)
    out = {
        "t_is_new_stash_key": " AND ".join(f"t.{e} = NEW.{k}" for k, e in pairs),
        "new_stash_is_t": " AND ".join(f"NEW.{h} IS t.{q(n)}" for n, h in tv.columns) or "1",
        "t_valid_from": valid_from_sql(tv, "t.", match),
        "insert_in_range": "",
        "update_in_range": "",
        "note_new_row": "",
    }
    if tv.rowid_table:
        rowid = tv.key_columns[0]
        # (NEW.rowid is -1 before an insert that lets SQLite choose it: the largest + 1)
        new = f"CASE WHEN NEW.{rowid} = -1 THEN (SELECT coalesce(max({rowid}), 0) + 1 FROM {q(tv.name)}) ELSE NEW.{rowid} END"
        in_range = f"EXISTS (SELECT 1 FROM {q(tv.ranges)} WHERE lo <= {new} AND hi >= {new})"
        out["insert_in_range"] = f" OR {in_range}"
        out["update_in_range"] = f" OR (NEW.{rowid} IS NOT OLD.{rowid} AND {in_range})"
        out["note_new_row"] = (
            f"INSERT INTO {q(tv.stash)} (_gl_k0) SELECT n.k FROM (SELECT {new} AS k) AS n "
            f"WHERE NOT EXISTS (SELECT 1 FROM {q(tv.name)} WHERE {rowid} = n.k) "
            f"AND EXISTS (SELECT 1 FROM {q(tv.ranges)} WHERE lo <= n.k AND hi >= n.k);"
        )
    return out


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
        "o_is_old_key": " AND ".join(f"o.{e} IS OLD.{e}" for e in key_exprs),
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


def valid_from_sql(
    tv: TableVersion, row: str, companion_match: str, ranges: list[tuple[int, int, int]] | None = None,
    rowid: str | None = None,
) -> str:
    """SQL for the valid_from of the current row ``row`` (``OLD.`` or ``t.``): its companion
    row's, else (rowid tables) that of the latest bulk range covering its rowid.

    ``ranges``: the ranges table's rows (lo, hi, valid_from) as they are now, for a statement
    that runs at once: inlined as a CASE (a per-row probe of the ranges table costs more than
    the row copy it serves). None (triggers, definitions SQLite keeps): probe the table.
    ``rowid``: the row's rowid, if not ``row`` followed by the key column (``NEW._gl_rowid``
    for a history row).

    >>> tv = TableVersion(1, "t", 0, None, "h", "c", ("rowid",), (("a", "h0"),))
    >>> valid_from_sql(tv, "t.", "_gl_k0 = t.rowid", [(1, 9, 5), (1, 3, 7)])
    'coalesce((SELECT valid_from FROM "c" WHERE _gl_k0 = t.rowid), CASE WHEN t.rowid BETWEEN 1 AND 3 THEN 7 WHEN t.rowid BETWEEN 1 AND 9 THEN 5 END)'
    """
    own = f"(SELECT valid_from FROM {q(tv.companion)} WHERE {companion_match})"
    if not tv.rowid_table:
        return own
    rowid = rowid or f"{row}{tv.key_columns[0]}"
    if ranges is None:
        latest = _latest_range(tv, rowid)
    elif not ranges:
        return own
    else:
        latest = "CASE" + "".join(
            f" WHEN {rowid} BETWEEN {int(lo)} AND {int(hi)} THEN {int(vf)}"
            for lo, hi, vf in sorted(ranges, key=lambda r: -r[2])
        ) + " END"
    return f"coalesce({own}, {latest})"


def exec_section(conn: apsw.Connection, section: str, tv: TableVersion) -> None:
    conn.execute(render_section(conn, section, tv))


def render_section(conn: apsw.Connection, section: str, tv: TableVersion) -> str:
    """Section ``section`` of versioned.sql for ``tv``, as galaxlite makes it in this file."""
    conflicts = conflict_sql(conn, tv) if section == "insert_trigger" else "0"
    return schema.render(section, **placeholders(tv, conflicts, rowid_history_column(conn, tv)))


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

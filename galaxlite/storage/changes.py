"""The changes of a versioned table between two versions (``t CHANGES BETWEEN VERSION a AND
VERSION b``), as one subquery of plain SQL.

With ``lo, hi`` the two versions in order, a key changed between them iff one of its row
versions starts or ends in ``(lo, hi]``. Its version at ``lo`` is then a history row that
was open at ``lo`` and closed by ``hi`` (``valid_to`` index: the rows closed in the range);
its version at ``hi`` is a row version visible at ``hi`` that started after ``lo``: a
history row (``valid_to > hi``, through the same index: the rows closed since ``hi``) or a
current row whose companion ``valid_from`` (or bulk range) is in the range. Keys present on
one side only are inserts or deletes; on both sides with different values (or types),
updates (``update_before`` + ``update_after``). A key inserted and deleted in between has no
version at either end and does not appear: the net effect.

The current rows' part reads the companion, which has no index on ``valid_from`` (one
would slow every write): a scan of its narrow rows, joined to the user's table only for the
changed keys. No plan avoids it: a row inserted in the range without replacing one leaves
only its companion row (no history row, no bulk range). A bulk-loaded table's companion
holds only the rows written since by single writes; one written row by row, every row. Everything else costs the rows changed. Both sides are materialized (SQLite
3.35 or later), so each is read once.
"""

from __future__ import annotations

import apsw

from galaxlite import errors as E
from galaxlite.storage.table_versions import TableVersion, current_of, version_at
from galaxlite.storage.triggers import companion_keys
from galaxlite.transpile import quote_identifier as q

CHANGE_KINDS = ("insert", "delete", "update_before", "update_after")


def table_between(conn: apsw.Connection, name: str, a: int, b: int) -> tuple[TableVersion, TableVersion | None]:
    """(the schema whose columns the changes show: ``b``'s, else ``a``'s; the schema in force
    now, None once dropped). Errors when the table existed at neither version, or was
    dropped and re-created in between (two tables of one name)."""
    at_a, at_b = version_at(conn, name, a), version_at(conn, name, b)
    if at_a is None and at_b is None:
        raise E.TableNotAtVersionError(
            f"table {name!r} did not exist (as a versioned table) at version {a} nor at {b}"
        )
    if at_a is not None and at_b is not None and at_a.table_id != at_b.table_id:
        raise E.NotSupportedError(
            f"table {name!r} was dropped and created again between versions {min(a, b)} and "
            f"{max(a, b)}: its changes span two different tables"
        )
    shown = at_b or at_a
    return shown, current_of(conn, shown.table_id)


def tables_between(conn: apsw.Connection, a: int, b: int) -> list[str]:
    """Names of the versioned tables that existed at ``a`` or at ``b`` (by their name at
    ``b`` when they existed then)."""
    named: dict[int, str] = {}
    for v in (b, a):
        for tid, name in conn.execute(
            "SELECT table_id, name FROM galaxlite_tables WHERE valid_from <= ? "
            "AND (valid_to IS NULL OR valid_to > ?)", (v, v),
        ):
            named.setdefault(tid, name)
    return sorted(named.values(), key=str.lower)


def changes_sql(
    conn: apsw.Connection, name: str, a: int, b: int, *, keys: bool = False
) -> tuple[str, TableVersion]:
    """A subquery of the changes of table ``name`` from version ``a`` to version ``b``: the
    columns of ``b``'s schema, ``_change`` and ``_version`` (``keys``: also the row key as
    ``_gl_key0, ...``, for RESTORE). With ``a`` later than ``b``, the changes that lead back."""
    shown, now = table_between(conn, name, a, b)
    lo, hi = (int(a), int(b)) if a <= b else (int(b), int(a))
    hkeys = ["_gl_rowid"] if shown.rowid_table else [shown.history_column(k) for k in shown.key_columns]
    cols = [h for _, h in shown.columns]
    key_out = ", ".join(f"{h} AS _gl_key{i}" for i, h in enumerate(hkeys))
    val_out = ", ".join(f"{h} AS _gl_v{i}" for i, h in enumerate(cols))
    hist = q(shown.history)
    lo_side = (
        f"SELECT {key_out}, {val_out}, valid_to AS _gl_when FROM {hist} "
        f"WHERE valid_to > {lo} AND valid_to <= {hi} AND valid_from <= {lo}"
    )
    hi_parts = [
        f"SELECT {key_out}, {val_out}, valid_from AS _gl_when FROM {hist} "
        f"WHERE valid_to > {hi} AND valid_from > {lo} AND valid_from <= {hi}"
    ]
    if now is not None:
        hi_parts += _current_started(shown, now, lo, hi)
    before, after = (lo_side, " UNION ALL ".join(hi_parts))
    if a > b:
        before, after = after, before
    n = len(hkeys)
    on = " AND ".join(f"_gl_o._gl_key{i} = _gl_s._gl_key{i}" for i in range(n))
    same = " AND ".join(
        f"_gl_s._gl_v{i} IS _gl_o._gl_v{i} COLLATE BINARY AND typeof(_gl_s._gl_v{i}) = typeof(_gl_o._gl_v{i})"
        for i in range(len(cols))
    ) or "1"
    out = ", ".join(f"_gl_s._gl_v{i} AS {q(n)}" for i, (n, _) in enumerate(shown.columns))
    if keys:
        out += ", " + ", ".join(f"_gl_s._gl_key{i}" for i in range(n))
    missing = "_gl_o._gl_key0 IS NULL"

    def side(this: str, other: str, gone: str, changed: str) -> str:
        return (
            f"SELECT {out}, CASE WHEN {missing} THEN '{gone}' ELSE '{changed}' END AS _change, "
            f"_gl_s._gl_when AS _version FROM {this} AS _gl_s LEFT JOIN {other} AS _gl_o ON {on} "
            f"WHERE {missing} OR NOT ({same})"
        )

    sql = (
        f"(WITH _gl_before AS MATERIALIZED ({before}), _gl_after AS MATERIALIZED ({after}) "
        f"{side('_gl_before', '_gl_after', 'delete', 'update_before')} UNION ALL "
        f"{side('_gl_after', '_gl_before', 'insert', 'update_after')})"
    )
    return sql, shown


def _current_started(shown: TableVersion, now: TableVersion, lo: int, hi: int) -> list[str]:
    """SELECTs of the current rows whose version started in ``(lo, hi]``, shaped like the
    history side: key, values (by history column, NULL for those the table lost), start."""
    current_name = {h: n for n, h in now.columns}
    vals = ", ".join(
        f"_gl_t.{q(current_name[h])} AS _gl_v{i}" if h in current_name else f"NULL AS _gl_v{i}"
        for i, (_, h) in enumerate(shown.columns)
    )
    ckeys, key_exprs = companion_keys(now)
    on = " AND ".join(f"_gl_c.{k} = _gl_t.{e}" for k, e in zip(ckeys, key_exprs, strict=True))
    if now.rowid_table:
        key = f"_gl_t.{now.key_columns[0]} AS _gl_key0"
    else:
        key = ", ".join(f"_gl_t.{e} AS _gl_key{i}" for i, e in enumerate(key_exprs))
    table, companion = q(now.name), q(now.companion)
    parts = [
        f"SELECT {key}, {vals}, _gl_c.valid_from AS _gl_when FROM {companion} AS _gl_c "
        f"CROSS JOIN {table} AS _gl_t ON {on} WHERE _gl_c.valid_from > {lo} AND _gl_c.valid_from <= {hi}"
    ]
    if now.rowid_table:
        rowid, ranges = f"_gl_t.{now.key_columns[0]}", q(now.ranges)
        # a row without a companion row has the valid_from of the latest range covering it
        parts.append(
            f"SELECT {key}, {vals}, _gl_r.valid_from AS _gl_when FROM {ranges} AS _gl_r "
            f"CROSS JOIN {table} AS _gl_t ON {rowid} BETWEEN _gl_r.lo AND _gl_r.hi "
            f"WHERE _gl_r.valid_from > {lo} AND _gl_r.valid_from <= {hi} "
            f"AND NOT EXISTS (SELECT 1 FROM {companion} AS _gl_c WHERE _gl_c._gl_k0 = {rowid}) "
            f"AND _gl_r.rowid = (SELECT _gl_r2.rowid FROM {ranges} AS _gl_r2 WHERE _gl_r2.lo <= {rowid} "
            f"AND _gl_r2.hi >= {rowid} ORDER BY _gl_r2.valid_from DESC, _gl_r2.rowid DESC LIMIT 1)"
        )
    return parts

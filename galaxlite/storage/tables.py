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

from collections.abc import Callable

import apsw

from galaxlite import errors as E
from galaxlite.storage.table_versions import (
    TableVersion,
    record_version,
    rowid_alias,
    table_columns,
)
from galaxlite.storage.triggers import (
    companion_keys,
    exec_section,
    install_triggers,
    rowid_history_column,
    valid_from_sql,
)
from galaxlite.transpile import quote_identifier as q


def _is_without_rowid(conn: apsw.Connection, name: str) -> bool:
    for (wr,) in conn.execute("SELECT wr FROM pragma_table_list WHERE name = ? AND schema = 'main'", (name,)):
        return bool(wr)
    return False


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
                "addressed for versioning: rename one of them, declare an INTEGER PRIMARY KEY, or "
                "keep the table unversioned (WITHOUT VERSIONING)"
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
    install_key_index(conn, tv)
    exec_section(conn, "companion", tv)
    exec_section(conn, "stash", tv)
    if tv.rowid_table:
        exec_section(conn, "ranges", tv)
    fill_companion(conn, tv, version)
    install_triggers(conn, tv)
    record_version(conn, tv)
    return tv


def history_key_columns(conn: apsw.Connection, tv: TableVersion) -> list[str]:
    """The history columns of the table's declared primary key, in key order (none: no
    PRIMARY KEY declared)."""
    pk = sorted((r[5], r[1]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (tv.name,)) if r[5])
    return [h for _, n in pk if (h := tv.history_column(n)) is not None]


def key_index_name(tv: TableVersion) -> str:
    return tv.history + "_key"


def rowid_index_name(tv: TableVersion) -> str:
    return tv.history + "_rowid"


def history_indexes(conn: apsw.Connection, tv: TableVersion) -> dict[str, list[str]]:
    """Name → leading columns of the indexes on history that ``install_key_index`` makes."""
    out = {}
    if cols := history_key_columns(conn, tv):
        out[key_index_name(tv)] = cols
    if tv.rowid_table and rowid_history_column(conn, tv) is None:
        out[rowid_index_name(tv)] = ["_gl_rowid"]
    return out


def install_key_index(conn: apsw.Connection, tv: TableVersion) -> None:
    """Index history by the primary key and valid_to, so that reading one key of the past
    (``AT VERSION ... WHERE id = ?``) probes the versions of that key only; and a rowid
    table without an INTEGER PRIMARY KEY by its rowid too, which its history guard probes
    for a closed version a new one overlaps (versioned.sql, history_guards)."""
    for name, cols in history_indexes(conn, tv).items():
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(tv.history)} ({', '.join(cols)}, valid_to)"
        )


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
    record_version(conn, nxt)
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
    exec_section(conn, "dropped_history_guard", tv)
    conn.execute(
        "UPDATE galaxlite_tables SET valid_to = ? WHERE table_id = ? AND valid_to IS NULL",
        (version, tv.table_id),
    )

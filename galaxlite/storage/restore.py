"""``RESTORE TABLE t TO VERSION a``: make the current rows equal those at ``a``.

The restore is the changes from now back to ``a`` (``galaxlite.storage.changes``) applied
as ordinary writes: keys that did not exist at ``a`` are deleted, keys that changed are
updated back to their values then, keys deleted since are inserted again (with their rowid).
The versioning triggers record it like any write, so it is one new version and history
keeps everything (a restore can itself be undone). Rows unchanged since ``a`` are not
touched: the cost is the rows changed since.
"""

from __future__ import annotations

import apsw

from galaxlite import errors as E
from galaxlite.storage.changes import changes_sql
from galaxlite.storage.table_versions import TableVersion, version_at
from galaxlite.transpile import quote_identifier as q

_WORK = "temp._gl_restore"


def schema_differences(now: TableVersion, then: TableVersion | None) -> list[str]:
    """How the table's schema now differs from the one at the version (empty: the same)."""
    if then is None:
        return ["the table did not exist then"]
    if then.table_id != now.table_id:
        return ["the table was dropped and created again since"]
    out = []
    old = dict((h, n) for n, h in then.columns)
    new = dict((h, n) for n, h in now.columns)
    out += [f"column {old[h]!r} was dropped" for h in old if h not in new]
    out += [f"column {new[h]!r} was added" for h in new if h not in old]
    out += [f"column {old[h]!r} was renamed to {new[h]!r}" for h in old if h in new and old[h] != new[h]]
    if then.name != now.name:
        out.append(f"the table was renamed from {then.name!r}")
    return out


def check_schemas(conn: apsw.Connection, tables: list[TableVersion], version: int) -> None:
    """SchemaChangedError naming every difference, if any table's schema changed since."""
    found = [(tv.name, d) for tv in tables if (d := schema_differences(tv, version_at(conn, tv.name, version)))]
    if found:
        what = "; ".join(f"table {name!r}: {', '.join(d)}" for name, d in found)
        raise E.SchemaChangedError(
            f"cannot restore to version {version}: the schema changed since ({what}); restore "
            "the schema first (ALTER TABLE) or read the old rows with AT VERSION"
        )


def restore_table(conn: apsw.Connection, now: TableVersion, version: int, current: int) -> int:
    """Restore table ``now`` to ``version`` inside the caller's write transaction, whose
    version is ``current``; returns the rows written (deleted + updated + inserted)."""
    check_schemas(conn, [now], version)
    sql, _ = changes_sql(conn, now.name, current, version, keys=True)
    conn.execute(f"DROP TABLE IF EXISTS {_WORK}")
    conn.execute(f"CREATE TABLE {_WORK} AS SELECT * FROM {sql}")
    try:
        return _apply(conn, now)
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_WORK}")


def _apply(conn: apsw.Connection, tv: TableVersion) -> int:
    table = q(tv.name)
    writable = [r[1] for r in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (tv.name,)) if r[6] in (0, 1)]
    if tv.rowid_table:
        key_cols, keys = [tv.key_columns[0]], ["_gl_key0"]
    else:
        key_cols = [q(k) for k in tv.key_columns]
        keys = [f"_gl_key{i}" for i in range(len(key_cols))]
    key = f"({', '.join(key_cols)})"
    written = 0

    def rows_of(change: str) -> str:
        return f"SELECT {', '.join(keys)} FROM {_WORK} WHERE _change = '{change}'"

    conn.execute(f"DELETE FROM {table} WHERE {key} IN ({rows_of('delete')})")
    written += conn.changes()
    if writable:
        cols = ", ".join(q(c) for c in writable)
        match = " AND ".join(f"w.{k} = {table}.{c}" for k, c in zip(keys, key_cols, strict=True))
        conn.execute(
            f"UPDATE {table} SET ({cols}) = (SELECT {', '.join('w.' + q(c) for c in writable)} "
            f"FROM {_WORK} AS w WHERE w._change = 'update_after' AND {match}) "
            f"WHERE {key} IN ({rows_of('update_after')})"
        )
        written += conn.changes()
    rowid = [tv.key_columns[0]] if tv.rowid_table else []
    # the rowid last: for an INTEGER PRIMARY KEY both name the same value, the last one wins
    into = ", ".join([q(c) for c in writable] + rowid)
    values = ", ".join([q(c) for c in writable] + (["_gl_key0"] if rowid else []))
    if into:
        conn.execute(f"INSERT INTO {table} ({into}) SELECT {values} FROM {_WORK} WHERE _change = 'insert'")
        written += conn.changes()
    return written

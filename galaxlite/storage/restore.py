"""``RESTORE TABLE t TO VERSION a``: make the current rows equal those at ``a``.

The restore is the changes from now back to ``a`` (``galaxlite.storage.changes``) applied
as ordinary writes: keys that did not exist at ``a`` are deleted, keys that changed are
updated back to their values then, keys deleted since are inserted again (with their rowid).
The versioning triggers record it like any write, so it is one new version and history
keeps everything (a restore can itself be undone). Rows unchanged since ``a`` are not
touched: the cost is the rows changed since.

Rows that took one another's UNIQUE values since ``a`` (a swap, a cycle) cannot be updated
back one at a time: UPDATE OR IGNORE moves every row whose old values are free, again while
that frees more (a chain); the rows left are deleted and inserted again with their old
values (foreign keys to them deferred to the commit). Within one version that leaves the
same history as the UPDATE would: the old version closed, the new one current. If deleting
them would fire a foreign key's action on the rows that refer to them, their UNIQUE columns
are moved aside to fresh values instead and updated back from there (``_move_aside``).
"""

from __future__ import annotations

import apsw

from galaxlite import errors as E
from galaxlite.storage.changes import changes_sql
from galaxlite.storage.table_versions import TableVersion, version_at
from galaxlite.transpile import quote_identifier as q

_WORK = "temp._gl_restore"
_PENDING = "temp._gl_restore_pending"
_PASSES = 8  # of UPDATE OR IGNORE: a chain of moves in the wrong order takes one each


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
        conn.execute(f"DROP TABLE IF EXISTS {_PENDING}")


def _apply(conn: apsw.Connection, tv: TableVersion) -> int:
    table = q(tv.name)
    writable = [r[1] for r in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (tv.name,)) if r[6] in (0, 1)]
    if tv.rowid_table:
        key_cols, keys = [tv.key_columns[0]], ["_gl_key0"]
    else:
        key_cols = [q(k) for k in tv.key_columns]
        keys = [f"_gl_key{i}" for i in range(len(key_cols))]
    key = f"({', '.join(key_cols)})"
    conn.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {', '.join(keys)} FROM {_WORK} WHERE _change = 'delete')")
    written = conn.changes()
    moves = _Moves(conn, table, writable, key_cols, keys) if writable else None
    written += moves.left if moves else 0
    left = moves.run(_PASSES) if moves else 0
    rowid = [tv.key_columns[0]] if tv.rowid_table else []
    # the rowid last: for an INTEGER PRIMARY KEY both name the same value, the last one wins
    into = ", ".join([q(c) for c in writable] + rowid)
    values = ", ".join([q(c) for c in writable] + (["_gl_key0"] if rowid else []))
    # OR ABORT: a REPLACE declared on a UNIQUE constraint must not delete other rows
    insert = f"INSERT OR ABORT INTO {table} ({into}) SELECT {values} FROM {_WORK} WHERE _change = 'insert'"
    if left and _delete_action(conn, tv, key_cols):
        left = moves.run(None)  # every pass it takes, rather than delete rows others refer to
        if left and (action := _delete_action(conn, tv, key_cols)):
            # deleting them would fire the action on the rows that refer to them: move their
            # UNIQUE values aside instead, as a user would, and update them back from there
            _move_aside(conn, tv, moves, key_cols, action)
            left = 0
    if not left:
        if into:
            conn.execute(insert)
            written += conn.changes()
        return written
    # rows whose old values are held by one another (a swap, a cycle): out, then in again,
    # after the other rows are back; foreign keys to them are checked at commit
    deferred = conn.pragma("defer_foreign_keys")
    conn.pragma("defer_foreign_keys", 1)
    try:
        conn.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT * FROM {_PENDING})")
        stuck = conn.changes()
        conn.execute(f"{insert} OR (_change = 'update_after' AND ({', '.join(keys)}) IN (SELECT * FROM {_PENDING}))")
        written += conn.changes() - stuck
    finally:
        conn.pragma("defer_foreign_keys", deferred)
    return written


def _move_aside(conn: apsw.Connection, tv: TableVersion, moves: _Moves, key_cols: list[str], action: str) -> None:
    """Set the pending rows' UNIQUE columns to values no row has (of the same type), then
    update them back to their values at the version. Referring rows see two UPDATEs, which
    leave what one would: ON UPDATE actions follow the values, ON DELETE actions never fire;
    foreign keys to the values in between are checked at the commit."""
    table = q(tv.name)
    keys = {k.strip('"').lower() for k in key_cols}
    columns = [c for c in unique_columns(conn, tv.name) if c.lower() not in keys]
    fresh = ", ".join(f"{q(c)} = {_FRESH.format(c=q(c))}" for c in columns)
    refused = (f"cannot restore table {tv.name!r}: some of its rows took one another's UNIQUE values since "
               f"(a swap or a cycle), and the foreign key {action} rules out deleting and inserting them "
               "again")
    deferred = conn.pragma("defer_foreign_keys")
    conn.pragma("defer_foreign_keys", 1)
    try:
        if columns:
            try:
                conn.execute(f"UPDATE {table} SET {fresh} WHERE ({', '.join(key_cols)}) IN (SELECT * FROM {_PENDING})")
            except apsw.ConstraintError as exc:
                raise E.NotSupportedError(
                    f"{refused}, and moving their UNIQUE columns ({', '.join(columns)}) aside to values no "
                    f"row has failed ({exc}); move one of the values aside with an UPDATE first, then restore"
                ) from None
        if moves.run(None):
            raise E.NotSupportedError(
                f"{refused}, and a UNIQUE index on an expression keeps them from being updated back one at a "
                "time; move one of the values aside with an UPDATE first, then restore"
            )
    finally:
        conn.pragma("defer_foreign_keys", deferred)


# A value of the same type that no row has: a random one (a collision is a 2^-62 chance per
# row, and the UPDATE fails rather than merge rows), positive for CHECK (x > 0)-style rules.
_FRESH = ("CASE typeof({c}) WHEN 'integer' THEN (random() & 4611686018427387903) + 1 "
          "WHEN 'real' THEN CAST((random() & 4611686018427387903) + 1 AS REAL) "
          "WHEN 'text' THEN '_gl_restore_' || lower(hex(randomblob(12))) "
          "WHEN 'blob' THEN randomblob(12) ELSE {c} END")


def unique_columns(conn: apsw.Connection, table: str) -> list[str]:
    """The columns named in the table's UNIQUE indexes (its primary key's included), in
    table order; expressions in an index are not columns and are left out.

    >>> conn = apsw.Connection(":memory:")
    >>> conn.execute("CREATE TABLE t (a, b UNIQUE, c, d, UNIQUE (d, a))")  # doctest: +ELLIPSIS
    <apsw.Cursor ...>
    >>> unique_columns(conn, "t")
    ['a', 'b', 'd']
    """
    named = {
        name.lower()
        for (index,) in conn.execute("SELECT name FROM pragma_index_list(?) WHERE \"unique\"", (table,))
        for (name,) in conn.execute("SELECT name FROM pragma_index_info(?) WHERE name IS NOT NULL", (index,))
    }
    return [name for (name,) in conn.execute("SELECT name FROM pragma_table_info(?)", (table,)) if name.lower() in named]


class _Moves:
    """The changed rows, UPDATEd back to their values at the version.

    UPDATE OR IGNORE skips a row whose old UNIQUE values another changed row still holds; it
    is tried again once that row moved (a chain). ``left``: how many rows are still to move,
    their keys in ``_PENDING`` (dropped with ``_WORK``'s other temporary tables by the caller)."""

    def __init__(self, conn: apsw.Connection, table: str, writable: list[str], key_cols: list[str], keys: list[str]):
        self.conn = conn
        match = " AND ".join(f"w.{k} = {table}.{c}" for k, c in zip(keys, key_cols, strict=True))
        target = f"SELECT {', '.join('w.' + q(c) for c in writable)} FROM {_WORK} AS w WHERE w._change = 'update_after' AND {match}"
        self.update = (
            f"UPDATE OR IGNORE {table} SET ({', '.join(q(c) for c in writable)}) = ({target}) "
            f"WHERE ({', '.join(key_cols)}) IN (SELECT * FROM {_PENDING})"
        )
        same = " AND ".join(
            f"{table}.{q(c)} IS w.{q(c)} COLLATE BINARY AND typeof({table}.{q(c)}) = typeof(w.{q(c)})" for c in writable
        )
        self.forget = (  # the rows now back to their old values
            f"DELETE FROM {_PENDING} WHERE ({', '.join(keys)}) IN (SELECT {', '.join(f'{table}.{c}' for c in key_cols)} "
            f"FROM {table} JOIN {_WORK} AS w ON w._change = 'update_after' AND {match} WHERE {same})"
        )
        conn.execute(f"DROP TABLE IF EXISTS {_PENDING}")
        conn.execute(f"CREATE TABLE {_PENDING} AS SELECT {', '.join(keys)} FROM {_WORK} WHERE _change = 'update_after'")
        self.left = self._count()

    def run(self, passes: int | None) -> int:
        """Up to ``passes`` UPDATEs (None: while one moves a row); the rows left."""
        done = 0
        while self.left and (passes is None or done < passes):
            done += 1
            self.conn.execute(self.update)
            moved = self.conn.changes()
            if not moved:
                break
            if moved == self.left:
                self.left = 0
            else:
                self.conn.execute(self.forget)
                self.left = self._count()
        return self.left

    def _count(self) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {_PENDING}").fetchone()[0]


def _delete_action(conn: apsw.Connection, tv: TableVersion, key_cols: list[str]) -> str | None:
    """The foreign key (``child(columns) ON DELETE|UPDATE action``) whose action deleting the
    pending rows for a moment and inserting them again would fire, or fail to fire, on rows
    that refer to them, if any: ON DELETE CASCADE, SET NULL, SET DEFAULT or RESTRICT (the
    rows would not come back), or an ON UPDATE action on columns other than the primary key
    (an UPDATE would have carried the referring rows along)."""
    if not conn.pragma("foreign_keys"):
        return None
    pending = f"({', '.join('p.' + c for c in key_cols)}) IN (SELECT * FROM {_PENDING})"
    parent_key = [r[1] for r in sorted(
        (r for r in conn.execute("SELECT cid, name, pk FROM pragma_table_info(?)", (tv.name,)) if r[2]),
        key=lambda r: r[2])]
    children = [n for (n,) in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    for child in children:
        fks: dict[int, list[tuple]] = {}
        for fk_id, _, parent, src, dst, on_update, on_delete, _ in conn.execute(
            "SELECT * FROM pragma_foreign_key_list(?)", (child,)
        ):
            if parent.lower() == tv.name.lower():
                fks.setdefault(fk_id, []).append((src, dst or None, on_update.upper(), on_delete.upper()))
        for cols in fks.values():
            dsts = [d for _, d, _, _ in cols] if all(d for _, d, _, _ in cols) else parent_key
            _, _, on_update, on_delete = cols[0]
            if on_delete != "NO ACTION":
                action = f"ON DELETE {on_delete}"
            elif on_update != "NO ACTION" and {d.lower() for d in dsts} - {k.lower() for k in parent_key}:
                action = f"ON UPDATE {on_update}"
            else:
                continue
            on = " AND ".join(f"c.{q(s)} = p.{q(d)}" for (s, _, _, _), d in zip(cols, dsts, strict=True))
            if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {q(child)} AS c JOIN {q(tv.name)} AS p ON {on} "
                            f"WHERE {pending})").fetchone()[0]:
                return f"{child}({', '.join(c[0] for c in cols)}) {action}"
    return None

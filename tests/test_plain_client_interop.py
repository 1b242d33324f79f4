"""A plain SQLite client (the standard library's ``sqlite3``, SQLite 3.40 here — older than
galaxlite's own) opening the same file.

It reads current data with ordinary SQL; its INSERT/UPDATE/DELETE are versioned by the
triggers stored in the file, at versions later than every existing one; it cannot edit
history; it can read the tags catalog; and everything galaxlite puts in the file is SQL
that this older SQLite accepts.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import galaxlite

PlainFactory = Callable[..., Any]  # conftest.plain: sqlite3 clients in their own processes


def test_plain_client_is_older_sqlite() -> None:
    """The premise of this file: the plain client's SQLite predates galaxlite's."""
    import apsw

    plain = tuple(int(x) for x in sqlite3.sqlite_version.split("."))
    ours = tuple(int(x) for x in apsw.sqlite_lib_version().split("."))
    assert plain < ours


@pytest.fixture
def shop(db: galaxlite.Database) -> galaxlite.Database:
    """A versioned table with rows, tagged 'v1'."""
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, qty INTEGER)")
    db.execute("INSERT INTO items (name, qty) VALUES ('apple', 1), ('pear', 2), ('fig', 3)")
    db.create_tag("v1")
    return db


V1 = [(1, "apple", 1), (2, "pear", 2), (3, "fig", 3)]


def rows(db: galaxlite.Database, sql: str, params=None) -> list[tuple]:
    return sorted(db.query(sql, params))


def storage_of(db: galaxlite.Database, table: str) -> tuple[str, str]:
    """(history table, companion table) of a versioned table."""
    return db.query(
        "SELECT history, companion FROM galaxlite_tables WHERE name = ? AND valid_to IS NULL",
        (table,),
    )[0]


# ------------------------------------------------------------------------------ reading


def test_plain_client_reads_current_data(shop: galaxlite.Database, plain: PlainFactory) -> None:
    shop.execute("UPDATE items SET qty = 10 WHERE name = 'apple'")
    conn = plain()
    cur = conn.execute("SELECT * FROM items ORDER BY id")
    assert [d[0] for d in cur.description] == ["id", "name", "qty"]  # no versioning columns
    assert cur.fetchall() == [(1, "apple", 10), (2, "pear", 2), (3, "fig", 3)]
    assert conn.execute("SELECT sum(qty) FROM items WHERE id > 1").fetchone() == (5,)


def test_plain_client_reads_the_tags_catalog(shop: galaxlite.Database, plain: PlainFactory) -> None:
    shop.execute("DELETE FROM items WHERE id = 3")
    shop.create_tag("after delete")
    got = plain().execute("SELECT name, version FROM galaxlite_tags ORDER BY version").fetchall()
    assert got == [(t.name, t.version) for t in shop.tags()]
    assert [name for name, _ in got] == ["v1", "after delete"]


def test_plain_client_cannot_change_a_tag(shop: galaxlite.Database, plain: PlainFactory) -> None:
    with pytest.raises(sqlite3.DatabaseError, match="galaxlite"):
        plain().execute("UPDATE galaxlite_tags SET version = version - 1000")
    assert rows(shop, "SELECT * FROM items AT VERSION 'v1'") == V1


# ------------------------------------------------------------------------------ writing


def test_plain_writes_are_versioned(shop: galaxlite.Database, plain: PlainFactory) -> None:
    conn = plain()
    conn.execute("INSERT INTO items VALUES (4, 'kiwi', 4)")  # positional, as on a plain table
    conn.execute("UPDATE items SET qty = qty * 100 WHERE name IN ('apple', 'kiwi')")
    conn.execute("DELETE FROM items WHERE name = 'pear'")
    now = [(1, "apple", 100), (3, "fig", 3), (4, "kiwi", 400)]
    assert rows(shop, "SELECT * FROM items") == now
    assert rows(shop, "SELECT * FROM items AT VERSION 'v1'") == V1
    shop.create_tag("v2")
    assert rows(shop, "SELECT * FROM items AT VERSION 'v2'") == now


def test_plain_write_versions_exceed_every_existing_version(
    shop: galaxlite.Database, plain: PlainFactory
) -> None:
    """A plain write gets a version above all earlier ones: the tag's and galaxlite's writes."""
    shop.execute("UPDATE items SET qty = 0 WHERE id = 3")
    last_galaxlite = shop.version
    conn = plain()
    conn.execute("UPDATE items SET qty = -1 WHERE id = 1")
    first_plain = shop.version
    assert first_plain > last_galaxlite > shop.tag_version("v1")
    conn.execute("INSERT INTO items (name, qty) VALUES ('kiwi', 9)")
    assert shop.version > first_plain
    # at the version just before the plain write, it is not there; at its version it is
    assert rows(shop, f"SELECT qty FROM items AT VERSION {first_plain - 1} WHERE id = 1") == [(1,)]
    assert rows(shop, f"SELECT qty FROM items AT VERSION {first_plain} WHERE id = 1") == [(-1,)]
    assert rows(shop, f"SELECT count(*) FROM items AT VERSION {first_plain}") == [(3,)]


def test_tag_separates_earlier_and_later_plain_writes(
    shop: galaxlite.Database, plain: PlainFactory
) -> None:
    conn = plain()
    conn.execute("UPDATE items SET qty = 11 WHERE id = 1")
    tag_version = shop.create_tag("between")
    conn.execute("UPDATE items SET qty = 22 WHERE id = 2")
    conn.execute("DELETE FROM items WHERE id = 3")
    seen = [(1, "apple", 11), (2, "pear", 2), (3, "fig", 3)]
    assert rows(shop, "SELECT * FROM items AT VERSION 'between'") == seen
    # no ties: the earlier write is strictly before the tag, the later ones strictly after
    assert rows(shop, f"SELECT * FROM items AT VERSION {tag_version - 1}") == seen
    assert rows(shop, f"SELECT * FROM items AT VERSION {tag_version}") == seen
    assert rows(shop, f"SELECT * FROM items AT VERSION {shop.version}") == [
        (1, "apple", 11),
        (2, "pear", 22),
    ]


def test_plain_transaction_is_versioned_after_earlier_tags(
    shop: galaxlite.Database, plain: PlainFactory
) -> None:
    conn = plain()
    conn.execute("BEGIN")
    conn.execute("INSERT INTO items (name, qty) VALUES ('kiwi', 5)")
    conn.execute("UPDATE items SET qty = 0")
    conn.execute("DELETE FROM items WHERE name = 'fig'")
    conn.execute("COMMIT")
    shop.create_tag("v2")
    assert rows(shop, "SELECT * FROM items AT VERSION 'v1'") == V1
    assert rows(shop, "SELECT * FROM items AT VERSION 'v2'") == [
        (1, "apple", 0),
        (2, "pear", 0),
        (4, "kiwi", 0),
    ]


def test_plain_rolled_back_transaction_leaves_no_version(
    shop: galaxlite.Database, plain: PlainFactory
) -> None:
    before = shop.version
    conn = plain()
    conn.execute("BEGIN")
    conn.execute("DELETE FROM items")
    conn.execute("ROLLBACK")
    assert shop.version == before
    assert rows(shop, "SELECT * FROM items") == V1


def test_plain_update_of_the_primary_key_is_versioned(
    shop: galaxlite.Database, plain: PlainFactory
) -> None:
    plain().execute("UPDATE items SET id = id + 10 WHERE id < 3")
    assert rows(shop, "SELECT * FROM items AT VERSION 'v1'") == V1
    assert rows(shop, "SELECT id FROM items") == [(3,), (11,), (12,)]
    shop.create_tag("v2")
    plain().execute("UPDATE items SET id = 1 WHERE id = 11")
    assert rows(shop, "SELECT id FROM items AT VERSION 'v2'") == [(3,), (11,), (12,)]


def test_plain_insert_or_replace_keeps_history_with_recursive_triggers(
    shop: galaxlite.Database, plain: PlainFactory
) -> None:
    """REPLACE deletes the conflicting row without firing DELETE triggers unless the client
    turns ``recursive_triggers`` on: a plain client that REPLACEs must do so."""
    conn = plain()
    conn.execute("PRAGMA recursive_triggers = ON")
    conn.execute("INSERT OR REPLACE INTO items VALUES (1, 'apple', 50)")  # same rowid
    conn.execute("REPLACE INTO items (name, qty) VALUES ('pear', 60)")  # UNIQUE name: new rowid
    assert rows(shop, "SELECT * FROM items AT VERSION 'v1'") == V1
    assert rows(shop, "SELECT name, qty FROM items") == [("apple", 50), ("fig", 3), ("pear", 60)]
    shop.create_tag("v2")
    conn.execute("INSERT OR REPLACE INTO items VALUES (3, 'fig', 70)")
    assert rows(shop, "SELECT name, qty FROM items AT VERSION 'v2'") == [
        ("apple", 50),
        ("fig", 3),
        ("pear", 60),
    ]


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE k (code TEXT PRIMARY KEY, qty INTEGER)",
        "CREATE TABLE k (code TEXT NOT NULL, part INTEGER NOT NULL, qty INTEGER, "
        "PRIMARY KEY (code, part)) WITHOUT ROWID",
        "CREATE TABLE k (code TEXT, qty INTEGER)",
    ],
    ids=["text-pk", "without-rowid", "hidden-rowid"],
)
def test_plain_writes_on_other_table_shapes(
    db: galaxlite.Database, plain: PlainFactory, ddl: str
) -> None:
    db.execute(ddl)
    cols = "(code, part, qty)" if "part" in ddl else "(code, qty)"
    vals = ["('a', 1, 1)", "('b', 1, 2)"] if "part" in ddl else ["('a', 1)", "('b', 2)"]
    db.execute(f"INSERT INTO k {cols} VALUES {', '.join(vals)}")
    db.create_tag("v1")
    then = rows(db, "SELECT * FROM k")
    conn = plain()
    conn.execute("UPDATE k SET qty = qty + 100")
    conn.execute("UPDATE k SET code = 'z' WHERE code = 'a'")
    conn.execute("DELETE FROM k WHERE code = 'b'")
    conn.execute(f"INSERT INTO k {cols} VALUES {vals[1]}")
    assert rows(db, "SELECT * FROM k AT VERSION 'v1'") == then
    now = rows(db, "SELECT * FROM k")
    db.create_tag("v2")
    conn.execute("DELETE FROM k")
    assert rows(db, "SELECT * FROM k AT VERSION 'v2'") == now
    assert rows(db, "SELECT * FROM k AT VERSION 'v1'") == then


def test_galaxlite_bulk_insert_after_plain_deletes(
    shop: galaxlite.Database, plain: PlainFactory
) -> None:
    """galaxlite's trigger-free bulk path stays right after plain clients changed the table."""
    plain().execute("DELETE FROM items WHERE id = 3")
    shop.execute("BULK INSERT INTO items (name, qty) VALUES ('kiwi', 7), ('lime', 8)")
    shop.create_tag("v2")
    plain().execute("DELETE FROM items")
    assert rows(shop, "SELECT * FROM items AT VERSION 'v1'") == V1
    assert rows(shop, "SELECT name FROM items AT VERSION 'v2'") == [
        ("apple",),
        ("kiwi",),
        ("lime",),
        ("pear",),
    ]


# -------------------------------------------------------------- the past cannot be changed


@pytest.mark.parametrize(
    "statement", ["UPDATE {h} SET valid_to = 1", "DELETE FROM {h}", "UPDATE {h} SET h2 = 999"]
)
def test_plain_client_cannot_edit_history(
    shop: galaxlite.Database, plain: PlainFactory, statement: str
) -> None:
    shop.execute("UPDATE items SET qty = 0")  # history now holds the v1 rows
    history, _ = storage_of(shop, "items")
    with pytest.raises(sqlite3.DatabaseError, match="galaxlite"):
        plain().execute(statement.format(h=f'"{history}"'))
    assert rows(shop, "SELECT * FROM items AT VERSION 'v1'") == V1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {c} SET valid_from = 1",
        "UPDATE {c} SET valid_from = valid_from + 1",
        "DELETE FROM {c}",
    ],
)
def test_plain_client_cannot_rewrite_valid_from(
    shop: galaxlite.Database, plain: PlainFactory, statement: str
) -> None:
    _, companion = storage_of(shop, "items")
    with pytest.raises(sqlite3.DatabaseError, match="galaxlite"):
        plain().execute(statement.format(c=f'"{companion}"'))
    assert rows(shop, "SELECT * FROM items AT VERSION 'v1'") == V1


FAR_FUTURE = 9_000_000_000_000_000

# Writes that do not look like an edit of a closed row version, but would change what a tag
# sees. Each may fail or be ignored; what must hold is that no tag's view changes.
SNEAKY = {
    "insert-into-history": "INSERT INTO {h} (h0, h1, h2, _gl_rowid, valid_from, valid_to) "
    "VALUES (99, 'ghost', 99, 99, 1, " + str(FAR_FUTURE) + ")",
    "clock-backwards": "UPDATE galaxlite_clock SET version = 5",
}
# (Rewrites of the companion and the clock's pin are refused too: tests/test_tampering.py;
# what a client set on tampering can still do is in docs/guarantees.md, "Limits of detection".)


@pytest.mark.parametrize("statement", list(SNEAKY.values()), ids=list(SNEAKY))
def test_plain_client_cannot_change_what_a_tag_sees(
    shop: galaxlite.Database, plain: PlainFactory, statement: str
) -> None:
    shop.execute("UPDATE items SET qty = 30 WHERE id = 3")
    shop.create_tag("v2")
    v2 = rows(shop, "SELECT * FROM items")
    history, companion = storage_of(shop, "items")
    conn = plain()
    try:
        conn.execute(statement.format(h=f'"{history}"', c=f'"{companion}"'))
    except sqlite3.DatabaseError:
        pass  # refusing is one way to keep the past
    conn.execute("UPDATE items SET qty = qty + 1000 WHERE id = 1")  # an ordinary later write
    assert rows(shop, "SELECT * FROM items AT VERSION 'v1'") == V1
    assert rows(shop, "SELECT * FROM items AT VERSION 'v2'") == v2


# ------------------------------------------------------ what the file holds is old-SQLite SQL


def build_every_kind_of_object(db: galaxlite.Database) -> None:
    """Tables of every shape, schema changes, a dropped table, tags, a plain table, an index."""
    db.executescript(
        '''
        CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT UNIQUE, qty INTEGER DEFAULT 0);
        CREATE TABLE b (code TEXT PRIMARY KEY, note TEXT);
        CREATE TABLE c (x INTEGER NOT NULL, y TEXT NOT NULL, v REAL, PRIMARY KEY (x, y))
            WITHOUT ROWID;
        CREATE TABLE d (free TEXT, form BLOB);
        CREATE TABLE "odd ""name""" ("col one" INTEGER PRIMARY KEY, "col-two" TEXT);
        CREATE TABLE gone (z INTEGER);
        CREATE TABLE plain_one (z INTEGER) WITHOUT VERSIONING;
        CREATE INDEX a_qty ON a (qty);
        INSERT INTO a (name, qty) VALUES ('p', 1), ('q', 2);
        INSERT INTO b VALUES ('k', 'n');
        INSERT INTO c VALUES (1, 'y', 0.5);
        INSERT INTO d VALUES ('f', x'00');
        INSERT INTO "odd ""name""" VALUES (1, 'two');
        INSERT INTO gone VALUES (1);
        '''
    )
    db.create_tag("t1")
    db.executescript(
        """
        ALTER TABLE a ADD COLUMN extra TEXT;
        ALTER TABLE b RENAME COLUMN note TO remark;
        ALTER TABLE d DROP COLUMN form;
        ALTER TABLE c RENAME TO c2;
        DROP TABLE gone;
        UPDATE a SET qty = qty + 1;
        """
    )
    db.create_tag("t2")


def test_every_schema_object_is_accepted_by_old_sqlite(
    db: galaxlite.Database, plain: PlainFactory
) -> None:
    """Each CREATE in sqlite_master runs on the plain client's SQLite, in a fresh database."""
    build_every_kind_of_object(db)
    db.close()
    source = plain()
    objects = source.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY "
        "CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid"
    ).fetchall()
    assert source.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert any(kind == "trigger" and name.startswith("_gl_") for kind, name, _ in objects)
    fresh = plain(":memory:")
    for kind, name, sql in objects:
        try:
            fresh.execute(sql)
        except sqlite3.Error as exc:
            pytest.fail(f"SQLite {fresh.sqlite_version} rejects {kind} {name}: {exc}\n{sql}")


def test_plain_client_can_write_every_table_after_schema_changes(
    db: galaxlite.Database, plain: PlainFactory
) -> None:
    """The triggers that exist after ALTERs still run on the plain client, and version."""
    build_every_kind_of_object(db)
    seen = {t: Counter(db.query(f'SELECT * FROM "{t}"')) for t in ("a", "b", "c2", "d")}
    conn = plain()
    conn.execute("PRAGMA recursive_triggers = ON")
    for statement in (
        "INSERT INTO a (name, qty, extra) VALUES ('r', 3, 'e')",
        "UPDATE a SET qty = qty * 10",
        "INSERT OR REPLACE INTO a (id, name) VALUES (1, 'p2')",
        "UPDATE b SET remark = 'changed'",
        "INSERT INTO b VALUES ('k2', 'n2')",
        "UPDATE c2 SET v = v + 1",
        "UPDATE c2 SET y = 'w'",
        "INSERT INTO d VALUES ('g')",
        "DELETE FROM d WHERE free = 'f'",
        'UPDATE "odd ""name""" SET "col-two" = \'three\'',
    ):
        conn.execute(statement)
    for t, copy in seen.items():
        assert Counter(db.query(f"SELECT * FROM \"{t}\" AT VERSION 't2'")) == copy, t
    assert db.query('SELECT * FROM "odd ""name""" AT VERSION \'t2\'') == [(1, "two")]
    assert db.query('SELECT * FROM "odd ""name"""') == [(1, "three")]


# Syntax newer than SQLite 3.31 (what edge devices ship; docs/guarantees.md), with the version
# that introduced it.
NEWER_THAN_3_31 = {
    r"\bON\s+CONFLICT\s+DO\b": "UPSERT without a conflict target (3.35)",
    r"\bRETURNING\b": "RETURNING (3.35)",
    r"\bMATERIALIZED\b": "MATERIALIZED CTE hints (3.35)",
    r"\bunixepoch\s*\(": "unixepoch() (3.38)",
    r"->": "JSON -> and ->> operators (3.38)",
    r"\biif\s*\(": "iif() (3.32)",
    r"\b(format|concat|concat_ws|string_agg|unhex|octet_length|timediff)\s*\(": "functions (3.38+)",
    r"\bIS\s+(NOT\s+)?DISTINCT\s+FROM\b": "IS DISTINCT FROM (3.39)",
    r"\b(RIGHT|FULL)\s+(OUTER\s+)?JOIN\b": "RIGHT/FULL JOIN (3.39)",
    r"\bSTRICT\b": "STRICT tables (3.37)",
    r"\bUPDATE\b[^;()]*\bSET\b[^;()]*\bFROM\b": "UPDATE ... FROM (3.33)",
}


def _code_only(sql: str) -> str:
    """``sql`` without string literals and comments."""
    sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL)


def _outer_level(sql: str) -> str:
    """``sql`` with the insides of parentheses (subqueries) emptied."""
    while True:
        inner = re.sub(r"\([^()]*\)", "[]", sql)
        if inner == sql:
            return sql.replace("[]", "()")
        sql = inner


def test_galaxlite_objects_use_no_syntax_newer_than_3_31(db: galaxlite.Database) -> None:
    """Triggers, tables and indexes galaxlite creates must run on SQLite 3.31 (docs/guarantees.md).

    No SQLite that old is at hand, so this checks the text for the known later additions.
    """
    build_every_kind_of_object(db)
    found = []
    for name, sql in db.query(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND "
        "(name LIKE '\\_gl\\_%' ESCAPE '\\' OR name LIKE 'galaxlite\\_%' ESCAPE '\\')"
    ):
        code = _code_only(sql)
        outer = _outer_level(code)
        for pattern, what in NEWER_THAN_3_31.items():
            text = outer if what.startswith("UPDATE") else code
            if re.search(pattern, text, re.IGNORECASE):
                found.append(f"{name}: {what}")
    assert found == []

"""A plain client's REPLACE keeps history.

With SQLite's default pragmas (no ``recursive_triggers``) REPLACE deletes the rows its new
row conflicts with without firing DELETE triggers. The old versions must still reach
history, whichever constraint the conflict is on. The plain client is Python's ``sqlite3``
in a separate process (conftest.py).
"""

from __future__ import annotations

from collections import Counter

import apsw
import pytest

import galaxlite


def rows(db: galaxlite.Database, sql: str) -> Counter:
    return Counter(db.query(sql))


@pytest.fixture
def shop(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE labels (name TEXT PRIMARY KEY, note TEXT)")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT UNIQUE, price INTEGER)")
    db.execute("CREATE TABLE pairs (a TEXT, b INTEGER, v, PRIMARY KEY (a, b)) WITHOUT ROWID")
    db.execute("CREATE TABLE tags (label TEXT COLLATE NOCASE UNIQUE, n)")
    db.execute("INSERT INTO labels VALUES ('science', 'orig'), ('sports', 'orig')")
    db.execute("INSERT INTO items VALUES (1, 'a', 10), (2, 'b', 20)")
    db.execute("INSERT INTO pairs VALUES ('x', 1, 'one'), ('y', 2, 'two')")
    db.execute("INSERT INTO tags VALUES ('Red', 1)")
    db.create_tag("v1")
    return db


V1 = {
    "labels": Counter([("science", "orig"), ("sports", "orig")]),
    "items": Counter([(1, "a", 10), (2, "b", 20)]),
    "pairs": Counter([("x", 1, "one"), ("y", 2, "two")]),
    "tags": Counter([("Red", 1)]),
}


def assert_v1(db: galaxlite.Database) -> None:
    for table, want in V1.items():
        assert rows(db, f"SELECT * FROM {table} AT VERSION 'v1'") == want, table


@pytest.mark.parametrize("sql, table, now", [
    ("REPLACE INTO labels VALUES ('science', 'replaced')", "labels",
     [("science", "replaced"), ("sports", "orig")]),
    ("INSERT OR REPLACE INTO items VALUES (2, 'z', 99)", "items", [(1, "a", 10), (2, "z", 99)]),
    ("REPLACE INTO items VALUES (3, 'a', 30)", "items", [(2, "b", 20), (3, "a", 30)]),  # on code
    ("REPLACE INTO items VALUES (1, 'b', 11)", "items", [(1, "b", 11)]),  # on both: two rows go
    ("REPLACE INTO pairs VALUES ('x', 1, 'uno')", "pairs", [("x", 1, "uno"), ("y", 2, "two")]),
    ("REPLACE INTO tags VALUES ('RED', 2)", "tags", [("RED", 2)]),  # the index's NOCASE
    # UPDATE OR REPLACE deletes the rows the new values conflict with, without triggers too
    ("UPDATE OR REPLACE items SET id = 2 WHERE id = 1", "items", [(2, "a", 10)]),
    ("UPDATE OR REPLACE items SET code = 'b' WHERE id = 1", "items", [(1, "b", 10)]),
    ("UPDATE OR REPLACE pairs SET a = 'y', b = 2 WHERE a = 'x'", "pairs", [("y", 2, "one")]),
    ("UPDATE OR REPLACE labels SET name = 'sports' WHERE name = 'science'", "labels",
     [("sports", "orig")]),
    ("UPDATE OR REPLACE items SET price = 11 WHERE id = 1", "items", [(1, "a", 11), (2, "b", 20)]),
])
def test_plain_replace_keeps_the_old_version(shop: galaxlite.Database, plain, sql, table, now) -> None:
    plain().execute(sql)
    assert rows(shop, f"SELECT * FROM {table}") == Counter(now)
    assert_v1(shop)
    shop.create_tag("v2")
    assert rows(shop, f"SELECT * FROM {table} AT VERSION 'v2'") == Counter(now)


def test_ignore_and_upsert_leave_no_false_history(shop: galaxlite.Database, plain) -> None:
    client = plain()
    client.execute("INSERT OR IGNORE INTO items VALUES (1, 'q', 0)")
    client.execute("INSERT INTO items VALUES (5, 'b', 5) ON CONFLICT (code) DO UPDATE SET price = 21")
    client.execute("INSERT INTO items VALUES (7, 'n', 7)")  # no conflict: must move nothing
    shop.create_tag("v2")
    assert rows(shop, "SELECT * FROM items AT VERSION 'v2'") == Counter([(1, "a", 10), (2, "b", 21), (7, "n", 7)])
    client.execute("DELETE FROM items WHERE id = 1")
    client.execute("INSERT INTO items VALUES (8, 'm', 8)")
    assert_v1(shop)
    assert rows(shop, "SELECT * FROM items AT VERSION 'v2'") == Counter([(1, "a", 10), (2, "b", 21), (7, "n", 7)])


def test_a_plain_failed_insert_changes_nothing(shop: galaxlite.Database, plain) -> None:
    before = shop.query("SELECT count(*) FROM _gl_h2")
    with pytest.raises(Exception, match="UNIQUE constraint failed"):
        plain().execute("INSERT INTO items VALUES (9, 'a', 1)")
    assert shop.query("SELECT count(*) FROM _gl_h2") == before
    assert_v1(shop)


def test_galaxlite_replace_and_bulk_paths_are_unchanged(shop: galaxlite.Database) -> None:
    shop.execute("REPLACE INTO items VALUES (3, 'a', 30)")
    shop.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?)", [(i, f"c{i}", i) for i in range(10, 200)])
    shop.execute("BULK INSERT INTO items (code, price) VALUES ('bulk', 1)")
    assert_v1(shop)
    assert shop.query("SELECT count(*) FROM _gl_p2") == [(0,)]  # the stash stays empty


def test_a_unique_index_made_later_is_honoured(shop: galaxlite.Database, plain) -> None:
    shop.execute("CREATE UNIQUE INDEX items_price ON items (price)")
    plain().execute("REPLACE INTO items VALUES (9, 'new', 20)")  # conflicts on price with id 2
    assert_v1(shop)
    shop.execute("DROP INDEX items_price")
    assert shop.check() == []


def test_a_file_from_before_the_stash_gets_it_when_opened(db_path, plain) -> None:
    with galaxlite.Database(db_path) as db:
        db.execute("CREATE TABLE labels (name TEXT PRIMARY KEY, note TEXT)")
        db.execute("INSERT INTO labels VALUES ('science', 'orig')")
        db.create_tag("v1")
    raw = apsw.Connection(str(db_path))  # what an older galaxlite left: no stash, no _bi
    raw.execute("DROP TRIGGER _gl_t1_bi; DROP TABLE _gl_p1")
    raw.close()
    with galaxlite.Database(db_path) as db:
        assert db.check() == []
    plain().execute("REPLACE INTO labels VALUES ('science', 'replaced')")
    with galaxlite.Database(db_path) as db:
        assert db.query("SELECT * FROM labels AT VERSION 'v1'") == [("science", "orig")]

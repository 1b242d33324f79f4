"""History as data, against an oracle of plain copies: CHANGES BETWEEN, RESTORE TABLE, PURGE
HISTORY.

Hypothesis draws random writes (INSERT, UPDATE by key and by predicate, DELETE, bulk
``executemany`` of 64+ rows that takes the trigger-free path, an UPDATE that changes
nothing, a row inserted and deleted between two tags) on one table of each key layout,
with tags in between. After each tag, a plain copy of the table (key → row, with the
rowid for a table without INTEGER PRIMARY KEY) is taken. Then:

* every pair of tags is diffed, both ways, and must give the net changes the two copies
  differ by (updates whose values and types are the same are no change);
* the table is restored to a tag and must equal its copy; the restore is one version and
  the history before it still reads;
* history is purged before a tag: every tag and every timestamp from it on read their
  copies, and a purged timestamp that is no tag's is a HistoryPurgedError.

``db.check()`` passes after each.
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from helpers import gl, ok, one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galaxlite

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KINDS = {
    "integer_pk": ("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b)", "id", "id, a, b"),
    "hidden_rowid": ("CREATE TABLE t (a TEXT, b)", "rowid", "rowid, a, b"),
    "without_rowid": ("CREATE TABLE t (k1 INTEGER, k2 TEXT, a TEXT, b, PRIMARY KEY (k1, k2)) WITHOUT ROWID",
                      "k1, k2", "k1, k2, a, b"),
}
VALUES = st.one_of(st.none(), st.integers(-2, 3), st.sampled_from(["x", "y", "1"]), st.just(1.0))
KEYS = st.integers(0, 12)

STEP = st.one_of(
    st.tuples(st.just("insert"), KEYS, VALUES, VALUES),
    st.tuples(st.just("update"), KEYS, VALUES, VALUES),
    st.tuples(st.just("delete"), KEYS, st.none(), st.none()),
    st.tuples(st.just("update_where"), VALUES, VALUES, st.none()),
    st.tuples(st.just("noop_update"), KEYS, st.none(), st.none()),
    st.tuples(st.just("bulk"), st.integers(0, 3), st.none(), st.none()),
    st.tuples(st.just("flash"), st.none(), st.none(), st.none()),
    st.tuples(st.just("tag"), st.none(), st.none(), st.none()),
)


def key_where(kind: str) -> str:
    return "k1 = ? AND k2 = ?" if kind == "without_rowid" else f"{KINDS[kind][1]} = ?"


def key_args(kind: str, k: int) -> tuple:
    return (k, f"k{k % 3}") if kind == "without_rowid" else (k,)


def apply(db: galaxlite.Database, kind: str, step: tuple, bulk_start: list[int]) -> None:
    op, x, y, z = step
    where = key_where(kind)
    if op == "insert":
        cols = "k1, k2, a, b" if kind == "without_rowid" else ("id, a, b" if kind == "integer_pk" else "rowid, a, b")
        db.execute(f"INSERT OR IGNORE INTO t ({cols}) VALUES ({', '.join('?' * (len(key_args(kind, x)) + 2))})",
                   (*key_args(kind, x), y, z))
    elif op == "update":
        db.execute(f"UPDATE t SET a = ?, b = ? WHERE {where}", (y, z, *key_args(kind, x)))
    elif op == "delete":
        db.execute(f"DELETE FROM t WHERE {where}", key_args(kind, x))
    elif op == "update_where":
        db.execute("UPDATE t SET b = ? WHERE a IS ?", (y, x))
    elif op == "noop_update":
        db.execute(f"UPDATE t SET a = a WHERE {where}", key_args(kind, x))
    elif op == "bulk":  # 64+ rows: the trigger-free path, keys above the others
        start = bulk_start[0]
        bulk_start[0] += 70
        rows = [(*key_args(kind, start + i), f"bulk{x}", i) for i in range(70)]
        cols = "k1, k2, a, b" if kind == "without_rowid" else ("id, a, b" if kind == "integer_pk" else "rowid, a, b")
        db.executemany(f"INSERT INTO t ({cols}) VALUES ({', '.join('?' * len(rows[0]))})", rows)
    elif op == "flash":  # inserted and deleted between two tags: never in a diff
        args = key_args(kind, 999)
        cols = "k1, k2, a" if kind == "without_rowid" else ("id, a" if kind == "integer_pk" else "rowid, a")
        db.execute(f"INSERT INTO t ({cols}) VALUES ({', '.join('?' * (len(args) + 1))})", (*args, "gone"))
        db.execute(f"DELETE FROM t WHERE {where}", args)


def typed(row: tuple) -> tuple:
    return tuple((type(v).__name__, v) for v in row)


def snapshot(db: galaxlite.Database, kind: str) -> dict[tuple, tuple]:
    """key → row (values with their types, as CHANGES BETWEEN shows them) of the table now."""
    _, key, cols = KINDS[kind]
    nkey = len(key.split(","))
    rows = db.query(f"SELECT {cols} FROM t")
    return {r[:nkey]: typed(r[1:] if kind == "hidden_rowid" else r) for r in rows}


def read_at(db: galaxlite.Database, kind: str, version: str) -> Counter:
    """The table's rows at ``version`` (SQL text of the version), as a multiset."""
    cols = KINDS[kind][2].replace("rowid, ", "")
    return Counter(typed(r) for r in db.query(f"SELECT {cols} FROM t AT VERSION {version}"))


def expected_changes(before: dict, after: dict, kind: str) -> Counter:
    out: Counter = Counter()
    for k in before.keys() | after.keys():
        b, a = before.get(k), after.get(k)
        if b == a:
            continue
        if b is None:
            out[(a, "insert")] += 1
        elif a is None:
            out[(b, "delete")] += 1
        else:
            out[(b, "update_before")] += 1
            out[(a, "update_after")] += 1
    return out


def run_steps(db: galaxlite.Database, kind: str, steps: list[tuple]) -> tuple[list[str], dict, dict]:
    db.execute(KINDS[kind][0])
    copies, versions, bulk_start = {}, {}, [100]
    for i, step in enumerate([*steps, ("tag", None, None, None)]):
        if step[0] == "tag":
            name = f"v{i}"
            versions[name] = db.create_tag(name)
            copies[name] = snapshot(db, kind)
        else:
            apply(db, kind, step, bulk_start)
    return list(copies), copies, versions


def table_changes(db: galaxlite.Database, kind: str, a: str, b: str) -> Counter:
    cols = KINDS[kind][2].replace("rowid, ", "")
    rows = db.query(f"SELECT {cols}, _change FROM t CHANGES BETWEEN VERSION ? AND VERSION ?", (a, b))
    return Counter((tuple((type(v).__name__, v) for v in r[:-1]), r[-1]) for r in rows)


@pytest.mark.parametrize("kind", list(KINDS))
@SETTINGS
@given(steps=st.lists(STEP, max_size=25), data=st.data())
def test_diff_restore_purge_match_plain_copies(kind: str, steps: list[tuple], data) -> None:
    with tempfile.TemporaryDirectory() as folder, galaxlite.Database(Path(folder) / "h.db") as db:
        tags, copies, versions = run_steps(db, kind, steps)
        # every pair of tags, both ways
        for a, b in itertools.product(tags, repeat=2):
            assert table_changes(db, kind, a, b) == expected_changes(copies[a], copies[b], kind), (a, b)
            lo, hi = sorted((versions[a], versions[b]))
            for (v,) in db.query("SELECT _version FROM t CHANGES BETWEEN VERSION ? AND VERSION ?", (a, b)):
                assert lo < v <= hi
        assert db.check() == []
        # restore to a tag, then read back
        target = data.draw(st.sampled_from(tags))
        before = db.version
        db.execute(f"RESTORE TABLE t TO VERSION '{target}'")
        assert snapshot(db, kind) == copies[target]
        assert (db.query("SELECT count(*) FROM t CHANGES BETWEEN VERSION ? AND VERSION ?", (target, db.version))
                == [(0,)])
        for name in tags:  # the past is intact after the restore
            assert read_at(db, kind, f"'{name}'") == Counter(copies[name].values())
        assert db.check() == []
        db.create_tag("restored")
        copies["restored"], versions["restored"] = snapshot(db, kind), db.tag_version("restored")
        assert versions["restored"] > before
        # purge before a tag: every tag and every version from it on reads the same
        cut = data.draw(st.sampled_from(tags))
        db.execute(f"PURGE HISTORY BEFORE VERSION '{cut}'")
        for name, v in versions.items():
            expect = Counter(copies[name].values())
            assert read_at(db, kind, f"'{name}'") == expect, name
            if v >= versions[cut]:
                assert read_at(db, kind, str(v)) == expect  # (as a µs timestamp)
        for v in versions.values():
            if v < versions[cut] and v - 1 not in versions.values() and v - 1 > 0:
                with pytest.raises(galaxlite.HistoryPurgedError):
                    db.query("SELECT * FROM t AT VERSION ?", (v - 1,))
        assert db.check() == []


# ------------------------------------------------------------------ one case each


@pytest.fixture
def shop(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price)")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item INTEGER, qty INTEGER)")
    db.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, f"item{i}", 1) for i in range(1, 6)])
    db.execute("INSERT INTO orders VALUES (1, 1, 2), (2, 3, 1)")
    db.create_tag("v1")
    db.execute("UPDATE items SET price = 1.0 WHERE id = 1")  # same value, another type
    db.execute("UPDATE items SET name = name WHERE id = 2")  # no change at all
    db.execute("UPDATE items SET price = 9 WHERE id = 3")
    db.execute("DELETE FROM items WHERE id = 4")
    db.execute("INSERT INTO items VALUES (6, 'item6', 2)")
    db.execute("INSERT INTO orders VALUES (3, 6, 5)")
    db.create_tag("v2")
    return db


def test_changes_are_typed_and_usable_in_joins_aggregates_and_where(shop):
    rows = shop.query("SELECT id, price, _change FROM items CHANGES BETWEEN VERSION 'v1' AND VERSION 'v2' "
                      "ORDER BY id, _change")
    assert rows == [(1, 1.0, "update_after"), (1, 1, "update_before"), (3, 9, "update_after"),
                    (3, 1, "update_before"), (4, 1, "delete"), (6, 2, "insert")]
    assert [type(r[1]) for r in rows[:2]] == [float, int]
    joined = shop.query(
        "SELECT o.id, c.name FROM orders CHANGES BETWEEN VERSION 'v1' AND VERSION 'v2' AS o "
        "JOIN items AS c ON c.id = o.item WHERE o._change = 'insert'")
    assert joined == [(3, "item6")]
    assert shop.query("SELECT count(*) FROM items CHANGES BETWEEN VERSION 'v1' AND VERSION 'v2' "
                      "WHERE _change LIKE 'update%'") == [(4,)]
    v1, v2 = shop.tag_version("v1"), shop.tag_version("v2")
    assert shop.query("SELECT count(*) FROM items CHANGES BETWEEN VERSION :a AND VERSION :b",
                      {"a": "v1", "b": v2}) == [(6,)]
    assert shop.query("SELECT count(*) FROM items CHANGES BETWEEN VERSION ? AND VERSION ?", ("v1", v2)) == [(6,)]
    assert shop.query(f"SELECT count(*) FROM items CHANGES BETWEEN VERSION {v1} AND VERSION 'v2'") == [(6,)]
    assert shop.query("SELECT count(*) FROM items CHANGES BETWEEN VERSION 'v2' AND VERSION 'v2'") == [(0,)]
    summary = shop.diff("v1", "v2").to_pylist()
    assert summary == [{"table": "items", "inserted": 1, "deleted": 1, "updated": 2},
                       {"table": "orders", "inserted": 1, "deleted": 0, "updated": 0}]
    assert shop.diff("v1", "v2", "orders").column_names == ["id", "item", "qty", "_change", "_version"]


def test_changes_read_the_history_index_not_the_table(shop):
    plan = " ".join(r[3] for r in shop.query(
        "EXPLAIN QUERY PLAN SELECT * FROM items CHANGES BETWEEN VERSION 'v1' AND VERSION 'v2'"))
    assert "USING INDEX _gl_h1_valid_to" in plan
    assert "SCAN _gl_t " not in plan + " " and "SCAN items" not in plan


def test_changes_errors(shop):
    with pytest.raises(galaxlite.UnknownTagError):
        shop.query("SELECT * FROM items CHANGES BETWEEN VERSION 'nope' AND VERSION 'v2'")
    with pytest.raises(galaxlite.SqlSyntaxError, match="AND VERSION"):
        shop.query("SELECT * FROM items CHANGES BETWEEN VERSION 'v1' OR VERSION 'v2'")
    with pytest.raises(galaxlite.ReadOnlyVersionError):
        shop.execute("DELETE FROM items CHANGES BETWEEN VERSION 'v1' AND VERSION 'v2'")
    with pytest.raises(galaxlite.TableNotAtVersionError):
        shop.query("SELECT * FROM nope CHANGES BETWEEN VERSION 'v1' AND VERSION 'v2'")


def test_restore_several_tables_as_one_version(shop, plain):
    before = shop.version
    shop.execute("RESTORE TABLE items, orders TO VERSION 'v1'")
    assert shop.query("SELECT * FROM items ORDER BY id") == shop.query("SELECT * FROM items AT VERSION 'v1' ORDER BY id")
    assert shop.query("SELECT count(*) FROM orders") == [(2,)]
    (version,) = {v for (v,) in shop.query(
        "SELECT _version FROM items CHANGES BETWEEN VERSION 'v2' AND VERSION ? UNION "
        "SELECT _version FROM orders CHANGES BETWEEN VERSION 'v2' AND VERSION ? "
        , (shop.version, shop.version)) if v > before}
    assert version == shop.version  # one version for both tables
    assert [r for r in plain().execute("SELECT * FROM items ORDER BY id").fetchall()] == [
        (1, "item1", 1), (2, "item2", 1), (3, "item3", 1), (4, "item4", 1), (5, "item5", 1)]
    shop.execute("RESTORE TABLE items TO VERSION 'v2'")  # the restore itself can be undone
    assert sorted(shop.query("SELECT * FROM items")) == sorted(shop.query("SELECT * FROM items AT VERSION 'v2'"))


def test_restore_refuses_a_schema_change_and_changes_nothing(shop):
    shop.execute("ALTER TABLE items ADD COLUMN color TEXT")
    shop.execute("ALTER TABLE orders RENAME COLUMN qty TO amount")
    with pytest.raises(galaxlite.SchemaChangedError, match="'color' was added"):
        shop.execute("RESTORE TABLE items TO VERSION 'v1'")
    with pytest.raises(galaxlite.SchemaChangedError, match="'color' was added; table 'orders': column 'qty' was renamed to 'amount'"):
        shop.execute("RESTORE TABLE items, orders TO VERSION 'v2'")
    assert shop.query("SELECT count(*) FROM items") == [(5,)]
    with pytest.raises(galaxlite.ProgrammingError, match="no versioned table"):
        shop.execute("RESTORE TABLE nope TO VERSION 'v1'")


def test_purge_keeps_tags_and_refuses_purged_versions(shop, plain):
    between = shop.query("SELECT max(_version) FROM items CHANGES BETWEEN VERSION 'v1' AND VERSION 'v2'")[0][0]
    shop.execute("CREATE VIEW old_items AS SELECT * FROM items AT VERSION 'v1'")
    shop.execute("UPDATE items SET price = 100")
    shop.create_tag("v3")
    expected = {t: sorted(shop.query(f"SELECT * FROM items AT VERSION '{t}'")) for t in ("v1", "v2", "v3")}
    view = sorted(shop.query("SELECT * FROM old_items"))
    shop.execute("DROP VERSION TAG 'v1'")  # the view still reads v1: its rows stay
    (report,) = [r for r in shop.query("PURGE HISTORY OF items BEFORE VERSION 'v3'")]
    assert report[0] == "items" and report[1] >= 0 and report[2] >= 0
    assert sorted(shop.query("SELECT * FROM old_items")) == view == expected["v1"]
    for t in ("v2", "v3"):
        assert sorted(shop.query(f"SELECT * FROM items AT VERSION '{t}'")) == expected[t]
    with pytest.raises(galaxlite.HistoryPurgedError, match="purged"):
        shop.query("SELECT * FROM items AT VERSION ?", (between,))
    with pytest.raises(galaxlite.HistoryPurgedError):
        shop.query("SELECT * FROM items CHANGES BETWEEN VERSION ? AND VERSION 'v3'", (between,))
    assert shop.query("SELECT count(*) FROM orders AT VERSION ?", (between,)) == [(2,)]  # not purged
    assert len(plain().execute("SELECT * FROM items").fetchall()) == 5
    with pytest.raises(sqlite3.OperationalError, match="galaxlite_catalog_writer"):  # still guarded
        plain().execute("DELETE FROM _gl_h1")
    sizes = {h.table: h for h in shop.history_sizes()}
    assert sizes["items"].horizon == shop.tag_version("v3") and sizes["orders"].horizon is None


def test_purge_reports_rows_and_bytes(db):
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 200) for i in range(2000)])
    for n in range(3):
        db.execute("UPDATE t SET body = ?", (str(n) * 200,))
    db.create_tag("now")
    (purged,) = db.purge_history("now")
    assert purged.rows == 6000 and purged.bytes > 6000 * 200
    assert db.query("SELECT count(*) FROM _gl_h1") == [(0,)]
    assert db.purge_history("now")[0].rows == 0


def test_cli_diff_gc_info(tmp_path):
    path = str(tmp_path / "c.db")
    ok(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, a); INSERT INTO t VALUES (1, 'x'), (2, 'y');"
             "CREATE VERSION TAG 'v1'; UPDATE t SET a = 'z' WHERE id = 1; DELETE FROM t WHERE id = 2;"
             "CREATE VERSION TAG 'v2'")
    assert ok("diff", path, "v1", "v2", "--format", "csv") == "table,inserted,deleted,updated\nt,0,1,1\n"
    rows = ok("diff", path, "v1", "v2", "--rows", "--format", "csv").splitlines()
    assert rows[2].startswith("id,a,_change,_version") and len(rows) == 6
    assert "no versioned table" in one_line_error(gl("diff", path, "v1", "v2", "--table", "u"), 2)
    out = ok("gc", path, "--before", "v2", "--vacuum")
    assert "freed 0 row versions" in out and "vacuumed" in out
    assert "history size" in ok("info", path)


def test_purge_horizons_are_a_guarded_catalog(tmp_path, plain) -> None:
    """A plain client can neither forge nor remove a purge horizon without galaxlite noticing:
    dropping galaxlite_purges after a purge is damage at the next open, not an empty catalog
    (which would let a purged version read as if it were whole)."""
    path = tmp_path / "p.db"
    with galaxlite.Database(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n)")
        db.execute("INSERT INTO t (n) VALUES (1)")
        db.execute("UPDATE t SET n = 2")
        db.execute("CREATE VERSION TAG 'cut'")
        db.execute("PURGE HISTORY BEFORE VERSION 'cut'")
    with pytest.raises(sqlite3.OperationalError, match="galaxlite_catalog_writer"):
        plain(path).execute("DELETE FROM galaxlite_purges")
    plain(path).execute("DROP TABLE galaxlite_purges")
    with pytest.raises(galaxlite.DatabaseError, match="galaxlite_purges is missing"):
        galaxlite.Database(path)

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
import tempfile
from collections import Counter
from pathlib import Path

import pytest
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
        for name, v in versions.items():
            if v < versions[cut] and v - 1 not in versions.values() and v - 1 > 0:
                with pytest.raises(galaxlite.HistoryPurgedError):
                    db.query("SELECT * FROM t AT VERSION ?", (v - 1,))
        assert db.check() == []

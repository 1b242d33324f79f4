"""The set-based write path gives row for row what the versioning triggers give.

The same random statements run on two files: on one, galaxlite's own UPDATE / DELETE /
one-row INSERT take the set-based path (triggers off, ``galaxlite.storage.set_writes``);
on the other, a user trigger that never does anything sits on every table, which sends
every statement through the versioning triggers (``galaxlite.engine.write_paths``). After
each statement a tag is made; at the end, both files must hold the same current rows, the
same rows at every tag and the same history (timestamps compared by the tags around
them), and every statement must have returned the same rows, rowcount and lastrowid.
"""

from __future__ import annotations

import bisect
import os
from collections import Counter
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galaxlite
from galaxlite.storage import set_writes

LONG = bool(os.environ.get("GALAXLITE_LONG"))

TABLES = {
    "ipk": "CREATE TABLE ipk (id INTEGER PRIMARY KEY, n INTEGER, s TEXT)",
    "plain": "CREATE TABLE plain (n INTEGER, s TEXT UNIQUE)",
    "wr": "CREATE TABLE wr (a INTEGER, b TEXT, n INTEGER, s TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID",
}
# WHERE clauses over n / s (every table has them); {t} is the table, {x} an alias
WHERES = [
    "n < ?", "n % 3 = ?", "s LIKE ? || '%'", "n IN (SELECT value FROM json_each(?))",
    "n > (SELECT avg(n) FROM {t}) - ?", "coalesce(s, '') <> ? AND n IS NOT NULL",
    "abs(n) = ?", "random() % 2 = ? OR 1",  # random(): takes the trigger path on both files
]


def statements():
    table = st.sampled_from(sorted(TABLES))
    value = st.integers(-3, 12)
    text = st.sampled_from(["a", "b", "c", "ab", None])

    @st.composite
    def one(draw) -> tuple[str, tuple]:
        t = draw(table)
        where = draw(st.sampled_from(WHERES)).format(t=t)
        p = draw(value) if "json_each" not in where else f"[{draw(value)}, {draw(value)}]"
        if "LIKE" in where or "<>" in where:
            p = draw(st.sampled_from(["a", "b", "c"]))
        alias = draw(st.booleans())
        target = f"{t} AS x" if alias else t
        qualified = where.replace("n ", "x.n ", 1) if alias and where.startswith("n ") else where
        returning = " RETURNING n, s" if draw(st.booleans()) else ""
        kind = draw(st.sampled_from(["update", "update", "delete", "insert", "insert", "insert_many",
                                     "replace", "upsert", "update_key", "update_all"]))
        if kind == "update":
            return f"UPDATE {target} SET n = n + ?, s = coalesce(s, 'z') WHERE {qualified}{returning}", (
                draw(value), p)
        if kind == "update_all":
            return f"UPDATE {t} SET n = n * 2{returning}", ()
        if kind == "delete":
            return f"DELETE FROM {target} WHERE {qualified}{returning}", (p,)
        if kind == "update_key":
            key = {"ipk": "id = id + 100", "plain": "rowid = rowid + 100", "wr": "a = a + 100"}[t]
            return f"UPDATE {t} SET {key} WHERE n = ?", (draw(value),)
        n, s = draw(value), draw(text)
        cols = {"ipk": "(id, n, s)", "plain": "(rowid, n, s)", "wr": "(a, b, n, s)"}[t]
        key = (draw(st.integers(1, 15)),) if t != "wr" else (draw(st.integers(1, 4)), draw(text) or "k")
        explicit = draw(st.booleans()) or t == "wr"
        values = key + (n, s) if explicit else (n, s)
        cols = cols if explicit else "(n, s)"
        marks = ", ".join("?" * len(values))
        if kind == "insert":
            verb = draw(st.sampled_from(["INSERT", "INSERT OR IGNORE"]))
            return f"{verb} INTO {t} {cols} VALUES ({marks}){returning}", values
        if kind == "insert_many":
            return f"INSERT OR IGNORE INTO {t} {cols} VALUES ({marks}), ({marks})", values + values
        if kind == "replace":
            return f"REPLACE INTO {t} {cols} VALUES ({marks})", values
        target_key = {"ipk": "(id)", "plain": "(s)", "wr": "(a, b)"}[t]
        if t == "plain" or not explicit:
            return f"INSERT OR IGNORE INTO {t} {cols} VALUES ({marks})", values
        return (f"INSERT INTO {t} {cols} VALUES ({marks}) ON CONFLICT {target_key} "
                f"DO UPDATE SET n = excluded.n{returning}"), values

    return one()


def _open(path: str, through_triggers: bool) -> galaxlite.Database:
    db = galaxlite.Database(path)
    for name, ddl in TABLES.items():
        db.execute(ddl)
        if through_triggers:
            for event in ("INSERT", "UPDATE", "DELETE"):
                db.execute(f"CREATE TRIGGER keep_{name}_{event} AFTER {event} ON {name} WHEN 0 BEGIN SELECT 1; END")
    return db


def _outcome(db: galaxlite.Database, sql: str, params: tuple):
    try:
        cur = db.execute(sql, params)
        return ("ok", Counter(cur.fetchall()), cur.rowcount, cur.lastrowid)
    except galaxlite.Error as exc:
        return ("error", type(exc).__name__)


def _state(db: galaxlite.Database, tags: list[str]) -> dict:
    times = [ts for (ts,) in db.query("SELECT version FROM galaxlite_tags ORDER BY version")]

    def when(ts):
        return bisect.bisect_left(times, ts) if ts is not None else None

    out = {}
    for t in TABLES:
        tid = db.query("SELECT table_id FROM galaxlite_tables WHERE name = ? AND valid_to IS NULL", (t,))[0][0]
        out[t] = Counter(db.query(f"SELECT * FROM {t}"))
        out[t, "history"] = Counter(
            row[:-2] + (when(row[-2]), when(row[-1])) for row in db.query(f"SELECT * FROM _gl_h{tid}")
        )
        for tag in tags:
            out[t, tag] = Counter(db.query(f"SELECT * FROM {t} AT VERSION '{tag}'"))
    return out


def run_both(tmp_path, steps: list[tuple[str, tuple]], groups: list[int]) -> None:
    """Run ``steps`` on both files. ``groups`` cycles over the steps: 0 runs a step on its
    own, n > 0 runs it and the next n - 1 steps in one transaction (with a savepoint around
    the second half of it, rolled back when n is even); a tag follows each group."""
    fast, slow = _open(str(tmp_path / "fast.db"), False), _open(str(tmp_path / "slow.db"), True)
    both = (fast, slow)
    try:
        tags: list[str] = []
        k = g = 0
        while k < len(steps):
            size = groups[g % len(groups)]
            g += 1
            chunk = steps[k:k + max(size, 1)]
            if size:
                for db in both:
                    db.begin()
            for i, (sql, params) in enumerate(chunk):
                if size > 1 and i == len(chunk) // 2:
                    for db in both:
                        db.execute("SAVEPOINT half")
                got = [_outcome(db, sql, params) for db in both]
                assert got[0] == got[1], sql
                if tags and i == len(chunk) // 2:  # (each read ends a run of appends)
                    t = sql.split()[2] if sql.startswith("INSERT") else None
                    if t in TABLES:
                        reads = [db.query(f"SELECT * FROM {t} AT VERSION '{tags[-1]}' ORDER BY 1, 2") for db in both]
                        assert reads[0] == reads[1], sql
            if size > 1:
                for db in both:
                    db.execute("ROLLBACK TO half" if size % 2 == 0 else "RELEASE half")
            if size:
                for db in both:
                    db.commit()
            k += len(chunk)
            for db in both:
                db.execute(f"CREATE VERSION TAG 't{k}'")
            tags.append(f"t{k}")
        assert _state(fast, tags) == _state(slow, tags)
        assert fast.check() == [] and slow.check() == []
    finally:
        fast.close()
        slow.close()


@settings(max_examples=300 if LONG else 40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(statements(), min_size=1, max_size=25), groups=st.lists(st.integers(0, 6), min_size=1, max_size=4))
def test_set_based_path_writes_what_the_triggers_write(tmp_path_factory, steps, groups) -> None:
    run_both(tmp_path_factory.mktemp("sb"), steps, groups)


@settings(max_examples=150 if LONG else 25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(st.sampled_from(["ipk", "ipk", "plain"]),
                            st.one_of(st.none(), st.none(), st.integers(1, 40)),
                            st.integers(-3, 12)), min_size=2, max_size=30),
    groups=st.lists(st.integers(3, 12), min_size=1, max_size=3),
)
def test_runs_of_one_row_inserts_in_a_transaction(tmp_path_factory, rows, groups) -> None:
    """Runs of the same one-row INSERT in one transaction take the hot path (versioned
    together before the next other statement): ids given or not, contiguous or not, some
    undone by ROLLBACK TO, read AT VERSION in between."""
    steps = []
    for t, key, n in rows:
        col = {"ipk": "id", "plain": "rowid"}[t]
        if key is None:
            steps.append((f"INSERT INTO {t} (n, s) VALUES (?, ?)", (n, "a")))
        else:
            steps.append((f"INSERT INTO {t} ({col}, n, s) VALUES (?, ?, ?)", (key, n, f"s{key}")))
    with patch.object(set_writes, "RANGE_MIN_ROWS", 2):  # short runs become ranges too
        run_both(tmp_path_factory.mktemp("rows"), steps, groups)


@pytest.mark.parametrize("min_rows", [2, 10**9])
def test_a_run_of_appends_after_a_tag_matches_the_trigger_path(tmp_path, min_rows: int) -> None:
    steps = [("INSERT INTO ipk (n, s) VALUES (?, ?)", (n, "a")) for n in range(9)]
    steps.insert(5, ("INSERT INTO ipk (id, n, s) VALUES (?, ?, ?)", (50, 0, "b")))
    with patch.object(set_writes, "RANGE_MIN_ROWS", min_rows):  # as a range / as companion rows
        run_both(tmp_path, steps, [1, 9])


def test_a_run_of_inserts_becomes_one_range_or_companion_rows(db: galaxlite.Database) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n)")
    db.execute("CREATE VERSION TAG 'empty'")
    db.begin()
    for i in range(300):
        db.execute("INSERT INTO t (n) VALUES (?)", (i,))
    assert db.session.has_pending  # nothing versioned yet: the rows wait for the next statement
    assert db.query("SELECT count(*) FROM t AT VERSION 'empty'") == [(0,)]
    for i in (1000, 900, 950):
        db.execute("INSERT INTO t (id, n) VALUES (?, ?)", (i, i))
    db.commit()
    assert db.query("SELECT lo, hi FROM _gl_r1") == [(1, 300)]
    assert db.query("SELECT _gl_k0 FROM _gl_c1 ORDER BY 1") == [(900,), (950,), (1000,)]
    assert db.query("SELECT count(*) FROM t AT VERSION 'empty'") == [(0,)]
    db.execute("UPDATE t SET n = -1 WHERE id IN (3, 950)")
    assert db.query("SELECT count(*) FROM _gl_h1") == [(2,)]


def test_rows_undone_by_a_nested_transaction_are_not_versioned(db: galaxlite.Database) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n)")
    with db.transaction():
        for n in range(2):
            db.execute("INSERT INTO t (n) VALUES (?)", (n,))
        with pytest.raises(ZeroDivisionError), db.transaction():
            db.execute("INSERT INTO t (n) VALUES (3)")
            db.execute("INSERT INTO t (n) VALUES (4)")
            raise ZeroDivisionError
        db.execute("INSERT INTO t (n) VALUES (5)")
    assert db.query("SELECT id FROM t") == [(1,), (2,), (3,)]
    db.execute("DELETE FROM t")
    with db.transaction():
        for n in range(400):
            db.execute("INSERT INTO t (n) VALUES (?)", (n,))
        with pytest.raises(ZeroDivisionError), db.transaction():
            db.execute("INSERT INTO t (n) VALUES (?)", (-1,))
            raise ZeroDivisionError
    assert db.query("SELECT count(*) FROM t") == [(400,)]
    assert db.check() == []


def test_the_set_based_path_is_taken(db: galaxlite.Database) -> None:
    """Without this, the comparison above could compare the trigger path with itself."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n)")
    db.execute("INSERT INTO t (n) VALUES (1)")
    paths = db.session.write_paths
    assert paths.triggers_on is False  # the one-row INSERT ran with the triggers off
    db.execute("UPDATE t SET n = n + 1 WHERE n > random()")  # non-deterministic: triggers
    assert paths.triggers_on is True
    db.execute("UPDATE t SET n = n + 1 WHERE n > ?", (0,))
    assert paths.triggers_on is False
    db.execute("CREATE TRIGGER mine AFTER UPDATE ON t BEGIN SELECT 1; END")
    db.execute("UPDATE t SET n = n + 1")
    assert paths.triggers_on is True


@pytest.mark.parametrize("sql", [
    "UPDATE ipk SET n = n + 1 WHERE n IN (SELECT n FROM ipk WHERE n > 1)",
    "UPDATE ipk SET n = (SELECT max(n) FROM ipk) WHERE id = 2",
    "DELETE FROM ipk WHERE n = (SELECT min(n) FROM ipk)",
    "UPDATE main.ipk SET n = 0 WHERE main.ipk.n = 2",
    "UPDATE \"ipk\" AS \"my x\" SET n = -n WHERE \"my x\".n > 0 RETURNING id, n",
    "DELETE FROM 'ipk' WHERE ipk.n = 1",
])
def test_statements_reading_their_own_table(tmp_path, sql: str) -> None:
    fill = [("INSERT INTO ipk (n, s) VALUES (?, 'a')", (i,)) for i in range(4)]
    run_both(tmp_path, [*fill, (sql, ())], [0])


def test_a_failing_update_leaves_no_history(db: galaxlite.Database) -> None:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n UNIQUE)")
    db.execute("INSERT INTO t (n) VALUES (1), (2)")
    db.begin()
    with pytest.raises(galaxlite.IntegrityError):
        db.execute("UPDATE t SET n = 2 WHERE n = 1")
    db.commit()
    assert db.query("SELECT count(*) FROM _gl_h1") == [(0,)]


def test_a_range_whose_rows_went_in_their_own_version_is_no_finding(tmp_path):
    """Rows a whole-table UPDATE versions as one range, then REPLACEd in that same version
    (one transaction), leave a range with no row and no history: nobody saw those rows, so
    check has nothing to report (hypothesis found check reporting it)."""
    run_both(tmp_path, [
        ("INSERT OR IGNORE INTO plain (n, s) VALUES (?, ?), (?, ?)", (0, "c", 0, "c")),
        ("UPDATE plain SET n = n * 2", ()),
        ("REPLACE INTO plain (n, s) VALUES (?, ?)", (0, "c")),
    ], groups=[3])

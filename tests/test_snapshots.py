"""Dataset snapshots (CREATE / SAMPLE / PUBLISH / ARCHIVE / PURGE SNAPSHOT, ``name@version``,
the db4ai_* parameters) on real database files.

Every operation runs in both storage models (MSS and CSS) and must give the same rows; a
hypothesis test compares random USING batches with a Python model of the rows. A failing
batch must leave every table, view and catalog row exactly as it was. Plain ``sqlite3``
clients (other processes) read the views and the catalog; the CLI runs as subprocesses.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from pathlib import Path

import apsw
import pytest
from helpers import SEED_SCRIPT, gl, ok, one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galaxlite
from galaxlite import (
    DuplicateSnapshotError,
    ReadOnlyVersionError,
    SnapshotError,
    SnapshotParameterError,
    UnknownSnapshotError,
)
from galaxlite.semantic.vectors import encode_vector
from galaxlite.storage import guards

MODES = ("MSS", "CSS")
ROWS = [(i, f"name{i}", i % 3, float(i) / 2) for i in range(1, 21)]


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return request.param


@pytest.fixture
def cars(db: galaxlite.Database) -> galaxlite.Database:
    """A versioned table of 20 rows."""
    db.execute("CREATE TABLE cars (id INTEGER PRIMARY KEY, name TEXT, color INTEGER, price REAL)")
    db.executemany("INSERT INTO cars VALUES (?, ?, ?, ?)", ROWS)
    return db


def bag(db: galaxlite.Database, sql: str, params=None) -> Counter:
    """The rows of a query as a multiset (row order is not part of a snapshot)."""
    return Counter(db.query(sql, params))


def state(db: galaxlite.Database) -> dict:
    """Every schema object (main and temp) and the rows of every table: the whole database."""
    conn = db.session.conn
    objects = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    temp = sorted(conn.execute("SELECT type, name, sql FROM temp.sqlite_master"))
    tables = [n for t, n, _, _ in objects if t == "table"]
    rows = {n: Counter(map(repr, conn.execute(f'SELECT * FROM "{n}"'))) for n in tables}
    return {"objects": objects, "temp": temp, "rows": rows}


def use(db: galaxlite.Database, mode: str) -> None:
    db.execute(f"SET db4ai_snapshot_mode = {mode}")


# ------------------------------------------------------------------ CREATE ... AS


def test_create_as_makes_a_published_root_and_a_view(cars, mode):
    use(cars, mode)
    result = cars.execute("CREATE SNAPSHOT s COMMENT IS 'first' AS SELECT * FROM cars WHERE id > 3")
    assert result.columns == ["schema", "name"] and result.fetchall() == [("main", "s@1.0.0")]
    assert bag(cars, "SELECT * FROM s@1.0.0") == Counter(r for r in ROWS if r[0] > 3)
    assert bag(cars, 'SELECT * FROM "s@1.0.0"') == bag(cars, "SELECT * FROM main.s@1.0.0")
    snap = cars.snapshot("s@1.0.0")
    assert (snap.version, snap.parent, snap.root, snap.row_count, snap.mode) == (
        "1.0.0", None, "s@1.0.0", 17, mode
    )
    assert snap.published and not snap.archived and snap.comment == "first"
    assert snap.commands == ("SELECT *", "FROM cars WHERE id > 3", "")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", snap.created)
    row = cars.query(
        "SELECT id, parent_id, matrix_id, root_id, schema, name, owner, commands, comment, "
        "published, archived, row_count FROM db4ai.snapshot"
    )[0]
    assert row[1:] == (
        None, snap.id if mode == "CSS" else None, snap.id, "main", "s@1.0.0", snap.owner,
        '["SELECT *", "FROM cars WHERE id > 3", ""]', "first", 1, 0, 17,
    )
    # declared types survive (the view's columns are the table's)
    assert [d[1] for d in cars.execute("SELECT * FROM s@1.0.0").description] == [
        "INTEGER", "TEXT", "INTEGER", "REAL"
    ]


def test_a_snapshot_is_a_copy(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT id, price * 2 AS double, name FROM cars")
    cars.execute("UPDATE cars SET price = 0")
    cars.execute("DELETE FROM cars WHERE id < 10")
    assert bag(cars, "SELECT * FROM s@1.0.0") == Counter((i, p * 2, n) for i, n, _, p in ROWS)
    assert cars.execute("SELECT * FROM s@1.0.0").columns == ["id", "double", "name"]


def test_query_forms_parameters_and_duplicate_columns(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT p AS SELECT id FROM cars WHERE id > ? AND color = ?", (10, 1))
    assert bag(cars, "SELECT * FROM p@1.0.0") == Counter((i,) for i, _, c, _ in ROWS if i > 10 and c == 1)
    cars.execute("CREATE SNAPSHOT w AS WITH x AS (SELECT 1 AS a) SELECT a FROM x")
    cars.execute("CREATE SNAPSHOT v AS VALUES (1, 'a'), (2, NULL)")
    assert bag(cars, "SELECT * FROM v@1.0.0") == Counter([(1, "a"), (2, None)])
    assert cars.snapshot("w@1.0.0").row_count == 1
    with pytest.raises(SnapshotError, match='column "id" specified more than once'):
        cars.execute("CREATE SNAPSHOT d AS SELECT * FROM cars, cars AS c2")
    with pytest.raises(galaxlite.ProgrammingError, match="no such column: nope at line 1, column 33"):
        cars.execute("CREATE SNAPSHOT e AS SELECT id, nope FROM cars")
    assert [s.name for s in cars.snapshots()] == ["p@1.0.0", "w@1.0.0", "v@1.0.0"]


def test_parameters_in_using_commands(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT id, price FROM cars")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE id > ?; "
                 "UPDATE SET price = ? WHERE id = ?; INSERT VALUES (?, ?))", (15, -1.0, 1, 99, 9.5))
    assert cars.query("SELECT * FROM s@1.1.0 WHERE id IN (1, 99) ORDER BY id") == [(1, -1.0), (99, 9.5)]
    assert cars.snapshot("s@1.1.0").row_count == 16
    cars.execute("CREATE SNAPSHOT s FROM @1.1.0 USING (DELETE WHERE id < :n)", {"n": 5})
    assert cars.snapshot("s@1.2.0").row_count == 12


def test_snapshot_of_a_past_version(cars, mode):
    use(cars, mode)
    cars.create_tag("v1")
    cars.execute("DELETE FROM cars WHERE id > 5")
    cars.execute("CREATE SNAPSHOT past AS SELECT id, name FROM cars AT VERSION 'v1'")
    assert cars.snapshot("past@1.0.0").row_count == 20
    cars.execute(
        "CREATE SNAPSHOT past FROM @1.0.0 USING (DELETE WHERE id IN (SELECT id FROM cars); "
        "INSERT SELECT id + 100, name FROM cars AT VERSION 'v1' WHERE id = 1)"
    )
    assert bag(cars, "SELECT id FROM past@1.1.0") == Counter((i,) for i in [*range(6, 21), 101])


# ------------------------------------------------------------------ CREATE ... FROM ... USING


SEED_SETUP = """
CREATE TABLE test_data (pk INTEGER PRIMARY KEY, a1 INT, a2 INT, a3 INT, a4 INT, a5 INT, a6 INT,
                        a7 INT, a8 INT);
"""

def seed_rows() -> list[tuple]:
    return [(i, i % 7, i % 5, i % 9, i % 4, i % 3, i % 11, i % 13, i % 2) for i in range(1, 201)]


def seed_expected() -> dict[str, Counter]:
    """The five versions of the seed example, computed in Python."""
    data = {r[0]: dict(zip(("pk", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"), r, strict=True))
            for r in seed_rows()}
    v1 = [dict(a1=d["a1"], a3=d["a3"], a6=d["a6"], a8=d["a8"], a2=d["a2"], pk=d["pk"], b9=d["a1"],
               a7=d["a7"], a5=d["a5"]) for d in data.values()]
    v2 = []
    for r in v1:
        if r["pk"] == 3:
            continue
        r = dict(r, a1=5 if r["pk"] % 10 == 0 else r["a1"])
        v2.append({**{k: r[k] for k in ("a1", "a3", "a6", "a8", "pk", "a7", "a5")},
                   "x <> y": 8 if r["pk"] < 100 else 2, "t": ""})
    v3 = [dict(r, a5=data[r["pk"]]["a2"]) if data[r["pk"]]["a3"] % 8 == 0 else r for r in v2]
    v4 = [r for r in v3 if data[r["pk"]]["a7"] % 2 != 0]
    # INSERT without a column list is positional: a2 lands in pk, pk+1000 in a7, ...; t is
    # CHAR(10), whose TEXT affinity turns the inserted integer into text
    v5 = v4 + [dict(a1=d["a1"], a3=d["a3"], a6=d["a6"], a8=d["a8"], pk=d["a2"], a7=d["pk"] + 1000,
                    a5=d["a7"], **{"x <> y": d["a5"], "t": str(d["a4"])})
               for d in data.values() if d["pk"] % 10 == 4]
    return {f"m0@{v}": Counter(tuple(r.values()) for r in rows)
            for v, rows in zip(("1.0.0", "2.0.0", "2.0.1", "2.1.0", "2.2.0"), (v1, v2, v3, v4, v5),
                               strict=True)}


def test_the_seed_example_in_both_modes_gives_the_same_rows(tmp_path):
    views: dict[str, dict[str, Counter]] = {}
    for mode in MODES:
        with galaxlite.Database(tmp_path / f"{mode}.db") as db:
            db.executescript(SEED_SETUP)
            db.executemany("INSERT INTO test_data VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", seed_rows())
            use(db, mode)
            db.executescript(SEED_SCRIPT)
            snaps = db.snapshots()
            assert [s.name for s in snaps] == list(seed_expected())
            views[mode] = {s.name: bag(db, f'SELECT * FROM "{s.name}"') for s in snaps}
            assert db.execute("SELECT * FROM m0@2.2.0").columns == [
                "a1", "a3", "a6", "a8", "pk", "a7", "a5", "x <> y", "t"
            ]
            assert snaps[1].commands[:4] == ("UPDATE", "SET a1 = 5", "WHERE pk % 10 = 0", "ALTER")
            assert [s.parent for s in snaps] == [None, *[s.name for s in snaps[:-1]]]
            assert all(not s.published for s in snaps[1:])
    assert views["MSS"] == views["CSS"] == seed_expected()


def test_css_shares_unchanged_rows_and_copies_changed_ones(cars):
    use(cars, "CSS")
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (UPDATE SET price = -1 WHERE id <= 2)")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.1 USING (ALTER ADD flag INT DEFAULT 0; "
                 "UPDATE SET flag = 1 WHERE id = 5; INSERT VALUES (99, 'new', 0, 1.0, 7))")
    matrices = {s.storage for s in cars.snapshots()}
    assert matrices == {f"_gl_m{cars.snapshot('s@1.0.0').id}"}
    (matrix,) = matrices
    # 20 rows + 2 changed copies + 1 inserted row; the new column lives in the shared rows
    assert cars.query(f"SELECT count(*) FROM {matrix}") == [(23,)]
    cols = [r[1] for r in cars.query(f"SELECT * FROM pragma_table_info('{matrix}')")]
    assert cols == ["_gl_rid", "f1", "f2", "f3", "f4", "_gl_x0", "f5"]
    latest = cars.snapshot("s@2.0.0")
    assert (latest.top, latest.flags, latest.masks) == (23, (), (("_gl_x0", 1),))
    # only the two rows 1.0.1 changed were written in place (an exclusion bit): the rest not
    assert cars.query(f"SELECT _gl_rid FROM {matrix} WHERE _gl_x0 <> 0") == [(1,), (2,)]
    assert bag(cars, "SELECT id, flag FROM s@2.0.0 WHERE flag <> 0 OR id = 99") == Counter(
        [(5, 1), (99, 7)]
    )
    assert bag(cars, "SELECT id, price FROM s@1.0.0 WHERE id <= 2") == Counter([(1, 0.5), (2, 1.0)])


def test_css_marks_exclusion_bits_inclusion_flags_and_reuses_freed_bits(cars):
    use(cars, "CSS")
    cars.execute("CREATE SNAPSHOT s AS SELECT id, color FROM cars")
    cars.execute("SET db4ai_sample_seed = 3")
    cars.execute("SAMPLE SNAPSHOT s@1.0.0 AS _big AT RATIO .9, AS _small AT RATIO .1")
    big, small = cars.snapshot("s_big@1.0.0"), cars.snapshot("s_small@1.0.0")
    assert (big.flags, big.masks) == ((), (("_gl_x0", 1),))  # 2 rows dropped: bits
    assert (small.flags, small.masks) == ((f"_s{small.id}",), ())  # 2 rows kept: a flag
    assert cars.query(f"SELECT count(*) FROM {big.storage} WHERE _s{small.id} = 1") == [(2,)]
    # 70 versions that each change one row: the bits of _gl_x0 run out, _gl_x1 follows
    parent = "1.0.0"
    for i in range(70):
        cars.execute(f"CREATE SNAPSHOT s@d{i} FROM @{parent} USING "
                     f"(UPDATE SET color = color + 1 WHERE id = {i % 20 + 1})")
        parent = f"d{i}"
    colors = {i: c for i, _, c, _ in ROWS}
    assert dict(cars.query("SELECT id, color FROM s@d69")) == {
        i: c + (4 if i <= 10 else 3) for i, c in colors.items()
    }
    assert dict(cars.snapshot("s@d69").masks)["_gl_x1"] == 2**8 - 1
    for i in range(69, 9, -1):
        cars.execute(f"PURGE SNAPSHOT s@d{i}")
    cols = [r[1] for r in cars.query(f"SELECT * FROM pragma_table_info('{big.storage}')")]
    assert "_gl_x1" not in cols
    cars.execute("CREATE SNAPSHOT s@again FROM @d9 USING (UPDATE SET color = 99 WHERE id = 15)")
    again = dict(cars.snapshot("s@again").masks)["_gl_x0"]
    assert again == 2**12 - 2  # the chain's bits 1..10, then the lowest freed one, 11
    assert dict(cars.query("SELECT id, color FROM s@again")) == {
        i: 99 if i == 15 else c + (i <= 10) for i, c in colors.items()
    }
    assert cars.snapshot("s_big@1.0.0").row_count == len(cars.query("SELECT * FROM s_big@1.0.0")) == 18


def test_css_rows_appended_after_a_purge_stay_out_of_older_snapshots(cars):
    use(cars, "CSS")
    cars.execute("CREATE SNAPSHOT s AS SELECT id, color FROM cars")
    cars.execute("CREATE SNAPSHOT s@a FROM @1.0.0 USING (INSERT VALUES (21, 0), (22, 0))")
    cars.execute("CREATE SNAPSHOT s@c FROM @a USING (DELETE WHERE id > 20)")
    cars.execute("PURGE SNAPSHOT s@a")  # its two rows go: the matrix ends at _gl_rid 20 again
    assert cars.query(f"SELECT max(_gl_rid) FROM {cars.snapshot('s@c').storage}") == [(20,)]
    cars.execute("CREATE SNAPSHOT s@d FROM @1.0.0 USING (INSERT VALUES (99, 9))")
    assert cars.query("SELECT count(*) FROM s@c") == [(20,)]  # not 21: id 21 is not reused
    assert cars.query("SELECT count(*) FROM s@d WHERE id = 99") == [(1,)]


def test_a_full_css_matrix_asks_for_mss(db):
    use(db, "CSS")
    db.execute("CREATE SNAPSHOT w AS SELECT " + ", ".join(f"{i} AS c{i}" for i in range(1997)))
    db.execute("CREATE SNAPSHOT w FROM @1.0.0 USING (ALTER ADD x INT)")  # the 2000th column
    before = state(db)
    with pytest.raises(galaxlite.NotSupportedError, match="limit of columns.*db4ai_snapshot_mode = MSS"):
        db.execute("CREATE SNAPSHOT w FROM @2.0.0 USING (ALTER ADD y INT)")
    assert state(db) == before
    use(db, "MSS")
    db.execute("CREATE SNAPSHOT w FROM @2.0.0 USING (ALTER ADD y INT)")
    assert len(db.execute("SELECT * FROM w@3.0.0").columns) == 1999
    db.execute("SAMPLE SNAPSHOT w@3.0.0 AS _all AT RATIO 1")
    assert db.query("SELECT c0, c1996, x, y FROM w_all@3.0.0") == [(0, 1996, None, None)]


def test_equal_values_of_another_type_are_a_change(cars):
    use(cars, "CSS")
    cars.execute("CREATE SNAPSHOT s AS SELECT id, name || '' AS x FROM cars WHERE id <= 3")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (UPDATE SET x = 1 WHERE id = 1)")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.1 USING (UPDATE SET x = 1.0 WHERE id = 1)")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.2 USING (UPDATE SET x = upper(x) WHERE id = 2)")
    assert cars.query("SELECT x, typeof(x) FROM s@1.0.1 WHERE id = 1") == [(1, "integer")]
    assert cars.query("SELECT x, typeof(x) FROM s@1.0.2 WHERE id = 1") == [(1.0, "real")]
    assert cars.query("SELECT x FROM s@1.0.3 WHERE id = 2") == [("NAME2",)]
    assert cars.query("SELECT x FROM s@1.0.2 WHERE id = 2") == [("name2",)]


def test_mixed_modes_in_one_lineage(cars):
    use(cars, "MSS")
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    use(cars, "CSS")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE color = 0)")
    cars.execute("CREATE SNAPSHOT s FROM @1.1.0 USING (UPDATE SET price = 1)")
    use(cars, "MSS")
    cars.execute("CREATE SNAPSHOT s FROM @1.1.1 USING (ALTER DROP name)")
    expected = Counter((i, c, 1.0) for i, _, c, _ in ROWS if c != 0)
    assert bag(cars, "SELECT * FROM s@2.0.0") == expected
    assert bag(cars, "SELECT id, color, price FROM s@1.1.1") == expected
    modes = [(s.name, s.mode, s.matrix_id is not None) for s in cars.snapshots()]
    assert modes == [("s@1.0.0", "MSS", False), ("s@1.1.0", "CSS", True),
                     ("s@1.1.1", "CSS", True), ("s@2.0.0", "MSS", False)]


def test_delete_using_update_from_aliases_and_references(cars, mode):
    use(cars, mode)
    cars.execute("CREATE TABLE bad (id INTEGER PRIMARY KEY)")
    cars.execute("INSERT INTO bad VALUES (1), (2), (3)")
    cars.execute("CREATE SNAPSHOT s AS SELECT id, name, price FROM cars")
    cars.execute("CREATE SNAPSHOT other AS SELECT id FROM cars WHERE id > 15")
    cars.execute(
        "CREATE SNAPSHOT s FROM @1.0.0 USING ("
        " DELETE AS x USING bad b WHERE x.id = b.id;"
        " UPDATE AS y SET price = c.color FROM cars c WHERE y.id = c.id AND c.id < 6;"
        " DELETE WHERE id IN (SELECT id FROM other@1.0.0);"
        " INSERT (id, name) VALUES (50, 'late');"
        " UPDATE SNAPSHOT SET name = snapshot.name || '!' WHERE snapshot.id = 4)"
    )
    expected = Counter(
        (i, n + "!" if i == 4 else n, float(c) if i < 6 else p) for i, n, c, p in ROWS if 3 < i <= 15
    )
    expected[(50, "late", None)] += 1
    assert bag(cars, "SELECT * FROM s@1.1.0") == expected


def test_truesql_forms_and_empty_commands(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT id, color FROM cars")
    cars.execute(
        "CREATE SNAPSHOT s FROM @1.0.0 USING ((INSERT INTO snapshot VALUES (100, 9);; "
        "UPDATE snapshot SET color = 8 WHERE id = 1; DELETE FROM snapshot WHERE id = 2; "
        "ALTER TABLE snapshot ADD z INT DEFAULT 3;))"
    )
    assert cars.query("SELECT * FROM s@2.0.0 WHERE id IN (1, 2, 100) ORDER BY id") == [
        (1, 8, 3), (100, 9, 3)
    ]


def test_vector_and_text_columns(db, mode):
    use(db, mode)
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, emb VECTOR(3))")
    db.execute("INSERT INTO docs VALUES (1, 'cat', ?), (2, 'dog', ?), (3, NULL, NULL)",
               ([1, 0, 0], [0, 1, 0]))
    db.execute("CREATE SNAPSHOT d AS SELECT * FROM docs")
    assert db.execute("SELECT * FROM d@1.0.0").description[2][1] == "VECTOR(3)"
    db.execute(
        "CREATE SNAPSHOT d FROM @1.0.0 USING (INSERT VALUES (4, 'fish', vector('[0, 0, 1]'));"
        " UPDATE SET emb = vector('[1, 1, 1]') WHERE id = 2; ALTER ADD e2 VECTOR(2))"
    )
    before = state(db)
    with pytest.raises(galaxlite.VectorDimensionError, match="USING command 1"):
        db.execute("CREATE SNAPSHOT d FROM @2.0.0 USING (UPDATE SET e2 = vector('[1, 2, 3]'))")
    assert state(db) == before
    assert db.query("SELECT id, body, emb FROM d@2.0.0 ORDER BY id") == [
        (1, "cat", encode_vector([1, 0, 0])), (2, "dog", encode_vector([1, 1, 1])),
        (3, None, None), (4, "fish", encode_vector([0, 0, 1])),
    ]
    assert db.execute("SELECT e2 FROM d@2.0.0").description[0][1] == "VECTOR(2)"


def test_semantic_match_over_a_snapshot(tmp_path, mode):
    with galaxlite.Database(tmp_path / "s.db", embedder="hash") as db:
        use(db, mode)
        db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO docs VALUES (1, 'the cat and the dog'), (2, 'a fish in the river')")
        db.execute("CREATE SNAPSHOT d AS SELECT * FROM docs")
        direct = db.query("SELECT id FROM docs WHERE SEMANTIC_MATCH(body, 'river', 0.3)")
        assert direct == [(2,)]
        assert db.query("SELECT id FROM d@1.0.0 WHERE SEMANTIC_MATCH(body, 'river', 0.3)") == direct
        assert db.query(
            "SELECT x.id FROM d@1.0.0 AS x WHERE SEMANTIC_MATCH(x.body, 'river', 0.3)"
        ) == direct
        # inside USING commands, over the rows being changed
        db.execute("CREATE SNAPSHOT d FROM @1.0.0 USING (DELETE WHERE SEMANTIC_MATCH(body, 'river', 0.3); "
                   "UPDATE SET body = upper(body) WHERE SEMANTIC_SCORE(body, 'cat dog') > 0.3)")
        assert db.query("SELECT * FROM d@1.1.0") == [(1, "THE CAT AND THE DOG")]


# ------------------------------------------------------------------ atomicity


def test_a_failing_command_changes_nothing(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE id = 1)")
    before = state(cars)
    for bad in (
        "UPDATE SET price = 1; INSERT VALUES (100, 'x', 1, 1); UPDATE SET nope = 1",
        "ALTER ADD c INT; DELETE WHERE id > 3; ALTER ADD c TEXT",
        "ALTER DROP name; UPDATE SET price = 2; DELETE WHERE name = 'x'",
        "INSERT VALUES (1000, 'a', 1, 1); INSERT VALUES (1001, 'b', 1, 1); INSERT VALUES (1, 'c', 1, 1, 1)",
    ):
        with pytest.raises(galaxlite.Error, match="in USING command 3"):
            cars.execute(f"CREATE SNAPSHOT s FROM @1.1.0 USING ({bad})")
        assert state(cars) == before, bad
    # the same inside the user's transaction: earlier work there stays
    cars.begin()
    cars.execute("INSERT INTO cars VALUES (77, 'tx', 1, 1)")
    with pytest.raises(galaxlite.Error):
        cars.execute("CREATE SNAPSHOT s FROM @1.1.0 USING (DELETE; UPDATE SET x = 1)")
    assert cars.query("SELECT name FROM cars WHERE id = 77") == [("tx",)]
    cars.execute("CREATE SNAPSHOT s FROM @1.1.0 USING (DELETE WHERE id > 2)")
    cars.rollback()
    assert state(cars) == before


def test_error_positions_point_at_the_command(cars):
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    sql = "CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE id = 1;\n  UPDATE SET nope = 2)"
    with pytest.raises(galaxlite.ProgrammingError) as info:
        cars.execute(sql)
    assert info.value.position == sql.index("UPDATE")
    assert "no such column: nope" in str(info.value) and "line 2, column 3" in str(info.value)
    assert "_gl_" not in str(info.value)
    with pytest.raises(SnapshotError, match='column "name" already exists in current snapshot'):
        cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (ALTER ADD name TEXT)")
    with pytest.raises(SnapshotError, match=r"unable to map field \"zz\" to backing table in DROP "
                                            r"operation: 'DROP zz'"):
        cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (ALTER DROP zz)")


# ------------------------------------------------------------------ versions and names


def test_automatic_versions(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    steps = [
        ("1.0.0", "UPDATE SET price = 1", "1.0.1"),
        ("1.0.1", "UPDATE SET price = 2; DELETE WHERE id = 1", "1.1.0"),
        ("1.1.0", "INSERT VALUES (30, 'a', 1, 1)", "1.2.0"),
        ("1.2.0", "UPDATE SET price = 3; ALTER DROP IF EXISTS nothing", "2.0.0"),
        ("2.0.0", "ALTER ADD x INT", "3.0.0"),
    ]
    for parent, batch, expected in steps:
        assert cars.query(f"CREATE SNAPSHOT s FROM @{parent} USING ({batch})") == [
            ("main", f"s@{expected}")
        ]
    with pytest.raises(DuplicateSnapshotError, match=r'snapshot main\."s@1\.1\.0" already exists'):
        cars.execute("CREATE SNAPSHOT s FROM @1.0.1 USING (DELETE WHERE id = 2)")
    with pytest.raises(DuplicateSnapshotError, match=r'snapshot main\."s@1\.0\.0" already exists'):
        cars.execute("CREATE SNAPSHOT s AS SELECT 1")


def test_custom_versions(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s@2021 AS SELECT * FROM cars")
    cars.execute("CREATE SNAPSHOT s@squash FROM @2021 USING (DELETE WHERE id > 10)")
    cars.execute("CREATE SNAPSHOT s@\"rev 1.1\" FROM @squash USING (DELETE WHERE id > 5)")
    cars.execute("CREATE SNAPSHOT s@1.0 FROM @'rev 1.1' USING (DELETE WHERE id > 2)")
    cars.execute("CREATE SNAPSHOT s @ 007 FROM @1.0 USING (DELETE WHERE id > 1)")
    names = [s.name for s in cars.snapshots()]
    assert names == ["s@2021", "s@squash", "s@rev 1.1", "s@1.0", "s@7"]
    counts = [cars.query(f"SELECT count(*) FROM s@{v}")[0][0]
              for v in ("2021", "squash", '"rev 1.1"', "'rev 1.1'", "1.0", "7")]
    assert counts == [20, 10, 5, 5, 2, 1]
    for parent in ("2021", "squash", "1.0"):
        with pytest.raises(SnapshotError, match=f"parent has nonstandard version {parent}. "
                                                "i_vers cannot be null or empty"):
            cars.execute(f"CREATE SNAPSHOT s FROM @{parent} USING (DELETE)")
    with pytest.raises(SnapshotError, match="i_vers may contain only one single, leading '@'"):
        cars.execute("CREATE SNAPSHOT s@'a@b' AS SELECT 1")
    with pytest.raises(SnapshotError, match="illegal i_vers: '@'"):
        cars.execute("CREATE SNAPSHOT s@'@' AS SELECT 1")
    cars.execute("CREATE SNAPSHOT s@'@lead' AS SELECT 1")
    assert cars.snapshots()[-1].name == "s@lead"
    with pytest.raises(SnapshotError, match="snapshot name too long: 'x{60}@1.0.0'"):
        cars.execute(f"CREATE SNAPSHOT {'x' * 60} AS SELECT 1")
    cars.execute(f"CREATE SNAPSHOT {'x' * 57} AS SELECT 1")  # 63 characters in all
    with pytest.raises(UnknownSnapshotError, match=r'parent snapshot main\."s@9\.9\.9" does not exist'):
        cars.execute("CREATE SNAPSHOT s FROM @9.9.9 USING (DELETE)")


def test_names_and_other_schemas(cars):
    cars.execute('CREATE SNAPSHOT "My Data" AS SELECT id FROM cars')
    cars.execute("CREATE SNAPSHOT main.Upper AS SELECT id FROM cars")
    assert [s.name for s in cars.snapshots()] == ["My Data@1.0.0", "upper@1.0.0"]
    assert cars.query('SELECT count(*) FROM "My Data"@1.0.0') == [(20,)]
    assert cars.query("SELECT count(*) FROM UPPER@1.0.0") == [(20,)]
    with pytest.raises(galaxlite.NotSupportedError, match="main database"):
        cars.execute("CREATE SNAPSHOT other.s AS SELECT 1")
    with pytest.raises(galaxlite.NotSupportedError, match="main database"):
        cars.execute("SELECT * FROM other.s@1.0.0")
    cars.execute('CREATE TABLE "t@1.0.0" (x)')
    with pytest.raises(DuplicateSnapshotError, match='relation "t@1.0.0" already exists'):
        cars.execute("CREATE SNAPSHOT t AS SELECT 1")


def test_unknown_snapshot_and_read_only(cars):
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    sql = "SELECT *\nFROM s@9.9.9"
    with pytest.raises(UnknownSnapshotError, match=r'snapshot "s@9\.9\.9" does not exist at line 2, '
                                                   "column 6"):
        cars.execute(sql)
    for write in ("DELETE FROM s@1.0.0", "UPDATE s@1.0.0 SET price = 1",
                  "INSERT INTO s@1.0.0 VALUES (1, 'a', 1, 1)", "DELETE FROM db4ai.snapshot"):
        with pytest.raises(ReadOnlyVersionError, match="read-only"):
            cars.execute(write)
    assert cars.query("SELECT count(*) FROM s@1.0.0") == [(20,)]


# ------------------------------------------------------------------ SAMPLE


def strata(db: galaxlite.Database, name: str) -> Counter:
    return Counter(c for (c,) in db.query(f'SELECT color FROM "{name}"'))


def test_sample_is_stratified_disjoint_and_reproducible(tmp_path):
    rows = [(i, ["red", "green", "blue"][0 if i <= 50 else 1 if i <= 80 else 2]) for i in range(1, 101)]
    drawn = {}
    for mode in MODES:
        with galaxlite.Database(tmp_path / f"{mode}.db") as db:
            db.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, color TEXT)")
            db.executemany("INSERT INTO c VALUES (?, ?)", rows)
            use(db, mode)
            db.execute("SET db4ai_sample_seed = 42")
            db.execute("CREATE SNAPSHOT c AS SELECT * FROM c")
            result = db.query(
                "SAMPLE SNAPSHOT c@1.0.0 STRATIFY BY color AS _train AT RATIO .7 COMMENT IS 'tr', "
                "AS _test AT RATIO 0.2, AS _val AT RATIO .1"
            )
            assert result == [("main", "c_train@1.0.0"), ("main", "c_test@1.0.0"), ("main", "c_val@1.0.0")]
            assert strata(db, "c_train@1.0.0") == Counter(red=35, green=21, blue=14)
            assert strata(db, "c_test@1.0.0") == Counter(red=10, green=6, blue=4)
            assert strata(db, "c_val@1.0.0") == Counter(red=5, green=3, blue=2)
            ids = [set(r[0] for r in db.query(f'SELECT id FROM "c{x}@1.0.0"')) for x in ("_train", "_test", "_val")]
            assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
            assert set().union(*ids) == set(range(1, 101))
            train = db.snapshot("c_train@1.0.0")
            assert (train.parent, train.published, train.comment, train.commands) == (
                "c@1.0.0", False, "tr", ("SAMPLE _train .7 {color}",)
            )
            assert db.snapshot("c_test@1.0.0").commands == ("SAMPLE _test .2 {color}",)
            drawn[mode] = ids
            # the same seed draws the same rows again
            db.execute("SAMPLE SNAPSHOT c@1.0.0 STRATIFY BY color AS _again AT RATIO .7")
            assert {r[0] for r in db.query("SELECT id FROM c_again@1.0.0")} == ids[0]
            db.execute("RESET db4ai_sample_seed")
            db.execute("SAMPLE SNAPSHOT c@1.0.0 AS _fresh1 AT RATIO .5, AS _fresh2 AT RATIO .5")
            db.execute("SAMPLE SNAPSHOT c@1.0.0 AS _fresh3 AT RATIO .5")
            a, b = ({r[0] for r in db.query(f"SELECT id FROM c_fresh{i}@1.0.0")} for i in (1, 3))
            assert len(a) == len(b) == 50 and a != b  # unseeded: another draw (C(100,50) choices)
    assert drawn["MSS"] == drawn["CSS"]  # the draw does not depend on the storage model


def test_sample_of_several_columns_and_rounding(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    cars.execute("SET db4ai_sample_seed = 1")
    cars.execute("SAMPLE SNAPSHOT s@1.0.0 STRATIFY BY name, color AS x AT RATIO .5")
    # 20 strata of one row: round(0.5) = 1 each (half up)
    assert cars.snapshot("sx@1.0.0").row_count == 20
    assert cars.snapshot("sx@1.0.0").commands == ("SAMPLE x .5 {color,name}",)
    cars.execute("SAMPLE SNAPSHOT s@1.0.0 AS all_ AT RATIO 1")
    assert bag(cars, "SELECT * FROM sall_@1.0.0") == bag(cars, "SELECT * FROM s@1.0.0")


def test_sample_errors_change_nothing(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    before = state(cars)
    with pytest.raises(SnapshotError, match="add up to 1.1 > 1"):
        cars.execute("SAMPLE SNAPSHOT s@1.0.0 AS a AT RATIO .6, AS b AT RATIO .5")
    with pytest.raises(SnapshotError, match='column "nope" does not exist'):
        cars.execute("SAMPLE SNAPSHOT s@1.0.0 STRATIFY BY nope AS a AT RATIO .6")
    with pytest.raises(DuplicateSnapshotError):
        cars.execute("SAMPLE SNAPSHOT s@1.0.0 AS a AT RATIO .3, AS a AT RATIO .3")
    with pytest.raises(galaxlite.SqlSyntaxError, match="sample ratio must be between 0 and 1"):
        cars.execute("SAMPLE SNAPSHOT s@1.0.0 AS a AT RATIO 1.5")  # (the front end checks)
    with pytest.raises(UnknownSnapshotError, match=r'parent snapshot main\."s@2\.0\.0" does not exist'):
        cars.execute("SAMPLE SNAPSHOT s@2.0.0 AS a AT RATIO .5")
    with pytest.raises(SnapshotError, match="sample snapshot name too long"):
        cars.execute(f"SAMPLE SNAPSHOT s@1.0.0 AS {'z' * 60} AT RATIO .5")
    assert state(cars) == before
    cars.execute("SAMPLE SNAPSHOT s@1.0.0 AS a AT RATIO .5")
    with pytest.raises(DuplicateSnapshotError, match=r'snapshot main\."sa@1\.0\.0" already exists'):
        cars.execute("SAMPLE SNAPSHOT s@1.0.0 AS b AT RATIO .2, AS a AT RATIO .5")
    assert [s.name for s in cars.snapshots()] == ["s@1.0.0", "sa@1.0.0"]


def _expected_split(size: int, ratios: list[str]) -> list[int]:
    from decimal import Decimal

    bounds, total = [], Decimal(0)
    for r in ratios:
        total += Decimal(r)
        bounds.append(int(total * size + Decimal("0.5")))
    return [b - a for a, b in zip([0, *bounds], bounds, strict=False)]


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=4),
    ratios=st.lists(st.sampled_from([".1", ".15", ".25", ".3", ".333", ".5"]), min_size=1,
                    max_size=3).filter(lambda rs: sum(map(float, rs)) <= 1),
    mode=st.sampled_from(MODES),
)
def test_sample_counts_per_stratum(sizes, ratios, mode):
    with tempfile.TemporaryDirectory() as tmp, galaxlite.Database(Path(tmp) / "s.db") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER)")
        db.executemany("INSERT INTO t (k) VALUES (?)", [(k,) for k, n in enumerate(sizes) for _ in range(n)])
        use(db, mode)
        db.execute("CREATE SNAPSHOT t AS SELECT * FROM t")
        specs = ", ".join(f"AS _{i} AT RATIO {r}" for i, r in enumerate(ratios))
        db.execute(f"SAMPLE SNAPSHOT t@1.0.0 STRATIFY BY k AS {specs[3:]}")
        seen: set[int] = set()
        for i in range(len(ratios)):
            got = Counter(k for (k,) in db.query(f"SELECT k FROM t_{i}@1.0.0"))
            ids = {r for (r,) in db.query(f"SELECT id FROM t_{i}@1.0.0")}
            assert not ids & seen
            seen |= ids
            for k, n in enumerate(sizes):
                assert got[k] == _expected_split(n, ratios)[i]


# ------------------------------------------------------------------ PUBLISH / ARCHIVE / PURGE


def test_publish_and_archive(cars):
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE id = 1)")
    flags = lambda: [(s.published, s.archived) for s in cars.snapshots()]  # noqa: E731
    assert flags() == [(True, False), (False, False)]
    assert cars.query("PUBLISH SNAPSHOT s@1.1.0") == [("main", "s@1.1.0")]
    assert flags() == [(True, False), (True, False)]
    cars.execute("ARCHIVE SNAPSHOT s@1.1.0")
    cars.execute("ARCHIVE SNAPSHOT s@1.1.0")  # no transition rules
    assert flags() == [(True, False), (False, True)]
    cars.execute("PUBLISH SNAPSHOT s@1.1.0")
    assert flags() == [(True, False), (True, False)]
    with pytest.raises(UnknownSnapshotError, match=r'snapshot main\."s@3\.0\.0" does not exist'):
        cars.execute("ARCHIVE SNAPSHOT s@3.0.0")


def test_purge_reparents_and_frees_storage(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s COMMENT IS 'root' AS SELECT * FROM cars")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 COMMENT IS 'mid' USING (ALTER ADD extra INT DEFAULT 5; "
                 "UPDATE SET price = -1 WHERE id < 4)")
    cars.execute("CREATE SNAPSHOT s FROM @2.0.0 COMMENT IS 'leaf' USING (DELETE WHERE id > 10)")
    cars.execute("CREATE SNAPSHOT s@ins FROM @2.0.0 USING (INSERT VALUES (30, 'x', 1, 1, 1))")
    views = {s.name: bag(cars, f'SELECT * FROM "{s.name}"') for s in cars.snapshots()}
    with pytest.raises(SnapshotError) as info:
        cars.execute("PURGE SNAPSHOT s@1.0.0")
    assert info.value.hint == "purge all dependent snapshots first"
    assert "cannot purge root snapshot 'main.\"s@1.0.0\"' having dependent snapshots" in str(info.value)
    mid = cars.snapshot("s@2.0.0")
    assert cars.query("PURGE SNAPSHOT s@2.0.0") == [("main", "s@2.0.0")]
    leaf = cars.snapshot("s@2.1.0")
    assert leaf.parent == "s@1.0.0" and leaf.comment == "mid | leaf"
    assert leaf.commands == mid.commands + ("DELETE", "WHERE id > 10")
    assert [s.name for s in cars.lineage("s@2.1.0")] == ["s@1.0.0", "s@2.1.0"]
    with pytest.raises(UnknownSnapshotError):
        cars.execute("SELECT * FROM s@2.0.0")
    remaining = {s.name: bag(cars, f'SELECT * FROM "{s.name}"') for s in cars.snapshots()}
    assert remaining == {k: v for k, v in views.items() if k != "s@2.0.0"}
    objects = {n for (n,) in cars.query("SELECT name FROM sqlite_master")}
    assert "s@2.0.0" not in objects
    if mode == "MSS":
        assert f"_gl_s{mid.id}" not in objects
    else:
        matrix = mid.storage
        cols = [r[1] for r in cars.query(f"SELECT * FROM pragma_table_info('{matrix}')")]
        # the children's views still test the purged one's exclusion bit and read its f5
        assert dict(mid.masks)["_gl_x0"] & dict(leaf.masks)["_gl_x0"] and "f5" in cols
    for name in ("s@2.1.0", "s@ins"):
        cars.execute(f"PURGE SNAPSHOT {name}")
    if mode == "CSS":
        cols = [r[1] for r in cars.query(f"SELECT * FROM pragma_table_info('{matrix}')")]
        assert cols == ["_gl_rid", "f1", "f2", "f3", "f4", "_gl_x0"]
        assert cars.query(f"SELECT count(*) FROM {matrix}") == [(20,)]  # the copies are gone
    cars.execute("PURGE SNAPSHOT s@1.0.0")
    leftovers = [n for (n,) in cars.query("SELECT name FROM sqlite_master") if n.startswith(("_gl_s", "_gl_m", "s@"))]
    assert leftovers == [] and cars.snapshots() == []


def test_purge_keeps_rows_other_snapshots_use(cars):
    use(cars, "CSS")
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (UPDATE SET price = 0 WHERE id < 5)")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.1 USING (DELETE WHERE id > 15)")
    cars.execute("SAMPLE SNAPSHOT s@1.1.0 AS _half AT RATIO .5")
    expected = {s.name: bag(cars, f'SELECT * FROM "{s.name}"') for s in cars.snapshots()}
    cars.execute("PURGE SNAPSHOT s@1.0.1")
    cars.execute("PURGE SNAPSHOT s@1.1.0")
    del expected["s@1.0.1"], expected["s@1.1.0"]
    assert {s.name: bag(cars, f'SELECT * FROM "{s.name}"') for s in cars.snapshots()} == expected
    assert cars.snapshot("s_half@1.1.0").parent == "s@1.0.0"


# ------------------------------------------------------------------ parameters


def test_set_show_reset_and_persisted_parameters(db_path, open_db):
    a, b = open_db(), open_db()
    assert a.execute("SHOW db4ai_snapshot_mode").description[0][0] == "db4ai_snapshot_mode"
    assert a.query("SHOW db4ai_snapshot_mode") == [("MSS",)]
    assert a.query("SHOW db4ai_sample_seed") == [(None,)]
    a.execute("SET db4ai_snapshot_mode = css")
    a.execute("SET db4ai_snapshot_version_delimiter TO '#'")
    assert a.query("SHOW db4ai_snapshot_mode") == [("CSS",)]
    assert b.query("SHOW db4ai_snapshot_mode") == [("MSS",)]  # session only
    b.execute("ALTER DATABASE SET db4ai_snapshot_version_separator = '_'")
    assert a.query("SHOW db4ai_snapshot_version_separator") == [("_",)]
    c = open_db()
    assert c.query("SHOW db4ai_snapshot_version_separator") == [("_",)]
    assert c.query("SHOW db4ai_snapshot_version_delimiter") == [("@",)]
    a.execute("RESET db4ai_snapshot_version_delimiter")
    assert a.query("SHOW db4ai_snapshot_version_delimiter") == [("@",)]
    b.execute("SET db4ai_snapshot_version_separator = '-'")
    b.execute("ALTER DATABASE RESET db4ai_snapshot_version_separator")
    assert b.query("SHOW db4ai_snapshot_version_separator") == [("-",)]  # the session's SET wins
    assert c.query("SHOW db4ai_snapshot_version_separator") == [(".",)]
    a.execute("SET db4ai_snapshot_mode = DEFAULT")
    assert a.query("SHOW db4ai_snapshot_mode") == [("MSS",)]


@pytest.mark.parametrize("sql, message", [
    ("SET db4ai_snapshot_mode = 8", "invalid snapshot mode: '8'"),
    ("SET db4ai_snapshot_mode = 'fast'", "invalid snapshot mode: 'FAST'"),
    ("SET db4ai_snapshot_version_delimiter = '##'",
     'invalid value for parameter "db4ai_snapshot_version_delimiter": "##"'),
    ("SET db4ai_snapshot_version_delimiter = ''",
     'invalid value for parameter "db4ai_snapshot_version_delimiter": ""'),
    ("SET db4ai_snapshot_version_delimiter = '.'",
     'invalid value for parameter "db4ai_snapshot_version_delimiter": "."'),
    ("SET db4ai_snapshot_version_separator = '@'",
     'invalid value for parameter "db4ai_snapshot_version_separator": "@"'),
    ("ALTER DATABASE SET db4ai_snapshot_version_separator = 3",
     'invalid value for parameter "db4ai_snapshot_version_separator": "3"'),
    ("SET db4ai_sample_seed = 'abc'", 'invalid value for parameter "db4ai_sample_seed": "abc"'),
])
def test_bad_parameter_values(db, sql, message):
    before = state(db)
    with pytest.raises(SnapshotParameterError, match=re.escape(message)) as info:
        db.execute(sql)
    assert info.value.position is not None
    assert state(db) == before
    assert db.query("SHOW db4ai_snapshot_mode") == [("MSS",)]


def test_delimiter_and_separator_name_the_views(cars, plain):
    cars.execute("ALTER DATABASE SET db4ai_snapshot_version_delimiter = '#'")
    cars.execute("SET db4ai_snapshot_version_separator = '_'")
    cars.execute("CREATE SNAPSHOT data AS SELECT id FROM cars")
    cars.execute("CREATE SNAPSHOT data FROM @1.0.0 USING (DELETE WHERE id > 5)")
    assert [s.name for s in cars.snapshots()] == ["data#1_0_0", "data#1_1_0"]
    assert cars.query("SELECT count(*) FROM data@1.1.0") == [(5,)]
    assert cars.query('SELECT count(*) FROM "data#1_1_0"') == [(5,)]
    assert plain().execute('SELECT count(*) FROM "data#1_1_0"').fetchall() == [(5,)]
    cars.execute("RESET db4ai_snapshot_version_separator")
    with pytest.raises(UnknownSnapshotError, match='snapshot "data#1.1.0" does not exist'):
        cars.execute("SELECT * FROM data@1.1.0")
    with pytest.raises(SnapshotError, match=r"parent has nonstandard version 1_1_0"):
        cars.execute("CREATE SNAPSHOT data FROM @'1_1_0' USING (DELETE)")
    with pytest.raises(SnapshotError, match="i_name must not contain '#' characters"):
        cars.execute('CREATE SNAPSHOT "a#b" AS SELECT 1')


def test_a_bad_persisted_mode_fails_when_used(db, db_path):
    db.execute("CREATE SNAPSHOT r AS SELECT 1 AS x")
    # (galaxlite_meta is read-only for plain clients: bad values written as a buggy program
    # holding galaxlite's guard function could)
    raw = apsw.Connection(str(db_path))
    with guards.catalog_writer(raw):
        raw.execute("INSERT INTO galaxlite_meta (key, value) VALUES ('db4ai_snapshot_mode', 'XSS')")
        raw.execute("INSERT INTO galaxlite_meta (key, value) VALUES ('db4ai_sample_seed', 'abc')")
    raw.close()
    assert db.query("SELECT * FROM r@1.0.0") == [(1,)]  # reading needs no mode (nor seed)
    db.execute("PUBLISH SNAPSHOT r@1.0.0")
    with pytest.raises(SnapshotParameterError, match='invalid value for parameter "db4ai_sample_seed"'):
        db.execute("SET db4ai_snapshot_mode = MSS")
        db.execute("SAMPLE SNAPSHOT r@1.0.0 AS _a AT RATIO .5")
    db.execute("SET db4ai_sample_seed = 1")
    db.execute("RESET db4ai_snapshot_mode")
    with pytest.raises(SnapshotParameterError, match="invalid snapshot mode: 'XSS'"):
        db.execute("CREATE SNAPSHOT s AS SELECT 1")
    db.execute("SET db4ai_snapshot_mode = CSS")
    db.execute("CREATE SNAPSHOT s AS SELECT 1")


# ------------------------------------------------------------------ plain clients, catalog, API


def test_plain_clients_read_views_and_catalog_but_cannot_write_it(cars, plain, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT id, name FROM cars WHERE id <= 5")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (UPDATE SET name = 'x' WHERE id = 1; ALTER ADD n INT DEFAULT 1)")
    client = plain()
    assert Counter(client.execute('SELECT * FROM "s@2.0.0"').fetchall()) == bag(cars, "SELECT * FROM s@2.0.0")
    assert client.execute("SELECT name, commands FROM db4ai_snapshot ORDER BY id").fetchall() == [
        ("s@1.0.0", '["SELECT id, name", "FROM cars WHERE id <= 5", ""]'),
        ("s@2.0.0", '["UPDATE", "SET name = \'x\'", "WHERE id = 1", "ALTER", "ADD n INT DEFAULT 1"]'),
    ]
    import sqlite3

    for write in ("DELETE FROM db4ai_snapshot", "UPDATE db4ai_snapshot SET published = 1",
                  "INSERT INTO db4ai_snapshot (schema, name, owner, commands, row_count, prefix, "
                  "version, mode, storage, columns) VALUES ('main', 'x', 'o', '[]', 0, 'x', '1', "
                  "'MSS', 'x', '[]')"):
        # (a plain client's write fails as SQLite prepares it: the guard calls a function only
        # galaxlite connections define, see schema/catalog.sql)
        with pytest.raises(sqlite3.OperationalError, match="no such function: galaxlite_catalog_writer"):
            client.execute(write)
    with pytest.raises(galaxlite.IntegrityError, match="permission denied for relation snapshot"):
        cars.execute("UPDATE db4ai_snapshot SET published = 0")


def test_snapshots_are_not_versioned_tables(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE id = 1)")
    assert cars.versioned_tables() == ["cars"]
    with pytest.raises(galaxlite.TableNotAtVersionError):
        cars.execute(f"SELECT * FROM {cars.snapshot('s@1.0.0').storage} AT VERSION {cars.version}")
    assert cars.query("SELECT name FROM temp.sqlite_master") == []  # no working table left


def test_lineage_api(cars):
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (ALTER ADD c INT; UPDATE SET c = 1)")
    cars.execute("SAMPLE SNAPSHOT s@2.0.0 STRATIFY BY color AS _t AT RATIO .5")
    chain = cars.lineage("s_t@2.0.0")
    assert [(s.name, s.parent, s.root) for s in chain] == [
        ("s@1.0.0", None, "s@1.0.0"), ("s@2.0.0", "s@1.0.0", "s@1.0.0"),
        ("s_t@2.0.0", "s@2.0.0", "s@1.0.0"),
    ]
    assert [s.statements for s in chain] == [
        ["SELECT * FROM cars"], ["ALTER ADD c INT", "UPDATE SET c = 1"], ["SAMPLE _t .5 {color}"]
    ]
    assert cars.lineage("main.s@2.0.0") == chain[:2]
    with pytest.raises(UnknownSnapshotError):
        cars.lineage("nope@1.0.0")
    with pytest.raises(UnknownSnapshotError):
        cars.snapshot("nope@1.0.0")
    assert isinstance(chain[0], galaxlite.Snapshot)


def test_catalog_is_created_in_an_older_file(db_path):
    import apsw

    galaxlite.Database(db_path).close()
    conn = apsw.Connection(str(db_path))
    conn.execute("DROP TABLE db4ai_snapshot")
    conn.close()
    with galaxlite.Database(db_path) as db:
        db.execute("CREATE SNAPSHOT s AS SELECT 1 AS x")
        assert db.query("SELECT * FROM s@1.0.0") == [(1,)]


def test_cli_snapshots_and_lineage(tmp_path):
    path = str(tmp_path / "shop.db")
    ok(path, "CREATE TABLE cars (id INTEGER PRIMARY KEY, color TEXT);"
             "INSERT INTO cars (color) VALUES ('red'), ('blue'), ('red');"
             "CREATE SNAPSHOT cars COMMENT IS 'all cars' AS SELECT * FROM cars;"
             "SET db4ai_snapshot_mode = CSS;"
             "CREATE SNAPSHOT cars FROM @1.0.0 USING (DELETE WHERE color = 'blue')")
    lines = ok("snapshots", path).splitlines()
    assert [c.strip() for c in lines[0].split("|")][:4] == ["name", "parent", "mode", "rows"]
    assert [c.strip() for c in lines[2].split("|")][:5] == ["cars@1.0.0", "", "MSS", "3", "yes"]
    assert [c.strip() for c in lines[3].split("|")][:5] == ["cars@1.1.0", "cars@1.0.0", "CSS", "2", "no"]
    data = json.loads(ok("snapshots", path, "--format", "json"))
    assert [d["name"] for d in data] == ["cars@1.0.0", "cars@1.1.0"]
    text = ok("lineage", path, "cars@1.1.0").splitlines()
    assert text[0].startswith("cars@1.0.0  (root, MSS, 3 rows, published; created ")
    assert text[1:3] == ["    -- all cars", "    SELECT * FROM cars"]
    assert text[3].startswith("cars@1.1.0  (from cars@1.0.0, CSS, 2 rows; created ")
    assert text[4] == "    DELETE WHERE color = 'blue'"
    chain = json.loads(ok("lineage", path, "cars@1.1.0", "--format", "json"))
    assert [c["commands"] for c in chain] == [["SELECT *", "FROM cars", ""], ["DELETE", "WHERE color = 'blue'"]]
    assert 'snapshot main."cars@9.0.0" does not exist' in one_line_error(gl("lineage", path, "cars@9.0.0"))
    assert "expected NAME@VERSION" in one_line_error(gl("lineage", path, "cars"), 2)
    assert "cars@1.0.0" in ok(path, "SELECT name FROM db4ai.snapshot")
    shell = ok("shell", path, stdin=".snapshots\n.tables\n")
    assert re.search(r"cars@1\.1\.0 +\| cars@1\.0\.0 +\| CSS", shell)
    assert re.search(r"cars@1\.0\.0 +\| snapshot", shell) and "db4ai_snapshot" not in shell
    info = ok("info", path)
    assert "db4ai_snapshot" not in info and "_gl_" not in info
    assert "dataset snapshots: 2" in info and re.search(r"cars@1\.1\.0 +\| cars@1\.0\.0 +\| CSS +\| +2", info)


# ------------------------------------------------------------------ random batches vs a model

COLUMN_VALUES = {"k": st.integers(-3, 3) | st.none(), "v": st.sampled_from(["a", "b", "A", ""]) | st.none()}


class Model:
    """The rows of a snapshot under construction, with SQLite's semantics for what we do."""

    def __init__(self, columns: list[str], rows: list[dict]):
        self.columns, self.rows = list(columns), [dict(r) for r in rows]

    def copy(self) -> Model:
        return Model(self.columns, self.rows)

    def bag(self) -> Counter:
        return Counter(tuple(r[c] for c in self.columns) for r in self.rows)


def _where(cond: tuple[str, int] | None) -> tuple[str, callable]:
    if cond is None:
        return "", lambda r: True
    op, n = cond
    if op == "null":
        return " WHERE k IS NULL", lambda r: r["k"] is None
    sql_op = {"lt": "<", "ge": ">=", "eq": "="}[op]
    test = {"lt": lambda a: a < n, "ge": lambda a: a >= n, "eq": lambda a: a == n}[op]
    return f" WHERE k {sql_op} {n}", lambda r: r["k"] is not None and test(r["k"])


def _literal(value) -> str:
    if value is None:
        return "NULL"
    return f"'{value}'" if isinstance(value, str) else str(value)


conditions = st.none() | st.tuples(st.sampled_from(["lt", "ge", "eq", "null"]), st.integers(-3, 3))
commands = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 10**6)),
    st.tuples(st.just("update"), st.integers(0, 10**6), conditions),
    st.tuples(st.just("delete"), conditions),
    st.tuples(st.just("add"), st.integers(-2, 2)),
    st.tuples(st.just("drop"), st.integers(0, 10)),
    st.tuples(st.just("dedup")),  # reads the snapshot being built by its name "snapshot"
    st.tuples(st.just("double")),
)


def _command(model: Model, cmd: tuple, counter: list[int]) -> str | None:
    """Apply ``cmd`` to the model; the USING command text (None if not applicable)."""
    kind = cmd[0]
    rnd = __import__("random").Random(cmd[1] if kind in ("insert", "update") else 0)

    def value(col: str):
        if col == "k":
            return rnd.choice([None, -3, -1, 0, 1, 2, 3])
        if col == "v":
            return rnd.choice([None, "a", "b", "A", ""])
        return rnd.choice([None, 0, 7])  # added INT columns

    if kind == "insert":
        row = {c: value(c) for c in model.columns}
        model.rows.append(row)
        return "INSERT VALUES (" + ", ".join(_literal(row[c]) for c in model.columns) + ")"
    if kind == "update":
        col = rnd.choice(model.columns)
        new = value(col)
        where, test = _where(cmd[2])
        for r in model.rows:
            if test(r):
                r[col] = new
        return f"UPDATE SET {col} = {_literal(new)}{where}"
    if kind == "delete":
        where, test = _where(cmd[1])
        model.rows = [r for r in model.rows if not test(r)]
        return f"DELETE{where}"
    if kind == "dedup":  # multiset → set (GROUP BY: NULLs are one group, 'a' is not 'A')
        model.rows = list({tuple(r[c] for c in model.columns): r for r in model.rows}.values())
        return f"DELETE WHERE rowid NOT IN (SELECT min(rowid) FROM snapshot GROUP BY {', '.join(model.columns)})"
    if kind == "double":
        model.rows += [dict(r) for r in model.rows]
        return "INSERT SELECT * FROM snapshot"
    if kind == "add":
        counter[0] += 1
        col = f"c{counter[0]}"
        model.columns.append(col)
        for r in model.rows:
            r[col] = cmd[1]
        return f"ALTER ADD {col} INT DEFAULT {cmd[1]}"
    droppable = [c for c in model.columns if c != "k"]
    if not droppable:
        return None
    col = droppable[cmd[1] % len(droppable)]
    model.columns.remove(col)
    for r in model.rows:
        del r[col]
    return f"ALTER DROP {col}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.lists(st.tuples(COLUMN_VALUES["k"], COLUMN_VALUES["v"]), max_size=8),
    batches=st.lists(
        st.tuples(st.integers(0, 5), st.lists(commands, min_size=1, max_size=5)), min_size=1, max_size=4
    ),
)
def test_random_batches_match_a_model_in_both_modes(start, batches):
    """Each batch derives a new snapshot from a random earlier one (branches included); every
    snapshot must hold the model's rows, in MSS and in CSS."""
    models = [Model(["k", "v"], [{"k": k, "v": v} for k, v in start])]
    scripts: list[tuple[int, str]] = []
    counter = [0]
    for parent_pick, cmds in batches:
        parent = parent_pick % len(models)
        model = models[parent].copy()
        texts = [t for t in (_command(model, c, counter) for c in cmds) if t is not None]
        if not texts:
            continue
        models.append(model)
        scripts.append((parent, "; ".join(texts)))
    with tempfile.TemporaryDirectory() as tmp, galaxlite.Database(Path(tmp) / "r.db") as db:
        db.execute("CREATE TABLE src (k INTEGER, v TEXT)")
        db.executemany("INSERT INTO src VALUES (?, ?)", start)
        for mode in MODES:
            use(db, mode)
            p = mode.lower()
            db.execute(f"CREATE SNAPSHOT {p}@v0 AS SELECT * FROM src")
            for i, (parent, text) in enumerate(scripts, 1):
                db.execute(f"CREATE SNAPSHOT {p}@v{i} FROM @v{parent} USING ({text})")
            for i, model in enumerate(models):
                view = f"{p}@v{i}"
                assert db.execute(f"SELECT * FROM {view}").columns == model.columns, (view, scripts)
                assert bag(db, f"SELECT * FROM {view}") == model.bag(), (view, scripts)


# ------------------------------------------------------------------ QA regressions


def test_alter_add_refuses_column_constraints(cars, mode):
    """REFERENCES tied MSS storage to the user's table (a DELETE FROM cars then failed on a
    foreign key) and CHECK / GENERATED failed in CSS only: all refused, in both modes."""
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    before = state(cars)
    for definition, word in (("INT REFERENCES cars(id)", "REFERENCES"), ("INT CHECK (q > 0)", "CHECK"),
                             ("INT CONSTRAINT c CHECK (q > 0)", "CHECK"),
                             ("INT GENERATED ALWAYS AS (id * 2)", "GENERATED"),
                             ("AS (id * 2)", "GENERATED")):
        sql = f"CREATE SNAPSHOT s FROM @1.0.0 USING (ALTER ADD q {definition}; UPDATE SET q = id)"
        with pytest.raises(galaxlite.NotSupportedError, match=f"column constraint {word} is not supported") as info:
            cars.execute(sql)
        assert info.value.position == sql.index("AS (" if word == "GENERATED" and definition.startswith("AS")
                                                else word)
        assert state(cars) == before
    # what a column keeps works alike in both modes
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (ALTER ADD q INT NOT NULL DEFAULT 0 COLLATE NOCASE, "
                 "ADD r TEXT COLLATE NOCASE; UPDATE SET q = id, r = 'A' WHERE id < 3)")
    assert cars.query("SELECT count(*) FROM s@2.0.0 WHERE r = 'a'") == [(2,)]
    cars.execute("DELETE FROM cars WHERE id = 1")  # the user's table is not tied to the snapshot


def test_snapshot_storage_is_read_only(cars, plain, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT id, name FROM cars WHERE id <= 6")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (UPDATE SET name = 'x' WHERE id = 1)")
    storage = cars.snapshot("s@1.0.1").storage
    client = plain()
    import sqlite3

    for write in (f"DELETE FROM {storage}", f"UPDATE {storage} SET rowid = -rowid",
                  f"INSERT INTO {storage} SELECT * FROM {storage}"):
        before = state(cars)
        with pytest.raises(galaxlite.IntegrityError, match="snapshot storage .* is read-only"):
            cars.execute(write)
        with pytest.raises(sqlite3.IntegrityError, match="read-only"):
            client.execute(write)
        assert state(cars) == before
    # galaxlite's own writes (derive, sample, purge) still work, and leave the guards on
    cars.execute("CREATE SNAPSHOT s FROM @1.0.1 USING (DELETE WHERE id = 2; ALTER ADD c INT DEFAULT 1)")
    cars.execute("SAMPLE SNAPSHOT s@2.0.0 AS _a AT RATIO .5")
    cars.execute("PURGE SNAPSHOT s@1.0.1")
    assert bag(cars, "SELECT * FROM s@2.0.0") == Counter(
        [(1, "x", 1)] + [(i, f"name{i}", 1) for i in range(3, 7)]
    )
    for snap in cars.snapshots():
        with pytest.raises(sqlite3.IntegrityError, match="read-only"):
            client.execute(f"DELETE FROM {snap.storage}")


def test_using_commands_read_the_snapshot_being_built(cars, mode):
    """``snapshot`` names the snapshot being built in the commands' subqueries too (dedup by
    rowid, INSERT ... SELECT from itself), in both modes; a user's TEMP table of that name
    is left alone (and is what the name then means)."""
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT color, price > 5 AS big FROM cars")
    parent = bag(cars, "SELECT * FROM s@1.0.0")
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE rowid NOT IN "
                 "(SELECT min(rowid) FROM snapshot GROUP BY color, big))")
    assert bag(cars, "SELECT * FROM s@1.1.0") == Counter(set(parent))
    cars.execute("CREATE SNAPSHOT s@self FROM @1.0.0 USING (DELETE USING snapshot AS o WHERE "
                 "snapshot.color IS o.color AND snapshot.big IS o.big AND snapshot.rowid > o.rowid)")
    assert bag(cars, "SELECT * FROM s@self") == Counter(set(parent))
    cars.execute("CREATE SNAPSHOT s FROM @1.1.0 USING (INSERT SELECT * FROM snapshot; "
                 "INSERT SELECT * FROM s@1.0.0 WHERE color = 0; "
                 "UPDATE AS x SET color = x.color + (SELECT max(color) FROM snapshot))")
    doubled = Counter({r: 2 for r in set(parent)}) + Counter(r for r in parent.elements() if r[0] == 0)
    assert bag(cars, "SELECT * FROM s@1.2.0") == Counter(
        {(c + 2, b): n for (c, b), n in doubled.items()}
    )
    assert bag(cars, "SELECT * FROM s@1.0.0") == parent
    with pytest.raises(galaxlite.ProgrammingError) as info:
        cars.execute("CREATE SNAPSHOT s FROM @1.2.0 USING (INSERT VALUES (1))")
    assert "table snapshot has 2 columns but 1 values" in str(info.value)
    assert "temp." not in str(info.value) and "_gl_" not in str(info.value)
    cars.execute("CREATE TEMP TABLE snapshot (z)")
    cars.execute("INSERT INTO temp.snapshot VALUES (42)")
    cars.execute("CREATE SNAPSHOT s FROM @1.2.0 USING (UPDATE SET color = (SELECT z FROM snapshot))")
    assert cars.query("SELECT DISTINCT color FROM s@1.2.1") == [(42,)]
    assert cars.query("SELECT type, name FROM temp.sqlite_master") == [("table", "snapshot")]
    assert cars.query("SELECT * FROM temp.snapshot") == [(42,)]


def test_rowid_names_are_refused_at_creation_in_both_modes(cars, mode):
    use(cars, mode)
    sql = "CREATE SNAPSHOT r AS SELECT id AS rowid, color AS oid, price AS _rowid_ FROM cars"
    with pytest.raises(galaxlite.NotSupportedError, match="rowid, _rowid_ and oid") as info:
        cars.execute(sql)
    assert info.value.position == sql.index("SELECT")
    cars.execute("CREATE SNAPSHOT r AS SELECT id AS rowid, color AS oid FROM cars")
    before = state(cars)
    sql = "CREATE SNAPSHOT r FROM @1.0.0 USING (DELETE WHERE rowid = 1; ALTER ADD _rowid_ INT)"
    with pytest.raises(galaxlite.DatabaseError, match="rowid") as info:
        cars.execute(sql)
    assert info.value.position == sql.index("ALTER") and state(cars) == before
    cars.execute("CREATE SNAPSHOT r FROM @1.0.0 USING (DELETE WHERE rowid = 1)")
    assert cars.query("SELECT min(rowid), count(*) FROM r@1.1.0") == [(2, 19)]


def test_every_ancestor_keeps_its_rows_through_a_long_lineage(db_path, plain):
    """ADD ... DEFAULT, then UPDATEs of that column in children of children (the CSS
    chained-update hazard of openGauss), a value set back, DROP then ADD of the same name,
    siblings, SAMPLE, PURGEs in the middle and a change of delimiter/separator: after every
    statement each remaining snapshot holds exactly the rows it had, MSS and CSS agree, and a
    plain sqlite3 client reads every view."""
    steps = [
        "CREATE SNAPSHOT {p} AS SELECT * FROM t",
        "CREATE SNAPSHOT {p} FROM @1.0.0 USING (ALTER ADD c INT DEFAULT 7)",
        "CREATE SNAPSHOT {p} FROM @2.0.0 USING (UPDATE SET c = 8 WHERE id < 4)",
        "CREATE SNAPSHOT {p} FROM @2.0.1 USING (UPDATE SET c = 9 WHERE id < 6)",
        "CREATE SNAPSHOT {p} FROM @2.0.2 USING (UPDATE SET c = 7 WHERE id < 6)",  # set back
        "CREATE SNAPSHOT {p}@sib FROM @2.0.0 USING (UPDATE SET c = 1)",
        "CREATE SNAPSHOT {p} FROM @2.0.3 USING (ALTER DROP c)",
        "CREATE SNAPSHOT {p} FROM @3.0.0 USING (ALTER ADD c TEXT DEFAULT 'x')",
        "CREATE SNAPSHOT {p} FROM @4.0.0 USING (UPDATE SET c = 'y' WHERE id % 2 = 0; DELETE WHERE id = 12;"
        " INSERT VALUES (99, 1, 'n', 'z'))",
        "CREATE SNAPSHOT {p} FROM @4.1.0 USING (ALTER DROP c, ADD c INT; UPDATE SET c = id)",
        "CREATE SNAPSHOT {p}@sib2 FROM @2.0.1 USING (UPDATE SET c = 100 WHERE id < 4)",
        "SAMPLE SNAPSHOT {p}@4.1.0 STRATIFY BY a AS _tr AT RATIO .5, AS _te AT RATIO .25",
        "PURGE SNAPSHOT {p}@2.0.1",
        "PURGE SNAPSHOT {p}@4.1.0",  # the samples' parent
        "SET db4ai_snapshot_version_delimiter = '#'",
        "SET db4ai_snapshot_version_separator = '_'",
        "CREATE SNAPSHOT {p} AS SELECT * FROM t WHERE id < 5",  # {p}#1_0_0
        "CREATE SNAPSHOT {p} FROM @1.0.0 USING (UPDATE SET a = a + 100 WHERE id = 1)",
        "CREATE SNAPSHOT {p} FROM @1.0.1 USING (ALTER ADD c INT DEFAULT -1)",
        "PURGE SNAPSHOT {p}@1.0.1",
        "RESET db4ai_snapshot_version_delimiter",
        "RESET db4ai_snapshot_version_separator",
        "PURGE SNAPSHOT {p}@2.0.0",
        "PURGE SNAPSHOT {p}@sib",
    ]
    final = {}
    with galaxlite.Database(db_path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, i % 4, f"b{i}") for i in range(1, 13)])
        db.execute("SET db4ai_sample_seed = 3")
        for mode in MODES:
            use(db, mode)
            p = mode.lower()
            seen: dict[str, Counter] = {}
            for sql in steps:
                db.execute(sql.format(p=p))
                now = {s.name.replace(p, "", 1): bag(db, f'SELECT * FROM "{s.name}"')
                       for s in db.snapshots() if s.name.startswith(p)}
                for name, rows in now.items():
                    assert seen.setdefault(name, rows) == rows, (mode, sql, name)
            with pytest.raises(SnapshotError, match="cannot purge root snapshot"):
                db.execute(f"PURGE SNAPSHOT {p}@1.0.0")
            db.execute("SET db4ai_snapshot_version_separator = '_'")
            with pytest.raises(UnknownSnapshotError, match=f'snapshot "{p}@1_0_0" does not exist.*'
                               f'HINT: snapshot "{p}@1.0.0" was made under another'):
                db.execute(f"SELECT * FROM {p}@1.0.0")
            db.execute("RESET db4ai_snapshot_version_separator")
            final[mode] = now
        assert final["MSS"] == final["CSS"]
        assert sorted(final["CSS"]) == ["#1_0_0", "#2_0_0", "@1.0.0", "@2.0.2", "@2.0.3", "@3.0.0",
                                        "@4.0.0", "@5.0.0", "@sib2", "_te@4.1.0", "_tr@4.1.0"]
    client = plain()
    for (name,) in client.execute("SELECT name FROM db4ai_snapshot").fetchall():
        rows = Counter(client.execute(f'SELECT * FROM "{name}"').fetchall())
        assert rows == final[name[:3].upper()][name[3:]], name


def test_name_at_version_reads_the_storage_not_a_view_a_user_replaced(cars, plain, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT id, name FROM cars WHERE id <= 4")
    rows = bag(cars, "SELECT * FROM s@1.0.0")
    plain().execute('DROP VIEW "s@1.0.0"')
    assert bag(cars, "SELECT * FROM s@1.0.0") == rows
    cars.execute('CREATE VIEW "s@1.0.0" AS SELECT 1 AS id, 2 AS name')
    assert bag(cars, "SELECT * FROM main.s@1.0.0 AS x WHERE x.id > 0") == rows
    cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE id = 1)")
    assert bag(cars, "SELECT * FROM s@1.1.0") == rows - Counter([(1, "name1")])
    # a definition SQLite keeps names the view: it fails once the snapshot is purged, it
    # never reads storage that a purge changed (galaxlite refuses DROP VIEW of a snapshot's view)
    plain().execute('DROP VIEW "s@1.0.0"')
    cars.execute("CREATE SNAPSHOT t AS SELECT id FROM cars WHERE id < 3")
    cars.execute("CREATE SNAPSHOT t FROM @1.0.0 USING (DELETE WHERE id = 1)")
    cars.execute("CREATE VIEW mine AS SELECT * FROM t@1.1.0")
    assert cars.query("SELECT * FROM mine") == [(2,)]
    assert '"t@1.1.0"' in cars.query("SELECT sql FROM sqlite_master WHERE name = 'mine'")[0][0]
    cars.execute("PURGE SNAPSHOT t@1.1.0")
    with pytest.raises(galaxlite.ProgrammingError, match="no such table"):
        cars.query("SELECT * FROM mine")


def test_too_many_parameters_for_the_using_commands(cars, mode):
    use(cars, mode)
    cars.execute("CREATE SNAPSHOT s AS SELECT id, price FROM cars")
    before = state(cars)
    with pytest.raises(galaxlite.ProgrammingError, match="Incorrect number of bindings supplied.*use 1 "
                                                         "and there are 2 supplied"):
        cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (UPDATE SET price = ?)", (1, 2))
    with pytest.raises(galaxlite.ProgrammingError, match="Incorrect number of bindings"):
        cars.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (UPDATE SET price = ? WHERE id = ?)", (1,))
    assert state(cars) == before


def test_names_of_internal_tables_are_refused(db):
    db.execute("SET db4ai_snapshot_version_delimiter = 'l'")  # "_g" l "_s1" would be "_gl_s1"
    before = state(db)
    for sql in ("CREATE SNAPSHOT _g@_s1 AS SELECT 1", "CREATE SNAPSHOT sq@ite_master AS SELECT 1"):
        with pytest.raises(SnapshotError, match="is reserved: names starting with _gl_, galaxlite_, "
                                                "sqlite_ are for internal use") as info:
            db.execute(sql)
        assert info.value.position == len("CREATE SNAPSHOT ")
    db.execute("RESET db4ai_snapshot_version_delimiter")
    with pytest.raises(SnapshotError, match="reserved"):
        db.execute("CREATE SNAPSHOT galaxlite_tables AS SELECT 1")
    assert state(db) == before


def test_dbapi_transactions_around_snapshots(cars, db_path, mode):
    """Through galaxlite.connect: a failing CREATE SNAPSHOT inside the implicit transaction
    leaves it usable and intact; a rollback takes every snapshot made in it away (views,
    tables, catalog rows), a commit shows them to other connections."""
    cars.execute("CREATE SNAPSHOT s AS SELECT * FROM cars")
    before = state(cars)
    con = galaxlite.connect(db_path)
    cur = con.cursor()
    cur.execute(f"SET db4ai_snapshot_mode = {mode}")
    cur.execute("INSERT INTO cars VALUES (100, 'new', 1, 1.0)")  # opens the transaction
    assert con.in_transaction
    with pytest.raises(galaxlite.ProgrammingError, match="in USING command 2"):
        cur.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE id = 1; UPDATE SET nope = 1)")
    assert con.in_transaction
    cur.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE id = 1)")
    cur.execute("CREATE SNAPSHOT t AS SELECT * FROM cars WHERE id > 10")
    cur.execute("SAMPLE SNAPSHOT t@1.0.0 AS _a AT RATIO .5")
    assert cur.execute("SELECT count(*) FROM t@1.0.0").fetchall() == [(11,)]
    con.rollback()
    assert state(cars) == before
    cur.execute("INSERT INTO cars VALUES (100, 'new', 1, 1.0)")
    cur.execute("CREATE SNAPSHOT t AS SELECT * FROM cars WHERE id > 10")
    con.commit()
    assert bag(cars, "SELECT id FROM t@1.0.0") == Counter((i,) for i in [*range(11, 21), 100])
    con.close()


def test_a_snapshot_keeps_its_columns_collations(db, plain, mode):
    use(db, mode)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT COLLATE NOCASE, pad TEXT COLLATE RTRIM, "
               "raw TEXT)")
    db.execute("INSERT INTO t VALUES (1, 'Abc', 'x  ', 'Abc')")
    db.execute("CREATE SNAPSHOT s AS SELECT code, pad, raw, upper(code) AS u FROM t")
    db.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (INSERT VALUES ('ABC', 'x', 'abc', 'ABC'))")
    client = plain()
    for view, rows in (("s@1.0.0", 1), ("s@1.1.0", 2)):  # NOCASE and RTRIM kept, not BINARY
        assert db.query(f"SELECT count(*) FROM {view} WHERE code = 'abc' AND pad = 'x'") == [(rows,)]
        assert db.query(f"SELECT count(*) FROM {view} WHERE raw = 'abc' OR u = 'abc'") == [(rows - 1,)]
        assert client.execute(f"SELECT count(*) FROM \"{view}\" WHERE code = 'abc'").fetchall() == [(rows,)]
    assert db.execute("SELECT * FROM s@1.1.0").description[0][:2] == ("code", "TEXT")


def test_two_connections_make_snapshots_at_the_same_time(cars, open_db):
    """Each snapshot statement is one write transaction: connections wait for each other
    (busy timeout) and the catalog stays consistent."""
    import threading

    cars.execute("CREATE SNAPSHOT base AS SELECT * FROM cars")
    errors: list[BaseException] = []

    def work(k: int, mode: str) -> None:
        db = open_db(timeout=30)
        use(db, mode)
        try:
            for i in range(4):
                db.execute(f"CREATE SNAPSHOT p{k}_{i} AS SELECT * FROM cars WHERE id % {i + 2} = 0")
                db.execute(f"CREATE SNAPSHOT base@'{k}.{i}' FROM @1.0.0 USING (UPDATE SET price = {i} "
                           f"WHERE id % 3 = {i % 3})")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k, mode)) for k, mode in enumerate(MODES * 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    snaps = cars.snapshots()
    assert len(snaps) == 1 + 4 * 2 * 4
    for snap in snaps:
        assert cars.query(f'SELECT count(*) FROM "{snap.name}"') == [(snap.row_count,)]
    assert cars.query("PRAGMA integrity_check") == [("ok",)]


def test_drop_view_of_a_snapshot_is_refused(tmp_path):
    with galaxlite.Database(tmp_path / "d") as db:
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        db.execute("CREATE SNAPSHOT s AS SELECT x FROM t")
        db.execute("CREATE VIEW mine AS SELECT x FROM t")
        for sql in ('DROP VIEW "s@1.0.0"', 'DROP VIEW IF EXISTS main."S@1.0.0"'):
            with pytest.raises(galaxlite.SnapshotError, match=r'cannot drop view .*snapshot main\."s@1\.0\.0"') as err:
                db.execute(sql)
            assert "PURGE SNAPSHOT" in err.value.hint
        assert db.query('SELECT x FROM "s@1.0.0"') == [(1,)]
        db.execute("DROP VIEW mine")  # other views drop as always
        db.execute("DROP VIEW IF EXISTS absent")
        db.execute("PURGE SNAPSHOT s@1.0.0")
        assert db.query("SELECT count(*) FROM sqlite_schema WHERE type = 'view'") == [(0,)]


def test_at_version_of_a_snapshot_says_snapshots_have_no_versions(tmp_path):
    with galaxlite.Database(tmp_path / "d") as db:
        db.execute("CREATE TABLE t (x)")
        db.execute("CREATE SNAPSHOT s AS SELECT x FROM t")
        db.create_tag("v1")
        sql = """SELECT * FROM "s@1.0.0" AT VERSION 'v1'"""
        with pytest.raises(galaxlite.TableNotAtVersionError, match="is a dataset snapshot") as err:
            db.execute(sql)
        assert err.value.position == sql.index('"s@1.0.0"')

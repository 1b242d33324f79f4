"""galaxlite.Database: every statement, and every error a user can cause."""

from __future__ import annotations

import sqlite3

import pytest

import galaxlite
from galaxlite.storage import clock


@pytest.fixture
def db(tmp_path):
    database = galaxlite.Database(tmp_path / "t.db")
    yield database
    database.close()


@pytest.fixture
def items(db):
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, price REAL)")
    db.execute("INSERT INTO items (name, price) VALUES ('apple', 1.0), ('pear', 2.0)")
    return db


def snapshot(db):
    """Everything in the file, catalog and history included: to prove a failure changed nothing."""
    names = [n for (n,) in db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {n: sorted(db.query(f'SELECT * FROM "{n}"'), key=repr) for n in names}


# ---------------------------------------------------------------- opening


def test_directory_path_holds_the_file_and_exports(tmp_path):
    with galaxlite.Database(tmp_path / "data") as db:
        assert db.filename == str(tmp_path / "data" / "galaxlite.db")
        assert db.exports_dir == tmp_path / "data" / "exports"
        db.execute("CREATE TABLE t (a)")
    assert (tmp_path / "data" / "galaxlite.db").exists()


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(galaxlite.OperationalError, match="does not exist"):
        galaxlite.Database(tmp_path / "nope" / "x.db")


def test_closed_database(tmp_path):
    db = galaxlite.Database(tmp_path / "x.db")
    db.close()
    db.close()
    with pytest.raises(galaxlite.InterfaceError, match="closed"):
        db.execute("SELECT 1")


# ---------------------------------------------------------------- plain-table behaviour


def test_versioned_table_looks_exactly_like_a_plain_table(items):
    r = items.execute("SELECT * FROM items ORDER BY id")
    assert r.columns == ["id", "name", "price"]
    assert r.fetchall() == [(1, "apple", 1.0), (2, "pear", 2.0)]
    r = items.execute("INSERT INTO items VALUES (10, 'fig', 5.5)")  # positional
    assert (r.rowcount, r.lastrowid) == (1, 10)
    assert items.query("SELECT * FROM items WHERE id = 10") == [(10, "fig", 5.5)]


def test_rowcount_lastrowid_returning_upsert(items):
    r = items.execute("UPDATE items SET price = price + 1")
    assert r.rowcount == 2
    r = items.execute("INSERT INTO items (name, price) VALUES ('kiwi', 3) RETURNING id, name")
    assert r.fetchall() == [(3, "kiwi")]
    assert r.lastrowid == 3 and r.rowcount == 1
    assert r.columns == ["id", "name"]
    r = items.execute(
        "INSERT INTO items (name, price) VALUES ('kiwi', 9) "
        "ON CONFLICT (name) DO UPDATE SET price = excluded.price RETURNING price"
    )
    assert r.fetchall() == [(9.0,)]
    r = items.execute("DELETE FROM items WHERE price >= 2")
    assert r.rowcount == 3


def test_constraints_and_foreign_keys_are_native(db):
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE, CHECK (id > 0))")
    db.execute("INSERT INTO parent VALUES (1)")
    db.execute("INSERT INTO child VALUES (1, 1)")
    before = snapshot(db)
    with pytest.raises(galaxlite.IntegrityError, match="FOREIGN KEY"):
        db.execute("INSERT INTO child VALUES (2, 99)")
    with pytest.raises(galaxlite.IntegrityError, match="CHECK"):
        db.execute("INSERT INTO child VALUES (-1, 1)")
    with pytest.raises(galaxlite.IntegrityError, match="NOT NULL"):
        db.execute("INSERT INTO child (id) VALUES (3)")
    assert snapshot(db) == before
    db.create_tag("before-delete")
    db.execute("DELETE FROM parent")
    assert db.query("SELECT count(*) FROM child") == [(0,)]
    # the cascade was versioned too
    assert db.query("SELECT * FROM child AT VERSION 'before-delete'") == [(1, 1)]


def test_indexes_views_and_user_triggers_work(items):
    items.execute("CREATE INDEX items_price ON items (price)")
    items.execute("CREATE VIEW cheap AS SELECT name FROM items WHERE price < 1.5")
    items.execute("CREATE TABLE log (msg TEXT)")
    items.execute("CREATE TRIGGER items_log AFTER INSERT ON items BEGIN INSERT INTO log VALUES (new.name); END")
    items.execute("INSERT INTO items (name, price) VALUES ('plum', 0.5)")
    assert items.query("SELECT name FROM cheap ORDER BY name") == [("apple",), ("plum",)]
    assert items.query("SELECT msg FROM log") == [("plum",)]


def test_insert_or_replace_keeps_history(items):
    items.create_tag("v1")
    items.execute("INSERT OR REPLACE INTO items (id, name, price) VALUES (1, 'apple', 7.0)")
    assert items.query("SELECT price FROM items WHERE id = 1") == [(7.0,)]
    assert items.query("SELECT price FROM items AT VERSION 'v1' WHERE id = 1") == [(1.0,)]


def test_replace_fires_delete_triggers_to_keep_history(items):
    """Documented difference: REPLACE runs with recursive_triggers on (history is kept), so a
    user's DELETE trigger fires for the replaced row; other statements keep SQLite's default."""
    items.execute("CREATE TABLE log (m TEXT)")
    items.execute("CREATE TRIGGER gone AFTER DELETE ON items BEGIN INSERT INTO log VALUES (OLD.name); END")
    items.execute("CREATE TABLE r (n INTEGER)")
    items.execute("CREATE TRIGGER again AFTER INSERT ON r WHEN NEW.n < 5 BEGIN INSERT INTO r VALUES (NEW.n + 1); END")
    items.create_tag("v1")
    items.execute("REPLACE INTO items (id, name, price) VALUES (1, 'apple', 9)")
    assert items.query("SELECT m FROM log") == [("apple",)]
    assert items.query("SELECT price FROM items AT VERSION 'v1' WHERE id = 1") == [(1.0,)]
    items.execute("INSERT INTO r VALUES (1)")
    assert items.query("SELECT count(*) FROM r") == [(2,)]  # not recursive: SQLite's default


def test_changes_function_counts_the_users_statement(items):
    items.execute("INSERT INTO items (name) VALUES ('a'), ('b'), ('c')")
    assert items.query("SELECT changes()") == [(3,)]
    items.execute("INSERT OR IGNORE INTO items (name) VALUES ('a')")
    assert items.query("SELECT changes()") == [(0,)]
    r = items.execute("CREATE TABLE other (x)")
    assert r.lastrowid is None or items.query("SELECT last_insert_rowid()") == [(5,)]


def test_errors_while_stepping_are_galaxlite_errors(db):
    r = db.execute("SELECT 1 UNION ALL SELECT abs(-9223372036854775807 - 1)")
    assert r.fetchone() == (1,)
    with pytest.raises(galaxlite.Error, match="overflow"):
        r.fetchone()


def test_without_versioning_and_temp_tables_are_plain(db):
    db.execute("CREATE TABLE scratch (a) WITHOUT VERSIONING")
    db.execute("CREATE TEMP TABLE tmp (a)")
    db.execute("CREATE TABLE kept (a)")
    assert db.versioned_tables() == ["kept"]
    db.execute("INSERT INTO scratch VALUES (1)")
    db.create_tag("v")
    with pytest.raises(galaxlite.TableNotAtVersionError, match="not versioned"):
        db.query("SELECT * FROM scratch AT VERSION 'v'")
    assert db.query("SELECT sql FROM sqlite_master WHERE name = 'scratch'") == [("CREATE TABLE scratch (a)",)]


def test_create_table_if_not_exists_and_as_select(items):
    items.execute("CREATE TABLE IF NOT EXISTS items (x)")
    assert items.versioned_tables() == ["items"]
    items.execute("CREATE TABLE pricey AS SELECT name, price FROM items WHERE price > 1")
    items.create_tag("v")
    items.execute("DELETE FROM pricey")
    assert items.query("SELECT * FROM pricey AT VERSION 'v'") == [("pear", 2.0)]


def test_internal_tables_are_protected(items):
    for sql in ("DROP TABLE _gl_h1", "ALTER TABLE galaxlite_tags ADD COLUMN x", "CREATE TABLE _gl_x (a)"):
        with pytest.raises(galaxlite.ProgrammingError, match="internal"):
            items.execute(sql)
    items.execute("UPDATE items SET price = 0 WHERE price > 0")  # history and companion rows
    with pytest.raises(galaxlite.DatabaseError, match="immutable"):
        items.execute("DELETE FROM _gl_h1")
    with pytest.raises(galaxlite.DatabaseError, match="immutable"):
        items.execute("UPDATE _gl_h1 SET h2 = 5")
    with pytest.raises(galaxlite.DatabaseError, match="immutable"):
        items.execute("UPDATE _gl_c1 SET valid_from = 1")


# ---------------------------------------------------------------- tags and time travel


def test_tags_are_unique_named_versions(items):
    v1 = items.create_tag("v1")
    assert v1 == items.tag_version("v1") == items.version
    with pytest.raises(galaxlite.DuplicateTagError, match="'v1' already exists"):
        items.execute("CREATE VERSION TAG 'v1'")
    r = items.execute("CREATE VERSION TAG 'v2'")
    assert r.columns == ["version"]
    v2 = r.fetchone()[0]
    assert v2 > v1
    assert [t.name for t in items.tags()] == ["v1", "v2"]
    items.execute("DROP VERSION TAG 'v1'")
    with pytest.raises(galaxlite.UnknownTagError, match="'v1'"):
        items.execute("DROP VERSION TAG 'v1'")
    items.execute("DROP VERSION TAG IF EXISTS 'v1'")
    assert [t.name for t in items.tags()] == ["v2"]


def test_tag_names_are_any_nonempty_string(db):
    for name in ("a b", "x'y", "日本", "--", "1.0.0"):
        db.create_tag(name)
    assert sorted(t.name for t in db.tags()) == sorted(["a b", "x'y", "日本", "--", "1.0.0"])
    with pytest.raises(galaxlite.ProgrammingError, match="non-empty"):
        db.create_tag("")


def test_for_training_is_validated_then_exports(items):
    before = snapshot(items)
    with pytest.raises(galaxlite.SqlSyntaxError, match="unknown training precision"):
        items.execute("CREATE VERSION TAG 'x' FOR TRAINING WITH TRAINING PRECISION 'int4'")
    assert snapshot(items) == before
    (version,) = items.execute(
        "CREATE VERSION TAG 'x' FOR TRAINING WITH TRAINING PRECISION 'sq8' TRAINING SEED 42"
    ).fetchone()
    assert items.tags()[-1] == galaxlite.Tag("x", version, items.tags()[-1].created_us, True, "sq8", 42)
    assert [(e.table, e.rows) for e in items.exports("x")] == [("items", 2)]
    assert items.create_training_snapshot("y", seed=1) == items.tag_version("y")


def test_at_version_reads_the_past(items):
    v1 = items.create_tag("v1")
    items.execute("UPDATE items SET price = 10 WHERE name = 'apple'")
    items.execute("DELETE FROM items WHERE name = 'pear'")
    items.execute("INSERT INTO items (name, price) VALUES ('kiwi', 3)")
    past = [(1, "apple", 1.0), (2, "pear", 2.0)]
    assert sorted(items.query("SELECT * FROM items AT VERSION 'v1'")) == past
    assert sorted(items.query(f"SELECT * FROM items AT VERSION {v1}")) == past
    assert sorted(items.query("SELECT * FROM items AT VERSION ?", ("v1",))) == past
    assert sorted(items.query("SELECT * FROM items AT VERSION ?", (v1,))) == past
    assert sorted(items.query("SELECT * FROM items AT VERSION :v", {"v": "v1"})) == past
    assert sorted(items.query("SELECT * FROM items")) == [(1, "apple", 10.0), (2, "kiwi", 3.0)]


def test_at_version_in_joins_subqueries_ctes_and_aggregates(items):
    items.create_tag("v1")
    items.execute("UPDATE items SET price = price * 10")
    # today joined with the past
    rows = items.query(
        "SELECT now.name, now.price, old.price FROM items AS now "
        "JOIN items AT VERSION 'v1' AS old ON old.id = now.id ORDER BY now.id"
    )
    assert rows == [("apple", 10.0, 1.0), ("pear", 20.0, 2.0)]
    assert items.query("SELECT sum(price) FROM items AT VERSION 'v1'") == [(3.0,)]
    assert items.query(
        "WITH old AS (SELECT * FROM items AT VERSION 'v1') SELECT count(*) FROM old WHERE price > 1"
    ) == [(1,)]
    assert items.query(
        "SELECT name FROM items WHERE price > (SELECT max(price) FROM items AT VERSION 'v1') ORDER BY name"
    ) == [("apple",), ("pear",)]
    assert items.query(
        "SELECT name, count(*) FROM items AT VERSION 'v1' i GROUP BY name ORDER BY name DESC"
    ) == [("pear", 1), ("apple", 1)]
    assert items.query("SELECT items.name FROM items AT VERSION 'v1' WHERE items.id = 2") == [("pear",)]
    # reading the past into the present is a write to the present, which is allowed
    items.execute("CREATE TABLE restored AS SELECT * FROM items AT VERSION 'v1'")
    assert items.query("SELECT sum(price) FROM restored") == [(3.0,)]


def test_at_version_parameters_mixed_with_others(items):
    items.create_tag("v1")
    items.execute("UPDATE items SET price = 0")
    rows = items.query("SELECT name FROM items AT VERSION ? WHERE price > ? ORDER BY name", ("v1", 1.5))
    assert rows == [("pear",)]
    with pytest.raises(galaxlite.ProgrammingError, match="must be a tag name"):
        items.query("SELECT * FROM items AT VERSION ?", (1.5,))
    with pytest.raises(galaxlite.ProgrammingError, match="no value bound"):
        items.query("SELECT * FROM items AT VERSION :v", {"w": 1})


def test_version_errors(items):
    items.create_tag("v1")
    with pytest.raises(galaxlite.UnknownTagError, match="unknown version tag 'nope'") as info:
        items.query("SELECT * FROM items AT VERSION 'nope'")
    assert info.value.position == len("SELECT * FROM ")
    future = clock.now_us() + 10**9
    with pytest.raises(galaxlite.FutureVersionError, match="future"):
        items.query(f"SELECT * FROM items AT VERSION {future}")
    with pytest.raises(galaxlite.TableNotAtVersionError, match="did not exist"):
        items.query("SELECT * FROM items AT VERSION 1")
    with pytest.raises(galaxlite.TableNotAtVersionError, match="no such table"):
        items.query("SELECT * FROM nothing AT VERSION 'v1'")
    items.execute("CREATE TABLE later (a)")
    with pytest.raises(galaxlite.TableNotAtVersionError, match="its versions start at"):
        items.query("SELECT * FROM later AT VERSION 'v1'")


def test_writes_to_the_past_change_nothing(items):
    items.create_tag("v1")
    before = snapshot(items)
    for sql in (
        "INSERT INTO items AT VERSION 'v1' VALUES (9, 'x', 1)",
        "UPDATE items AT VERSION 'v1' SET price = 0",
        "DELETE FROM items AT VERSION 'v1'",
    ):
        with pytest.raises(galaxlite.ReadOnlyVersionError, match="read-only"):
            items.execute(sql)
    assert snapshot(items) == before


def test_one_transaction_is_one_version(items):
    with items.transaction():
        items.execute("INSERT INTO items (name) VALUES ('a')")
        items.execute("UPDATE items SET price = 5 WHERE name = 'a'")
        items.execute("INSERT INTO items (name) VALUES ('b')")
    versions = items.query("SELECT DISTINCT valid_from FROM _gl_c1 WHERE _gl_k0 > 2")
    assert len(versions) == 1
    # the intermediate state inside the transaction is not history
    assert items.query("SELECT count(*) FROM _gl_h1") == [(0,)]


def test_rollback_leaves_no_trace(items):
    before = snapshot(items)
    items.begin()
    items.execute("DELETE FROM items")
    items.create_tag("inside")
    items.rollback()
    assert snapshot(items) == before
    with pytest.raises(RuntimeError):
        with items.transaction():
            items.execute("DELETE FROM items")
            raise RuntimeError("boom")
    assert snapshot(items) == before


def test_tag_inside_a_transaction_separates_its_writes(items):
    with items.transaction():
        items.execute("UPDATE items SET price = 5")
        items.create_tag("mid")
        items.execute("UPDATE items SET price = 6")
    assert items.query("SELECT DISTINCT price FROM items AT VERSION 'mid'") == [(5.0,)]
    assert items.query("SELECT DISTINCT price FROM items") == [(6.0,)]


def test_sql_transaction_statements(items):
    items.execute("BEGIN")
    items.execute("UPDATE items SET price = 1.5")
    items.execute("SAVEPOINT sp")
    items.execute("DELETE FROM items")
    items.execute("ROLLBACK TO sp")
    items.execute("COMMIT")
    assert items.query("SELECT count(*), max(price) FROM items") == [(2, 1.5)]
    assert items.query("SELECT pinned FROM galaxlite_clock") == [(0,)]
    items.execute("SAVEPOINT outer_sp")
    items.execute("UPDATE items SET price = 2.5")
    items.execute("RELEASE outer_sp")
    assert not items.in_transaction
    assert items.query("SELECT pinned FROM galaxlite_clock") == [(0,)]


def test_clock_is_strictly_increasing_when_the_wall_clock_stalls(items, monkeypatch):
    monkeypatch.setattr(clock, "now_us", lambda: 1_000)  # far in the past, and stuck
    versions = []
    for i in range(5):
        items.execute("UPDATE items SET price = ?", (i,))
        versions.append(items.version)
        versions.append(items.create_tag(f"t{i}"))
    assert versions == sorted(set(versions))
    for i in range(5):
        assert items.query(f"SELECT DISTINCT price FROM items AT VERSION 't{i}'") == [(float(i),)]


def test_at_version_cost_follows_what_changed_not_all_history(items):
    """History is read through its valid_to index (only versions closed since v1); current
    rows are one pass over the table with a key probe of the companion each."""
    items.create_tag("v1")
    # nothing closed since v1 yet: inside a transaction (one read snapshot for the check and
    # the query) the history part is left out
    with items.transaction("DEFERRED"):
        plan = items.query("EXPLAIN QUERY PLAN SELECT * FROM items AT VERSION 'v1'")
        assert "_gl_h1" not in " | ".join(row[-1] for row in plan)
        assert sorted(items.query("SELECT * FROM items AT VERSION 'v1'")) == [
            (1, "apple", 1.0), (2, "pear", 2.0)
        ]
    items.execute("UPDATE items SET price = 0")
    plan = items.query("EXPLAIN QUERY PLAN SELECT * FROM items AT VERSION 'v1'")
    details = " | ".join(row[-1] for row in plan)
    assert "_gl_h1_valid_to" in details  # history: only rows closed after v1
    assert "SEARCH _gl_c USING INTEGER PRIMARY KEY" in details
    assert "SCAN _gl_h1" not in details


# ---------------------------------------------------------------- bulk insert


def test_bulk_insert_statement_forms(db):
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    r = db.execute("BULK INSERT INTO t (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    assert r.rowcount == 3
    db.execute("BULK INSERT INTO t (id, v) SELECT id + 10, v || v FROM t")
    assert db.query("SELECT count(*) FROM t") == [(6,)]
    # one version per statement, recorded as one rowid range: no per-row trigger work
    assert db.query("SELECT count(*) FROM _gl_c1") == [(0,)]
    ranges = db.query("SELECT lo, hi, valid_from FROM _gl_r1 ORDER BY lo")
    assert [(lo, hi) for lo, hi, _ in ranges] == [(1, 3), (11, 13)]
    assert ranges[0][2] < ranges[1][2]
    assert db.query("SELECT count(*) FROM sqlite_master WHERE name = '_gl_t1_ai'") == [(1,)]


def test_bulk_insert_is_all_or_nothing(db):
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    before = snapshot(db)
    with pytest.raises(galaxlite.IntegrityError):
        db.execute("BULK INSERT INTO t VALUES (5, 'x'), (6, NULL)")
    with pytest.raises(galaxlite.IntegrityError):
        db.bulk_insert("t", [(7, "y"), (1, "dup")])
    assert snapshot(db) == before


def test_bulk_insert_below_the_high_water_mark_takes_the_trigger_path(db):
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO t VALUES (100, 'x')")
    db.create_tag("v1")
    db.execute("BULK INSERT INTO t VALUES (1, 'low'), (200, 'high')")
    db.execute("BULK INSERT OR REPLACE INTO t VALUES (100, 'replaced')")
    assert db.query("SELECT * FROM t ORDER BY id") == [(1, "low"), (100, "replaced"), (200, "high")]
    assert db.query("SELECT * FROM t AT VERSION 'v1'") == [(100, "x")]


def test_bulk_insert_api_rows_dicts_and_arrow(db):
    import pyarrow as pa

    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    assert db.bulk_insert("t", [(1, "a"), (2, "b")]) == 2
    assert db.bulk_insert("t", [{"v": "c", "id": 3}]) == 1
    assert db.bulk_insert("t", pa.table({"id": [4, 5], "v": ["d", "e"]})) == 2
    assert db.bulk_insert("t", []) == 0
    assert db.query("SELECT v FROM t ORDER BY id") == [(c,) for c in "abcde"]


def test_executemany_takes_the_bulk_path_with_the_same_result(db):
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    r = db.executemany("INSERT INTO t (v) VALUES (?)", [(i,) for i in range(500)])
    assert r.rowcount == 500
    r = db.executemany("INSERT OR IGNORE INTO t (id, v) VALUES (?, ?)", [(i, -i) for i in range(490, 600)])
    assert r.rowcount == 99  # ids 490..500 exist already
    assert db.query("SELECT count(*), count(DISTINCT v) FROM t") == [(599, 599)]
    # each batch is one range (the ignored rows were not inserted); no per-row companion rows
    assert db.query("SELECT lo, hi FROM _gl_r1 ORDER BY lo") == [(1, 500), (501, 599)]
    assert db.query("SELECT count(*) FROM _gl_c1") == [(0,)]
    db.executemany("INSERT INTO t (id, v) VALUES (?, ?)", [(-i, i) for i in range(1, 101)])
    assert db.query("SELECT count(*) FROM _gl_c1") == [(100,)]  # below the highest rowid


def test_query_arrow(items):
    table = items.query_arrow("SELECT * FROM items ORDER BY id")
    assert table.column_names == ["id", "name", "price"]
    assert table.column("name").to_pylist() == ["apple", "pear"]
    empty = items.query_arrow("SELECT * FROM items WHERE id < 0")
    assert empty.num_rows == 0 and str(empty.schema.field("id").type) == "int64"
    items.execute("CREATE TABLE mixed (v) WITHOUT VERSIONING")
    items.execute("INSERT INTO mixed VALUES (1), ('x')")
    with pytest.raises(galaxlite.DataError, match="'v' mixes"):
        items.query_arrow("SELECT v FROM mixed")


# ---------------------------------------------------------------- errors


def test_sqlite_errors_are_mapped_with_positions(db):
    with pytest.raises(galaxlite.SqlSyntaxError, match="incomplete input"):
        db.execute("SELECT * FROM")
    with pytest.raises(galaxlite.SqlSyntaxError, match="syntax error") as info:
        db.execute("SELECT 1 FROM t WHERE AND")
    assert "line 1" in str(info.value)
    with pytest.raises(galaxlite.ProgrammingError, match="no such table"):
        db.execute("SELECT * FROM missing")
    # messages SQLite gives without an offset point at the name they are about
    db.execute("CREATE TABLE t (x)")
    db.execute("CREATE VIEW v AS SELECT x FROM t")
    for sql, at in (
        ("SELECT * FROM t JOIN main.missing", "missing"),
        ('INSERT INTO "v" VALUES (1)', '"v"'),
        ("INSERT INTO t (x, nope) VALUES (1, 2)", "nope"),
    ):
        with pytest.raises(galaxlite.ProgrammingError) as info:
            db.execute(sql)
        assert info.value.position == sql.index(at), sql
    with pytest.raises(galaxlite.ProgrammingError) as info:
        db.executescript("SELECT 1;\nUPDATE v SET x = 2")
    assert "line 2, column 8" in str(info.value)
    with pytest.raises(galaxlite.ProgrammingError, match="one statement"):
        db.execute("SELECT 1; SELECT 2")
    with pytest.raises(galaxlite.InterfaceError):
        db.execute(b"SELECT 1")
    assert db.execute("-- nothing").fetchall() == []


def test_executescript_is_atomic(db):
    db.executescript("CREATE TABLE t (a INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
    before = snapshot(db)
    with pytest.raises(galaxlite.IntegrityError):
        db.executescript("INSERT INTO t VALUES (2); CREATE VERSION TAG 'x'; INSERT INTO t VALUES (1);")
    assert snapshot(db) == before
    with pytest.raises(galaxlite.SqlSyntaxError) as info:
        db.executescript("SELECT 1;\nSELECT 'unterminated")
    assert "line 2" in str(info.value)


def test_error_classes_are_pep249_shaped():
    assert issubclass(galaxlite.IntegrityError, galaxlite.DatabaseError)
    assert issubclass(galaxlite.ReadOnlyVersionError, galaxlite.ProgrammingError)
    assert issubclass(galaxlite.UnknownTagError, galaxlite.VersionError)
    assert issubclass(galaxlite.DatabaseError, galaxlite.Error)
    assert not issubclass(galaxlite.Warning, galaxlite.Error)


def test_description_survives_exhaustion_and_empty_results(items):
    r = items.execute("SELECT id, name FROM items WHERE id < 0")
    assert r.fetchall() == []
    assert r.columns == ["id", "name"]
    r = items.execute("SELECT id FROM items")
    r.fetchall()
    assert r.columns == ["id"]
    assert items.execute("UPDATE items SET price = 1").description is None


def test_file_opens_in_plain_sqlite(items, tmp_path):
    items.create_tag("v1")
    con = sqlite3.connect(items.filename)
    assert con.execute("SELECT name FROM items ORDER BY id").fetchall() == [("apple",), ("pear",)]
    assert con.execute("SELECT name FROM galaxlite_tags").fetchall() == [("v1",)]
    con.close()


@pytest.mark.parametrize("in_transaction", [False, True])
def test_at_version_compares_with_the_columns_collations(db, in_transaction):
    db.execute("CREATE TABLE codes (id INTEGER PRIMARY KEY, code TEXT COLLATE NOCASE, pad TEXT COLLATE RTRIM)")
    db.execute("INSERT INTO codes (code, pad) VALUES ('ABC', 'x  '), ('def', 'y')")
    db.create_tag("v1")
    db.execute("UPDATE codes SET code = 'Def' WHERE id = 2")  # row 2's v1 version is in the history
    if in_transaction:
        db.begin()
    for where, expected in (("code = 'abc'", [1]), ("code = 'DEF'", [2]), ("pad = 'x'", [1])):
        assert [r[0] for r in db.query(f"SELECT id FROM codes AT VERSION 'v1' WHERE {where} ORDER BY id")] == expected
        now = db.query(f"SELECT id FROM codes WHERE {where} ORDER BY id")
        assert now == [(i,) for i in expected]
    assert db.query("SELECT count(DISTINCT code) FROM codes AT VERSION 'v1' WHERE code IN ('abc', 'DEF')") == [(2,)]
    if in_transaction:
        db.rollback()

"""Loading rows from CSV / Parquet files and Arrow data: ``BULK INSERT INTO t FROM 'file'``
and ``Database.bulk_insert(table, path_or_arrow)``, on real files."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import galaxlite
from galaxlite import storage
from galaxlite.storage import load

CSV = "id,name,score,note\n1,apple,1.5,fresh\n2,pear,2,\n3,fig,,\"a, b\"\n"


@pytest.fixture
def items(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, note)")
    return db


def test_csv_rows_are_converted_by_affinity_as_one_version(items, tmp_path, plain):
    path = tmp_path / "items.csv"
    path.write_text(CSV)
    before = items.create_tag("before")
    assert items.execute(f"BULK INSERT INTO items FROM '{path}'").rowcount == 3
    rows = items.query("SELECT id, name, score, note, typeof(score) FROM items ORDER BY id")
    assert rows == [(1, "apple", 1.5, "fresh", "real"), (2, "pear", 2.0, None, "real"),
                    (3, "fig", None, "a, b", "null")]
    assert items.query("SELECT count(*) FROM items AT VERSION ?", (before,)) == [(0,)]
    assert items.query("SELECT count(DISTINCT _version) FROM items CHANGES BETWEEN VERSION 'before' "
                       "AND VERSION ?", (items.version,)) == [(1,)]
    assert len(plain().execute("SELECT * FROM items").fetchall()) == 3


def test_csv_options_and_column_list(items, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("7;kiwi\n8;NA\n")
    with pytest.raises(galaxlite.IntegrityError, match="line 2.*NOT NULL"):
        items.execute(f"BULK INSERT INTO items (id, name) FROM '{path}' WITH (HEADER false, DELIMITER ';', NULL 'NA')")
    assert items.query("SELECT count(*) FROM items") == [(0,)]  # all or nothing
    path.write_text("7;kiwi\n8;lime\n")
    items.execute(f"BULK INSERT INTO items (id, name) FROM '{path}' WITH (HEADER false, DELIMITER ';')")
    assert items.query("SELECT id, name FROM items ORDER BY id") == [(7, "kiwi"), (8, "lime")]
    # explicit ids below the highest: the triggers' path, same result
    path.write_text("id,name\n5,plum\n")
    items.execute(f"BULK INSERT INTO items FROM '{path}'")
    assert items.query("SELECT id FROM items ORDER BY id") == [(5,), (7,), (8,)]


def test_bad_values_name_file_line_and_column(items, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,name,score\n1,a,1\n2,b,2.5\n3,c,lots\n")
    with pytest.raises(galaxlite.DataError, match=r"bad.csv', line 4, column 'score': 'lots' is not a number"):
        items.execute(f"BULK INSERT INTO items FROM '{path}'")
    path.write_text("id,name,colour\n1,a,red\n")
    with pytest.raises(galaxlite.ProgrammingError, match="no column 'colour'"):
        items.execute(f"BULK INSERT INTO items FROM '{path}'")
    with pytest.raises(galaxlite.OperationalError, match="no such file"):
        items.execute(f"BULK INSERT INTO items FROM '{tmp_path / 'missing.csv'}'")
    with pytest.raises(galaxlite.ProgrammingError, match="unknown BULK INSERT option COLOR"):
        items.execute(f"BULK INSERT INTO items FROM '{path}' WITH (COLOR 'red')")
    path.write_text("id,name\n1,a\n1,b\n")
    with pytest.raises(galaxlite.IntegrityError, match="line 3.*UNIQUE"):
        items.execute(f"BULK INSERT INTO items FROM '{path}'")
    assert items.query("SELECT count(*) FROM items") == [(0,)]


def test_parquet_and_arrow_with_progress(items, tmp_path, monkeypatch):
    monkeypatch.setattr(load, "PARQUET_BATCH_ROWS", 256)  # several batches, several reports
    table = pa.table({"id": list(range(1, 1001)), "name": [f"n{i}" for i in range(1000)],
                      "score": [i / 2 for i in range(1000)]})
    path = tmp_path / "items.parquet"
    pq.write_table(table, path, row_group_size=300)
    seen = []
    assert items.bulk_insert("items", path, progress=lambda done, total: seen.append((done, total))) == 1000
    assert seen[-1] == (1000, 1000) and len(seen) > 1
    items.execute("DELETE FROM items")
    items.execute(f"BULK INSERT INTO items FROM '{path}' WITH (FORMAT 'parquet')")
    assert items.query("SELECT count(*), sum(score) FROM items") == [(1000, sum(i / 2 for i in range(1000)))]
    items.execute("DELETE FROM items")
    batches = iter(table.to_batches(max_chunksize=100))  # one pass only
    assert items.bulk_insert("items", pa.RecordBatchReader.from_batches(table.schema, batches)) == 1000
    items.execute("DELETE FROM items WHERE id > 10")
    # ids below the highest: the bulk path falls back to the triggers and reads the batches again
    low = pa.table({"id": [0, -1], "name": ["zero", "minus"]})
    assert items.bulk_insert("items", (b for b in low.to_batches())) == 2
    assert items.query("SELECT count(*) FROM items") == [(12,)]
    assert items.bulk_insert("items", pa.table({"name": ["x"], "id": [99], "other": [1]}), ["id", "name"]) == 1
    with pytest.raises(galaxlite.NotSupportedError, match="nested"):
        items.bulk_insert("items", pa.table({"id": [500], "name": [[1, 2]]}))


def test_arrow_and_csv_may_name_the_rowid(db, tmp_path):
    db.execute("CREATE TABLE notes (body TEXT)")
    assert db.bulk_insert("notes", pa.table({"rowid": [5, 9], "body": ["a", "b"]})) == 2
    (tmp_path / "n.csv").write_text("rowid,body\n1,c\n")
    db.execute(f"BULK INSERT INTO notes FROM '{tmp_path / 'n.csv'}'")
    assert db.query("SELECT rowid, body FROM notes ORDER BY rowid") == [(1, "c"), (5, "a"), (9, "b")]


def _versioning(db: galaxlite.Database, table: str) -> tuple[int, list[tuple[int, int]]]:
    """(companion rows, bulk ranges) of ``table``: how its rows are versioned."""
    tv = storage.current_version(db.session.conn, table)
    conn = db.session.conn
    (companions,) = next(conn.execute(f"SELECT count(*) FROM {tv.companion}"))
    return companions, [tuple(r) for r in conn.execute(f"SELECT lo, hi FROM {tv.ranges} ORDER BY lo")]


def test_loads_are_versioned_by_one_range_whatever_rowids_the_rows_give(items, tmp_path):
    items.bulk_insert("items", pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]}))
    first = items.version
    items.bulk_insert("items", pa.table({"id": [None, 30], "name": ["auto", "given"]}))  # 4, 30
    (tmp_path / "more.csv").write_text("name\nx\ny\n")  # no id: 31, 32
    items.execute(f"BULK INSERT INTO items FROM '{tmp_path / 'more.csv'}'")
    (tmp_path / "ids.csv").write_text("id,name\n40,p\n,q\n")  # an empty id: NULL, SQLite picks 41
    items.execute(f"BULK INSERT INTO items FROM '{tmp_path / 'ids.csv'}'")
    assert _versioning(items, "items") == (0, [(1, 3), (4, 30), (31, 32), (40, 41)])
    assert items.query("SELECT id FROM items AT VERSION ? ORDER BY id", (first,)) == [(1,), (2,), (3,)]
    # a row below the highest rowid: loaded through the triggers (a companion row per row)
    items.bulk_insert("items", pa.table({"id": [20, 50], "name": ["low", "high"]}))
    assert _versioning(items, "items") == (2, [(1, 3), (4, 30), (31, 32), (40, 41)])
    assert items.query("SELECT pinned FROM galaxlite_clock") == [(0,)]
    with pytest.raises(galaxlite.IntegrityError, match="row 2: UNIQUE"):
        items.bulk_insert("items", pa.table({"id": [60, 60], "name": ["d", "d"]}))
    assert items.query("SELECT count(*) FROM items") == [(11,)]


def test_a_load_fires_the_tables_own_triggers(items):
    items.execute("CREATE TABLE seen (id)")
    items.execute("CREATE TRIGGER noted AFTER INSERT ON items BEGIN INSERT INTO seen VALUES (NEW.id); END")
    before = items.version
    with items.transaction():
        items.execute("INSERT INTO items (id, name) VALUES (1, 'one')")
        items.bulk_insert("items", pa.table({"id": [5, 6], "name": ["e", "f"]}))
    assert items.query("SELECT id FROM seen ORDER BY id") == [(1,), (5,), (6,)]
    assert items.query("SELECT count(*) FROM items AT VERSION ?", (before,)) == [(0,)]
    assert items.query("SELECT count(DISTINCT _version) FROM items CHANGES BETWEEN VERSION ? AND VERSION ?",
                       (before, items.version)) == [(1,)]

"""VECTOR(n) columns: float32 BLOBs in the file, checked on every write, readable everywhere.

Values go in as lists / tuples / float32 numpy arrays (bindings), ``vector('[...]')`` (SQL) or
raw little-endian float32 BLOBs; a wrong size is a VectorDimensionError naming the column and
the expected (and, when galaxlite converted the value, the received) number of components.
The check is a plain-SQL CHECK constraint, so plain clients are held to it too and can read
and write the table without galaxlite.
"""

from __future__ import annotations

import sqlite3
import struct

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import galaxlite
from galaxlite import VectorDimensionError
from galaxlite.semantic.vectors import decode_vector, encode_vector

EMB_TABLE = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, emb VECTOR(3))"


@pytest.fixture
def items(db: galaxlite.Database) -> galaxlite.Database:
    db.execute(EMB_TABLE)
    return db


def count(db: galaxlite.Database, table: str = "items") -> int:
    return db.query(f"SELECT count(*) FROM {table}")[0][0]


# ---------------------------------------------------------------------------- writing values


@pytest.mark.parametrize(
    "value",
    [
        [1, 2.5, -3],
        (1, 2.5, -3),
        np.array([1, 2.5, -3], dtype=np.float32),
        encode_vector([1, 2.5, -3]),
    ],
    ids=["list", "tuple", "float32-array", "blob"],
)
def test_python_values_are_stored_as_float32_blobs(items, value):
    items.execute("INSERT INTO items (name, emb) VALUES ('a', ?)", (value,))
    (blob,) = items.query("SELECT emb FROM items")[0]
    assert isinstance(blob, bytes) and len(blob) == 12
    assert blob == struct.pack("<3f", 1.0, 2.5, -3.0)
    np.testing.assert_array_equal(decode_vector(blob, 3), np.array([1, 2.5, -3], np.float32))


def test_vector_sql_function_and_text_form(items):
    items.execute("INSERT INTO items (name, emb) VALUES ('a', vector('[1, 2.5, -3e-2]'))")
    items.execute("INSERT INTO items (name, emb) VALUES ('b', vector(NULL))")
    rows = items.query("SELECT vector_text(emb), emb IS NULL FROM items ORDER BY id")
    assert rows == [("[1.0, 2.5, -0.03]", 0), (None, 1)]
    assert items.query("SELECT vector(vector('[4, 5]')) = vector('[4,5]')") == [(1,)]


def test_named_parameters_and_executemany_convert_too(items):
    items.execute("INSERT INTO items (name, emb) VALUES (:n, :e)", {"n": "a", "e": [1, 2, 3]})
    items.executemany(
        "INSERT INTO items (name, emb) VALUES (?, ?)", [("b", [4, 5, 6]), ("c", (7, 8, 9))]
    )
    items.bulk_insert("items", [("d", [0, 0, 1])], columns=["name", "emb"])
    got = [decode_vector(b, 3).tolist() for (b,) in items.query("SELECT emb FROM items ORDER BY id")]
    assert got == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 0, 1]]


def test_null_is_allowed_unless_declared_not_null(db):
    db.execute("CREATE TABLE v (a VECTOR(2), b VECTOR(2) NOT NULL)")
    db.execute("INSERT INTO v VALUES (NULL, ?)", ([1, 2],))
    with pytest.raises(galaxlite.IntegrityError, match="NOT NULL"):
        db.execute("INSERT INTO v VALUES (?, NULL)", ([1, 2],))
    assert count(db, "v") == 1


def test_numbers_in_a_list_may_be_numpy_scalars(items):
    items.execute("INSERT INTO items (name, emb) VALUES ('a', ?)", ([np.float32(1), np.int64(2), 3.5],))
    assert decode_vector(items.query("SELECT emb FROM items")[0][0], 3).tolist() == [1, 2, 3.5]


@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=4, max_size=4))
@settings(max_examples=40, deadline=None)
def test_any_float32_vector_round_trips_exactly(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("rt") / "v.db"
    with galaxlite.Database(path) as db:
        db.execute("CREATE TABLE v (e VECTOR(4))")
        db.execute("INSERT INTO v VALUES (?)", (values,))
        db.execute("INSERT INTO v VALUES (vector(?))", ("[" + ", ".join(repr(v) for v in values) + "]",))
        a, b = (decode_vector(r[0], 4) for r in db.query("SELECT e FROM v ORDER BY rowid"))
    expected = np.array(values, dtype=np.float32)
    np.testing.assert_array_equal(a, expected)
    np.testing.assert_array_equal(b, expected)


# ---------------------------------------------------------------------------- wrong sizes


def test_wrong_dimension_from_a_list_names_column_expected_and_got(items):
    with pytest.raises(VectorDimensionError) as info:
        items.execute("INSERT INTO items (name, emb) VALUES (?, ?)", ("a", [1, 2]))
    err = info.value
    assert isinstance(err, galaxlite.DataError)
    assert (err.column, err.expected, err.got) == ("emb", 3, 2)
    assert "'emb'" in str(err) and "expected 3" in str(err) and "got 2" in str(err)
    assert count(items) == 0


def test_wrong_dimension_in_update_set_and_executemany(items):
    items.execute("INSERT INTO items (id, name, emb) VALUES (1, 'a', ?)", ([1, 2, 3],))
    with pytest.raises(VectorDimensionError) as info:
        items.execute("UPDATE items SET emb = ? WHERE id = ?", ([1, 2, 3, 4], 1))
    assert (info.value.expected, info.value.got) == (3, 4)
    with pytest.raises(VectorDimensionError):
        items.executemany(
            "INSERT INTO items (name, emb) VALUES (?, ?)", [("b", [1, 2, 3]), ("c", [1])]
        )
    assert items.query("SELECT id, emb FROM items") == [(1, encode_vector([1, 2, 3]))]


@pytest.mark.parametrize(
    "sql, params",
    [
        ("INSERT INTO items (emb) VALUES (?)", (b"\x00" * 8,)),
        ("INSERT INTO items (emb) VALUES (vector('[1, 2]'))", ()),
        ("INSERT INTO items (emb) VALUES ('[1, 2, 3]')", ()),  # text, not vector('[...]')
        ("INSERT INTO items (emb) VALUES (42)", ()),
        ("INSERT INTO items (emb) VALUES (?)", (np.array([1.0, 2.0, 3.0]),)),  # float64 bytes
        ("INSERT INTO items (emb) SELECT x'00112233'", ()),
    ],
    ids=["short-blob", "vector-2", "text", "integer", "float64-array", "insert-select"],
)
def test_any_value_that_is_not_n_float32_is_refused(items, sql, params):
    with pytest.raises(VectorDimensionError) as info:
        items.execute(sql, params)
    assert (info.value.column, info.value.expected) == ("emb", 3)
    assert "VECTOR(3)" in str(info.value)
    assert count(items) == 0


@pytest.mark.parametrize(
    "value, message",
    [("[1, 2", "square brackets"), ("[1, nan, 3]", "not a finite"), ("[]", "at least one")],
)
def test_vector_function_rejects_malformed_text(items, value, message):
    with pytest.raises(galaxlite.DataError, match=message):
        items.execute("INSERT INTO items (emb) VALUES (vector(?))", (value,))


def test_bound_list_that_is_not_numbers_is_a_data_error(items):
    with pytest.raises(galaxlite.DataError, match="not a valid vector"):
        items.execute("INSERT INTO items (emb) VALUES (?)", ([1, "two", 3],))
    with pytest.raises(galaxlite.DataError, match="finite"):
        items.execute("INSERT INTO items (emb) VALUES (?)", ([1, float("inf"), 3],))


@pytest.mark.parametrize("dim", ["0", "65537", "2.5", "-1"])
def test_bad_vector_dimension_in_ddl_is_a_syntax_error(db, dim):
    with pytest.raises(galaxlite.SqlSyntaxError, match="VECTOR") as info:
        db.execute(f"CREATE TABLE v (e VECTOR({dim}))")
    assert info.value.position is not None
    assert not db.session.conn.table_exists("main", "v")


def test_temp_and_unversioned_tables_are_checked_too(db):
    db.execute("CREATE TEMP TABLE t1 (e VECTOR(2))")
    db.execute("CREATE TABLE t2 (e VECTOR(2)) WITHOUT VERSIONING")
    for table in ("t1", "t2"):
        db.execute(f"INSERT INTO {table} VALUES (?)", ([1, 2],))
        with pytest.raises(VectorDimensionError):
            db.execute(f"INSERT INTO {table} VALUES (?)", ([1, 2, 3],))
        assert count(db, table) == 1


# ---------------------------------------------------------------------------- schema changes


def test_add_rename_and_drop_vector_columns(items):
    items.execute("INSERT INTO items (id, name, emb) VALUES (1, 'a', ?)", ([1, 2, 3],))
    items.create_tag("v1")
    items.execute("ALTER TABLE items ADD COLUMN extra VECTOR(2)")
    with pytest.raises(VectorDimensionError):
        items.execute("UPDATE items SET extra = ? WHERE id = 1", ([1, 2, 3],))
    items.execute("UPDATE items SET extra = ? WHERE id = 1", ([5, 6],))
    items.execute("ALTER TABLE items RENAME COLUMN emb TO embedding")
    with pytest.raises(VectorDimensionError) as info:
        items.execute("UPDATE items SET embedding = ? WHERE id = 1", ([1, 2],))
    assert info.value.column == "embedding"
    items.execute("ALTER TABLE items DROP COLUMN embedding")
    assert [d[0] for d in items.execute("SELECT * FROM items").description] == ["id", "name", "extra"]
    (old,) = items.query("SELECT emb FROM items AT VERSION 'v1'")[0]
    assert decode_vector(old, 3).tolist() == [1, 2, 3]


def test_past_versions_keep_their_vectors(items):
    items.execute("INSERT INTO items (id, name, emb) VALUES (1, 'a', ?)", ([1, 2, 3],))
    items.create_tag("v1")
    items.execute("UPDATE items SET emb = ? WHERE id = 1", ([4, 5, 6],))
    assert items.query("SELECT emb FROM items AT VERSION 'v1'") == [(encode_vector([1, 2, 3]),)]
    assert items.query("SELECT emb FROM items") == [(encode_vector([4, 5, 6]),)]


# ---------------------------------------------------------------------------- reading back


def test_arrow_results_are_fixed_size_lists_of_float32(items):
    items.executemany(
        "INSERT INTO items (id, name, emb) VALUES (?, ?, ?)",
        [(1, "a", [1, 2, 3]), (2, "b", None), (3, "c", [7, 8, 9])],
    )
    table = items.query_arrow("SELECT id, emb FROM items ORDER BY id")
    assert table.schema.field("emb").type == pa.list_(pa.float32(), 3)
    assert table.column("emb").to_pylist() == [[1, 2, 3], None, [7, 8, 9]]
    flat = table.column("emb").combine_chunks().flatten().to_numpy()
    assert flat.dtype == np.float32
    empty = items.query_arrow("SELECT emb FROM items WHERE id > 100")
    assert empty.schema.field("emb").type == pa.list_(pa.float32(), 3) and empty.num_rows == 0


def test_numpy_round_trip_of_many_rows(items):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((50, 3)).astype(np.float32)
    items.executemany("INSERT INTO items (emb) VALUES (?)", [(row,) for row in data])
    blobs = [b for (b,) in items.query("SELECT emb FROM items ORDER BY id")]
    np.testing.assert_array_equal(np.stack([decode_vector(b, 3) for b in blobs]), data)


# ---------------------------------------------------------------------------- plain clients


def test_plain_client_reads_writes_and_is_checked(items, plain):
    items.execute("INSERT INTO items (id, name, emb) VALUES (1, 'a', ?)", ([1, 2.5, -3],))
    client = plain()
    (blob,) = client.execute("SELECT emb FROM items WHERE id = 1").fetchone()
    assert struct.unpack("<3f", blob) == (1.0, 2.5, -3.0)
    client.execute("INSERT INTO items (id, name, emb) VALUES (2, 'b', ?)", (struct.pack("<3f", 4, 5, 6),))
    assert decode_vector(items.query("SELECT emb FROM items WHERE id = 2")[0][0], 3).tolist() == [4, 5, 6]
    with pytest.raises(sqlite3.IntegrityError, match=r"VECTOR\(3\) column emb"):
        client.execute("INSERT INTO items (id, name, emb) VALUES (3, 'c', ?)", (b"\x00" * 4,))
    assert count(items) == 2

"""Training exports: ``CREATE VERSION TAG ... FOR TRAINING`` writes Lance datasets.

Real database folders (tmp_path), real Lance datasets opened with ``lance.dataset``, the
CLI in real subprocesses. Embeddings of text columns come from the fast ``hash`` embedder.
"""

from __future__ import annotations

import ast
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import lance
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galaxlite
from galaxlite import exports
from galaxlite.exports import quantize as Q
from galaxlite.semantic import embedders as EMB
from galaxlite.transpile import PRECISIONS

DIM = 24


# ------------------------------------------------------------------------------ helpers


def vectors(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def items_db(path: Path, n: int = 50, **options) -> galaxlite.Database:
    """``items(id INTEGER PRIMARY KEY, emb VECTOR(24), label INTEGER, name TEXT)``, ids 1..n
    inserted in a scrambled order (so rowid order is not insertion order)."""
    db = galaxlite.Database(path, **options)
    db.execute(f"CREATE TABLE items (id INTEGER PRIMARY KEY, emb VECTOR({DIM}), label INTEGER, name TEXT)")
    x = vectors(n)
    order = np.random.default_rng(1).permutation(n)
    db.executemany(
        "INSERT INTO items (id, emb, label, name) VALUES (?, ?, ?, ?)",
        [(int(i) + 1, x[i], int(i) % 3, f"item {i + 1}") for i in order],
    )
    return db


def tree(path: Path | None) -> list[str] | None:
    """Every file and folder under ``path`` (None if it does not exist)."""
    if path is None or not path.exists():
        return None
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def state(db: galaxlite.Database) -> tuple:
    """What a failed export must leave as it was: tags, catalog, clock, files."""
    return (
        db.tags(),
        db.query("SELECT * FROM galaxlite_exports"),
        db.query("SELECT * FROM galaxlite_tags"),
        db.version,
        tree(db.exports_dir),
    )


def table(path: str) -> pa.Table:
    return lance.dataset(path).to_table()


def one_batch(path: str, **options) -> dict[str, np.ndarray]:
    batches = list(exports.training_batches(path, batch_size=100_000, **options))
    assert len(batches) <= 1
    return batches[0] if batches else {}


@pytest.fixture
def items(tmp_path) -> galaxlite.Database:
    db = items_db(tmp_path / "data")
    yield db
    db.close()


# ------------------------------------------------------------------------------ SQL and API


def test_sql_for_training_writes_every_versioned_table(items):
    items.execute("CREATE TABLE labels (code INTEGER PRIMARY KEY, meaning TEXT)")
    items.execute("INSERT INTO labels VALUES (0, 'zero'), (1, 'one'), (2, 'two')")
    items.execute("CREATE TABLE scratch (x) WITHOUT VERSIONING")  # not versioned: not exported
    (version,) = items.execute("CREATE VERSION TAG 'train-v1' FOR TRAINING").fetchone()
    assert version == items.tag_version("train-v1")
    tag = items.tags()[-1]
    assert (tag.name, tag.for_training, tag.precision, tag.seed) == ("train-v1", True, "float32", None)
    records = items.exports("train-v1")
    assert [(e.table, e.rows, e.precision, e.seed, e.version) for e in records] == [
        ("items", 50, "float32", None, version), ("labels", 3, "float32", None, version)
    ]
    folder = items.exports_dir / f"train-v1-{version}"
    assert tree(items.exports_dir)[0] == folder.name
    for e in records:
        assert Path(e.path).parent == folder and e.path.endswith(".lance")
        assert e.content_hash.startswith("blake3:") and len(e.content_hash) == 7 + 64
        assert e.created_us >= version
        assert lance.dataset(e.path).count_rows() == e.rows
        assert exports.content_hash(e.path) == e.content_hash
    assert items.training_dataset("train-v1", "items") == records[0].path
    assert items.training_dataset("train-v1", "LABELS") == records[1].path
    labels = table(records[1].path)
    assert labels.schema.names == ["code", "meaning"]
    assert labels.to_pydict() == {"code": [0, 1, 2], "meaning": ["zero", "one", "two"]}


def test_schema_and_metadata_describe_the_export(items):
    items.execute("CREATE VERSION TAG 'm' FOR TRAINING WITH TRAINING PRECISION 'sq8' TRAINING SEED 7")
    path = items.training_dataset("m")
    schema = lance.dataset(path).schema
    assert [(f.name, str(f.type)) for f in schema] == [
        ("id", "int64"), ("emb__sq8", f"fixed_size_binary[{DIM}]"), ("label", "int64"),
        ("name", "string"),
    ]
    meta = json.loads(schema.metadata[b"galaxlite"])
    assert meta == exports.read_metadata(path)
    assert {k: meta[k] for k in ("format", "format_version", "tag", "table", "version", "precision", "seed")} == {
        "format": "galaxlite-training-export", "format_version": 2, "tag": "m", "table": "items",
        "version": items.tag_version("m"), "precision": "sq8", "seed": 7,
    }
    assert meta["primary_key"] == ["id"] and "default_rng([seed, 2])" in meta["order"]
    emb = meta["columns"]["emb"]
    assert (emb["kind"], emb["dim"], emb["declared_type"], emb["stored"]) == ("vector", DIM, f"VECTOR({DIM})", "sq8")
    assert Q.Sq8Params.from_metadata(emb["quantizer"]).dim == DIM


def test_api_returns_the_version_and_reports_progress(tmp_path):
    db = items_db(tmp_path / "data", n=3000)
    db.execute("CREATE TABLE other (x INTEGER)")
    db.executemany("INSERT INTO other VALUES (?)", [(i,) for i in range(10)])
    calls = []
    version = db.create_training_snapshot("t", progress=lambda done, total: calls.append((done, total)))
    assert version == db.tag_version("t")
    assert calls[0] == (0, 3010) and calls[-1] == (3010, 3010)
    assert all(a[0] < b[0] for a, b in zip(calls, calls[1:], strict=False))  # strictly rising
    assert len(calls) > 2  # more than one batch reported
    assert [t.name for t in db.tags()] == ["t"]
    db.close()


def test_precision_names_are_case_insensitive_and_checked(items):
    items.create_training_snapshot("a", precision="RaBitQ")
    assert items.exports("a")[0].precision == "rabitq"
    items.execute("CREATE VERSION TAG 'b' FOR TRAINING WITH TRAINING PRECISION 'SQ8'")
    assert items.exports("b")[0].precision == "sq8"
    before = state(items)
    with pytest.raises(galaxlite.QuantizationModeError, match="unknown training precision 'int4'"):
        items.create_training_snapshot("c", precision="int4")
    with pytest.raises(galaxlite.QuantizationModeError):
        items.create_training_snapshot("c", precision="float32' TRAINING SEED 1 --")
    with pytest.raises(galaxlite.SqlSyntaxError, match="unknown training precision"):
        items.execute("CREATE VERSION TAG 'c' FOR TRAINING WITH TRAINING PRECISION 'int4'")
    for seed in (-1, 2**64, 1.5, True, "3"):
        with pytest.raises(galaxlite.ProgrammingError, match="seed"):
            items.create_training_snapshot("c", seed=seed)
    assert state(items) == before


def test_seeds_up_to_2_to_the_64_round_trip(items):
    big = 2**64 - 1
    items.create_training_snapshot("big", seed=big)
    items.execute("CREATE VERSION TAG 'mid' FOR TRAINING TRAINING SEED 9223372036854775808")
    assert [t.seed for t in items.tags()] == [big, 2**63]
    assert [e.seed for e in items.exports()] == [big, 2**63]
    assert exports.read_metadata(items.training_dataset("big"))["seed"] == big
    rows = one_batch(items.training_dataset("big"))["id"]
    assert rows.tolist() == (np.random.default_rng([big, 2]).permutation(50) + 1).tolist()


# ------------------------------------------------------------------------------ precisions


def source_vectors(db: galaxlite.Database) -> dict[int, np.ndarray]:
    return {i: np.frombuffer(b, "<f4") for i, b in db.query("SELECT id, emb FROM items")}


def test_float32_is_exact_and_in_primary_key_order(items):
    items.create_training_snapshot("f")
    data = table(items.training_dataset("f"))
    assert data.column("id").to_pylist() == list(range(1, 51))  # not the insertion order
    assert data.schema.field("emb").type == pa.list_(pa.float32(), DIM)
    got = one_batch(items.training_dataset("f"))
    src = source_vectors(items)
    assert got["emb"].dtype == np.float32 and got["emb"].shape == (50, DIM)
    assert np.array_equal(got["emb"], np.stack([src[i] for i in got["id"]]))
    assert got["name"].tolist() == [f"item {i}" for i in range(1, 51)]


def test_sq8_decodes_within_half_a_step_of_the_source(items):
    items.create_training_snapshot("q", precision="sq8")
    path = items.training_dataset("q")
    field = lance.dataset(path).schema.field("emb__sq8")  # codes under a name of their own
    assert field.type == pa.binary(DIM) and field.metadata == {b"galaxlite:encoding": b"sq8", b"galaxlite:vector": b"emb"}
    params = Q.Sq8Params.from_metadata(exports.read_metadata(path)["columns"]["emb"]["quantizer"])
    src = source_vectors(items)
    x = np.stack([src[i] for i in range(1, 51)])
    assert np.array_equal(params.lo, x.min(axis=0)) and np.array_equal(params.hi, x.max(axis=0))
    got = one_batch(path)["emb"]
    assert got.dtype == np.float32
    err = np.abs(got - x)
    assert (err <= params.step() / 2 + 1e-6).all()  # the documented bound
    assert err.max() > 0  # it is quantized for real


def test_rabitq_stores_codes_and_factors_and_decodes(items):
    items.create_training_snapshot("r", precision="rabitq", seed=11)
    path = items.training_dataset("r")
    schema = lance.dataset(path).schema
    code_bytes = math.ceil(DIM / 8)
    assert [(f.name, f.type) for f in schema][1:4] == [
        ("emb__rabitq", pa.binary(code_bytes)), ("emb__rabitq_norm", pa.float32()), ("emb__rabitq_ip", pa.float32())
    ]
    meta = exports.read_metadata(path)["columns"]["emb"]
    model = Q.RabitqModel.from_metadata(meta["quantizer"])
    assert model.seed == 11  # the rotation comes from TRAINING SEED
    src = source_vectors(items)
    data = table(path)
    ids = data.column("id").to_numpy()
    x = np.stack([src[i] for i in ids])
    expected = Q.rabitq_encode(Q.rabitq_fit(np.stack([src[i] for i in range(1, 51)]), 11), x)
    codes = np.frombuffer(data.column("emb__rabitq").combine_chunks().buffers()[1], np.uint8).reshape(50, code_bytes)
    assert np.array_equal(codes, expected.codes)
    assert np.allclose(data.column("emb__rabitq_norm").to_numpy(), expected.norm)
    got = one_batch(path)  # "norm" decoding: |x̂ - c| = |x - c|, direction off by acos(ip)
    assert "emb__rabitq_norm" not in got and got["emb"].dtype == np.float32
    r, r_hat = x - model.centroid, got["emb"] - model.centroid
    assert np.allclose(np.linalg.norm(r_hat, axis=1), np.linalg.norm(r, axis=1), rtol=1e-4)
    cos = np.sum(r * r_hat, axis=1) / np.linalg.norm(r, axis=1) / np.linalg.norm(r_hat, axis=1)
    assert np.allclose(cos, expected.ip, atol=1e-4)
    assert 0.6 < cos.mean() < 0.95
    unbiased = one_batch(path, rabitq_mode="unbiased")["emb"] - model.centroid
    assert np.allclose(np.linalg.norm(unbiased, axis=1), np.linalg.norm(r, axis=1) / expected.ip, rtol=1e-4)


def test_rabitq_without_seed_uses_rotation_seed_0_and_primary_key_order(items):
    items.create_training_snapshot("r0", precision="rabitq")
    path = items.training_dataset("r0")
    assert Q.RabitqModel.from_metadata(exports.read_metadata(path)["columns"]["emb"]["quantizer"]).seed == 0
    assert one_batch(path)["id"].tolist() == list(range(1, 51))


def test_vector_bytes_per_precision(tmp_path):
    db = items_db(tmp_path / "data", n=200)
    dim = DIM
    sizes = {}
    for precision in PRECISIONS:
        db.create_training_snapshot(precision, precision=precision)
        names = [n for n in lance.dataset(db.training_dataset(precision)).schema.names if n.startswith("emb")]
        sizes[precision] = table(db.training_dataset(precision)).select(names).nbytes / 200
    assert sizes == {p: Q.bytes_per_vector(p, dim) for p in PRECISIONS}
    assert (sizes["float32"], sizes["sq8"], sizes["rabitq"]) == (4 * dim, dim, math.ceil(dim / 8) + 8)
    assert (sizes["rabitq4"], sizes["rabitq8"]) == (math.ceil(4 * dim / 8) + 8, dim + 8)
    assert Q.bytes_per_vector("rabitq", 384) / Q.bytes_per_vector("float32", 384) <= 1 / 25
    db.close()


# ------------------------------------------------------------------------------ order and seeds


def test_seed_applies_the_documented_permutation_to_the_primary_key_order(items):
    for seed in (0, 42):
        items.create_training_snapshot(f"s{seed}", seed=seed)
        ids = one_batch(items.training_dataset(f"s{seed}"))["id"]
        assert ids.tolist() == (np.random.default_rng([seed, 2]).permutation(50) + 1).tolist()
    assert items.exports("s0")[0].content_hash != items.exports("s42")[0].content_hash


def test_same_data_and_seed_give_the_same_dataset_byte_for_byte(tmp_path):
    hashes, tables = [], []
    for name in ("a", "b"):
        db = items_db(tmp_path / name)
        for precision in PRECISIONS:
            db.create_training_snapshot(precision, seed=123, precision=precision)
        hashes.append([e.content_hash for e in db.exports()])
        tables.append([table(e.path) for e in db.exports()])
        db.execute("UPDATE items SET label = 9 WHERE id = 1")
        db.create_training_snapshot("changed", seed=123)
        assert db.exports("changed")[0].content_hash != hashes[-1][0]  # the data counts
        db.close()
    assert hashes[0] == hashes[1]
    assert all(x.equals(y) for x, y in zip(tables[0], tables[1], strict=True))
    for t in tables[0]:  # and the hash does not depend on how rows are read back
        digest = exports.ContentHash(t.schema)
        for batch in t.to_batches(max_chunksize=7):
            digest.add(batch)
        assert digest.hexdigest() in hashes[0]


def test_a_tag_of_the_same_data_in_one_database_hashes_the_same(items):
    items.create_training_snapshot("one", seed=5)
    items.create_training_snapshot("two", seed=5)
    items.create_training_snapshot("three", seed=6)
    one, two, three = (items.exports(t)[0].content_hash for t in ("one", "two", "three"))
    assert one == two != three


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.lists(st.integers(-1000, 1000), min_size=0, max_size=40, unique=True),
    deleted=st.sets(st.integers(0, 39), max_size=10),
    seed=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
)
def test_order_matches_a_sort_then_the_seeded_permutation(tmp_path_factory, keys, deleted, seed):
    db = galaxlite.Database(tmp_path_factory.mktemp("order"))
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v VECTOR(2))")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(k, [k, -k]) for k in keys])
    gone = [keys[i] for i in deleted if i < len(keys)]
    db.executemany("DELETE FROM t WHERE k = ?", [(k,) for k in gone])
    db.create_training_snapshot("x", seed=seed)
    got = one_batch(db.training_dataset("x")) or {"k": np.zeros(0), "v": np.zeros((0, 2))}
    expected = np.array(sorted(set(keys) - set(gone)), dtype=np.int64)
    if seed is not None:
        expected = expected[np.random.default_rng([seed, 2]).permutation(len(expected))]
    assert got["k"].tolist() == expected.tolist()
    assert np.array_equal(got["v"], np.stack([expected, -expected], axis=1).astype(np.float32).reshape(-1, 2))
    db.close()


def test_declared_primary_key_orders_a_rowid_table(tmp_path):
    db = galaxlite.Database(tmp_path / "data")
    db.execute("CREATE TABLE docs (name TEXT PRIMARY KEY, n INTEGER)")
    db.execute("INSERT INTO docs VALUES ('pear', 1), ('apple', 2), ('fig', 3)")
    db.execute("CREATE TABLE pairs (a INTEGER, b TEXT, PRIMARY KEY (b, a))")
    db.execute("INSERT INTO pairs VALUES (2, 'x'), (1, 'y'), (1, 'x')")
    db.execute("CREATE TABLE bare (value TEXT)")  # no key: rowid order
    db.execute("INSERT INTO bare VALUES ('c'), ('a'), ('b')")
    db.execute("DELETE FROM bare WHERE value = 'a'")
    db.execute("INSERT INTO bare VALUES ('d')")
    db.create_training_snapshot("k")
    assert table(db.training_dataset("k", "docs")).column("name").to_pylist() == ["apple", "fig", "pear"]
    assert table(db.training_dataset("k", "pairs")).to_pydict() == {"a": [1, 2, 1], "b": ["x", "x", "y"]}
    assert table(db.training_dataset("k", "bare")).to_pydict() == {"value": ["c", "b", "d"]}
    assert exports.read_metadata(db.training_dataset("k", "bare"))["primary_key"] == ["rowid"]
    assert exports.read_metadata(db.training_dataset("k", "pairs"))["primary_key"] == ["b", "a"]
    db.close()


def test_without_rowid_table_in_key_order(tmp_path):
    db = galaxlite.Database(tmp_path / "data")
    db.execute("CREATE TABLE w (k TEXT, n INTEGER, v VECTOR(2), PRIMARY KEY (k, n)) WITHOUT ROWID")
    db.execute("INSERT INTO w VALUES ('b', 2, vector('[1, 2]')), ('a', 9, NULL), ('b', 1, vector('[3, 4]'))")
    db.execute("UPDATE w SET v = vector('[5, 6]') WHERE k = 'a'")
    db.create_training_snapshot("w", seed=None)
    got = one_batch(db.training_dataset("w"))
    assert list(zip(got["k"].tolist(), got["n"].tolist(), strict=True)) == [("a", 9), ("b", 1), ("b", 2)]
    assert got["v"].tolist() == [[5, 6], [3, 4], [1, 2]]
    db.close()


# ------------------------------------------------------------------------------ what is exported


def test_the_export_is_the_table_at_the_tag(tmp_path, plain):
    db = items_db(tmp_path / "data", n=20)
    db.create_tag("before")
    db.execute("UPDATE items SET label = 7 WHERE id <= 5")
    db.execute("DELETE FROM items WHERE id > 15")
    db.execute("BULK INSERT INTO items (id, emb, label, name) VALUES (100, NULL, 1, 'bulk')")
    client = plain(db.filename)  # a plain SQLite client's write is versioned too
    client.execute("INSERT INTO items (id, label, name) VALUES (200, 2, 'plain')")
    client.close()
    version = db.create_training_snapshot("t")
    path = db.training_dataset("t")
    at_tag = db.query_arrow("SELECT id, label, name FROM items AT VERSION 't' ORDER BY id")
    assert table(path).select(["id", "label", "name"]).equals(at_tag)
    assert table(path).column("id").to_pylist() == [*range(1, 16), 100, 200]
    stored = exports.content_hash(path)
    db.execute("UPDATE items SET label = 0")  # after the tag: the export does not change
    db.execute("DELETE FROM items WHERE id < 10")
    assert exports.content_hash(path) == stored == db.exports("t")[0].content_hash
    assert db.query_arrow(f"SELECT id, label, name FROM items AT VERSION {version} ORDER BY id").equals(at_tag)
    assert db.query("SELECT count(*) FROM items AT VERSION 'before'") == [(20,)]
    db.close()


def test_dropped_and_renamed_tables_and_columns_before_the_tag(tmp_path):
    db = galaxlite.Database(tmp_path / "data")
    db.execute("CREATE TABLE old_name (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c INTEGER)")
    db.execute("INSERT INTO old_name VALUES (1, 'x', 'y', 3)")
    db.execute("CREATE TABLE gone (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO gone VALUES (1)")
    db.create_tag("early")
    db.execute("DROP TABLE gone")
    db.execute("ALTER TABLE old_name RENAME TO new_name")
    db.execute("ALTER TABLE new_name RENAME COLUMN a TO alpha")
    db.execute("ALTER TABLE new_name DROP COLUMN b")
    db.execute("ALTER TABLE new_name ADD COLUMN d REAL")
    db.create_training_snapshot("late")
    assert [e.table for e in db.exports("late")] == ["new_name"]
    assert table(db.training_dataset("late")).to_pydict() == {"id": [1], "alpha": ["x"], "c": [3], "d": [None]}
    assert lance.dataset(db.training_dataset("late")).schema.field("d").type == pa.float64()
    db.close()


def test_embedded_text_column_becomes_vectors_and_keeps_its_text(tmp_path):
    db = galaxlite.Database(tmp_path / "data", embedder="hash")
    db.execute("CREATE TABLE training_data (id INTEGER PRIMARY KEY, text TEXT, label INTEGER)")
    db.execute(
        "INSERT INTO training_data (text, label) VALUES ('positive example', 1), "
        "('negative example', 0), (NULL, 1), ('positive example', 1)"
    )
    assert db.embed("training_data", "text") == 2
    db.execute("INSERT INTO training_data (text, label) VALUES ('not cached yet', 0)")
    cached = db.query("SELECT count(*) FROM galaxlite_embeddings")[0][0]
    for precision in PRECISIONS:
        db.create_training_snapshot(f"t-{precision}", precision=precision)
    assert db.query("SELECT count(*) FROM galaxlite_embeddings")[0][0] == cached + 1  # embedded once, cached
    path = db.training_dataset("t-float32")
    schema = lance.dataset(path).schema
    emb = EMB.get_embedder("hash")
    assert [(f.name, f.type) for f in schema] == [
        ("id", pa.int64()), ("text", pa.list_(pa.float32(), emb.dim)), ("text__text", pa.string()),
        ("label", pa.int64()),
    ]
    meta = exports.read_metadata(path)["columns"]["text"]
    assert (meta["kind"], meta["embedder"], meta["dim"], meta["text_column"]) == (
        "text-embedding", "hash", emb.dim, "text__text"
    )
    data = table(path)
    texts = data.column("text__text").to_pylist()
    assert texts == ["positive example", "negative example", None, "positive example", "not cached yet"]
    assert data.column("text").null_count == 1 and data.column("text").is_null().to_pylist()[2]
    got = one_batch(path)
    expected = emb.embed([t for t in texts if t is not None])
    assert np.allclose(got["text"][[0, 1, 3, 4]], expected, atol=1e-6)
    assert np.isnan(got["text"][2]).all()
    sq8 = one_batch(db.training_dataset("t-sq8"))["text"]
    assert np.abs(sq8[[0, 1, 3, 4]] - expected).max() < 0.01
    rabitq = exports.read_metadata(db.training_dataset("t-rabitq"))["columns"]["text"]
    assert rabitq["text_column"] == "text__text" and rabitq["norm_column"] == "text__rabitq_norm"
    db.close()


def test_nulls_stay_null(tmp_path):
    db = galaxlite.Database(tmp_path / "data")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(4), n INTEGER, r REAL, s TEXT, b BLOB)")
    db.execute("INSERT INTO t VALUES (1, vector('[1, 2, 3, 4]'), 1, 1.5, 'a', x'00ff')")
    db.execute("INSERT INTO t VALUES (2, NULL, NULL, NULL, NULL, NULL)")
    db.execute("INSERT INTO t VALUES (3, vector('[0, 0, 0, 1]'), 3, 2.5, '', x'')")
    for precision in PRECISIONS:
        db.create_training_snapshot(precision, precision=precision)
        data = table(db.training_dataset(precision))
        assert [data.column(c).null_count for c in data.schema.names] == [0] + [1] * (len(data.schema.names) - 1)
        assert data.column("b").to_pylist() == [b"\x00\xff", None, b""]
        got = one_batch(db.training_dataset(precision))
        assert np.isnan(got["v"][1]).all() and not np.isnan(got["v"][[0, 2]]).any()
        assert exports.content_hash(db.training_dataset(precision)) == db.exports(precision)[0].content_hash
    assert one_batch(db.training_dataset("float32"))["v"][2].tolist() == [0, 0, 0, 1]
    db.close()


@pytest.mark.parametrize("seed", [None, 5])
@pytest.mark.parametrize("precision", PRECISIONS)
def test_batching_does_not_change_the_export(tmp_path, monkeypatch, precision, seed):
    # staged exports hand Lance views or gathers of the staged rows batch by batch; the rows,
    # NULL masks and content hash must not depend on where the batches split
    db = galaxlite.Database(tmp_path / "data")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(3), label INTEGER)")
    x = vectors(100, 3, seed=3)
    db.executemany("INSERT INTO t VALUES (?, ?, ?)",
                   [(i, None if i % 7 == 0 else x[i - 1].tobytes(), i % 4) for i in range(1, 101)])
    db.create_training_snapshot("whole", precision=precision, seed=seed)
    monkeypatch.setattr(exports.plan, "BATCH_BYTES", 1)
    monkeypatch.setattr(exports.plan, "MIN_BATCH_ROWS", 9)
    monkeypatch.setattr(Q.codecs, "FIT_ROWS", 8)  # sq8 bounds fitted in blocks around the NULLs
    done: list[int] = []
    db.create_training_snapshot("pieces", precision=precision, seed=seed,
                                progress=lambda rows, total: done.append(rows))
    assert done == [0, *range(9, 100, 9), 100]  # handed to Lance 9 rows at a time
    whole, pieces = (table(db.training_dataset(tag)) for tag in ("whole", "pieces"))
    assert pieces.replace_schema_metadata(None).equals(whole.replace_schema_metadata(None))
    assert whole.column(Q.codec(precision).code_column("v")).null_count == 14
    assert [e.content_hash for e in db.exports("pieces")] == [e.content_hash for e in db.exports("whole")]
    db.close()


def test_empty_table(tmp_path):
    db = galaxlite.Database(tmp_path / "data")
    db.execute("CREATE TABLE e (id INTEGER PRIMARY KEY, v VECTOR(8), t TEXT, x)")
    for precision in PRECISIONS:
        db.create_training_snapshot(precision, precision=precision, seed=1)
        path = db.training_dataset(precision)
        assert lance.dataset(path).count_rows() == 0 and db.exports(precision)[0].rows == 0
        assert lance.dataset(path).schema.names[:2] == ["id", Q.codec(precision).code_column("v")]
        assert lance.dataset(path).schema.field("x").type == pa.null()  # no type, no values
        assert list(exports.training_batches(path)) == []
        assert exports.content_hash(path) == db.exports(precision)[0].content_hash
    db.close()


def test_column_types(tmp_path):
    db = galaxlite.Database(tmp_path / "data")
    db.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, i INT, r DOUBLE, s VARCHAR(10), b BLOB, "
        "untyped_int, untyped_real, num NUMERIC, flag BOOLEAN)"
    )
    db.execute("INSERT INTO t VALUES (1, 5, 1, 'a', x'01', 3, 1, 2, 1), (2, NULL, 2.5, 'b', NULL, 4, 0.5, 2.5, 0)")
    db.create_training_snapshot("x")
    types = {f.name: f.type for f in lance.dataset(db.training_dataset("x")).schema}
    assert types == {
        "id": pa.int64(), "i": pa.int64(), "r": pa.float64(), "s": pa.string(), "b": pa.binary(),
        "untyped_int": pa.int64(), "untyped_real": pa.float64(), "num": pa.float64(), "flag": pa.int64(),
    }
    assert table(db.training_dataset("x")).column("r").to_pylist() == [1.0, 2.5]
    db.close()


# ------------------------------------------------------------------------------ failures change nothing


def test_duplicate_tag_changes_nothing(items):
    items.create_training_snapshot("dup")
    before = state(items)
    with pytest.raises(galaxlite.DuplicateTagError, match="'dup' already exists"):
        items.execute("CREATE VERSION TAG 'dup' FOR TRAINING")
    with pytest.raises(galaxlite.DuplicateTagError) as caught:
        items.create_training_snapshot("dup", precision="sq8")
    assert "line" not in str(caught.value)  # the API call is not SQL the user wrote
    assert state(items) == before


def test_a_failure_midway_leaves_no_tag_no_rows_no_folder(tmp_path):
    db = items_db(tmp_path / "data")
    db.execute("CREATE TABLE zzz (id INTEGER PRIMARY KEY, n INTEGER)")  # exported after items
    db.execute("INSERT INTO zzz VALUES (1, 1), (2, 'not a number')")
    assert not db.exports_dir.exists()
    before = state(db)
    for precision in PRECISIONS:
        with pytest.raises(galaxlite.DataError, match=r"table 'zzz'.*column 'n'.*INTEGER"):
            db.create_training_snapshot("bad", precision=precision)
        assert state(db) == before  # the exports folder made for it is gone too
    db.execute("UPDATE zzz SET n = 2 WHERE id = 2")
    db.create_training_snapshot("good-first")  # the folder exists from now on
    (db.exports_dir / "keep.txt").write_text("user file")
    db.execute("UPDATE zzz SET n = 'again not a number' WHERE id = 2")
    before = state(db)
    with pytest.raises(galaxlite.DataError):
        db.execute("CREATE VERSION TAG 'bad' FOR TRAINING TRAINING SEED 3")
    assert state(db) == before
    db.execute("DELETE FROM zzz WHERE id = 2")
    db.create_training_snapshot("bad")  # the name was never taken
    assert [e.table for e in db.exports("bad")] == ["items", "zzz"]
    db.close()


def test_an_error_in_the_progress_callback_leaves_nothing(items):
    before = state(items)

    def progress(done: int, total: int) -> None:
        if done:
            raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        items.create_training_snapshot("p", progress=progress)
    assert state(items) == before


CTRL_C_CHILD = r"""
import json, signal, sys, time
import galaxlite
from galaxlite.semantic import embedders as EMB

signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored


class Slow:  # the hash embedder, slowly: the export is still running when Ctrl-C comes
    name, dim = "slow", 8

    def embed(self, texts):
        time.sleep(0.2)
        return EMB.HashEmbedder(dim=8, name="slow").embed(texts)


EMB.register_embedder("slow", Slow)
db = galaxlite.Database(sys.argv[1], embedder="slow")
db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
db.execute("INSERT INTO t (body) VALUES ('cached')")
db.embed("t", "body")
db.executemany("INSERT INTO t (body) VALUES (?)", [(f"text {i}",) for i in range(1500)])
before = [db.tags(), db.query("SELECT count(*) FROM galaxlite_embeddings"), db.exports_dir.exists()]
try:
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else None  # a seed: Ctrl-C while staging
    db.create_training_snapshot("x", seed=seed, progress=lambda done, total: print("progress", flush=True))
    print("finished")
except KeyboardInterrupt:
    after = [db.tags(), db.query("SELECT count(*) FROM galaxlite_embeddings"), db.exports_dir.exists()]
    print(json.dumps({"unchanged": after == before, "in_transaction": db.in_transaction}))
"""


@pytest.mark.parametrize("seed", [[], ["7"]])
def test_ctrl_c_stops_the_export_and_leaves_nothing(tmp_path, seed):
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_CHILD, str(tmp_path / "data"), *seed], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout.readline() == "progress\n"  # progress(0, total): the export has begun
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert json.loads(out) == {"unchanged": True, "in_transaction": False}, (out, err)
    assert not (tmp_path / "data" / "exports").exists()


def test_a_lance_failure_is_an_operational_error(items, monkeypatch):
    before = state(items)

    def failing(data, uri, **options):
        next(iter(data))  # some rows were read
        (Path(uri) / "partial").mkdir(parents=True)
        raise OSError("LanceError(IO): disk full\n  (details)")

    monkeypatch.setattr(lance, "write_dataset", failing)
    with pytest.raises(galaxlite.OperationalError, match="table 'items'.*disk full$"):
        items.create_training_snapshot("l")
    assert state(items) == before


def test_a_failed_catalog_write_removes_the_finished_folder(items):
    items.execute(  # fails after the folder is complete and renamed into place
        "CREATE TRIGGER no_more BEFORE INSERT ON galaxlite_exports WHEN NEW.tag LIKE 'second%' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    before = state(items)
    with pytest.raises(galaxlite.IntegrityError, match="refused"):
        items.create_training_snapshot("second-a")
    assert state(items) == before and not items.exports_dir.exists()
    items.create_training_snapshot("first")
    before = state(items)
    with pytest.raises(galaxlite.IntegrityError, match="refused"):
        items.create_training_snapshot("second-b")
    assert state(items) == before


def test_memory_databases_cannot_export():
    db = galaxlite.Database(":memory:")
    db.execute("CREATE TABLE t (x)")
    with pytest.raises(galaxlite.NotSupportedError, match="in-memory database"):
        db.execute("CREATE VERSION TAG 'x' FOR TRAINING")
    with pytest.raises(galaxlite.NotSupportedError, match="in-memory database"):
        db.create_training_snapshot("x")
    assert db.tags() == []
    db.close()


def test_not_inside_a_transaction(items):
    before = state(items)
    items.begin()
    items.execute("INSERT INTO items (id, label) VALUES (1000, 1)")
    with pytest.raises(galaxlite.NotSupportedError, match="inside a transaction.*no tag was created"):
        items.execute("CREATE VERSION TAG 'x' FOR TRAINING")
    with pytest.raises(galaxlite.NotSupportedError, match="COMMIT or ROLLBACK first"):
        items.create_training_snapshot("x")
    assert items.in_transaction  # the user's transaction goes on
    items.rollback()
    assert state(items) == before
    with items.transaction(), pytest.raises(galaxlite.NotSupportedError):
        items.create_training_snapshot("x")
    assert state(items) == before


def test_a_script_cannot_export_inside_its_transaction(items):
    before = state(items)
    with pytest.raises(galaxlite.NotSupportedError, match="inside a transaction"):
        items.executescript("INSERT INTO items (id) VALUES (999); CREATE VERSION TAG 's' FOR TRAINING;")
    assert state(items) == before


@pytest.mark.parametrize("options", [{}, {"seed": 3}, {"precision": "sq8"}])  # streamed, staged
def test_a_malformed_vector_is_refused(tmp_path, options):
    db = galaxlite.Database(tmp_path / "data")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(2))")
    db.executemany("INSERT INTO t (v) VALUES (?)", [([1, 2],)] * 300)
    db.execute("PRAGMA ignore_check_constraints = ON")  # only so can a bad value get in
    db.execute("INSERT INTO t (v) VALUES (x'0000803f')")
    before = state(db)
    with pytest.raises(galaxlite.VectorDimensionError, match=r"'v' is VECTOR\(2\) but holds a BLOB of 4 bytes") as caught:
        db.create_training_snapshot("x", **options)
    assert (caught.value.column, caught.value.expected, caught.value.got) == ("v", 2, 1)
    assert state(db) == before
    db.close()


def test_companion_name_clash_is_refused(tmp_path):
    db = galaxlite.Database(tmp_path / "data", embedder="hash")
    db.execute("CREATE TABLE t (body TEXT, body__text TEXT)")
    db.execute("INSERT INTO t VALUES ('a', 'b')")
    db.embed("t", "body")
    before = state(db)
    with pytest.raises(galaxlite.ProgrammingError, match="'body__text'.*rename it"):
        db.create_training_snapshot("x")
    assert state(db) == before
    db.close()


def test_mixed_values_in_an_untyped_column_are_refused(tmp_path):
    db = galaxlite.Database(tmp_path / "data")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1), ('one')")
    with pytest.raises(galaxlite.DataError, match="mixes integer, text values.*CAST"):
        db.create_training_snapshot("x")
    assert db.tags() == []
    db.close()


# ------------------------------------------------------------------------------ finding exports


def test_training_dataset_errors(items):
    items.create_tag("plain")
    items.execute("CREATE TABLE more (x INTEGER)")
    items.create_training_snapshot("two")
    with pytest.raises(galaxlite.UnknownTagError, match="'nope'"):
        items.training_dataset("nope")
    with pytest.raises(galaxlite.TrainingExportError, match="created without FOR TRAINING"):
        items.training_dataset("plain")
    with pytest.raises(galaxlite.TrainingExportError, match=r"2 tables \('items', 'more'\): name one"):
        items.training_dataset("two")
    with pytest.raises(galaxlite.TrainingExportError, match="'missing' is not in the training export"):
        items.training_dataset("two", "missing")
    assert items.training_dataset("two", "more").endswith("more.lance")


def test_a_database_without_tables_has_nothing_to_export(tmp_path):
    """No versioned table: an error naming the remedy, and no tag (more cases:
    tests/test_enable_versioning.py)."""
    db = galaxlite.Database(tmp_path / "data")
    with pytest.raises(galaxlite.TrainingExportError, match="there is none: CREATE TABLE"):
        db.create_training_snapshot("empty")
    assert db.exports() == [] and db.tags() == []
    with pytest.raises(galaxlite.UnknownTagError):
        db.training_dataset("empty")
    db.close()


def test_dropped_tags_keep_their_exports_and_names_can_be_reused(items):
    first = items.create_training_snapshot("t")
    old = items.training_dataset("t")
    items.drop_tag("t")
    with pytest.raises(galaxlite.UnknownTagError):
        items.training_dataset("t")
    assert [e.version for e in items.exports("t")] == [first] and Path(old).exists()
    items.execute("DELETE FROM items WHERE id > 10")
    second = items.create_training_snapshot("t")
    assert [e.version for e in items.exports("t")] == [first, second]
    assert items.training_dataset("t") != old and lance.dataset(items.training_dataset("t")).count_rows() == 10
    assert lance.dataset(old).count_rows() == 50


def test_odd_tag_and_table_names_make_safe_paths(tmp_path):
    db = galaxlite.Database(tmp_path / "data")
    db.execute('CREATE TABLE "a b/c" (x INTEGER)')
    db.execute('CREATE TABLE "A_B_C" (x INTEGER)')  # the same safe name, another file
    db.execute('INSERT INTO "a b/c" VALUES (1)')
    db.create_training_snapshot("../../escape me 日本")
    paths = [Path(e.path) for e in db.exports()]
    assert all(p.parent.parent == db.exports_dir.absolute() for p in paths)
    assert sorted(p.name for p in paths) == ["A_B_C.lance", "a_b_c-2.lance"]
    assert paths[0].parent.name.startswith("_.._escape_me_")
    assert table(db.training_dataset("../../escape me 日本", "a b/c")).to_pydict() == {"x": [1]}
    db.close()


def test_a_file_database_exports_next_to_its_file(tmp_path):
    db = items_db(tmp_path / "shop.db", n=5)
    db.create_training_snapshot("f")
    assert Path(db.training_dataset("f")).parent.parent == tmp_path / "shop.db.exports"
    db.close()
    with galaxlite.Database(tmp_path / "shop.db") as again:  # the catalog survives reopening
        assert lance.dataset(again.training_dataset("f")).count_rows() == 5


# ------------------------------------------------------------------------------ readers


def test_training_batches_options_and_errors(items, tmp_path):
    items.create_training_snapshot("r", precision="rabitq")
    path = items.training_dataset("r")
    batches = list(exports.training_batches(path, batch_size=16, columns=["emb", "label"]))
    assert [len(b["label"]) for b in batches] == [16, 16, 16, 2]
    assert all(list(b) == ["emb", "label"] and b["emb"].shape[1] == DIM for b in batches)
    assert galaxlite.training_batches is exports.training_batches
    with pytest.raises(galaxlite.TrainingExportError, match="no column 'emb__rabitq_norm'"):
        next(exports.training_batches(path, columns=["emb__rabitq_norm"]))
    with pytest.raises(galaxlite.ProgrammingError, match="batch_size"):
        next(exports.training_batches(path, batch_size=0))
    with pytest.raises(galaxlite.QuantizationModeError):
        next(exports.training_batches(path, rabitq_mode="best"))
    with pytest.raises(galaxlite.TrainingExportError, match="cannot open"):
        next(exports.training_batches(tmp_path / "nothing-here"))
    lance.write_dataset(pa.table({"a": [1]}), str(tmp_path / "other.lance"))
    with pytest.raises(galaxlite.TrainingExportError, match="not a galaxlite training export"):
        exports.content_hash(tmp_path / "other.lance")


def test_the_reader_needs_no_database():
    # a training job reads an export on a machine without the database: the reader and what
    # it imports stay off apsw and the engine (galaxlite.errors, the error hierarchy, is shared)
    allowed = {"galaxlite.errors", "galaxlite.exports.quantize", "galaxlite.exports.hashing",
                "galaxlite.exports.layout", "galaxlite.exports.decode", "galaxlite.transpile"}
    folder = Path(exports.__file__).parent
    modules = ["read", "decode", "torch_reader", "hashing", "layout",
               *(f"quantize/{p.stem}" for p in (folder / "quantize").glob("*.py"))]
    allowed |= {f"galaxlite.exports.quantize.{p.stem}" for p in (folder / "quantize").glob("*.py")}
    allowed |= {"galaxlite.exports.read"}
    for module in modules:
        tree = ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))
        names = set()
        for node in tree.body:
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
                names |= ({f"{node.module}.{alias.name}" for alias in node.names}
                          if node.module in ("galaxlite", "galaxlite.exports") else {node.module})
        assert "apsw" not in names, module
        assert {n for n in names if n.startswith("galaxlite")} <= allowed, module


def test_torch_dataset_needs_torch(items):
    items.create_training_snapshot("t")
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(galaxlite.OptionalDependencyError, match="pip install torch") as caught:
            exports.torch_dataset(items.training_dataset("t"))
        assert isinstance(caught.value, ImportError)
    else:
        pytest.skip("torch is installed: see test_torch_dataset_yields_float32_tensors")


def test_torch_dataset_yields_float32_tensors(items):
    torch = pytest.importorskip("torch")
    items.create_training_snapshot("t", precision="sq8", seed=4)
    path = items.training_dataset("t")
    loader = torch.utils.data.DataLoader(exports.torch_dataset(path), batch_size=32)
    batches = list(loader)
    assert [len(b["label"]) for b in batches] == [32, 18]
    assert batches[0]["emb"].dtype == torch.float32 and batches[0]["emb"].shape == (32, DIM)
    assert isinstance(batches[0]["name"], list)
    whole = one_batch(path)
    assert np.array_equal(torch.cat([b["emb"] for b in batches]).numpy(), whole["emb"])
    batched = list(exports.torch_dataset(path, batch_size=20))
    assert [len(b["id"]) for b in batched] == [20, 20, 10]
    workers = torch.utils.data.DataLoader(
        exports.torch_dataset(path, batch_size=10), batch_size=None, num_workers=2,
        multiprocessing_context="spawn",
    )
    assert sorted(int(i) for b in workers for i in b["id"]) == list(range(1, 51))


def test_dbapi_connections_export_outside_a_transaction(tmp_path):
    con = galaxlite.connect(str(tmp_path / "data"))
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(2))")
    con.execute("INSERT INTO t (v) VALUES (vector('[1, 2]'))")
    with pytest.raises(galaxlite.NotSupportedError, match="COMMIT or ROLLBACK first"):
        con.execute("CREATE VERSION TAG 'x' FOR TRAINING")  # the INSERT's implicit transaction
    con.commit()
    con.execute("CREATE VERSION TAG 'x' FOR TRAINING WITH TRAINING PRECISION 'sq8'")
    with galaxlite.Database(tmp_path / "data") as db:
        assert lance.dataset(db.training_dataset("x")).count_rows() == 1
    con.close()


# ------------------------------------------------------------------------------ CLI


def gl(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GALAXLITE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "galaxlite.cli", *args], capture_output=True, text=True,
        env=env, timeout=120, stdin=subprocess.DEVNULL,
    )


def test_cli_export_with_progress_then_info(tmp_path):
    db = items_db(tmp_path / "data")
    db.close()
    proc = gl("export", str(tmp_path / "data"), "train-v1", "--precision", "sq8", "--seed", "42")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "exporting tag 'train-v1' (sq8)\n"  # a progress bar's label when not a terminal
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("tag 'train-v1' = version ")
    with galaxlite.Database(tmp_path / "data") as again:
        (e,) = again.exports("train-v1")
        assert (e.precision, e.seed, e.rows) == ("sq8", 42, 50)
    assert lines[0].endswith(f": 1 table exported (sq8, shuffled with seed 42) to {Path(e.path).parent}")
    assert [c.strip() for c in lines[3].split("|")] == ["items", "50", "items.lance"]
    info = gl("info", str(tmp_path / "data"))
    assert info.returncode == 0, info.stderr
    assert "(1 dataset in 1 export)" in info.stdout
    section = info.stdout.split("training exports: 1 dataset\n")[1].splitlines()
    assert section[0].split("|")[0].strip() == "tag"
    row = section[2]
    cells = [c.strip() for c in row.split("|")]
    assert cells[:5] == ["train-v1", "items", "50", "sq8", "42"]
    assert e.content_hash.split(":")[1].startswith(cells[5])
    assert cells[6] == f"train-v1-{e.version}/items.lance"
    listed = gl("exports", str(tmp_path / "data"), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [{
        "tag": "train-v1", "table": "items", "rows": 50, "precision": "sq8", "seed": 42,
        "content hash": e.content_hash, "dataset": e.path,
    }]


def test_cli_export_errors(tmp_path):
    db = items_db(tmp_path / "data")
    db.create_tag("v1")
    db.close()
    proc = gl("export", str(tmp_path / "data"), "v1")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == "galaxlite: error: version tag 'v1' already exists"
    proc = gl("export", str(tmp_path / "data"), "v2", "--precision", "int4")
    assert proc.returncode == 2 and "'int4' is not one of 'float32', 'sq8', 'rabitq'" in proc.stderr
    proc = gl("export", str(tmp_path / "nowhere"), "v2")
    assert proc.returncode == 2
    with galaxlite.Database(tmp_path / "data") as again:
        assert [t.name for t in again.tags()] == ["v1"] and not again.exports_dir.exists()

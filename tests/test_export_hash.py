"""The content hash of training exports: BLAKE3 now, and the SHA-256 hashes that exports
written before BLAKE3 recorded still verify. Real files and Lance datasets."""

from __future__ import annotations

import hashlib
import json

import apsw
import lance
import numpy as np
import pyarrow as pa
import pytest

import galaxlite
from galaxlite.exports.hashing import ContentHash
from galaxlite.exports.layout import METADATA_KEY
from galaxlite.storage import guards


def build(path) -> galaxlite.Database:
    db = galaxlite.Database(path)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, emb VECTOR(4), label TEXT)")
    rng = np.random.default_rng(3)
    db.executemany("INSERT INTO items VALUES (?, ?, ?)",
                   [(i, None if i % 7 == 0 else rng.standard_normal(4).astype(np.float32).tobytes(),
                     None if i % 5 == 0 else f"l{i % 3}") for i in range(1, 60)])
    return db


def record_hash(db: galaxlite.Database, tag: str, content_hash: str) -> None:
    """Rewrite the recorded hash of the one dataset of ``tag``'s export, as an older galaxlite
    would have recorded it (a program holding galaxlite's guard function)."""
    raw = apsw.Connection(db.session.conn.filename)
    with guards.catalog_writer(raw), raw:  # records are immutable: delete and insert again
        cursor = raw.execute("SELECT * FROM galaxlite_exports WHERE tag = ?", (tag,))
        names = [d[0] for d in cursor.getdescription()]
        (row,) = cursor.fetchall()
        raw.execute("DELETE FROM galaxlite_exports WHERE tag = ?", (tag,))
        row = [content_hash if n == "content_hash" else v for n, v in zip(names, row, strict=True)]
        raw.execute(f"INSERT INTO galaxlite_exports VALUES ({', '.join('?' * len(row))})", row)
    raw.close()


def sha256_by_hand(table: pa.Table) -> str:
    """The SHA-256 definition exports recorded before BLAKE3, written out independently."""
    parts = []
    for column in table.columns:
        array = column.combine_chunks()
        valid_h, length_h, value_h = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
        valid_h.update(array.is_valid().to_numpy(zero_copy_only=False).astype(np.uint8).tobytes())
        present = array.filter(array.is_valid())
        if pa.types.is_fixed_size_list(present.type):
            present = present.flatten()
        if pa.types.is_string(present.type):
            values = [v.encode() for v in present.to_pylist()]
            length_h.update(np.array([len(v) for v in values], dtype="<i8").tobytes())
            value_h.update(b"".join(values))
        elif len(present):
            value_h.update(present.to_numpy().astype(present.type.to_pandas_dtype()).tobytes())
        parts += [valid_h.digest(), length_h.digest(), value_h.digest()]
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    head = [[f.name, str(f.type)] for f in table.schema]
    total = hashlib.sha256(json.dumps([head, meta.get("columns", {})], sort_keys=True).encode())
    for p in parts:
        total.update(p)
    return f"sha256:{total.hexdigest()}"


def test_new_exports_record_blake3_and_old_sha256_hashes_verify(tmp_path):
    db = build(tmp_path / "data")
    db.create_training_snapshot("t")
    (record,) = db.exports("t")
    assert record.content_hash.startswith("blake3:") and len(record.content_hash) == 7 + 64
    assert galaxlite.content_hash(record.path) == record.content_hash
    old = galaxlite.content_hash(record.path, algorithm="sha256")
    assert old == sha256_by_hand(lance.dataset(record.path).to_table())  # the old definition, kept
    record_hash(db, "t", old)
    assert [(v.status, v.content_hash) for v in db.verify_export("t")] == [("ok", old)]
    record_hash(db, "t", "sha256:" + "0" * 64)
    assert [v.status for v in db.verify_export("t")] == ["changed"]
    record_hash(db, "t", "md5:" + "0" * 32)
    (found,) = db.verify_export("t")
    assert found.status == "changed" and "unknown content hash algorithm 'md5'" in found.detail
    db.close()


def test_the_hash_does_not_depend_on_batching_for_either_algorithm(tmp_path):
    db = build(tmp_path / "data")
    db.create_training_snapshot("t", precision="sq8")
    table = lance.dataset(db.training_dataset("t")).to_table()
    for algorithm in ("blake3", "sha256"):
        digests = set()
        for size in (1, 7, 1000):
            digest = ContentHash(table.schema, algorithm)
            for batch in table.to_batches(max_chunksize=size):
                digest.add(batch)
            digests.add(digest.hexdigest())
        assert len(digests) == 1 and digests.pop().startswith(algorithm + ":")
    with pytest.raises(galaxlite.TrainingExportError, match="unknown content hash algorithm 'md5'"):
        galaxlite.content_hash(db.training_dataset("t"), algorithm="md5")
    db.close()

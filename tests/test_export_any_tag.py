"""Exports of any tag at any time, several per tag, pinned to their Lance version, verifiable;
an older file's export catalog brought up to date at open. Real files, Lance datasets and CLI
subprocesses."""

from __future__ import annotations

import shutil
from pathlib import Path

import apsw
import lance
import numpy as np
import pyarrow as pa
import pytest
from helpers import gl, ok

import galaxlite
from galaxlite.exports import quantize as Q


def build(path: Path) -> galaxlite.Database:
    db = galaxlite.Database(path)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, emb VECTOR(4), label TEXT, score)")
    db.execute("CREATE TABLE other (x INTEGER)")
    rng = np.random.default_rng(1)
    db.executemany("INSERT INTO items VALUES (?, ?, ?, ?)",
                   [(i, None if i % 9 == 0 else rng.standard_normal(4).astype(np.float32).tobytes(),
                     f"l{i % 3}", i * 0.5) for i in range(1, 121)])
    db.executemany("INSERT INTO other VALUES (?)", [(i,) for i in range(5)])
    return db


def change_everything(db: galaxlite.Database) -> None:
    """Writes and schema changes after the tag: none of them may reach an export of it."""
    db.execute("UPDATE items SET label = 'changed', score = -1 WHERE id % 2 = 0")
    db.execute("DELETE FROM items WHERE id % 5 = 0")
    db.execute("INSERT INTO items (id, emb, label) VALUES (1000, vector('[9, 9, 9, 9]'), 'new')")
    db.execute("ALTER TABLE items ADD COLUMN extra TEXT")
    db.execute("ALTER TABLE items RENAME COLUMN label TO kind")
    db.execute("ALTER TABLE other RENAME TO renamed")
    db.execute("CREATE TABLE later (y INTEGER)")
    db.execute("BULK INSERT INTO renamed (x) VALUES (100), (101)")


def hashes(records) -> dict[str, str]:
    return {e.table: e.content_hash for e in records}


@pytest.mark.parametrize(("precision", "seed"), [("float32", None), ("sq8", 7), ("rabitq4", None), ("rabitq", 3)])
def test_an_old_tag_exports_as_it_did_at_tag_time(tmp_path, precision, seed):
    db = build(tmp_path / "data")
    version = db.create_training_snapshot("t", precision=precision, seed=seed)
    at_tag_time = hashes(db.exports("t"))
    change_everything(db)
    again = db.export_training("t", precision=precision, seed=seed)
    assert hashes(again) == at_tag_time and {e.table for e in again} == {"items", "other"}
    assert all(e.version == version and e.lance_version == 1 for e in again)
    first, second = db.training_dataset("t", "items"), next(e.path for e in again if e.table == "items")
    assert Path(first).parent != Path(second).parent  # two exports of one tag, side by side
    assert lance.dataset(first).to_table().equals(lance.dataset(second).to_table())
    assert len(db.exports("t")) == 4 and all(v.ok for v in db.verify_export("t"))
    db.close()


def test_exports_of_one_tag_coexist_and_are_found_by_precision_and_seed(tmp_path):
    db = build(tmp_path / "data")
    db.create_tag("plain")  # not FOR TRAINING: exported later only
    with pytest.raises(galaxlite.TrainingExportError, match="created without FOR TRAINING"):
        db.training_dataset("plain", "items")
    change_everything(db)
    made = [db.export_training("plain", precision=p, seed=s) for p, s in
            [("float32", None), ("sq8", None), ("rabitq4", 5), ("float32", None)]]
    assert len({Path(m[0].path).parent for m in made}) == 4
    items = [next(e.path for e in m if e.table == "items") for m in made]
    assert db.training_dataset("plain", "items") == items[0]  # the first export
    assert db.training_dataset("plain", "items", precision="rabitq4") == items[2]
    assert db.training_dataset("plain", "items", precision="rabitq4", seed=5) == items[2]
    with pytest.raises(galaxlite.TrainingExportError, match="with that precision and seed"):
        db.training_dataset("plain", "items", precision="rabitq4", seed=None)
    assert hashes(made[0]) == hashes(made[3])
    rows = next(galaxlite.training_batches(items[1], batch_size=1000))
    assert len(rows["id"]) == 120 and rows["emb"].shape == (120, 4)  # the tag's rows, not today's
    assert set(rows["label"]) == {"l0", "l1", "l2"}
    db.close()


def test_export_errors(tmp_path):
    db = build(tmp_path / "data")
    with pytest.raises(galaxlite.UnknownTagError):
        db.export_training("nope")
    db.create_tag("t")
    with pytest.raises(galaxlite.QuantizationModeError, match="rabitq9"):
        db.export_training("t", precision="rabitq9")
    with pytest.raises(galaxlite.ProgrammingError, match="seed"):
        db.export_training("t", seed=-1)
    db.execute("ALTER TABLE items DROP COLUMN score")
    with pytest.raises(galaxlite.NotSupportedError, match="column 'score' was dropped since"):
        db.export_training("t")
    db.execute("DROP TABLE items")
    with pytest.raises(galaxlite.NotSupportedError, match="it was dropped since"):
        db.export_training("t")
    db.begin()
    with pytest.raises(galaxlite.NotSupportedError, match="inside a transaction"):
        db.export_training("t")
    db.rollback()
    assert db.exports() == [] and not db.exports_dir.exists()  # nothing left, not even the folder
    db.close()


def test_readers_open_the_recorded_lance_version(tmp_path):
    db = build(tmp_path / "data")
    db.create_training_snapshot("t", precision="sq8")
    path = db.training_dataset("t", "items")
    data = lance.dataset(path).to_table()
    lance.write_dataset(data, path, mode="append")  # another tool appends: version 2
    assert lance.dataset(path).count_rows() == 240
    assert sum(len(b["id"]) for b in galaxlite.training_batches(path)) == 120
    assert galaxlite.content_hash(path) == hashes(db.exports("t"))["items"]
    assert [v.status for v in db.verify_export()] == ["ok", "ok"]
    db.close()


def test_verify_reports_changed_and_missing_exports(tmp_path):
    db = build(tmp_path / "data")
    db.create_training_snapshot("t")
    items, other = db.training_dataset("t", "items"), db.training_dataset("t", "other")
    data = next(Path(items, "data").iterdir())
    raw = bytearray(data.read_bytes())
    raw[100] ^= 0xFF  # one flipped byte in the vectors
    data.write_bytes(bytes(raw))
    shutil.rmtree(other)
    found = {v.export.table: v for v in db.verify_export("t")}
    assert found["items"].status == "changed" and found["other"].status == "missing"
    assert not any(v.ok for v in found.values())
    with pytest.raises(galaxlite.UnknownTagError):
        db.verify_export("nope")
    db.close()


def test_cli_exports_an_existing_tag_and_verifies(tmp_path):
    path = str(tmp_path / "shop.db")
    ok(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(3)); "
             "INSERT INTO t (v) VALUES (vector('[1, 2, 3]')), (vector('[4, 5, 6]')); "
             "CREATE VERSION TAG 'v1' FOR TRAINING; DELETE FROM t;")
    proc = gl("export", path, "--tag", "v1", "--precision", "rabitq4", "--seed", "9")
    assert proc.returncode == 0 and "exporting tag 'v1' (rabitq4)" in proc.stderr  # the progress bar
    out = proc.stdout
    assert "tag 'v1' = version" in out and "1 table exported (rabitq4, shuffled with seed 9)" in out
    with galaxlite.Database(path) as db:
        assert [(e.precision, e.rows) for e in db.exports("v1")] == [("float32", 2), ("rabitq4", 2)]
    out = ok("verify", path)
    assert out.splitlines()[-1] == "ok: 2 export dataset(s) intact"
    proc = gl("export", path, "new", "--tag", "v1")
    assert proc.returncode == 2 and "one of the two" in proc.stderr
    with galaxlite.Database(path) as db:
        shutil.rmtree(db.exports("v1")[1].path)
    proc = gl("verify", path, "v1")
    assert proc.returncode == 1 and "missing: v1/t (rabitq4)" in proc.stdout
    assert "1 of 2 export dataset(s) changed or missing" in proc.stderr


OLD_EXPORTS = """CREATE TABLE galaxlite_exports (
    tag TEXT NOT NULL, version INTEGER NOT NULL, table_name TEXT NOT NULL, path TEXT NOT NULL,
    precision TEXT NOT NULL, seed INTEGER, row_count INTEGER NOT NULL,
    content_hash TEXT NOT NULL, created_us INTEGER NOT NULL, PRIMARY KEY (version, table_name))"""


def test_an_older_files_export_catalog_is_brought_up_to_date(tmp_path):
    path = tmp_path / "old.db"
    db = build(path)
    db.create_training_snapshot("t")
    before = db.exports()
    db.close()
    conn = apsw.Connection(str(path))  # the catalog as an older galaxlite made it
    conn.execute("ALTER TABLE galaxlite_exports RENAME TO x; " + OLD_EXPORTS + "; "
                 "INSERT INTO galaxlite_exports SELECT tag, version, table_name, path, precision, seed, "
                 "row_count, content_hash, created_us FROM x; DROP TABLE x")
    conn.close()
    db = galaxlite.Database(path)
    assert db.exports() == before and db.check() == []
    columns = [r[1] for r in db.query("SELECT * FROM pragma_table_info('galaxlite_exports')")]
    assert columns[-1] == "lance_version"
    assert db.query("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'galaxlite_exports'") \
        == [(3,)]
    assert hashes(db.export_training("t")) == hashes(before)  # a second export of the tag now fits
    db.close()


def test_decode_any_batch_kind(tmp_path):
    db = build(tmp_path / "data")
    db.create_training_snapshot("q", precision="rabitq8", seed=1)
    path = db.training_dataset("q", "items")
    table = lance.dataset(path).to_table()
    assert table.column_names == ["id", "emb__rabitq8", "emb__rabitq8_norm", "emb__rabitq8_ip", "label", "score"]
    expected = next(galaxlite.training_batches(path, batch_size=1000))["emb"]
    decoded = galaxlite.decode(table)
    assert decoded.column_names == ["id", "emb", "label", "score"]
    assert decoded.schema.field("emb").type == pa.list_(pa.float32(), 4)
    assert decoded.column("emb").null_count == 13
    got = np.array([[np.nan] * 4 if v is None else v for v in decoded.column("emb").to_pylist()])
    assert np.allclose(got, expected, equal_nan=True)
    assert galaxlite.decode(decoded).equals(decoded)  # decoding twice changes nothing
    batch = table.to_batches()[0]
    assert isinstance(galaxlite.decode(batch), pa.RecordBatch)
    numpy = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    with pytest.raises(galaxlite.TrainingExportError, match="pass metadata="):
        galaxlite.decode(numpy)
    out = galaxlite.decode(numpy, metadata=path)
    assert list(out) == ["id", "emb", "label", "score"] and out["emb"].dtype == np.float32
    assert np.allclose(out["emb"], expected, equal_nan=True)
    import pickle

    decoder = pickle.loads(pickle.dumps(galaxlite.decoder(path, mode="unbiased")))
    assert np.allclose(decoder(numpy)["emb"], next(galaxlite.training_batches(
        path, batch_size=1000, rabitq_mode="unbiased"))["emb"], equal_nan=True)
    db.close()


def test_ray_data_decodes_with_map_batches(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (Ray Data's read_lance + map_batches)")
    db = build(tmp_path / "data")
    db.create_training_snapshot("q", precision="sq8")
    path = db.training_dataset("q", "items")
    rows = ray.data.read_lance(path).map_batches(galaxlite.decoder(path)).take_all()
    assert len(rows) == 120 and len(rows[0]["emb"]) == 4 and "emb__sq8" not in rows[0]


def test_lance_torch_reads_decoded_batches(tmp_path):
    pytest.importorskip("torch", reason="torch is not installed (lance.torch needs it)")
    from lance.torch.data import LanceDataset

    db = build(tmp_path / "data")
    db.create_training_snapshot("q", precision="rabitq4")
    path = db.training_dataset("q", "items")
    dataset = LanceDataset(path, batch_size=32, to_tensor_fn=galaxlite.decoder(path).to_tensor)
    first = next(iter(dataset))
    assert tuple(first["emb"].shape) == (32, 4) and str(first["emb"].dtype) == "torch.float32"
    assert "emb__rabitq4" not in first


def test_wider_rabitq_codes_are_closer(tmp_path):
    x = np.random.default_rng(3).standard_normal((300, 32)).astype(np.float32)
    cosines = []
    for bits in Q.RABITQ_BITS:
        model = Q.rabitq_fit(x, seed=2, bits=bits)
        codes = Q.rabitq_encode(model, x)
        assert codes.codes.shape == (300, (32 * bits + 7) // 8)
        assert Q.RabitqModel.from_metadata(model.to_metadata()) == model
        r, r_hat = x - model.centroid, Q.rabitq_decode(model, codes, "mse") - model.centroid
        cos = np.sum(r * r_hat, 1) / np.linalg.norm(r, axis=1) / np.linalg.norm(r_hat, axis=1)
        assert np.allclose(cos, codes.ip, atol=1e-4)  # ip is the cosine between code and vector
        cosines.append(float(cos.mean()))
    assert cosines == sorted(cosines) and cosines[0] < 0.82 and cosines[3] > 0.99 and cosines[-1] > 0.9999
    model = Q.rabitq_fit(x, seed=2, bits=8)  # 8 bits: each byte is one coordinate's code
    o = (x - model.centroid) @ model.rotation
    codes = Q.rabitq_encode(model, x).codes.astype(int)
    assert ((codes >= 128) == (o > 0)).all()

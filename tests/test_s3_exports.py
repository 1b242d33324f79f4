"""Training exports on an object store: ``Database(..., exports="s3://bucket/prefix",
storage_options=...)``, against moto's S3 server started by the test on 127.0.0.1.

moto is an optional extra (``pip install -e '.[s3]'``): without it these tests are skipped,
with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import galaxlite
from galaxlite.exports import object_store
from galaxlite.semantic import embedders as EMB

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("moto") is None,
    reason="moto is not installed (pip install -e '.[s3]' brings its S3 server)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """Lance storage options for a fresh bucket on a moto server of our own (127.0.0.1 only)."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto's server did not start")
                time.sleep(0.2)
        options = {
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
            "aws_region": "us-east-1", "aws_endpoint": f"http://127.0.0.1:{port}", "allow_http": "true",
        }
        import boto3  # moto's own dependency

        boto3.client("s3", endpoint_url=options["aws_endpoint"], region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing",
                     ).create_bucket(Bucket="galaxlite-test")
        yield options
    finally:
        server.terminate()
        server.wait(timeout=30)


def make_db(tmp_path, s3, prefix: str) -> galaxlite.Database:
    db = galaxlite.Database(tmp_path / "data", exports=f"s3://galaxlite-test/{prefix}", storage_options=s3)
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, text TEXT EMBEDDING MODEL 'hash', label INTEGER)")
    db.executemany("INSERT INTO docs (id, text, label) VALUES (?, ?, ?)",
                   [(i, f"document {i}", i % 3) for i in range(1, 41)])
    return db


def test_an_export_is_written_to_and_read_from_the_object_store(tmp_path, s3):
    with make_db(tmp_path, s3, "run1") as db:
        db.create_training_snapshot("t", precision="sq8", seed=5)
        path = db.training_dataset("t")
        assert path.startswith("s3://galaxlite-test/run1/t-") and path.endswith("/docs.lance")
        assert db.storage_options == s3
        (record,) = db.exports("t")
        assert galaxlite.content_hash(path, storage_options=s3) == record.content_hash
        assert not (tmp_path / "data" / "exports").exists()  # nothing local
    # a training job elsewhere: the URI and the options, no database
    rows = list(galaxlite.training_batches(path, batch_size=16, storage_options=s3))
    ids = np.concatenate([b["id"] for b in rows])
    assert sorted(ids.tolist()) == list(range(1, 41))
    assert rows[0]["text"].dtype == np.float32 and rows[0]["text"].shape[1] == 384
    assert galaxlite.read_metadata(path, storage_options=s3)["precision"] == "sq8"


def test_the_torch_reader_reads_the_object_store(tmp_path, s3):
    torch = pytest.importorskip("torch", reason="torch is not installed (make test-long installs the CPU build)")
    with make_db(tmp_path, s3, "run2") as db:
        db.create_training_snapshot("t")
        path = db.training_dataset("t")
    seen = []
    for rank in range(2):
        ds = galaxlite.torch_dataset(path, batch_size=8, rank=rank, world_size=2, block_rows=5,
                                     storage_options=s3)
        seen += [int(i) for b in torch.utils.data.DataLoader(ds, batch_size=None) for i in b["id"]]
    assert sorted(seen) == list(range(1, 41))


def test_a_failed_export_leaves_nothing_in_the_bucket(tmp_path, s3):
    def broken():
        class Broken:
            name, dim = "broken-s3", 4

            def embed(self, texts):
                raise RuntimeError("the embedder broke")

        return Broken()

    EMB.register_embedder("broken-s3", broken, replace=True)
    with make_db(tmp_path, s3, "run3") as db:
        # aaa (exported first) is written, then zzz's embedder fails: all of it goes
        db.execute("CREATE TABLE aaa (id INTEGER PRIMARY KEY, x INTEGER)")
        db.execute("INSERT INTO aaa (x) VALUES (1), (2)")
        db.execute("CREATE TABLE zzz (id INTEGER PRIMARY KEY, t TEXT EMBEDDING MODEL 'broken-s3')")
        db.execute("INSERT INTO zzz (t) VALUES ('boom')")
        with pytest.raises(Exception, match="the embedder broke"):
            db.create_training_snapshot("bad")
        assert db.tags() == [] and db.exports() == []
    from pyarrow import fs

    store, _ = object_store.filesystem("s3://galaxlite-test", s3)
    left = store.get_file_info(fs.FileSelector("galaxlite-test/run3", recursive=True, allow_not_found=True))
    assert left == []  # (pyarrow may keep an empty marker for the prefix itself)


def test_other_schemes_and_misplaced_options_are_refused(tmp_path, s3):
    with pytest.raises(galaxlite.ProgrammingError, match="storage_options go with an object store"):
        galaxlite.Database(tmp_path / "a", storage_options=s3)
    with galaxlite.Database(tmp_path / "b", exports="gs://bucket/x") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        with pytest.raises(galaxlite.NotSupportedError, match="gs:// are not supported yet"):
            db.create_training_snapshot("t")
        assert db.tags() == []



def test_the_command_line_exports_to_and_verifies_the_object_store(tmp_path, s3):
    """``--exports s3://...`` with ``--storage-option KEY=VALUE``, as real subprocesses."""
    from helpers import gl, ok

    data = str(tmp_path / "data")
    ok(data, "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT EMBEDDING MODEL 'hash', label INTEGER);"
             "INSERT INTO docs (body, label) VALUES ('a', 1), ('b', 0), ('c', 1)")
    uri = "s3://galaxlite-test/cli"
    where = ["--exports", uri, *(a for k, v in s3.items() for a in ("--storage-option", f"{k}={v}"))]
    proc = gl("export", data, "t1", "--precision", "sq8", *where)
    assert proc.returncode == 0, proc.stderr
    assert f"1 table exported (sq8, primary-key order) to {uri}/t1-" in proc.stdout
    verified = ok("verify", data, *where).splitlines()
    assert verified[0].startswith(f"ok: t1/docs (sq8) {uri}/t1-") and verified[-1] == "ok: 1 export dataset(s) intact"
    assert f"exports   {uri} (1 dataset in 1 export)" in ok("info", data, *where)
    (listed,) = json.loads(ok("exports", data, "--format", "json", *where))
    with galaxlite.Database(data, exports=uri, storage_options=s3) as db:
        (record,) = db.exports()
        assert [(r.status, r.content_hash) for r in db.verify_export()] == [("ok", record.content_hash)]
    assert listed["dataset"] == record.path and galaxlite.content_hash(record.path, storage_options=s3) == record.content_hash
    assert not (tmp_path / "data" / "exports").exists()  # nothing local
    # the datasets are not next to the database
    assert gl("verify", data).stdout.startswith("missing: t1/docs")

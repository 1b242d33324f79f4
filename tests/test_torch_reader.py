"""The seed's Python training workflow, end to end, and the torch readers of an export:
``galaxlite.torch_dataset`` (sharded by rank / world_size and DataLoader worker, reshuffled per
epoch) and ``lance.torch.data.LanceDataset`` on a float32 export, with a real
``torch.utils.data.DataLoader`` and worker processes.

torch is optional: the tests that need it are skipped, with the reason, when it is not
importable (``make test-long`` installs the CPU build and runs them). ``shard_rows``, the
sharding rule, is tested without torch. With GALAXLITE_LONG=1 every rank × worker layout runs
with real worker processes; otherwise one layout does, and the others run the same dataset
code in this process, told the worker by ``torch.utils.data.get_worker_info``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import galaxlite
from galaxlite.exports import shard_rows

LONG = os.environ.get("GALAXLITE_LONG") == "1"
N = 60


def need_torch():
    return pytest.importorskip("torch", reason="torch is not installed (make test-long installs the CPU build)")


@pytest.fixture
def export(tmp_path):
    """A float32 export of ``docs(id, text TEXT EMBEDDING MODEL 'hash', label)``, N rows."""
    with galaxlite.Database(tmp_path / "data") as db:
        db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, text TEXT EMBEDDING MODEL 'hash', label INTEGER)")
        db.executemany("INSERT INTO docs (id, text, label) VALUES (?, ?, ?)",
                       [(i, f"text number {i}", i % 2) for i in range(1, N + 1)])
        db.create_training_snapshot("t")
        yield db.training_dataset("t")


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(0, 300), world=st.integers(1, 4), workers=st.integers(0, 2),
       block=st.integers(1, 40), seed=st.none() | st.integers(0, 2**64 - 1), epoch=st.integers(0, 5))
def test_shards_are_disjoint_and_complete(rows, world, workers, block, seed, epoch):
    shards = world * max(workers, 1)
    got = [np.concatenate(b) if (b := shard_rows(rows, shards=shards, shard=s, block_rows=block,
                                                  shuffle_seed=seed, epoch=epoch)) else np.array([], int)
           for s in range(shards)]
    every = np.concatenate(got)
    assert len(every) == rows and sorted(every.tolist()) == list(range(rows))


def test_each_epoch_has_its_own_order_and_the_same_seed_repeats_it():
    one = np.concatenate(shard_rows(100, shards=1, shard=0, shuffle_seed=7, epoch=1))
    assert np.array_equal(one, np.concatenate(shard_rows(100, shards=1, shard=0, shuffle_seed=7, epoch=1)))
    assert not np.array_equal(one, np.concatenate(shard_rows(100, shards=1, shard=0, shuffle_seed=7, epoch=2)))
    assert np.concatenate(shard_rows(100, shards=1, shard=0)).tolist() == list(range(100))


def test_the_seed_workflow_runs_as_written(tmp_path, monkeypatch):
    torch = need_torch()
    import galaxlite as galaxdb  # the seed's `import galaxdb`

    monkeypatch.chdir(tmp_path)
    db = galaxdb.Database("./data")
    db.execute("CREATE TABLE training_data (id INTEGER PRIMARY KEY, text TEXT EMBEDDING, label INTEGER)")
    db.execute("""BULK INSERT INTO training_data (id, text, label) VALUES
        (1, 'positive example', 1),
        (2, 'negative example', 0),
        (3, 'another positive', 1)""")
    db.execute("""CREATE VERSION TAG 'train-2024-01'
        FOR TRAINING
        WITH TRAINING PRECISION 'float32'
        TRAINING SEED 12345""")
    db.execute("INSERT INTO training_data (id, text, label) VALUES (4, 'new data', 1)")
    assert db.query("SELECT COUNT(*) FROM training_data AT VERSION 'train-2024-01'") == [(3,)]
    assert db.query("SELECT COUNT(*) FROM training_data") == [(4,)]
    # Python training workflow
    ts = db.create_training_snapshot('train-v1', seed=42)
    assert ts == db.tag_version("train-v1")
    path = db.training_dataset('train-v1')
    dataset = galaxlite.torch_dataset(path)  # the seed's lance.dataset(path).to_pytorch()
    loader = torch.utils.data.DataLoader(dataset, batch_size=32)
    batches = list(loader)
    assert len(batches) == 1
    embeddings = batches[0]['text']  # float32 tensors
    labels = batches[0]['label']
    assert embeddings.dtype == torch.float32 and embeddings.shape == (4, 384)
    assert sorted(labels.tolist()) == [0, 1, 1, 1]
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(4), atol=1e-5)
    assert sorted(batches[0]["text__text"]) == sorted(
        ["positive example", "negative example", "another positive", "new data"])
    assert [h.embedded for h in db.embedding_health()] == [4]
    db.close()


def test_lance_torch_reads_a_float32_export(export):
    torch = need_torch()
    from lance.torch.data import LanceDataset

    ds = LanceDataset(export, batch_size=16, columns=["id", "text", "label"])
    batches = list(torch.utils.data.DataLoader(ds, batch_size=None))
    assert sum(len(b["id"]) for b in batches) == N
    assert batches[0]["text"].dtype == torch.float32 and batches[0]["text"].shape[1] == 384
    workers = torch.utils.data.DataLoader(
        LanceDataset(export, batch_size=16, columns=["id", "text", "label"]), batch_size=None,
        num_workers=2, multiprocessing_context="spawn",
    )
    # (LanceDataset does not shard by DataLoader worker: every worker reads every row)
    ids = [int(i) for b in workers for i in b["id"]]
    assert sorted(set(ids)) == list(range(1, N + 1))
    ours = np.concatenate([b["text"] for b in galaxlite.training_batches(export)])
    theirs = torch.cat([b["text"] for b in batches]).numpy()
    assert np.array_equal(ours, theirs)


def _ids(dataset, torch, workers: int, real: bool, monkeypatch) -> list[list[int]]:
    """The ids each DataLoader worker of ``dataset`` yields (one list per worker)."""
    if workers == 0:
        return [[int(i) for b in torch.utils.data.DataLoader(dataset, batch_size=None) for i in b["id"]]]
    if real:
        loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers,
                                             multiprocessing_context="spawn")
        return [[int(i) for b in loader for i in b["id"]]]
    out = []
    for w in range(workers):
        info = type("WorkerInfo", (), {"num_workers": workers, "id": w})()
        monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda info=info: info)
        out.append([int(i) for b in dataset for i in b["id"]])
    monkeypatch.undo()
    return out


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("workers", [0, 1, 2])
def test_torch_dataset_shards_by_rank_and_worker(export, world, workers, monkeypatch):
    torch = need_torch()
    real = LONG or (world, workers) == (2, 2)
    seen: list[int] = []
    for rank in range(world):
        ds = galaxlite.torch_dataset(export, batch_size=4, rank=rank, world_size=world, block_rows=7,
                                     shuffle_seed=3)
        ds.set_epoch(1)
        for part in _ids(ds, torch, workers, real, monkeypatch):
            seen.extend(part)
    assert sorted(seen) == list(range(1, N + 1))  # disjoint and complete


def test_torch_dataset_reshuffles_per_epoch(export):
    torch = need_torch()
    ds = galaxlite.torch_dataset(export, shuffle_seed=11, block_rows=8)
    loader = torch.utils.data.DataLoader(ds, batch_size=10)
    orders = []
    for epoch in (0, 1, 0):
        ds.set_epoch(epoch)
        orders.append([int(i) for b in loader for i in b["id"]])
    assert sorted(orders[0]) == sorted(orders[1]) == list(range(1, N + 1))
    assert orders[0] != orders[1] and orders[0] == orders[2]
    plain = [int(i) for b in torch.utils.data.DataLoader(galaxlite.torch_dataset(export), batch_size=10)
             for i in b["id"]]
    assert plain == list(range(1, N + 1))  # without a seed: the export's order


def test_torch_dataset_arguments_are_checked(export):
    need_torch()
    for kwargs, message in [
        ({"rank": 0}, "rank and world_size together"),
        ({"rank": 2, "world_size": 2}, "rank 2 is not below world_size 2"),
        ({"block_rows": 0}, "block_rows must be an integer of at least 1"),
        ({"shuffle_seed": -1}, "shuffle_seed must be"),
        ({"columns": ["nope"]}, "no column 'nope'"),
    ]:
        with pytest.raises(galaxlite.ProgrammingError, match=message):
            galaxlite.torch_dataset(export, **kwargs)

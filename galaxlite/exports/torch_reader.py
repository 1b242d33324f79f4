"""A PyTorch dataset over a training export: float32 tensors, sharded, reshuffled per epoch.

``torch_dataset(path)`` is a ``torch.utils.data.IterableDataset`` (torch is imported on first
use: it stays optional). Its rows are split into blocks of ``block_rows`` consecutive rows
(of the export's order, or of a permutation drawn per epoch); with ``world_size`` ranks
(DistributedDataParallel) of ``w`` DataLoader workers each, block ``j`` goes to shard
``j % (world_size * max(w, 1))``, shard ``rank * max(w, 1) + worker``. So the shards are
disjoint and together hold every row once, whatever the ranks and workers
(:func:`shard_rows` is the rule, without torch). ``shuffle_seed`` draws a new permutation
of all rows each epoch from ``numpy.random.default_rng([shuffle_seed, epoch])``
(``dataset.set_epoch(epoch)`` before each epoch, as with torch's ``DistributedSampler``);
without it the rows come in the export's order (its ``TRAINING SEED`` shuffle, or key order).

Lance is not fork-safe: give the DataLoader ``multiprocessing_context="spawn"`` (or
``"forkserver"``) when it has workers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from galaxlite import errors
from galaxlite.exports.read import batch_decoder, open_export

BLOCK_ROWS = 1024  # rows per block (the unit of sharding, and of reads)


def shard_rows(
    rows: int, *, shards: int, shard: int, block_rows: int = BLOCK_ROWS,
    shuffle_seed: int | None = None, epoch: int = 0,
) -> list[np.ndarray]:
    """The row indices of shard ``shard`` of ``shards``, block by block (see the module
    docstring).

    >>> [b.tolist() for b in shard_rows(5, shards=2, shard=1, block_rows=2)]
    [[2, 3]]
    >>> sorted(i for s in range(3) for b in shard_rows(7, shards=3, shard=s, block_rows=2,
    ...        shuffle_seed=1) for i in b.tolist())
    [0, 1, 2, 3, 4, 5, 6]
    """
    order = np.arange(rows, dtype=np.int64)
    if shuffle_seed is not None:
        order = np.random.default_rng([shuffle_seed, epoch]).permutation(rows)
    starts = range(shard * block_rows, rows, shards * block_rows)
    return [order[s : s + block_rows] for s in starts]


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise errors.ProgrammingError(f"{name} must be an integer of at least {low}, not {value!r}")


def torch_dataset(
    path: str | Path,
    *,
    batch_size: int | None = None,
    columns: Sequence[str] | None = None,
    rabitq_mode: str = "norm",
    rank: int | None = None,
    world_size: int | None = None,
    shuffle_seed: int | None = None,
    block_rows: int = BLOCK_ROWS,
    storage_options: dict | None = None,
) -> Any:
    """A ``torch.utils.data.IterableDataset`` over a training export, vectors as float32
    tensors whatever the stored precision (decoded as in ``training_batches``).

    ``batch_size=None`` (default) yields one row at a time (a dict), for
    ``DataLoader(dataset, batch_size=32)``; an integer yields dicts of batched tensors of up
    to that many rows (never across blocks), for ``DataLoader(dataset, batch_size=None)``.
    Numeric columns become tensors, strings stay Python strings. ``rank`` / ``world_size``
    default to ``torch.distributed``'s when it is initialised (else 0 / 1); DataLoader
    workers are found at iteration. ``shuffle_seed``: a new order each epoch (see the module
    docstring). ``storage_options``: Lance's, for an export on an object store. Needs
    PyTorch (``pip install torch``): OptionalDependencyError otherwise.
    """
    cls = _torch_class()
    if batch_size is not None:
        _check_int("batch_size", batch_size, 1)
    _check_int("block_rows", block_rows, 1)
    if shuffle_seed is not None:
        _check_int("shuffle_seed", shuffle_seed, 0)
    if (rank is None) != (world_size is None):
        raise errors.ProgrammingError("give rank and world_size together (or neither)")
    if world_size is not None:
        _check_int("world_size", world_size, 1)
        _check_int("rank", rank, 0)
        if rank >= world_size:
            raise errors.ProgrammingError(f"rank {rank} is not below world_size {world_size}")
    meta, dataset = open_export(path, storage_options)
    batch_decoder(path, meta, dataset, columns, rabitq_mode)  # checks columns and mode now
    return cls(str(path), batch_size, None if columns is None else list(columns), rabitq_mode,
               rank, world_size, shuffle_seed, block_rows, storage_options)


def __getattr__(name: str) -> Any:
    # ``TrainingDataset`` exists once torch is imported; pickle (DataLoader workers started
    # with spawn) finds the class by this name.
    if name == "TrainingDataset":
        return _torch_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _torch_class() -> type:
    """The IterableDataset subclass, made on first use: torch stays optional."""
    try:
        import torch
    except ImportError:
        raise errors.OptionalDependencyError(
            "torch_dataset() needs PyTorch, which is not installed: pip install torch "
            "(or read the export with galaxlite.training_batches, which needs only numpy)"
        ) from None

    def tensor(value: np.ndarray) -> Any:
        if value.dtype.kind not in "biuf":
            return value.tolist()
        return torch.from_numpy(value if value.flags.writeable else value.copy())

    class TrainingDataset(torch.utils.data.IterableDataset):
        """Rows (or batches) of a galaxlite training export, vectors as float32 tensors."""

        def __init__(self, path: str, batch_size: int | None, columns: list[str] | None,
                     rabitq_mode: str, rank: int | None, world_size: int | None,
                     shuffle_seed: int | None, block_rows: int, storage_options: dict | None):
            super().__init__()
            self.path, self.batch_size, self.columns, self.rabitq_mode = path, batch_size, columns, rabitq_mode
            self.rank, self.world_size, self.shuffle_seed = rank, world_size, shuffle_seed
            self.block_rows, self.storage_options, self.epoch = block_rows, storage_options, 0

        def set_epoch(self, epoch: int) -> None:
            """The epoch whose order the next iteration reads (with ``shuffle_seed``)."""
            _check_int("epoch", epoch, 0)
            self.epoch = epoch

        def shard(self) -> tuple[int, int]:
            """(shard, shards) of the process and DataLoader worker iterating now."""
            rank, world = self.rank, self.world_size
            if world is None:
                dist = torch.distributed
                ready = dist.is_available() and dist.is_initialized()
                rank, world = (dist.get_rank(), dist.get_world_size()) if ready else (0, 1)
            info = torch.utils.data.get_worker_info()
            workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
            return rank * workers + worker, world * workers

        def __iter__(self) -> Iterator[dict]:
            meta, dataset = open_export(self.path, self.storage_options)
            read, decode = batch_decoder(self.path, meta, dataset, self.columns, self.rabitq_mode)
            shard, shards = self.shard()
            blocks = shard_rows(dataset.count_rows(), shards=shards, shard=shard,
                                block_rows=self.block_rows, shuffle_seed=self.shuffle_seed,
                                epoch=self.epoch)
            step = self.batch_size or self.block_rows
            for block in blocks:
                for start in range(0, len(block), step):
                    table = dataset.take(block[start : start + step], columns=read)
                    batch = table.combine_chunks().to_batches()[0] if table.num_rows else None
                    if batch is None:
                        continue
                    out = {name: tensor(value) for name, value in decode(batch).items()}
                    if self.batch_size is not None:
                        yield out
                        continue
                    for r in range(batch.num_rows):
                        yield {name: value[r] for name, value in out.items()}

    TrainingDataset.__module__, TrainingDataset.__qualname__ = __name__, "TrainingDataset"
    return TrainingDataset

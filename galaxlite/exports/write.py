"""Writing a training export: every table of a version tag as a Lance dataset, all or nothing.

``CREATE VERSION TAG 'x' FOR TRAINING [WITH TRAINING PRECISION p] [TRAINING SEED n]`` (and
``Database.create_training_snapshot``) creates the tag and, in the same write transaction,
calls :func:`write_exports`: every versioned table, read ``AT VERSION`` the tag, becomes one
Lance dataset (see :mod:`galaxlite.exports.layout`). The files go to a temporary folder
inside the exports folder first (locked, see :mod:`galaxlite.exports.leftovers`), which is
renamed when every table is complete; any failure removes it, and the caller rolls the tag
back (:func:`discard` removes an export whose transaction did not commit, :func:`finish`
drops the work folder of one that did).

Without a seed and at float32 the rows stream from SQLite into Lance: a reader thread fills
record batches, Lance writes them in another, a third computes the content hash, and the
caller's thread reports progress (and sees Ctrl-C at once). With a seed, or a quantizer to
fit, the table is staged first (read by a thread while the files are written, see
:mod:`galaxlite.exports.stage`); the batches then gather the shuffled rows, or are views of
the staged ones in key order. The thread primitives are in :mod:`galaxlite.exports.pipeline`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import pyarrow as pa

from galaxlite import errors, semantic
from galaxlite.exports import leftovers, object_store
from galaxlite.exports.encode import Encoder, describe, export_schema
from galaxlite.exports.hashing import ContentHash
from galaxlite.exports.layout import LANCE_OPTIONS, file_names, folder_name
from galaxlite.exports.leftovers import Work
from galaxlite.exports.pipeline import InOrder, Prefetch, wait_get
from galaxlite.exports.plan import TablePlan, plan_table
from galaxlite.exports.rows import Rows, mmap_reads, read_rows
from galaxlite.exports.stage import fit_quantizers, row_order, stage_ahead
from galaxlite.storage.files import RemoteExports
from galaxlite.transpile import PRECISIONS

ProgressCallback = Callable[[int, int], object]


@dataclass(frozen=True, slots=True)
class Written:
    """One table written: its dataset (path relative to the export folder), rows, hash."""

    table: str
    file: str
    rows: int
    content_hash: str
    lance_version: int


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What :func:`write_exports` made: the export's folder (its name in the exports folder,
    and its path), one :class:`Written` per table, whether the exports folder itself was made
    for it, and the locked work folder that stays until :func:`finish` or :func:`discard`
    (None on an object store, whose export is written in place)."""

    folder: str
    path: Path | str  # a URI for an export on an object store
    tables: tuple[Written, ...]
    made_root: bool
    work: Work | None
    storage_options: dict | None = None  # an object store's (None: a local folder)


def write_exports(
    conn: apsw.Connection,
    engine: semantic.SemanticEngine,
    exports_dir: Path | RemoteExports,
    tables: Sequence[str],
    *,
    tag: str,
    version: int,
    precision: str,
    seed: int | None,
    progress: ProgressCallback | None = None,
    folder: str | None = None,
) -> ExportResult:
    """Write every table of ``tables`` as of ``version`` under ``exports_dir``; atomic.

    Runs inside the caller's write transaction (which makes the reads consistent and keeps
    writers out), who calls :func:`finish` once it committed the catalog rows, :func:`discard`
    otherwise. ``folder``: the export folder's name (default ``<tag>-<version>``). On any
    error nothing is left (the exports folder itself is removed again if this call created it
    and it is empty). On an object store (``RemoteExports``) the tables are written in place
    under the final folder, which is removed again on any error (see
    :mod:`galaxlite.exports.object_store`).
    """
    if precision not in PRECISIONS:
        raise errors.QuantizationModeError(
            f"unknown training precision {precision!r}: use one of {', '.join(PRECISIONS)}"
        )
    if isinstance(exports_dir, RemoteExports):
        return _write_remote(conn, engine, exports_dir, tables, tag=tag, version=version,
                             precision=precision, seed=seed, progress=progress, folder=folder)
    created_root = not exports_dir.exists()
    final = exports_dir / (folder or folder_name(tag, version))
    claimed: Work | None = None
    renamed = False
    try:
        exports_dir.mkdir(parents=True, exist_ok=True)
        if final.exists():
            raise errors.OperationalError(f"cannot export tag {tag!r}: {str(final)!r} exists already")
        claimed = leftovers.claim(exports_dir)
        work = claimed.path
        (work / "export").mkdir()
        written = _write_tables(conn, engine, tables, work, lambda file: work / "export" / file,
                                None, tag=tag, version=version, precision=precision, seed=seed,
                                progress=progress)
        claimed.aim(final.name)
        os.rename(work / "export", final)
        renamed = True
        return ExportResult(final.name, final, written, created_root, claimed)
    except BaseException:
        if renamed:
            shutil.rmtree(final, ignore_errors=True)
        if claimed is not None:
            claimed.release()
        if created_root:
            with contextlib.suppress(OSError):
                exports_dir.rmdir()
        raise


def _write_tables(
    conn: apsw.Connection, engine: semantic.SemanticEngine, tables: Sequence[str], work: Path,
    target: Callable[[str], Path | str], storage_options: dict | None, *, tag: str,
    version: int, precision: str, seed: int | None, progress: ProgressCallback | None,
) -> tuple[Written, ...]:
    """Write each table to ``target(its file name)``, staging in ``work``."""
    with mmap_reads(conn):
        files = file_names(tables)
        plans = [plan_table(conn, t, version, files[t]) for t in tables]
        counter = _Progress(progress, sum(next(conn.execute(p.count_sql))[0] for p in plans)
                            if progress is not None else 0)
        return tuple(
            _write_table(conn, engine, plan, work, tag=tag, version=version, precision=precision,
                         seed=seed, progress=counter, target=target(plan.file),
                         storage_options=storage_options)
            for plan in plans
        )


def _write_remote(
    conn: apsw.Connection, engine: semantic.SemanticEngine, remote: RemoteExports,
    tables: Sequence[str], *, tag: str, version: int, precision: str, seed: int | None,
    progress: ProgressCallback | None, folder: str | None,
) -> ExportResult:
    """:func:`write_exports` to an object store: in place, removed again on any error."""
    folder = folder or folder_name(tag, version)
    base, options = remote.join(folder), remote.storage_options
    if object_store.exists(base, options):
        raise errors.OperationalError(f"cannot export tag {tag!r}: {base!r} exists already")
    work = Path(tempfile.mkdtemp(prefix=".galaxlite-export-"))  # local staging
    try:
        written = _write_tables(conn, engine, tables, work, lambda file: f"{base}/{file}", options,
                                tag=tag, version=version, precision=precision, seed=seed,
                                progress=progress)
        return ExportResult(folder, base, written, False, None, options)
    except BaseException:
        with contextlib.suppress(OSError):
            object_store.remove(base, options)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def finish(result: ExportResult) -> None:
    """The export's catalog rows are committed: drop its work folder (and lock)."""
    if result.work is not None:
        result.work.release()


def discard(result: ExportResult) -> None:
    """Remove a written export again (its transaction did not commit)."""
    if result.storage_options is not None:
        with contextlib.suppress(OSError):
            object_store.remove(str(result.path), result.storage_options)
        return
    shutil.rmtree(result.path, ignore_errors=True)
    if result.work is not None:
        result.work.release()
    if result.made_root:
        with contextlib.suppress(OSError):
            result.path.parent.rmdir()  # only if empty


class _Progress:
    """Calls the user's ``progress(done, total)`` as rows are handed to Lance."""

    def __init__(self, callback: ProgressCallback | None, total: int):
        self.callback, self.total, self.done = callback, total, 0
        if callback is not None:
            callback(0, total)

    def advance(self, rows: int) -> None:
        if self.callback is not None and rows:
            self.done += rows
            self.callback(self.done, self.total)


def _write_table(
    conn: apsw.Connection, engine: semantic.SemanticEngine, plan: TablePlan, work: Path, *,
    tag: str, version: int, precision: str, seed: int | None, progress: _Progress,
    target: Path | str, storage_options: dict | None = None,
) -> Written:
    staged = None
    if precision == "float32" and seed is None:  # straight from SQLite to Lance
        quantizers: dict[str, Any] = {}

        def blocks() -> Iterator[Rows]:
            return read_rows(conn, engine, plan)
    else:
        staged = stage_ahead(lambda: read_rows(conn, engine, plan), plan, work / "stage")
        quantizers = fit_quantizers(plan, staged, precision, seed)
        order = row_order(staged.n, seed)

        def blocks() -> Iterator[Rows]:
            step = plan.batch_rows
            return (staged.rows(i, min(i + step, staged.n), order) for i in range(0, staged.n, step))

    meta = describe(plan, tag=tag, version=version, precision=precision, seed=seed,
                    quantizers=quantizers)
    encoder = Encoder(plan, precision, quantizers, export_schema(plan, precision, quantizers, meta))
    digest = ContentHash(encoder.schema)
    hashing = InOrder(digest.add)  # hashes what Lance receives, in a thread of its own

    def batches() -> Iterator[pa.RecordBatch]:
        return (encoder.batch(rows) for rows in blocks())

    def handed(batch: pa.RecordBatch) -> None:
        hashing.submit(batch)
        progress.advance(batch.num_rows)

    try:
        rows, lance_version = _write_lance(plan.table, encoder.schema, batches, target, handed,
                                           storage_options)
    except BaseException:
        hashing.close()
        raise
    hashing.finish()
    if staged is not None:
        staged.close()
    return Written(plan.table, plan.file, rows, digest.hexdigest(), lance_version)


def _write_lance(
    table: str, schema: pa.Schema, make: Callable[[], Iterator[pa.RecordBatch]], target: Path | str,
    handed: Callable[[pa.RecordBatch], None], storage_options: dict | None = None,
) -> tuple[int, int]:
    """Write the batches of ``make()`` to ``target``; returns the row count and the dataset's
    Lance version.

    Three threads: the reader makes the batches (``make`` runs there, with the database
    connection), Lance writes them in another, and this (the caller's) thread runs
    ``handed(batch)`` on each as Lance takes it — so a progress callback runs on the
    caller's thread, and Ctrl-C stops the export at once (everything is then removed).
    """
    import lance

    reader = Prefetch(make)
    taken: queue.Queue = queue.Queue()
    outcome: list[BaseException] = []
    made: list[int] = []

    def write() -> None:
        try:
            made.append(lance.write_dataset(
                pa.RecordBatchReader.from_batches(schema, reader.consume(taken.put)),
                str(target), mode="create", storage_options=storage_options, **LANCE_OPTIONS,
            ).version)
        except BaseException as exc:  # raised by the caller's thread below
            outcome.append(exc)
        finally:
            taken.put(Prefetch.END)

    writer = threading.Thread(target=write, name="galaxlite-lance", daemon=True)
    try:
        writer.start()  # inside: Ctrl-C may come while start() waits for the thread
        while (batch := wait_get(taken)) is not Prefetch.END:
            handed(batch)
    except BaseException:
        reader.close()
        if writer.ident is not None:
            writer.join()
        raise
    writer.join()
    reader.close()
    if outcome:
        if reader.failure is not None:  # ours (bad data, an embedder): as raised
            raise reader.failure from None
        text = str(outcome[0]).strip()
        first = text.splitlines()[0] if text else type(outcome[0]).__name__
        raise errors.OperationalError(
            f"writing the training export of table {table!r} to {str(target)!r} failed: {first}"
        ) from None
    return reader.rows, made[0]

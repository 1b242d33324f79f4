"""The training-export methods of ``Database`` (``create_training_snapshot``,
``training_dataset``, ``export_training``, ``verify_export``, ``exports``): ``Database``
inherits them from ``TrainingExports``; each is one call into the runners. See
docs/training-exports.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from galaxlite.engine.session import Session
from galaxlite.runners.exports import (
    ANY,
    Verification,
    check_options,
    find_dataset,
    run_export_tag,
    verify,
)
from galaxlite.runners.tags import run_create_tag
from galaxlite.storage import tags as tag_catalog
from galaxlite.storage.files import RemoteExports
from galaxlite.storage.tags import TrainingExport


class TrainingExports:
    """Mixed into ``Database``: what it needs is its ``session`` and ``exports_dir``."""

    session: Session
    exports_dir: Path | RemoteExports | None

    def create_training_snapshot(
        self,
        tag: str,
        seed: int | None = None,
        precision: str = "float32",
        progress: Callable[[int, int], object] | None = None,
    ) -> int:
        """``CREATE VERSION TAG tag FOR TRAINING WITH TRAINING PRECISION precision [TRAINING
        SEED seed]``: tag the current state and export every versioned table as a Lance
        dataset (see ``galaxlite.export``); returns the tag's version (µs).

        ``progress(done_rows, total_rows)`` is called, on this thread, as rows go to Lance
        (counting them first costs one extra pass over the tables). All or nothing: on any
        error, Ctrl-C included, there is no tag, no catalog row and no folder. Not inside an
        open transaction.
        """
        key = check_options(precision, seed)
        sql = f"CREATE VERSION TAG ? FOR TRAINING WITH TRAINING PRECISION '{key}'"
        if seed is not None:
            sql += f" TRAINING SEED {seed}"
        plan = self.session.plan(sql)
        # errors name the call, not a place in SQL the caller never wrote
        return run_create_tag(self.session, replace(plan, source=""), (tag,), progress).fetchone()[0]

    def training_dataset(self, tag: str, table: str | None = None, *, precision: Any = ANY,
                         seed: Any = ANY) -> str:
        """The path of the Lance dataset of ``table`` in the training export of ``tag``
        (``table`` may be left out when the export has one table): the first export of the
        tag, or the first with ``precision`` and ``seed`` (None: primary-key order) if given.

        UnknownTagError for an unknown tag; TrainingExportError when the tag has no such
        export or it did not export that table.
        """
        return find_dataset(self.session, tag, table, precision, seed)

    def export_training(
        self, tag: str, precision: str = "float32", seed: int | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> list[TrainingExport]:
        """Export existing tag ``tag`` now, with exactly the data an export at tag time would
        have had (same content hash), as a new export beside the tag's others; returns its
        records (one per table). Options as for ``create_training_snapshot``.

        >>> import tempfile
        >>> from galaxlite import Database
        >>> db = Database(tempfile.mkdtemp())
        >>> _ = db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(2))")
        >>> _ = db.execute("INSERT INTO t (v) VALUES (vector('[1, 2]'))")
        >>> v1 = db.create_tag("v1")
        >>> _ = db.execute("DELETE FROM t")
        >>> [(e.table, e.rows, e.precision) for e in db.export_training("v1", precision="rabitq4")]
        [('t', 1, 'rabitq4')]
        """
        return run_export_tag(self.session, tag, precision, seed, progress)

    def verify_export(self, tag: str | None = None) -> list[Verification]:
        """Recompute the content hash of every recorded export dataset (of tag name ``tag``)
        at its recorded Lance version: one Verification each, ``status`` ``"ok"``,
        ``"changed"`` or ``"missing"``."""
        return verify(self.session, tag)

    def exports(self, tag: str | None = None) -> list[TrainingExport]:
        """The training exports (one record per exported table), oldest first; only those of
        tag name ``tag`` if given (a dropped tag's exports stay listed)."""
        return tag_catalog.all_exports(self.session.conn, self.exports_dir, tag)

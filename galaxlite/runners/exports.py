"""Training exports of a tag at any time, recording them, finding and verifying them.

``CREATE VERSION TAG ... FOR TRAINING`` exports at tag time (``galaxlite.runners.tags``);
:func:`run_export_tag` exports an existing tag later, with exactly the data an export at tag
time would have had: every table versioned at the tag's version, read ``AT VERSION`` it with
its schema then (same rows, same order, same content hash). Each export is a folder of its own
(``<tag>-<version>``, then ``<tag>-<version>.2``, ...), so several exports of one tag (other
precisions or seeds, or the same again) coexist in the catalog. :func:`verify` recomputes the
content hash of each recorded dataset at its recorded Lance version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import apsw

from galaxlite import errors as E
from galaxlite import exports
from galaxlite.engine.session import Session
from galaxlite.exports import object_store
from galaxlite.exports.layout import folder_name
from galaxlite.storage import check, clock
from galaxlite.storage.files import RemoteExports
from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.tags import (
    SEED_BITS,
    TrainingExport,
    all_exports,
    export_folders,
    seed_to_sql,
    tables_at,
    tag_version,
)
from galaxlite.transpile import PRECISIONS

Progress = Callable[[int, int], object]
ANY = object()  # find_dataset: any precision / seed


def record(conn: apsw.Connection, written: exports.ExportResult, *, tag: str, version: int,
           precision: str, seed: int | None, created: int) -> None:
    """Insert the catalog rows of ``written`` (inside the write transaction, guards open)."""
    conn.executemany(
        "INSERT INTO galaxlite_exports (tag, version, table_name, path, precision, seed, "
        "row_count, content_hash, created_us, lance_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(tag, version, w.table, f"{written.folder}/{w.file}", precision, seed_to_sql(seed), w.rows,
          w.content_hash, created, w.lance_version) for w in written.tables],
    )


def check_options(precision: object, seed: object) -> str:
    """The precision, normalised; ProgrammingError / QuantizationModeError for bad options."""
    key = precision.strip().lower() if isinstance(precision, str) else precision
    if key not in PRECISIONS:
        raise E.QuantizationModeError(
            f"unknown training precision {precision!r}: use one of " + ", ".join(repr(p) for p in PRECISIONS)
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_BITS):
        raise E.ProgrammingError(f"seed must be an integer from 0 to 2**64 - 1, not {seed!r}")
    return key


def _free_folder(conn: apsw.Connection, root: Path, tag: str, version: int) -> str:
    base, taken = folder_name(tag, version), export_folders(conn)
    name, k = base, 1
    while name in taken or (root / name).exists():
        k += 1
        name = f"{base}.{k}"
    return name


def run_export_tag(session: Session, tag: str, precision: str = "float32", seed: int | None = None,
                   progress: Progress | None = None) -> list[TrainingExport]:
    """Export existing tag ``tag`` (see the module docstring); returns its catalog records."""
    if not isinstance(tag, str):
        raise E.ProgrammingError(f"tag must be a str, not {type(tag).__name__}")
    precision = check_options(precision, seed)
    if session.exports_dir is None:
        raise E.NotSupportedError("an in-memory database has no exports folder: open a file or directory database")
    if session.conn.in_transaction:
        raise E.NotSupportedError("export_training() cannot run inside a transaction: COMMIT or ROLLBACK first")
    conn, root = session.conn, session.exports_dir
    session.clean_exports()
    written = None
    try:
        with session.writing(pin=False), catalog_writer(conn):
            version = tag_version(conn, tag)
            if version is None:
                raise E.UnknownTagError(f"unknown version tag {tag!r}")
            if check.outdated_catalogs(conn):
                check.bring_catalogs_up_to_date(conn)
            tables = tables_at(conn, version)
            if not tables:
                raise E.TrainingExportError(f"version tag {tag!r} has no versioned table to export")
            created = clock.now_us()
            written = exports.write_exports(
                conn, session.semantic, root, tables, tag=tag, version=version, precision=precision,
                seed=seed, progress=progress, folder=_free_folder(conn, root, tag, version),
            )
            record(conn, written, tag=tag, version=version, precision=precision, seed=seed, created=created)
    except BaseException as exc:
        if written is not None:
            exports.discard(written)
        if isinstance(exc, apsw.Error):
            raise E.from_apsw(exc) from None
        raise
    exports.finish(written)
    return [e for e in all_exports(conn, root, tag) if Path(e.path).parent.name == written.folder]


def find_dataset(session: Session, tag: str, table: str | None, precision: object = ANY,
                 seed: object = ANY) -> str:
    """The path of ``table``'s dataset in the first export of ``tag`` (its current version)
    with ``precision`` and ``seed`` (ANY: any)."""
    conn = session.conn
    version = tag_version(conn, tag)
    if version is None:
        raise E.UnknownTagError(f"unknown version tag {tag!r}")
    found = [e for e in all_exports(conn, session.exports_dir, tag) if e.version == version
             and precision in (ANY, e.precision) and seed in (ANY, e.seed)]
    if not found:
        wanted = "" if precision is ANY and seed is ANY else " with that precision and seed"
        why = "" if wanted or any(e.version == version for e in all_exports(conn, None, tag)) else (
            " (it was created without FOR TRAINING)"
        )
        raise E.TrainingExportError(
            f"version tag {tag!r} has no training export{wanted}{why}: "
            f"db.export_training({tag!r}, precision=..., seed=...) makes one"
        )
    first = Path(found[0].path).parent
    found = [e for e in found if Path(e.path).parent == first]
    names = ", ".join(repr(e.table) for e in found)
    if table is None:
        if len(found) > 1:
            raise E.TrainingExportError(
                f"the training export of {tag!r} has {len(found)} tables ({names}): name "
                f"one, e.g. db.training_dataset({tag!r}, {found[0].table!r})"
            )
        return found[0].path
    for e in found:
        if e.table.lower() == table.lower():
            return e.path
    raise E.TrainingExportError(f"table {table!r} is not in the training export of {tag!r} (it has {names})")


@dataclass(frozen=True, slots=True)
class Verification:
    """One recorded dataset checked: ``status`` ``"ok"``, ``"changed"`` or ``"missing"``."""

    export: TrainingExport
    status: str
    detail: str
    content_hash: str | None  # recomputed (None when the dataset could not be read)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def verify(session: Session, tag: str | None = None) -> list[Verification]:
    """Recompute the content hash of every recorded dataset (of exports of tag name ``tag``)."""
    records = all_exports(session.conn, session.exports_dir, tag)
    if tag is not None and not records:
        if tag_version(session.conn, tag) is None:
            raise E.UnknownTagError(f"unknown version tag {tag!r}")
        raise E.TrainingExportError(f"version tag {tag!r} has no training export to verify")
    options = session.exports_dir.storage_options if isinstance(session.exports_dir, RemoteExports) else None
    return [_verify_one(e, options) for e in records]


def _verify_one(e: TrainingExport, options: dict | None) -> Verification:
    """``options``: the storage options of an object store location (None: a folder)."""
    if not (object_store.exists(e.path, options) if options is not None else Path(e.path).is_dir()):
        return Verification(e, "missing", f"{e.path} does not exist", None)
    try:
        found = exports.content_hash(e.path, version=e.lance_version, storage_options=options,
                                     algorithm=e.content_hash.partition(":")[0])
    except (E.TrainingExportError, E.DataError, OSError) as exc:
        return Verification(e, "changed", f"version {e.lance_version} cannot be read: {exc}", None)
    if found != e.content_hash:
        return Verification(e, "changed", f"content hash {found} (recorded {e.content_hash})", found)
    return Verification(e, "ok", f"{e.rows} rows, {found}", found)

"""Where a database lives on disk, and copying it whole.

A database is a file (``shop.db``, with its training exports in ``shop.db.exports/``) or a
directory (``data/``, holding ``galaxlite.db`` and ``exports/``). ``backup`` writes a
consistent single-file copy (tags, history, snapshots, catalogs: everything is in the one
SQLite file) with ``VACUUM INTO``, which reads one snapshot of the file while other
connections go on writing, plus the export datasets that copy's catalog names.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import apsw

from galaxlite import errors as E

DATABASE_FILE = "galaxlite.db"  # the file inside a database directory
OBJECT_STORE_SCHEMES = ("s3", "s3a")  # the object stores training exports can go to


@dataclass(frozen=True, slots=True)
class RemoteExports:
    """An exports location on an object store (``Database(..., exports="s3://bucket/prefix")``):
    its URI and the Lance ``storage_options`` that reach it (credentials, endpoint, region)."""

    uri: str
    storage_options: dict = field(default_factory=dict)

    def join(self, relative: str) -> str:
        """The URI of ``relative`` (``folder/table.lance``) under this location."""
        return f"{self.uri.rstrip('/')}/{relative.lstrip('/')}"


def is_uri(location: str | Path) -> bool:
    """Does ``location`` name an object store (``s3://...``) rather than a local folder?

    >>> is_uri("s3://bucket/prefix"), is_uri("/tmp/exports"), is_uri("C:/data")
    (True, False, False)
    """
    text = str(location)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isalnum() and len(scheme) > 1


def exports_location(
    default: Path | None, exports: str | Path | None, storage_options: dict | None
) -> Path | RemoteExports | None:
    """Where training exports go: ``exports`` if given (a folder, or an object store URI with
    Lance ``storage_options``), else ``default`` (the folder next to the database)."""
    if exports is None:
        if storage_options:
            raise E.ProgrammingError("storage_options go with an object store exports location "
                                     "(exports='s3://bucket/prefix')")
        return default
    if is_uri(exports):
        return RemoteExports(str(exports), dict(storage_options or {}))
    if storage_options:
        raise E.ProgrammingError(f"storage_options are for an object store URI; exports={str(exports)!r} is a folder")
    return Path(exports)


def locate(path: str | Path, *, create: bool = True) -> tuple[str, Path | None]:
    """(SQLite file name, exports folder) for a file path, a directory path or ':memory:'.

    A path that does not exist and has no suffix is a directory database (made here when
    ``create``).
    """
    if str(path) == ":memory:":
        return ":memory:", None
    p = Path(path)
    if p.is_dir() or (not p.exists() and p.suffix == ""):
        if create:
            p.mkdir(parents=True, exist_ok=True)
        return str(p / DATABASE_FILE), p / "exports"
    if not p.parent.exists():
        raise E.OperationalError(f"cannot open database {str(p)!r}: folder {str(p.parent)!r} does not exist")
    return str(p), p.parent / (p.name + ".exports")


def backup(conn: apsw.Connection, exports_dir: Path | RemoteExports | None, dest: str | Path) -> str:
    """Copy the database behind ``conn`` to ``dest`` (a file or directory path, as for
    ``Database``); returns the new file's name. Refuses to overwrite anything. Exports on an
    object store stay where they are: open the copy with the same ``exports=``."""
    if conn.in_transaction:
        raise E.NotSupportedError("backup() cannot run inside a transaction: COMMIT or ROLLBACK first")
    target = Path(dest)
    planned, _ = locate(dest, create=False)
    if Path(planned).resolve() == Path(conn.filename).resolve():
        raise E.OperationalError("backup destination is the database itself")
    if target.is_dir() and any(target.iterdir()):
        raise E.OperationalError(f"backup destination {str(target)!r} is a folder that is not empty")
    if Path(planned).exists():
        raise E.OperationalError(f"backup destination {planned!r} exists already")
    filename, dest_exports = locate(dest)
    try:
        conn.execute("VACUUM INTO ?", (filename,))
        copy = apsw.Connection(filename)
        try:
            paths = [p for (p,) in copy.execute("SELECT DISTINCT path FROM galaxlite_exports")]
        finally:
            copy.close()
    except apsw.Error as exc:
        Path(filename).unlink(missing_ok=True)
        raise E.from_apsw(exc) from None
    if paths and isinstance(exports_dir, Path) and dest_exports is not None:
        try:
            for relative in paths:
                shutil.copytree(exports_dir / relative, dest_exports / relative)
        except OSError as exc:
            Path(filename).unlink(missing_ok=True)
            shutil.rmtree(dest_exports, ignore_errors=True)
            raise E.OperationalError(f"backup: copying the training exports failed: {exc}") from None
    return filename

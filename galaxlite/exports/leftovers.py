"""The work folders of exports being written, and removing what a killed export left behind.

An export is written in a hidden work folder ``.galaxlite-export-*`` inside the exports folder
(its staging files and the datasets, in ``export/``), which is renamed to ``<tag>-<version>``
when complete; the work folder then only says which folder it made (``target``) and stays
until the catalog rows are committed (or the export is discarded). A SIGKILL leaves the work
folder, and, if it came between the rename and the commit, a finished folder no catalog row
names.

The writing process holds an exclusive ``flock`` on its work folder for as long as it exists.
:func:`clean` (run when a writer opens the database and before every export) removes each work
folder nobody holds a lock on, with the folder it names unless the catalog names that one
(its transaction committed). A live export of another process keeps its lock and is never
touched; the exports folder itself is locked while a work folder is made or cleaned, so a
cleaner never sees one that is not locked yet. Where ``fcntl`` is missing (Windows), nothing
is locked and nothing is cleaned.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

WORK_PREFIX = ".galaxlite-export-"
TARGET_FILE = "target"  # in a work folder: the name of the export folder it renames into


@dataclass
class Work:
    """A locked work folder; ``fd`` holds the lock until :meth:`release`."""

    path: Path
    fd: int | None

    def aim(self, folder: str) -> None:
        """Record the export folder this work becomes (before renaming into it)."""
        target = self.path / TARGET_FILE
        target.write_text(folder, encoding="utf-8")

    def release(self) -> None:
        """Remove the work folder and drop its lock (the export is committed or discarded)."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@contextlib.contextmanager
def _locked(path: Path, *, wait: bool = True) -> Iterator[int | None]:
    """An open descriptor of folder ``path`` holding an exclusive flock (None without fcntl);
    BlockingIOError at once when ``wait`` is false and another holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        yield None
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        yield fd
    finally:
        os.close(fd)


def claim(root: Path) -> Work:
    """A new work folder in ``root`` (which must exist), locked by this process."""
    with _locked(root):
        path = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=root))
        if fcntl is None:  # pragma: no cover - Windows
            return Work(path, None)
        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return Work(path, fd)


def clean(root: Path | None, named: Callable[[], set[str]]) -> list[str]:
    """Remove the leftovers of killed exports in ``root``; returns the names removed.

    ``named()`` gives the export folders the catalog names (asked only when something is
    left over, after the export that left it is known to be dead). An object-store location
    (``RemoteExports``) has no folders to lock: nothing is removed there.
    """
    if fcntl is None or not isinstance(root, Path) or not root.is_dir():
        return []
    removed: list[str] = []
    with _locked(root):
        for work in sorted(root.glob(WORK_PREFIX + "*")):
            if not work.is_dir() or work.is_symlink():
                continue
            try:
                with _locked(work, wait=False):
                    removed += _remove(root, work, named)
            except (BlockingIOError, FileNotFoundError):
                continue  # alive (or just cleaned by another process)
    return removed


def _remove(root: Path, work: Path, named: Callable[[], set[str]]) -> list[str]:
    out = []
    target = work / TARGET_FILE
    folder = target.read_text(encoding="utf-8").strip() if target.is_file() else ""
    finished = root / folder
    if folder and "/" not in folder and not folder.startswith(".") and finished.is_dir() \
            and folder not in named():
        shutil.rmtree(finished, ignore_errors=True)
        out.append(folder)
    shutil.rmtree(work, ignore_errors=True)
    return [*out, work.name]

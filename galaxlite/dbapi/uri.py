"""``connect(uri=True)``: SQLite's ``file:`` URIs, as far as galaxlite keeps their meaning.

``mode=ro`` opens an existing galaxlite file read-only (``Database(path, read_only=True)``),
``mode=rw`` an existing file, ``mode=rwc`` (the default) creates it if need be and
``mode=memory`` is ``":memory:"``. Other parameters (``cache``, ``immutable``, ``vfs``, ...)
would change how galaxlite's own connections see the file: they are refused, by name.

>>> open_target("file:shop.db?mode=memory")
(':memory:', False)
>>> open_target("file:///tmp/a%20b.db")
('/tmp/a b.db', False)
>>> open_target("file:nowhere.db?mode=ro")
Traceback (most recent call last):
galaxlite.errors.OperationalError: unable to open database file 'nowhere.db': it does not exist
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from galaxlite.errors import NotSupportedError, OperationalError

MODES = ("ro", "rw", "rwc", "memory")


def open_target(uri: str) -> tuple[str, bool]:
    """(path for ``Database``, read-only?) of a ``file:`` URI; a text that is no ``file:``
    URI is a file name, as for SQLite."""
    if not uri.startswith("file:"):
        return uri, False
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise OperationalError(f"invalid uri authority: {parts.netloc}")
    path = unquote(parts.path)
    mode = "rwc"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "mode":
            mode = value
        else:
            raise NotSupportedError(
                f"URI parameter {key!r} is not supported by galaxlite.connect (it keeps "
                f"mode={'|'.join(MODES)}): open the file by its name"
            )
    if mode not in MODES:
        raise OperationalError(f"no such access mode: {mode}")
    if mode == "memory" or path == ":memory:":
        return ":memory:", False
    if not path:
        raise OperationalError("a file: URI needs a path (file:shop.db)")
    if mode in ("ro", "rw") and not Path(path).exists():
        raise OperationalError(f"unable to open database file {path!r}: it does not exist")
    return os.fspath(path), mode == "ro"

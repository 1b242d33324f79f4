"""``Memo``: what a session's reads of the past learnt from the file (tag versions, rendered
AT VERSION subqueries and statements), valid while the file holds the same data.

A value is remembered under a stamp: ``PRAGMA data_version`` (moved by another connection's
commit; it reads the file's current state, also before a read transaction) and the session's
``write_epoch`` (moved by a write of this session, a rollback or a schema change). A changed
stamp forgets everything. ``recall`` answers without probing the file, for a caller that
confirms afterwards, in its own statement's read snapshot, that nothing changed
(``still_as_recalled``).
"""

from __future__ import annotations

from collections.abc import Callable

import apsw


class Memo:
    def __init__(self) -> None:
        self._values: dict[object, object] = {}
        self._stamp: tuple[int, int] = (-1, -1)
        self._seen = -1  # the file's data version when the stamp was last confirmed

    def remembered(self, conn: apsw.Connection, epoch: int, key: object, compute: Callable[[], object]) -> object:
        """``compute()``, remembered under ``key`` until the stamp moves. Errors are not
        remembered."""
        (data_version,) = next(conn.execute("PRAGMA data_version"))
        stamp = (data_version, epoch)
        if stamp != self._stamp:
            self._values.clear()
            self._stamp = stamp
        self._seen = conn.data_version()  # (that of the read snapshot just probed)
        try:
            return self._values[key]
        except KeyError:
            value = self._values[key] = compute()
            return value

    def recall(self, epoch: int, key: object) -> object | None:
        """What is remembered under ``key`` for the file as last seen (None if nothing),
        without probing the file: confirm with ``still_as_recalled`` once it is used."""
        if self._stamp[1] != epoch:
            return None
        return self._values.get(key)

    def still_as_recalled(self, conn: apsw.Connection, epoch: int) -> bool:
        """Does the file hold what ``recall`` answered from? Asked once a statement has
        started, it answers for that statement's read snapshot: SQLite's data version of the
        file (a counter of changes by any connection, this one too, as of the last read; a
        file control, no statement) is still the one last seen by ``remembered``."""
        return epoch == self._stamp[1] and conn.data_version() == self._seen

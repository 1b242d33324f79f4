"""PEP 249 type constructors and type objects.

SQLite has no date type: dates and times are ISO-8601 text, which SQLite's date and time
functions read and which binds without any adapter. A type object compares equal to the
declared types (``cursor.description[i][1]``) of its kind, by SQLite's type-affinity rules
(``galaxlite.storage.affinity``).

>>> Date(2002, 12, 25), Timestamp(2002, 12, 25, 13, 45, 30)
('2002-12-25', '2002-12-25 13:45:30')
>>> "VARCHAR(20)" == STRING, "BIGINT" == NUMBER, "INTEGER" == ROWID, None == BINARY
(True, True, True, True)
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from galaxlite.storage.affinity import affinity


def Date(year: int, month: int, day: int) -> str:  # noqa: N802 - PEP 249 name
    """A date as the ISO-8601 text SQLite's date functions read (``'2002-12-25'``)."""
    return datetime.date(year, month, day).isoformat()


def Time(hour: int, minute: int, second: int) -> str:  # noqa: N802 - PEP 249 name
    """A time of day as ISO-8601 text (``'13:45:30'``)."""
    return datetime.time(hour, minute, second).isoformat()


def Timestamp(  # noqa: N802 - PEP 249 name
    year: int, month: int, day: int, hour: int, minute: int, second: int
) -> str:
    """A timestamp as ISO-8601 text (``'2002-12-25 13:45:30'``)."""
    return datetime.datetime(year, month, day, hour, minute, second).isoformat(" ")


def DateFromTicks(ticks: float) -> str:  # noqa: N802 - PEP 249 name
    """The local date of ``ticks`` seconds since the epoch."""
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> str:  # noqa: N802 - PEP 249 name
    """The local time of day of ``ticks`` seconds since the epoch."""
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> str:  # noqa: N802 - PEP 249 name
    """The local timestamp of ``ticks`` seconds since the epoch."""
    return Timestamp(*time.localtime(ticks)[:6])


Binary = bytes  # a BLOB value


class DBAPITypeObject:
    """A PEP 249 type object: equal to the declared types (``description[i][1]``) of its kind.

    The kinds follow SQLite's type-affinity rules (https://sqlite.org/datatype3.html).
    """

    def __init__(self, name: str, matches: Callable[[str], bool]):
        self.name = name
        self._matches = matches

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return other is self
        if other is None or isinstance(other, str):
            return self._matches((other or "").upper())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<DB-API type {self.name}>"


STRING = DBAPITypeObject("STRING", lambda d: affinity(d) == "TEXT")
BINARY = DBAPITypeObject("BINARY", lambda d: affinity(d) == "BLOB")
NUMBER = DBAPITypeObject("NUMBER", lambda d: affinity(d) in ("INTEGER", "REAL", "NUMERIC"))
DATETIME = DBAPITypeObject("DATETIME", lambda d: "DATE" in d or "TIME" in d)
ROWID = DBAPITypeObject("ROWID", lambda d: d == "INTEGER")

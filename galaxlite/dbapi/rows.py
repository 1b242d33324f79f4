"""What a fetched row looks like: ``Row`` (``sqlite3.Row``'s twin), ``text_factory`` and the
converters of ``detect_types``, as in ``sqlite3``.

* ``row_factory = galaxlite.Row`` (or ``sqlite3.Row``, which means the same here): rows
  indexable by position and by column name (case-insensitive), with ``keys()``, equality and
  hashing, as ``sqlite3.Row``.
* ``text_factory``: what TEXT values become (``str``, the default; ``bytes``; or any callable
  of the UTF-8 bytes).
* ``detect_types``: ``PARSE_DECLTYPES`` converts a column by its declared type (the first
  word of it), ``PARSE_COLNAMES`` by a ``[type]`` in the column's name (``SELECT d AS "d
  [date]"``), with the converters of ``register_converter`` (``sqlite3.register_converter``'s
  are used too, so code written for ``sqlite3`` keeps working). A converter gets the value
  as bytes, as in ``sqlite3``; NULL is never converted.

>>> register_converter("point", lambda b: tuple(map(float, b.split(b";"))))
>>> convert, names = row_converter((("p", "POINT"),), str, PARSE_DECLTYPES)
>>> convert(("1;2",))
((1.0, 2.0),)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any

PARSE_DECLTYPES = sqlite3.PARSE_DECLTYPES
PARSE_COLNAMES = sqlite3.PARSE_COLNAMES
converters: dict[str, Callable[[bytes], Any]] = {}


def register_converter(typename: str, converter: Callable[[bytes], Any]) -> None:
    """Convert values of type ``typename`` (case-insensitive) with ``converter(bytes)``."""
    converters[typename.upper()] = converter


def _converter(typename: str) -> Callable[[bytes], Any] | None:
    key = typename.upper()
    return converters.get(key) or sqlite3.converters.get(key)


def _as_bytes(value: Any) -> bytes:
    """A value as the bytes sqlite3 hands a converter (numbers as SQLite's text of them)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return repr(value).encode("ascii")


def _declared(decl: str | None) -> str | None:
    """The type name a declared type converts by: its first word (``"NUMBER(10)"`` → NUMBER)."""
    if not decl:
        return None
    word = decl.split("(", 1)[0].split()
    return word[0] if word else None


def _named(name: str) -> tuple[str, str | None]:
    """(column name without its ``[type]`` part, that type) of a result column."""
    start = name.find("[")
    end = name.find("]", start + 1)
    if start < 0 or end < 0:
        return name, None
    return name[:start].rstrip(), name[start + 1 : end]


def row_converter(
    description: Sequence[tuple], text_factory: Any, detect_types: int
) -> tuple[Callable[[tuple], tuple] | None, list[str] | None]:
    """(a function converting one row, the column names ``description`` should show) for a
    result with ``description`` ((name, declared type, ...) per column); (None, None) when
    rows are returned as they come (the default)."""
    names = None
    per_column: list[Callable[[Any], Any] | None] = []
    for column in description:
        name, decl = column[0], column[1]
        fn = None
        if detect_types & PARSE_COLNAMES:
            name, typename = _named(name)
            names = names if names is not None else [c[0] for c in description]
            names[len(per_column)] = name
            fn = _converter(typename) if typename else None
        if fn is None and detect_types & PARSE_DECLTYPES:
            typename = _declared(decl)
            fn = _converter(typename) if typename else None
        per_column.append(fn)
    text = None if text_factory is str else (
        (lambda s: s.encode("utf-8")) if text_factory is bytes
        else (lambda s: text_factory(s.encode("utf-8")))
    )
    if text is None and not any(per_column):
        return None, names

    def convert(row: tuple) -> tuple:
        out = []
        for value, fn in zip(row, per_column, strict=False):
            if value is None:
                out.append(None)
            elif fn is not None:
                out.append(fn(_as_bytes(value)))
            elif text is not None and isinstance(value, str):
                out.append(text(value))
            else:
                out.append(value)
        return tuple(out)

    return convert, names


class Row:
    """A result row as ``sqlite3.Row``: ``row[0]``, ``row["name"]`` (case-insensitive),
    slices, ``keys()``, ``len()``, iteration; equal to another Row with the same columns and
    values. Use it as ``row_factory``: ``con.row_factory = galaxlite.Row``.

    >>> import galaxlite
    >>> con = galaxlite.connect(":memory:")
    >>> con.row_factory = galaxlite.Row
    >>> row = con.execute("SELECT 1 AS id, 'apple' AS Name").fetchone()
    >>> row["name"], row[0], row.keys(), tuple(row)
    ('apple', 1, ['id', 'Name'], (1, 'apple'))
    """

    __slots__ = ("_description", "_values")

    def __init__(self, cursor: Any, values: Sequence[Any]):
        self._description = cursor.description or ()
        self._values = tuple(values)

    def keys(self) -> list[str]:
        return [d[0] for d in self._description]

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            folded = key.casefold()
            for i, column in enumerate(self._description):
                if column[0].casefold() == folded:
                    return self._values[i]
            raise IndexError("No item with that key")
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Row):
            return NotImplemented
        return self.keys() == other.keys() and self._values == other._values

    def __hash__(self) -> int:
        return hash((tuple(self.keys()), self._values))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in zip(self.keys(), self._values, strict=False))
        return f"<galaxlite.Row ({inner})>"


def resolve_row_factory(factory: Any) -> Any:
    """The factory to call: ``sqlite3.Row`` (which only takes sqlite3 cursors) means ``Row``."""
    return Row if factory is sqlite3.Row else factory

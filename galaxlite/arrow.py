"""Results as Arrow tables, and Arrow tables as rows to insert."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from galaxlite import errors as E

if TYPE_CHECKING:
    from galaxlite.database import Result

# SQLite type affinity (from the declared type, as in https://sqlite.org/datatype3.html §3.1)
# → the Arrow type used when a column holds only NULLs or has no rows.


def _affinity_type(decltype: str | None) -> pa.DataType:
    d = (decltype or "").upper()
    if "INT" in d:
        return pa.int64()
    if any(k in d for k in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if "BLOB" in d or not d:
        return pa.null() if not d else pa.binary()
    if any(k in d for k in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    return pa.null()


def result_to_arrow(result: Result) -> pa.Table:
    """All rows of ``result`` as a ``pyarrow.Table``; each column gets one Arrow type.

    A column mixing incompatible SQLite storage classes (say INTEGER and TEXT) cannot be
    one Arrow column: DataError names it.
    """
    description = result.description or ()
    names = [d[0] for d in description]
    rows = result.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for name, decl, values in zip(names, (d[1] for d in description), columns, strict=True):
        try:
            arrays.append(pa.array(list(values), type=None if values else _affinity_type(decl)))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise E.DataError(
                f"column {name!r} mixes value types that one Arrow column cannot hold ({exc})"
            ) from None
    return pa.Table.from_arrays(arrays, names=_unique(names))


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}:{k}")
    return out


def rows_of(data: Any, columns: Sequence[str] | None) -> tuple[list[str] | None, list]:
    """(column names, list of rows) for an Arrow table/batch or an iterable of rows."""
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        names = list(columns) if columns else list(data.schema.names)
        cols = [data.column(n).to_pylist() for n in names]
        return names, list(zip(*cols, strict=True))
    if isinstance(data, Iterable):
        return (list(columns) if columns else None), list(data)
    raise E.InterfaceError(f"cannot insert rows from a {type(data).__name__}")

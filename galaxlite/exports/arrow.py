"""Results as Arrow tables, and Arrow tables as rows to insert.

``Database.query_arrow`` and the DB-API cursor's ``fetch_arrow_table`` turn a result into a
``pyarrow.Table`` with :func:`result_to_arrow`: each column gets one Arrow type, from its
values, or from the declared type when there are none (:func:`affinity_type`, which the
training export uses too); a declared ``VECTOR(n)`` column becomes
``fixed_size_list<float32>[n]``. ``Database.bulk_insert`` takes its rows from an Arrow
table or batch, or any iterable of rows, through :func:`rows_of`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from galaxlite import errors
from galaxlite.semantic.vectors import parse_vector_type


class RowSource(Protocol):
    """What :func:`result_to_arrow` reads: a ``galaxlite.Result`` or a DB-API cursor's result."""

    @property
    def description(self) -> Sequence[tuple] | None: ...

    def fetchall(self) -> list[tuple]: ...


def affinity_type(decltype: str | None) -> pa.DataType:
    """The Arrow type of SQLite's type affinity for a declared type (the rules of
    https://sqlite.org/datatype3.html §3.1): the type a column gets when it holds only NULLs
    or has no rows. ``pa.null()`` for NUMERIC affinity, and for a column declared without a
    type: their values decide.

    >>> affinity_type("BIGINT"), affinity_type("varchar(20)"), affinity_type("DOUBLE")
    (DataType(int64), DataType(string), DataType(double))
    >>> affinity_type("BLOB"), affinity_type(""), affinity_type("DECIMAL(10,2)")
    (DataType(binary), DataType(null), DataType(null))
    """
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


def result_to_arrow(result: RowSource) -> pa.Table:
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
        dim = _vector_dim(decl)
        if dim is not None:
            arrays.append(_vector_array(name, dim, values))
            continue
        try:
            arrays.append(pa.array(list(values), type=None if values else affinity_type(decl)))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise errors.DataError(
                f"column {name!r} mixes value types that one Arrow column cannot hold ({exc})"
            ) from None
    return pa.Table.from_arrays(arrays, names=_unique(names))


def _vector_dim(decltype: str | None) -> int | None:
    try:
        return parse_vector_type(decltype)
    except ValueError:
        return None


def _vector_array(name: str, dim: int, values: Sequence[Any]) -> pa.Array:
    """A declared ``VECTOR(dim)`` column as ``fixed_size_list<float32>[dim]`` (NULL stays NULL).

    The declared type survives plain column references, subqueries and AT VERSION reads of a
    table that still exists; an expression (or a dropped table's history) loses it, and such
    a column comes out as binary.
    """
    nbytes = 4 * dim
    present = [v for v in values if v is not None]
    for v in present:
        if not isinstance(v, bytes) or len(v) != nbytes:
            what = f"{len(v)} bytes" if isinstance(v, bytes) else type(v).__name__
            raise errors.VectorDimensionError(
                f"column {name!r} is VECTOR({dim}) but holds a value that is not a "
                f"{nbytes}-byte float32 BLOB ({what})",
                column=name, expected=dim,
                got=len(v) // 4 if isinstance(v, bytes) and len(v) % 4 == 0 else None,
            )
    flat = np.frombuffer(b"".join(present), dtype="<f4").astype(np.float32, copy=False)
    if len(present) == len(values):
        return pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), dim)
    mask = np.array([v is None for v in values])
    full = np.zeros((len(values), dim), dtype=np.float32)
    full[~mask] = flat.reshape(-1, dim)
    return pa.FixedSizeListArray.from_arrays(
        pa.array(full.reshape(-1), type=pa.float32()), dim, mask=pa.array(mask)
    )


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
    raise errors.InterfaceError(f"cannot insert rows from a {type(data).__name__}")

"""The SQL side of ``VECTOR(n)`` columns: parameter binding and the ``vector()`` /
``vector_text()`` SQL functions.

A list or tuple of numbers bound as a parameter becomes a float32 vector BLOB (numpy arrays
need nothing: apsw binds any buffer as its raw bytes). A vector bound straight to a
``VECTOR(n)`` column (``INSERT ... VALUES`` or ``UPDATE ... SET col = ?``) is checked against
n at binding time, so the error can say what it got; the column's CHECK catches the rest.

``vector('[1, 2, 3]')`` is the BLOB of a vector literal, ``vector_text(blob)`` its text form.
A SEMANTIC_* call that nothing rendered (``executemany``) runs a function that says why it
cannot.
"""

from __future__ import annotations

from typing import Any

import apsw

from galaxlite import errors as E
from galaxlite import transpile
from galaxlite.semantic import vectors as V
from galaxlite.semantic.targets import declared_types

MAX_CACHED_STATEMENTS = 512  # statements whose VECTOR(n) parameters are remembered


class VectorBindings:
    """The binding conversion of one connection, with the VECTOR(n) parameters of recent
    statements (forgotten when the schema changes)."""

    def __init__(self, conn: apsw.Connection):
        self.conn = conn
        self._vector_targets: dict[str, dict[int, tuple[str, int]]] = {}
        self._targets_schema = -1

    def install(self) -> None:
        """Register ``vector()``, ``vector_text()``, the unrendered-call guard and the
        list / numpy binding conversion on the connection."""
        conn = self.conn
        conn.create_scalar_function("vector", _sql_vector, 1, deterministic=True)
        conn.create_scalar_function("vector_text", _sql_vector_text, 1, deterministic=True)
        conn.create_scalar_function("galaxlite_semantic_unrendered", _unrendered, 0)
        conn.convert_binding = self.convert_binding

    def convert_binding(self, cursor: apsw.Cursor, num: int, value: Any) -> Any:
        """Bind a list or tuple of numbers as a float32 vector BLOB (numpy arrays never get
        here: apsw binds any buffer as its raw bytes). A vector bound to a VECTOR(n) column
        by INSERT ... VALUES or UPDATE ... SET col = ? is checked against n here, so the
        error can say what it got (the column's CHECK catches everything else)."""
        if isinstance(value, (list, tuple)):
            try:
                blob = V.encode_vector(value)
            except (ValueError, TypeError) as exc:
                raise E.DataError(f"parameter {num} is not a valid vector: {exc}") from None
            target = self._vector_target(cursor, num)
            if target is not None and len(blob) != 4 * target[1]:
                column, dim = target
                raise E.VectorDimensionError(
                    f"column {column!r} is VECTOR({dim}): expected {dim} components, "
                    f"got {len(blob) // 4} (parameter {num})",
                    column=column,
                    expected=dim,
                    got=len(blob) // 4,
                )
            return blob
        raise TypeError(
            f"Bad binding argument type supplied - argument #{num}: type {type(value).__name__}"
        )

    def _vector_target(self, cursor: apsw.Cursor, num: int) -> tuple[str, int] | None:
        version = self.conn.pragma("schema_version")
        if version != self._targets_schema:
            self._vector_targets.clear()
            self._targets_schema = version
        sql = getattr(cursor, "sql", None) or ""
        targets = self._vector_targets.get(sql)
        if targets is None:
            try:
                targets = self._find_vector_targets(sql)
            except (transpile.TranspileError, apsw.Error, IndexError):
                targets = {}
            if len(self._vector_targets) > MAX_CACHED_STATEMENTS:
                self._vector_targets.clear()
            self._vector_targets[sql] = targets
        return targets.get(num)

    def _find_vector_targets(self, sql: str) -> dict[int, tuple[str, int]]:
        """{parameter number: (column, n)} for parameters bound straight to VECTOR(n) columns
        by ``INSERT ... [(cols)] VALUES (...)`` or ``UPDATE ... SET col = ?``."""
        found = transpile.parameter_columns(sql)
        if found is None:
            return {}
        schema, table, by_param = found
        columns = declared_types(self.conn, schema, table)
        dims = {}
        for name, decl in columns:
            try:
                dim = V.parse_vector_type(decl)
            except ValueError:
                dim = None
            if dim is not None:
                dims[name.lower()] = (name, dim)
        if not dims:
            return {}
        all_columns = [n for n, _ in columns]
        return {
            number: dims[col.lower()]
            for number, col in by_param(all_columns).items()
            if col.lower() in dims
        }


def _sql_vector(value: Any) -> bytes | None:
    """SQL ``vector('[1, 2, 3]')``: the float32 BLOB of a vector literal (or BLOB)."""
    if value is None:
        return None
    if not isinstance(value, (str, bytes)):
        raise E.DataError(
            f"vector() takes a text like '[1, 2.5, 3]' or a float32 BLOB, not {type(value).__name__}"
        )
    try:
        return V.encode_vector(value)
    except (ValueError, TypeError) as exc:
        raise E.DataError(f"vector(): {exc}") from None


def _sql_vector_text(value: Any) -> str | None:
    """SQL ``vector_text(blob)``: the text form ``'[x1, x2, ...]'`` of a float32 BLOB."""
    if value is None:
        return None
    try:
        return V.format_vector(value if isinstance(value, bytes) else str(value))
    except (ValueError, TypeError) as exc:
        raise E.DataError(f"vector_text(): {exc}") from None


def _unrendered() -> None:
    raise E.NotSupportedError(
        "SEMANTIC_MATCH / SEMANTIC_SCORE need galaxlite to prepare each execution: use "
        "execute() (once per parameter set), not executemany()"
    )

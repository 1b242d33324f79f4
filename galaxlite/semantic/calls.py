"""One ``SEMANTIC_MATCH(col, 'query', t)`` / ``SEMANTIC_SCORE(col, 'query')`` call: the values
of its arguments, and the errors that point at it.

The front end (``transpile.semantic``) replaced each call by a hole and kept its arguments:
a literal, or the ``?`` / ``:name`` parameter whose bound value is read here. A mistake in a
call (an unknown column, a threshold that is not a number from -1 to 1, a query that is
neither a string nor a vector) is an error whose message says where the call is in the SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from galaxlite import errors as E
from galaxlite.params import Params, bound_value
from galaxlite.semantic import vectors as V
from galaxlite.transpile import plan as P


@dataclass(frozen=True, slots=True)
class ErrorSite:
    """Where the errors about one call point: its SQL and the call's position in it (both
    None for a call that has no SQL, such as ``Database.embed``: the errors say no place)."""

    sql: str | None = None
    position: int | None = None

    def __call__(self, message: str, cls: type[E.Error] = E.SemanticError) -> E.Error:
        """The error (of class ``cls``) to raise about the call."""
        return E.sql_error(cls, message, self.sql, self.position)

    def place(self, err: E.Error) -> E.Error:
        """``err`` (raised without a place, e.g. by an embedder) as raised at the call."""
        return err if self.sql is None else E.placed(err, self.sql, self.position)


def arg_value(site: ErrorSite, call: P.SemanticCall, arg: P.SemanticArg, params: Params, what: str) -> Any:
    """The value of one argument of ``call``: its literal, or what its parameter is bound to."""
    if arg.param is None:
        return arg.value
    key = arg.param
    try:
        return bound_value(params, key)
    except LookupError:
        shown = "?" if isinstance(key, int) else f":{key}"
        raise site(
            f"no value bound for the {what} parameter {shown} of {call.function}",
            E.ProgrammingError,
        ) from None


def threshold(site: ErrorSite, value: Any) -> float:
    """The threshold of SEMANTIC_MATCH: a number from -1 to 1 (a cosine similarity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise site(
            f"the threshold of SEMANTIC_MATCH must be a number from -1 to 1 (a cosine "
            f"similarity), not {type(value).__name__}"
        )
    t = float(value)
    if math.isnan(t) or not -1.0 <= t <= 1.0:
        raise site(
            f"the threshold of SEMANTIC_MATCH must be from -1 to 1 (a cosine similarity), not {t:g}"
        )
    return t


def query_as_vector(query: Any, dim: int) -> np.ndarray | None:
    """The query as a vector if it is one (BLOB, list, array, '[...]' text), else None."""
    if isinstance(query, str) and not query.lstrip().startswith("["):
        return None
    if not isinstance(query, (str, bytes, bytearray, memoryview, list, tuple, np.ndarray)):
        return None
    try:
        return V.decode_vector(V.encode_vector(query, dim=dim), dim)
    except E.VectorDimensionError as exc:
        raise E.VectorDimensionError(
            f"the query vector has {exc.got} components; the column is VECTOR({dim})",
            expected=dim, got=exc.got,
        ) from None
    except (ValueError, TypeError) as exc:
        raise E.DataError(f"the query is not a valid vector: {exc}") from None

"""Binding parameters: numpy scalars as the numbers they are, and errors met while binding
or running a statement as galaxlite errors with a position.

apsw binds any object with the buffer protocol as a BLOB of its raw bytes, which is right for
a numpy *array* (a vector) and wrong for a numpy *scalar*: ``np.int64(7)`` would be stored as
an 8-byte BLOB. ``bindable`` turns scalars into Python numbers first, for every statement run
through ``galaxlite.runners`` (``Database.execute`` and the DB-API alike).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import apsw
import numpy as np

from galaxlite import errors as E
from galaxlite.params import Params
from galaxlite.transpile import plan as P

BIND_ERRORS = (apsw.Error, KeyError, TypeError, OverflowError, ValueError)
PLAIN_TYPES = frozenset({int, float, str, bytes, type(None)})  # bound by apsw as they are
_PLAIN = PLAIN_TYPES
_ROWS = frozenset({tuple, list})


def bindable(params: Params) -> Params:
    """``params`` with numpy scalars as Python numbers (``np.int64(7)`` → ``7``, ``np.bool_``
    → 0/1, ``np.float32`` → float); ``params`` itself when there is none, which is the usual
    case and costs one type test per value.

    >>> bindable((np.int64(7), np.float32(0.5), np.True_, "x"))
    (7, 0.5, 1, 'x')
    >>> bindable({"n": np.uint8(3)})
    {'n': 3}
    """
    plain = _PLAIN
    kind = type(params)
    if kind is tuple or kind is list:  # the usual case first
        for value in params:
            if type(value) not in plain:
                break
        else:
            return params
    if params is None:
        return None
    if isinstance(params, Mapping):
        for value in params.values():
            if type(value) not in plain and isinstance(value, np.generic):
                return {k: _number(v, k) for k, v in params.items()}
        return params
    if isinstance(params, (str, bytes)):
        return params  # not a parameter sequence: apsw says so
    for value in params:
        if type(value) not in plain and isinstance(value, np.generic):
            return tuple(_number(v, i) for i, v in enumerate(params, 1))
    return params


def bindable_all(seq: Sequence[Params]) -> Sequence[Params]:
    """``bindable`` of every parameter set of an ``executemany``: ``seq`` itself when every
    set is a tuple or list of plain values (checked at C speed: about 35 ns a value)."""
    try:
        if _ROWS.issuperset(map(type, seq)) and _PLAIN.issuperset(
            map(type, chain.from_iterable(seq))
        ):
            return seq
    except TypeError:  # not iterable: apsw reports it
        return seq
    return [bindable(params) for params in seq]


def bindable_value(value: Any) -> Any:
    """One value (a user function's result) with a numpy scalar as a Python number."""
    return value if type(value) in _PLAIN else _number(value, "")


def _number(value: Any, key: int | str) -> Any:
    """One bound value, a numpy scalar turned into the Python value SQLite stores."""
    if not isinstance(value, np.generic):
        return value
    if isinstance(value, (np.bool_, np.integer)):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, (np.str_, np.bytes_)):
        return value.item()
    raise E.ProgrammingError(
        f"error binding parameter {key}: a numpy {type(value).__name__} has no SQLite "
        "value; convert it first (str(), int(), .item())"
    )


def binding_error(exc: Exception, sql: str, base: int = 0) -> E.Error:
    """An apsw error, or a parameter apsw could not bind, as a galaxlite error."""
    if isinstance(exc, E.Error):  # raised by the binding conversion (a VECTOR(n) check)
        return exc
    if isinstance(exc, apsw.Error):
        return E.from_apsw(exc, sql, base)
    if isinstance(exc, KeyError):
        return E.ProgrammingError(f"you did not supply a value for binding parameter :{exc.args[0]}")
    return E.ProgrammingError(f"error binding a parameter: {exc}")


def statement_error(exc: Exception, plan: P.Plan, sql: str) -> E.Error:
    """``exc`` raised running ``sql`` for ``plan``: located in the user's text when ``sql``
    is that text, else in the SQL that ran."""
    if sql == plan.sql and plan.template is None:
        return binding_error(exc, plan.source, plan.position)
    return binding_error(exc, sql)

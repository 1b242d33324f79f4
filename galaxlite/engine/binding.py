"""Errors met while binding or running a statement, as galaxlite errors with a position."""

from __future__ import annotations

import apsw

from galaxlite import errors as E
from galaxlite.transpile import plan as P

BIND_ERRORS = (apsw.Error, KeyError, TypeError, OverflowError, ValueError)


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

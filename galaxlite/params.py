"""Bound parameters: the value a ``?`` (by position among the plain markers) or ``:name`` got."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Params = Sequence[Any] | Mapping[str, Any] | None


def bound_value(params: Params, key: int | str) -> Any:
    """The value bound to parameter ``key``: an int indexes a sequence, a str names a mapping
    entry. Raises LookupError when there is none (including a sequence given for a name).

    >>> bound_value(("a", 2), 1), bound_value({"v": 3}, "v")
    (2, 3)
    """
    if isinstance(key, int) == isinstance(params, Mapping) or params is None:
        raise LookupError(key)
    return params[key]

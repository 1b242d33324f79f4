"""Figures of a test run (kills survived, writes lost, statements fuzzed, differential
statements, ...), printed at the end by the terminal summary hook of ``tests/conftest.py``.

A suite adds to a figure as it goes (``add("kills survived")``); the README's "Guarantees"
quotes the figures of the last ``make test-long``.
"""

from __future__ import annotations

from collections import Counter

FIGURES: Counter[str] = Counter()

# the order of the summary (figures not listed come after, by name)
ORDER = (
    "kills",
    "kills survived",
    "writes acknowledged",
    "writes lost",
    "statements fuzzed",
    "differential statements (corpus)",
    "differential statements (generated)",
    "differential scripts",
    "sqllogictest records",
)


def add(name: str, count: int = 1) -> None:
    """Add ``count`` to figure ``name``."""
    FIGURES[name] += count


def lines() -> list[str]:
    """The figures, one ``name: value`` line each, in ``ORDER``."""
    names = [n for n in ORDER if n in FIGURES] + sorted(set(FIGURES) - set(ORDER))
    return [f"{name}: {FIGURES[name]}" for name in names]

"""The SQL that defines galaxlite's catalog and the storage of versioned tables.

The text lives in ``.sql`` files next to this module, split into named sections
(``-- name: x``). ``render`` fills a section's ``{placeholders}``.

>>> "galaxlite_clock" in catalog_sql()
True
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

# µs since the Unix epoch in plain SQL (unixepoch('subsec') needs SQLite 3.42; edge devices
# ship older ones). julianday('now') is fixed for the duration of one statement.
NOW_US_SQL = "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"


@cache
def _sections(filename: str) -> dict[str, str]:
    text = files(__package__).joinpath(filename).read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    name = "_preamble"
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("-- name: "):
            sections[name] = "\n".join(lines).strip()
            name, lines = line[len("-- name: ") :].strip(), []
        else:
            lines.append(line)
    sections[name] = "\n".join(lines).strip()
    return sections


def catalog_sql() -> str:
    """The statements that create galaxlite's catalog tables (idempotent)."""
    return _sections("catalog.sql")["_preamble"] + "\n" + snapshots_sql()


def snapshots_sql() -> str:
    """The catalog of dataset snapshots, ``db4ai_snapshot`` (idempotent; after catalog.sql,
    whose galaxlite_meta its guards read)."""
    return _sections("snapshots.sql")["_preamble"]


def render(section: str, **values: str) -> str:
    """Section ``section`` of versioned.sql with its placeholders filled.

    ``{now}`` is always available: the current time in µs, in plain SQL.
    """
    sections = _sections("versioned.sql")
    body = sections[section]
    for part in _NESTED:  # sections used inside others
        if "{" + part + "}" in body:
            values = dict(values, **{part: render(part, **values)})
    return body.format(now=NOW_US_SQL, **values)


_NESTED = ("close_old_version", "flush_stash", "forget_stash", "history_guards", "companion_guards", "ranges_guards")

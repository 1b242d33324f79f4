"""SQLite's type affinity of a declared column type (https://sqlite.org/datatype3.html §3.1).

The one copy of the rules: the DB-API's type objects and the Arrow types of exports and
query results are derived from it.

>>> [affinity(t) for t in ("BIGINT", "varchar(20)", "BLOB", "", "DOUBLE", "DECIMAL(10,2)")]
['INTEGER', 'TEXT', 'BLOB', 'BLOB', 'REAL', 'NUMERIC']
"""

from __future__ import annotations


def affinity(decltype: str | None) -> str:
    """``'INTEGER'``, ``'TEXT'``, ``'BLOB'``, ``'REAL'`` or ``'NUMERIC'``, by SQLite's rules in
    their order (a column declared without a type has BLOB affinity)."""
    d = (decltype or "").upper()
    if "INT" in d:
        return "INTEGER"
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return "TEXT"
    if "BLOB" in d or not d:
        return "BLOB"
    if "REAL" in d or "FLOA" in d or "DOUB" in d:
        return "REAL"
    return "NUMERIC"

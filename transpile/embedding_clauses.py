"""The plan records of declared embedding columns (``EMBEDDING [MODEL 'name'] [DIM n]``),
re-exported by :mod:`galaxlite.transpile.plan`; parsed by :mod:`galaxlite.transpile.embeddings`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EmbeddingClause:
    """``EMBEDDING [MODEL 'name'] [DIM n]`` on column ``column`` (removed from the SQL SQLite
    sees; the engine records it in the catalog). Positions (0: not given) place run-time
    errors; ``declared``: the column's type in a CREATE TABLE / ADD COLUMN ('' otherwise)."""

    column: str
    model: str | None = None
    dim: int | None = None
    position: int = 0
    model_position: int = 0
    dim_position: int = 0
    declared: str = ""


@dataclass(frozen=True, slots=True)
class EmbeddingChange:
    """``ALTER TABLE t ALTER COLUMN c SET EMBEDDING ...`` (``clause``) / ``DROP EMBEDDING`` (None)."""

    table: object  # a plan.TableName (this module is imported by plan: no import back)
    column: str
    clause: EmbeddingClause | None
    position: int

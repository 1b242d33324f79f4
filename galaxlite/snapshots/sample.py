"""SAMPLE SNAPSHOT: ``SAMPLE SNAPSHOT m0@1.0.0 [STRATIFY BY c, ...] AS _train AT RATIO .8,
AS _test AT RATIO .2``: one unpublished child per label, with disjoint rows.

The parent's rows are grouped by the STRATIFY BY values (one group without it); each group
is put in a canonical order (by value, so the draw does not depend on the storage model),
shuffled with ``db4ai_sample_seed`` (when set: the same samples every time), and cut at
round(size · cumulative ratio): every sample gets its ratio of each group, within rounding,
and no row goes to two samples. Each sample is named ``<prefix><label>`` with the parent's
version; its recipe is openGauss's ``SAMPLE <label> <ratio> {<stratification columns>}``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from galaxlite import errors as E
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.snapshots.names import check_free, full_name
from galaxlite.snapshots.parameters import in_force
from galaxlite.snapshots.registry import finish, register
from galaxlite.snapshots.work import PICK, scalar, work_from
from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.snapshot_catalog import Snapshot, SnapshotColumn, lookup, source_sql
from galaxlite.storage.snapshot_names import SCHEMA, Settings, error_at
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q

_ORDER_COLUMNS = 500  # SAMPLE's canonical row order: by the first 500 columns (value, type)


def _pg_array(items: Sequence[str]) -> str:
    """PostgreSQL's text form of a text array.

    >>> _pg_array(["name", "a b"])
    '{name,"a b"}'
    """
    def element(x: str) -> str:
        if x == "" or x.upper() == "NULL" or re.search(r'[{},"\\\s]', x):
            return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return x

    return "{" + ",".join(element(x) for x in items) + "}"


def _ratio_text(written: str) -> str:
    """A ratio as openGauss prints a numeric: ``0.8`` → ``.8``.

    >>> _ratio_text("0.8"), _ratio_text("1")
    ('.8', '1')
    """
    text = str(Decimal(written))
    return text[1:] if text.startswith("0.") else text


def _rank(value: Any) -> tuple:
    """A sort key that orders SQLite values of mixed types (NULL, numbers, text, blobs)."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, value) if isinstance(value, str) else (3, value)


def _draw(session: Session, parent: Snapshot, stratify: Sequence[SnapshotColumn],
          samples: Sequence[P.SampleSpec], seed: int | None) -> list[list[int]]:
    """The storage rowids of the parent's rows each sample takes (see the module docstring)."""
    order = ", ".join(  # (SQLite allows 2000 ORDER BY terms: the first 500 columns decide)
        f"{q(c.name)} COLLATE BINARY, typeof({q(c.name)})" for c in parent.columns[:_ORDER_COLUMNS]
    )
    keys = "".join(f", {q(c.name)}" for c in stratify)
    groups: dict[tuple, list[int]] = {}
    for row in session.conn.execute(
        f"SELECT _gl_rid{keys} FROM ({source_sql(parent, rowid=True)}) ORDER BY {order}"
    ):
        groups.setdefault(tuple(row[1:]), []).append(row[0])
    rng = random.Random(seed) if seed is not None else random.Random()
    picked: list[list[int]] = [[] for _ in samples]
    for key in sorted(groups, key=lambda k: tuple(_rank(v) for v in k)):
        rows = groups[key]
        rng.shuffle(rows)
        cumulative, start = Decimal(0), 0
        for i, spec in enumerate(samples):
            cumulative += Decimal(spec.ratio_text)
            end = int((cumulative * len(rows) + Decimal("0.5")).to_integral_value(ROUND_FLOOR))
            picked[i].extend(rows[start:end])
            start = end
    return picked


def _sample_names(session: Session, plan: P.Plan, d: P.SampleSnapshot,
                  parent: Snapshot, s: Settings) -> list[str]:
    """The samples' full names, once their ratios are checked and the names found free."""
    pos = d.name.position
    names = []
    total = Decimal(0)
    for spec in d.samples:
        ratio = Decimal(spec.ratio_text)
        if not 0 < ratio <= 1:
            raise error_at(E.SnapshotError, "sample ratio must be between 0 and 1", plan, pos)
        total += ratio
        names.append(full_name(plan, parent.prefix + spec.label, parent.version, s, pos,
                               what="sample snapshot"))
    if total > 1:
        raise error_at(
            E.SnapshotError,
            f"sample ratios add up to {total} > 1: the samples of one SAMPLE statement get "
            "disjoint rows",
            plan, pos,
        )
    for name in names:
        check_free(session, plan, SCHEMA, name, pos)
    if len({n.lower() for n in names}) < len(names):
        raise error_at(E.DuplicateSnapshotError, "the samples' labels must differ", plan, pos)
    return names


def sample_snapshot(session: Session, plan: P.Plan, params: Params) -> list[tuple[str, str]]:
    """``SAMPLE SNAPSHOT name@v [STRATIFY BY ...] AS label AT RATIO r [, ...]``: one
    unpublished child per label, with disjoint rows; their (schema, name)."""
    d: P.SampleSnapshot = plan.detail
    s = in_force(session, plan, d.name.position)
    pos = d.name.position
    conn = session.conn
    parent = lookup(conn, plan, d.name, s, what="parent snapshot")
    by_name = {c.name.lower(): c for c in parent.columns}
    for col in d.stratify:
        if col.lower() not in by_name:
            raise error_at(E.SnapshotError, f'column "{col}" does not exist', plan, pos)
    stratify = [by_name[c.lower()] for c in d.stratify]
    names = _sample_names(session, plan, d, parent, s)
    # openGauss lists the stratification columns by increasing number of distinct values
    ranked = sorted(stratify, key=lambda c: scalar(
        conn, f"SELECT count(DISTINCT {q(c.name)}) FROM ({source_sql(parent)})"
    ))
    strat = f" {_pg_array([c.name for c in ranked])}" if ranked else ""
    picked = _draw(session, parent, stratify, d.samples, s.seed)
    out = []
    with catalog_writer(conn):
        for spec, name, rows in zip(d.samples, names, picked, strict=True):
            conn.execute(f"DROP TABLE IF EXISTS temp.{PICK}")
            conn.execute(f"CREATE TEMP TABLE {PICK} (r INTEGER PRIMARY KEY)")
            conn.executemany(f"INSERT INTO temp.{PICK} VALUES (?)", ((r,) for r in rows))
            command = f"SAMPLE {spec.label} {_ratio_text(spec.ratio_text)}{strat}"
            snap_id = register(
                conn, schema=SCHEMA, prefix=parent.prefix + spec.label, version=parent.version,
                name=name, mode=s.mode, commands=[command], comment=spec.comment, parent=parent,
                published=False,
            )
            work = work_from(session, snap_id, s.mode, parent, pick=True)
            conn.execute(f"DROP TABLE temp.{PICK}")
            snap = finish(conn, snap_id, s.mode, work)
            out.append((snap.schema, snap.name))
    return out

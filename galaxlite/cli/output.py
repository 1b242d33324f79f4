"""What the command line prints: result sets, catalog listings and the ``galaxlite info`` report.

A result set prints in one of ``FORMATS``. ``table`` is an aligned text table, a header, a rule
and the rows, numbers right-aligned, followed by a row count; its cells show NULL, numbers as
SQLite shows them, short blobs as ``x'…'`` hex and long values cut with an ellipsis; columns
align by the width a terminal gives each character (two columns for CJK and emoji, none for
combining marks: ``display_width``). ``csv``, ``json`` and ``jsonl`` are for programs: blobs
as hex, everything else as it is, except that JSON has no infinity or NaN: an infinite REAL is
written as SQLite's own JSON writes it, ``9e999`` (which JSON readers read back as infinity),
NaN as ``null``. A statement without a result set prints how many rows it changed (``table``
only).

The listings (tags, snapshots, exports, a lineage) are (column names, rows) pairs built from
``Database``'s public catalog methods, so that ``galaxlite tags``, the shell's ``.tags`` and the
demo print the same table. This module is the bottom of ``galaxlite.cli``: the commands
(``galaxlite.cli.main``), the shell and the demo import it, and it imports none of them.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from galaxlite import Database, Result, Snapshot, errors, transpile

ZERO_WIDTH = frozenset({"Mn", "Me", "Cf"})  # combining marks, joiners, variation selectors

FORMATS = ("table", "csv", "json", "jsonl")
MAX_CELL = 80  # characters of one table cell before it is cut with an ellipsis

Listing = tuple[list[str], list[tuple]]  # (column names, rows)


# ------------------------------------------------------------------ result sets


def cell(value: Any) -> str:
    """One value as table text: NULL, numbers as SQLite shows them, blobs as hex.

    >>> [cell(None), cell(1.5), cell(b"\\x00\\xff"), cell("a\\nb")]
    ['NULL', '1.5', "x'00ff'", 'a\\\\nb']
    """
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        if len(value) <= 16:
            return "x'" + value.hex() + "'"
        return f"x'{value[:8].hex()}…' ({len(value)} bytes)"
    text = str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    if display_width(text) <= MAX_CELL:
        return text
    cut, width = [], 0
    for ch in text:
        width += char_width(ch)
        if width > MAX_CELL - 1:
            break
        cut.append(ch)
    return "".join(cut) + "…"


def char_width(ch: str) -> int:
    """Terminal columns of one character: 2 for wide (CJK, most emoji), 0 for combining."""
    if unicodedata.category(ch) in ZERO_WIDTH:
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns of ``text`` (a character joined by U+200D to the one before takes
    none; U+FE0F makes the one before it wide, as emoji presentation).

    >>> [display_width(t) for t in ("abc", "東京", "e\\u0301", "👍", "❤\\ufe0f", "👨\\u200d👩")]
    [3, 4, 1, 2, 2, 2]
    """
    total, previous, joined = 0, 0, False
    for ch in text:
        if ch == "\u200d":
            joined = True
            continue
        if ch == "\ufe0f" and previous == 1:
            total += 1
            previous = 2
            continue
        width = 0 if joined else char_width(ch)
        joined = False
        total += width
        if width:
            previous = width
    return total


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(width - display_width(text), 0)
    return fill + text if right else text + fill


def table_lines(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """An aligned text table: a header, a rule, the rows (numbers right-aligned).

    >>> print("\\n".join(table_lines(["name", "n"], [("apple", 3), ("東京", 12)])))
     name  | n
    -------+----
     apple |  3
     東京  | 12
    """
    texts = [[cell(v) for v in row] for row in rows]
    widths = [display_width(c) for c in columns]
    for row in texts:
        for i, t in enumerate(row):
            widths[i] = max(widths[i], display_width(t))
    numeric = [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str], header: bool = False) -> str:
        parts = [
            _pad(v, w, num and not header) for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return " " + " | ".join(parts).rstrip()

    rule = "-" + "-+-".join("-" * w for w in widths) + "-"
    return [line(columns, header=True), rule, *(line(r) for r in texts)]


def _plain(value: Any) -> Any:
    """A value as csv and json write it: blobs as hex."""
    return value.hex() if isinstance(value, bytes) else value


def json_value(value: Any) -> str:
    """One value as JSON text: never ``Infinity`` or ``NaN``, which are not JSON.

    >>> [json_value(v) for v in (1.5, float("inf"), -float("inf"), float("nan"), b"\\x01", "é")]
    ['1.5', '9e999', '-9e999', 'null', '"01"', '"\\\\u00e9"']
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "null" if math.isnan(value) else ("9e999" if value > 0 else "-9e999")
    return json.dumps(_plain(value))


def json_object(columns: Sequence[str], row: Sequence[Any]) -> str:
    """A row as a JSON object, as ``json.dumps`` of a dict would write it (but valid JSON)."""
    return "{" + ", ".join(
        f"{json.dumps(c)}: {json_value(v)}" for c, v in zip(columns, row, strict=True)
    ) + "}"


def write_rows(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> int:
    """Write a result set to ``out`` in ``fmt``; returns the number of rows."""
    if fmt == "table":
        buffered = list(rows)
        for text in table_lines(columns, buffered):
            out.write(text + "\n")
        n = len(buffered)
        out.write(f"({n} row{'' if n == 1 else 's'})\n")
        return n
    n = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_plain(v) for v in row])
            n += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json_object(columns, row) + "\n")
            n += 1
    elif fmt == "json":
        out.write("[")
        for row in rows:
            out.write(",\n " if n else "\n ")
            out.write(json_object(columns, row))
            n += 1
        out.write("\n]\n" if n else "]\n")
    else:
        raise click.BadParameter(f"unknown format {fmt!r}")
    return n


def write_result(out: TextIO, result: Result, fmt: str) -> None:
    """A statement's rows (if it has a result set), or how many rows it changed (table)."""
    description = result.description
    if description is not None:
        write_rows(out, [d[0] for d in description], result, fmt)
    elif fmt == "table" and result.rowcount >= 0:
        n = result.rowcount
        out.write(f"{n} row{'' if n == 1 else 's'} changed\n")


# ------------------------------------------------------------------ catalog listings


def when(version_us: int) -> str:
    """A µs version as UTC date and time.

    >>> when(1_700_000_000_000_001)
    '2023-11-14 22:13:20.000001 UTC'
    """
    moment = datetime.datetime.fromtimestamp(version_us / 1e6, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def human_size(n: int) -> str:
    """A byte count in B, KiB, MiB or GiB.

    >>> [human_size(512), human_size(1536), human_size(3 * 2**30)]
    ['512 B', '1.5 KiB', '3.0 GiB']
    """
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def tag_rows(db: Database) -> Listing:
    """The version tags as a table (``galaxlite tags``, the shell's .tags, the demo)."""
    columns = ["name", "version", "created (UTC)", "for training", "precision", "seed"]
    rows = [
        (t.name, t.version, when(t.created_us)[:-4], "yes" if t.for_training else "no",
         t.precision or "", "" if t.seed is None else t.seed)
        for t in db.tags()
    ]
    return columns, rows


def snapshot_rows(db: Database) -> Listing:
    """The dataset snapshots as a table (``galaxlite snapshots``, the shell's .snapshots)."""
    columns = ["name", "parent", "mode", "rows", "published", "archived", "created (UTC)",
               "comment"]
    rows = [
        (s.name, s.parent or "", s.mode, s.row_count, "yes" if s.published else "no",
         "yes" if s.archived else "no", s.created[:19], s.comment or "")
        for s in db.snapshots()
    ]
    return columns, rows


def export_rows(db: Database, full: bool = False) -> Listing:
    """The training exports as a table, one row per exported table: short hashes and paths
    relative to the exports folder (``galaxlite info``), or in ``full`` (``galaxlite exports``)."""
    columns = ["tag", "table", "rows", "precision", "seed", "content hash", "dataset"]
    root = db.exports_dir.resolve() if isinstance(db.exports_dir, Path) else None  # (not a URI)
    rows = []
    for e in db.exports():
        path = Path(e.path)
        short = not full and root is not None and path.is_relative_to(root)
        rows.append((e.tag, e.table, e.rows, e.precision, "" if e.seed is None else e.seed,
                     e.content_hash if full else e.content_hash.split(":")[-1][:12],
                     str(path.relative_to(root)) if short else e.path))
    return columns, rows


def lineage_lines(chain: Sequence[Snapshot]) -> list[str]:
    """How each snapshot of a lineage (root first) was made, one block per snapshot."""
    lines = []
    for snap in chain:
        state = ", ".join(
            [f"from {snap.parent}" if snap.parent else "root", snap.mode,
             f"{snap.row_count} row{'' if snap.row_count == 1 else 's'}"]
            + (["published"] if snap.published else []) + (["archived"] if snap.archived else [])
        )
        lines.append(f"{snap.name}  ({state}; created {snap.created[:19]} UTC)")
        if snap.comment:
            lines.append(f"    -- {snap.comment}")
        lines += [f"    {text}" for text in snap.statements]
    return lines


# ------------------------------------------------------------------ galaxlite info


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _count(db: Database, table: str) -> int | str:
    try:
        return db.query(f"SELECT count(*) FROM {transpile.quote_identifier(table)}")[0][0]
    except errors.Error:
        return "?"


def versioned_table_rows(db: Database) -> list[tuple]:
    """(table, current rows, history rows, schema versions) of every versioned table ever made."""
    catalog = db.query(
        "SELECT t.name, t.history, t.valid_to IS NULL, "
        "(SELECT count(*) FROM galaxlite_tables s WHERE s.table_id = t.table_id) "
        "FROM galaxlite_tables t WHERE t.valid_from = "
        "(SELECT max(valid_from) FROM galaxlite_tables s WHERE s.table_id = t.table_id) "
        "ORDER BY t.name COLLATE NOCASE, t.table_id"
    )
    return [
        (name if live else f"{name} (dropped)", _count(db, name) if live else "-",
         _count(db, history), schemas)
        for name, history, live, schemas in catalog
    ]


def info_lines(db: Database) -> list[str]:
    """The report of ``galaxlite info``."""
    size, wal = _file_size(db.filename), _file_size(db.filename + "-wal")
    lines = [
        f"database  {os.path.abspath(db.filename)}",
        f"size      {human_size(size)} ({size:,} bytes); WAL {human_size(wal)}",
        f"version   {db.version}" + (f" ({when(db.version)})" if db.version else " (no writes yet)"),
    ]
    exports = db.exports_dir.resolve() if isinstance(db.exports_dir, Path) else getattr(db.exports_dir, "uri", None)
    export_columns, exported = export_rows(db)
    if exports is None:
        lines.append("exports   none (in-memory database)")
    elif exported:
        n = len({e.version for e in db.exports()})
        lines.append(
            f"exports   {exports} ({len(exported)} dataset{'s' if len(exported) != 1 else ''} "
            f"in {n} export{'s' if n != 1 else ''})"
        )
    else:
        lines.append(f"exports   {exports} (none yet)")
    sizes = {h.table: (human_size(h.bytes), h.horizon or "-") for h in db.history_sizes()}
    tables = [(*row, *sizes.get(row[0], ("-", "-"))) for row in versioned_table_rows(db)]
    lines += ["", f"versioned tables: {len(tables)}"]
    if tables:
        lines += table_lines(["table", "rows", "history rows", "schema versions", "history size",
                              "purged before"], tables)
    plain = db.unversioned_tables()
    if plain:
        lines += ["", f"plain tables (not versioned; ALTER TABLE t ENABLE VERSIONING): {len(plain)}"]
        lines += table_lines(["table", "rows"], [(n, _count(db, n)) for n in plain])
    columns, rows = tag_rows(db)
    lines += ["", f"tags: {len(rows)}"]
    if rows:
        lines += table_lines(columns[:3], [r[:3] for r in rows])
    if exported:
        lines += ["", f"training exports: {len(exported)} dataset{'s' if len(exported) != 1 else ''}"]
        lines += table_lines(export_columns, exported)
    columns, rows = snapshot_rows(db)
    if rows:
        lines += ["", f"dataset snapshots: {len(rows)}"]
        lines += table_lines(columns[:5], [r[:5] for r in rows])
    return lines

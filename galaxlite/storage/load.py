"""Loading rows from files and Arrow data (``BULK INSERT INTO t FROM 'file'``,
``Database.bulk_insert(table, path_or_arrow)``).

A ``Source`` streams Arrow record batches: pyarrow's CSV reader (every column read as text,
then converted here), a Parquet file's row groups, or Arrow data in memory. Each column is
converted by the affinity of the table column it goes to (https://sqlite.org/datatype3.html):
INTEGER and REAL columns get numbers (a text that is no number is an error naming the file,
line and column, where SQLite would silently store the text), TEXT columns text, NUMERIC and
untyped columns the values as they are (SQLite applies their affinity). The rows go to SQLite
through one ``executemany`` on the bulk path (``galaxlite.storage.bulk``), inside the caller's
write transaction: one version, all rows or none.
"""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import apsw
import pyarrow as pa
import pyarrow.compute as pc

from galaxlite import errors as E
from galaxlite.storage.affinity import affinity
from galaxlite.storage.bulk import NO_ROWIDS, UNKNOWN_ROWIDS
from galaxlite.transpile import quote_identifier as q

Progress = Callable[[int, int | None], object]
CSV_BLOCK_BYTES = 1 << 20
PARQUET_BATCH_ROWS = 65536
OPTIONS = {"format": str, "header": bool, "delimiter": str, "quote": str, "null": str}


class Source:
    """Record batches to load, readable more than once (the bulk path may fall back to the
    triggers and insert again); ``names``: the columns (None: a file without a header)."""

    def __init__(self, label: str, names: list[str] | None, width: int, batches: Callable[[], Iterator[pa.RecordBatch]],
                 total: int | None = None, header_lines: int = 0, unit: str = "row"):
        self.label, self.names, self.width, self.batches, self.total = label, names, width, batches, total
        self.header_lines, self.unit = header_lines, unit

    def where(self, row: int) -> str:
        """Where row ``row`` (0-based) of the source is, for error messages."""
        if self.unit == "line":
            return f"{self.label}, line {row + 1 + self.header_lines}"
        return f"{self.label}, row {row + 1}"


def _check_options(options: dict[str, object]) -> dict[str, object]:
    for name, value in options.items():
        kind = OPTIONS.get(name)
        if kind is None:
            raise E.ProgrammingError(f"unknown BULK INSERT option {name.upper()}: use "
                                     + ", ".join(o.upper() for o in OPTIONS))
        if not isinstance(value, kind):
            raise E.ProgrammingError(f"BULK INSERT option {name.upper()} takes a {kind.__name__}, not {value!r}")
    return options


def file_source(path: str | os.PathLike, options: dict[str, object]) -> Source:
    """A CSV or Parquet file as a Source (format from FORMAT, else the file name's suffix)."""
    path = Path(path)
    opts = _check_options(options)
    fmt = str(opts.get("format") or {".parquet": "parquet", ".pq": "parquet"}.get(path.suffix.lower(), "csv")).lower()
    if fmt not in ("csv", "parquet"):
        raise E.ProgrammingError(f"unknown BULK INSERT FORMAT {fmt!r}: use 'csv' or 'parquet'")
    if not path.is_file():
        raise E.OperationalError(f"cannot load {str(path)!r}: no such file")
    if fmt == "parquet":
        extra = sorted(set(opts) - {"format"})
        if extra:
            raise E.ProgrammingError(f"option {extra[0].upper()} is for CSV files, not Parquet")
        return _parquet(path)
    return _csv(path, opts)


def _csv(path: Path, opts: dict[str, object]) -> Source:
    import pyarrow.csv as pcsv

    delimiter = str(opts.get("delimiter", "\t" if path.suffix.lower() == ".tsv" else ","))
    quote = str(opts.get("quote", '"'))
    if len(delimiter) != 1 or len(quote) != 1:
        raise E.ProgrammingError("DELIMITER and QUOTE are one character each")
    header = bool(opts.get("header", True))
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        first = next(csv.reader(f, delimiter=delimiter, quotechar=quote), None)
    if first is None:
        return Source(repr(str(path)), [] if header else None, 0, lambda: iter(()), 0, unit="line")
    names = [f"f{i}" for i in range(len(first))]
    read = pcsv.ReadOptions(column_names=names, skip_rows=1 if header else 0, block_size=CSV_BLOCK_BYTES)
    parse = pcsv.ParseOptions(delimiter=delimiter, quote_char=quote)
    convert = pcsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, null_values=[str(opts.get("null", ""))],
        strings_can_be_null=True, quoted_strings_can_be_null=False,
    )
    label = repr(str(path))

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            raise E.DataError(f"cannot read {label} as CSV: {exc}") from None

    return Source(label, first if header else None, len(first), batches, header_lines=int(header), unit="line")


def _parquet(path: Path) -> Source:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise E.DataError(f"cannot read {str(path)!r} as Parquet: {exc}") from None
    names = list(meta.schema_arrow.names)
    total = meta.metadata.num_rows
    meta.close()

    def batches() -> Iterator[pa.RecordBatch]:
        with pq.ParquetFile(path) as f:
            yield from f.iter_batches(batch_size=PARQUET_BATCH_ROWS)

    return Source(repr(str(path)), names, len(names), batches, total)


def arrow_source(data: object) -> Source:
    """Arrow data in memory (a Table, a RecordBatch, a RecordBatchReader or an iterable of
    RecordBatches) as a Source; a one-pass reader or iterator is kept as it is read, to be
    read again if the bulk path falls back to the triggers."""
    if isinstance(data, pa.Table):
        return Source("the Arrow table", list(data.schema.names), data.num_columns,
                      lambda: iter(data.to_batches()), data.num_rows)
    if isinstance(data, pa.RecordBatch):
        return Source("the record batch", list(data.schema.names), data.num_columns, lambda: iter([data]), data.num_rows)
    it = iter(data) if not isinstance(data, pa.RecordBatchReader) else iter(data)
    seen: list[pa.RecordBatch] = []
    first = next(it, None)
    if first is not None and not isinstance(first, pa.RecordBatch):
        raise E.ProgrammingError(f"expected Arrow record batches, got {type(first).__name__}")
    if first is not None:
        seen.append(first)

    def batches() -> Iterator[pa.RecordBatch]:
        yield from list(seen)
        for batch in it:
            seen.append(batch)
            yield batch

    names = list(first.schema.names) if first is not None else []
    return Source("the record batches", names, len(names), batches)


def as_arrow(data: object) -> tuple[bool, object]:
    """(is ``data`` Arrow data ``arrow_source`` takes?, ``data`` to use from now on): an
    iterator is peeked at, and given back whole."""
    if isinstance(data, pa.Table | pa.RecordBatch | pa.RecordBatchReader):
        return True, data
    if isinstance(data, list | tuple):
        return bool(data) and all(isinstance(b, pa.RecordBatch) for b in data), data
    if isinstance(data, Iterator):
        first = next(data, None)
        rest = itertools.chain([first], data) if first is not None else iter(())
        return isinstance(first, pa.RecordBatch), rest
    return False, data


@dataclass(frozen=True, slots=True)
class Target:
    """The table columns a source's columns go to, in the source's order, with affinities."""

    table: str
    columns: tuple[str, ...]
    affinities: tuple[str, ...]
    positions: tuple[int, ...]  # source column of each target column
    keys: tuple[int, ...] = ()  # the target columns that give the rowid (rowid tables)

    @classmethod
    def of(cls, conn: apsw.Connection, table: str, columns: Iterable[str] | None, source: Source) -> Target:
        xinfo = list(conn.execute("SELECT * FROM pragma_table_xinfo(?)", (table,)))
        info = [(r[1], r[2], r[6]) for r in xinfo]
        if not info:
            raise E.ProgrammingError(f"no such table: {table}")
        writable = {n.lower(): (n, t) for n, t, hidden in info if hidden in (0, 1)}
        (without_rowid,) = next(conn.execute(
            "SELECT coalesce(max(wr), 0) FROM pragma_table_list WHERE name = ?", (table,)))
        if not without_rowid:  # the rowid, by any name no column takes, as INSERT accepts it
            names = {n.lower() for n, _, _ in info}
            writable.update({a: (a, "INTEGER") for a in ("rowid", "_rowid_", "oid") if a not in names})
        if columns is not None:
            wanted = list(columns)
            if len(wanted) != source.width:
                raise E.ProgrammingError(f"{source.label} has {source.width} column(s), the column list "
                                         f"names {len(wanted)}")
        elif source.names is not None:
            wanted = list(source.names)
        else:
            wanted = [n for n, _, hidden in info if hidden in (0, 1)]
            if len(wanted) != source.width:
                raise E.ProgrammingError(f"{source.label} has {source.width} column(s) and no header, "
                                         f"table {table!r} has {len(wanted)}: name the columns")
        unknown = [w for w in wanted if w.lower() not in writable]
        if unknown:
            raise E.ProgrammingError(
                f"table {table!r} has no column {unknown[0]!r} (named by {source.label}); its columns: "
                + ", ".join(n for n, _ in writable.values())
            )
        if len({w.lower() for w in wanted}) != len(wanted):
            raise E.ProgrammingError(f"a column is named twice in the columns of {source.label}")
        picked = [writable[w.lower()] for w in wanted]
        # The rowid's names: rowid / _rowid_ / oid, and an INTEGER PRIMARY KEY column (also
        # one SQLite does not make an alias, as with DESC: its rows take new rowids anyway).
        pks = [(r[1], r[2] or "") for r in xinfo if r[5]]
        rowid_names = {"rowid", "_rowid_", "oid"} - {n.lower() for n, _, _ in info}
        if len(pks) == 1 and pks[0][1].upper() == "INTEGER":
            rowid_names.add(pks[0][0].lower())
        keys = tuple(i for i, (n, _) in enumerate(picked) if not without_rowid and n.lower() in rowid_names)
        return cls(table, tuple(n for n, _ in picked), tuple(affinity(t) for _, t in picked),
                   tuple(range(len(picked))), keys)

    @property
    def insert_sql(self) -> str:
        return (f"INSERT INTO {q(self.table)} ({', '.join(q(c) for c in self.columns)}) "
                f"VALUES ({', '.join('?' * len(self.columns))})")


def convert(arr: pa.Array | pa.ChunkedArray, aff: str, column: str, source: Source, first_row: int) -> list:
    """The values of one column for SQLite, converted by the target column's affinity."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.cast(t.value_type), t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if aff in ("INTEGER", "REAL"):
            return _numbers(arr, aff, column, source, first_row)
        return arr.to_pylist()
    if pa.types.is_decimal(t):
        return arr.cast(pa.string() if aff == "TEXT" else pa.float64()).to_pylist()
    if pa.types.is_temporal(t):
        return arr.cast(pa.string()).to_pylist()
    if pa.types.is_boolean(t):
        return arr.cast(pa.int64()).to_pylist()
    if pa.types.is_nested(t):
        raise E.NotSupportedError(f"{source.label}: column {column!r} is {t}: nested Arrow types "
                                  "cannot be stored in an SQLite column (flatten it first)")
    return arr.to_pylist()


def _numbers(arr: pa.Array, aff: str, column: str, source: Source, first_row: int) -> list:
    exact = _cast(arr, pa.int64() if aff == "INTEGER" else pa.float64())
    if exact is not None:
        return exact.to_pylist()
    reals = _cast(arr, pa.float64())
    if reals is not None:  # as SQLite's INTEGER affinity: integral reals become integers
        return [int(v) if v is not None and v.is_integer() and abs(v) < 2**63 else v for v in reals.to_pylist()]
    i, v = next(((i, v) for i, v in enumerate(arr.to_pylist()) if not _is_number(v)), (0, None))
    raise E.DataError(
        f"{source.where(first_row + i)}, column {column!r}: {v!r} is not a number "
        f"(the table's column has {aff} affinity)"
    )


def _is_number(v: str | None) -> bool:
    return _cast(pa.array([v], pa.string()), pa.float64()) is not None


# What Arrow raises for a cast it cannot make (a text that is no number; a type it has no
# cast for): the value is then reported, not the exception.
_CAST_REFUSED = (pa.ArrowInvalid, pa.ArrowNotImplementedError)


def _cast(arr: pa.Array, to: pa.DataType) -> pa.Array | None:
    """``arr`` cast to ``to``, or None when Arrow refuses the cast."""
    try:
        return arr.cast(to)
    except _CAST_REFUSED:
        return None


def lowest_rowid(arr: pa.Array | pa.ChunkedArray, values: list) -> float | None:
    """The lowest rowid a batch's rowid column ``arr`` (converted: ``values``) gives, for
    ``bulk.appended_span``: None when all are NULL (SQLite picks those rowids), -inf when
    not all are numbers (SQLite refuses those: the rows are counted instead)."""
    if pa.types.is_integer(arr.type):
        return pc.min(arr).as_py()
    try:
        low = min(values, default=None)
    except TypeError:  # NULLs among numbers, or texts
        try:
            low = min((v for v in values if v is not None), default=None)
        except TypeError:
            return UNKNOWN_ROWIDS
    return low if low is None or isinstance(low, int | float) else UNKNOWN_ROWIDS


class Inserter:
    """Runs the load: ``run`` (through the triggers) and ``run_fast`` (the bulk path) insert
    the source's rows batch by batch, each with one ``executemany`` inside a savepoint; a
    batch that fails is rolled back and run again row by row to find the row to name.
    ``lowest``: after a run, the lowest rowid its rows gave (``NO_ROWIDS``: none)."""

    def __init__(self, conn: apsw.Connection, target: Target, source: Source, progress: Progress | None):
        self.conn, self.target, self.source, self.progress = conn, target, source, progress
        self.lowest: float | None = NO_ROWIDS

    def run(self) -> int:
        done, src, tgt, conn = 0, self.source, self.target, self.conn
        sql, cur = tgt.insert_sql, conn.cursor()
        self.lowest = NO_ROWIDS
        for batch in src.batches():
            cols = [convert(batch.column(p), a, c, src, done)
                    for p, a, c in zip(tgt.positions, tgt.affinities, tgt.columns, strict=True)]
            for k in tgt.keys:
                low = lowest_rowid(batch.column(tgt.positions[k]), cols[k])
                if low is not None:
                    self.lowest = low if self.lowest is None else min(self.lowest, low)
            conn.execute("SAVEPOINT _gl_load")
            try:
                cur.executemany(sql, zip(*cols, strict=True))
            except apsw.Error as exc:
                conn.execute("ROLLBACK TO _gl_load")
                row, exc = self._failing_row(cur, sql, cols, exc)
                conn.execute("ROLLBACK TO _gl_load")
                conn.execute("RELEASE _gl_load")
                err = E.from_apsw(exc)
                located = type(err)(f"{src.where(done + row)}: {err.message}")
                located.sqlite_errorcode = err.sqlite_errorcode
                raise located from None
            conn.execute("RELEASE _gl_load")
            done += batch.num_rows
            if self.progress is not None:
                self.progress(done, src.total)
        return done

    @staticmethod
    def _failing_row(cur: apsw.Cursor, sql: str, cols: list[list], exc: apsw.Error) -> tuple[int, apsw.Error]:
        """(index of the first row of a failed batch that fails alone, its error)."""
        for j, row in enumerate(zip(*cols, strict=True)):
            try:
                cur.execute(sql, row)
            except apsw.Error as found:
                return j, found
        return 0, exc  # pragma: no cover - the batch failed, so one of its rows does

    run_fast = run

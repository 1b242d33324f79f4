"""P7: training export (CREATE VERSION TAG ... FOR TRAINING) vs writing the same Arrow data
with ``lance.write_dataset`` directly.

Usage:
    python benchmarks/bench_export.py [--rows 20000] [--dim 384] [--repeat 3] [--full]

One galaxlite database holds ``t(id INTEGER PRIMARY KEY, label INTEGER, emb VECTOR(dim))``
with ``--rows`` rows of random float32 vectors (filled by BULK INSERT). The plain side is
the same rows as an Arrow table already in memory, written by ``lance.write_dataset`` with
the Lance options the export uses (``galaxlite.exports.layout.LANCE_OPTIONS``). Rounds alternate
which side goes first; each round's outputs are deleted before the next.

* ``db.create_training_snapshot(tag)``: float32, primary-key order — the P7 line (the
  whole statement: tag, reading SQLite, record batches, content hash, Lance, commit);
* the same with ``seed=42`` (the table is staged and shuffled first), ``precision="sq8"``
  and ``precision="rabitq"`` (staged, quantizer fitted): for information, against the
  same direct float32 write;
* for the P7 line also the CPU time of the whole process (every thread) on each side, taken
  in the same rounds, user and system apart: on a shared machine the wall-clock ratio drifts
  towards the CPU ratio as the other work takes the second core, and most of the plain
  side's time is the kernel's (writing 1.5 GB into the page cache), which varies several
  fold from round to round on a virtual machine, so the wall ratio moves with it;
* the vector bytes per row each precision stores (Arrow bytes of the vector columns in the
  written dataset, RaBitQ's two factor columns included) and the size on disk, against
  float32. Goal: sq8 ¼, rabitq ≤ 1/25.

``--full`` measures 1,000,000 rows (about 1.5 GB per side on disk at 384-d: run it where
there is room; everything is deleted at the end). Not a test: it only prints.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

import galaxlite  # noqa: E402
from galaxlite.exports.encode import Encoder, export_schema  # noqa: E402
from galaxlite.exports.hashing import ContentHash  # noqa: E402
from galaxlite.exports.layout import LANCE_OPTIONS  # noqa: E402
from galaxlite.exports.plan import plan_table  # noqa: E402
from galaxlite.exports.rows import mmap_reads, read_rows  # noqa: E402

GOAL_RATIO = 1.3
BYTES_GOAL = {"sq8": 1 / 4, "rabitq": 1 / 25}
FILL_CHUNK = 50_000


def fill(db: galaxlite.Database, rows: int, dim: int) -> pa.Table:
    """Create and fill ``t``; return the same rows as an Arrow table (the direct side)."""
    db.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, label INTEGER, emb VECTOR({dim}))")
    rng = np.random.default_rng(0)
    chunks = []
    for start in range(0, rows, FILL_CHUNK):
        n = min(FILL_CHUNK, rows - start)
        x = rng.standard_normal((n, dim), dtype=np.float32)
        ids = np.arange(start + 1, start + n + 1)
        db.executemany(
            "BULK INSERT INTO t (id, label, emb) VALUES (?, ?, ?)",
            [(int(i), int(i % 10), v.tobytes()) for i, v in zip(ids, x, strict=True)],
        )
        chunks.append(pa.record_batch(
            [pa.array(ids, pa.int64()), pa.array(ids % 10, pa.int64()),
             pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), dim)],
            names=["id", "label", "emb"],
        ))
    C.checkpoint(C.raw(db))
    return pa.Table.from_batches(chunks)


def vector_bytes(path: str) -> float:
    """Arrow bytes per row of the vector column(s) of an export (RaBitQ factors included)."""
    import lance

    ds = lance.dataset(path)
    names = [n for n in ds.schema.names if n.startswith("emb")]
    table = ds.to_table(columns=names)
    return table.nbytes / max(table.num_rows, 1)


def disk_bytes(path: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def parts(db: galaxlite.Database, plain, clean_direct, rows: int, dim: int, repeat: int) -> list:
    """Where the float32 export's time goes: its two big parts alone, against the same direct
    write (information, no goal): reading the table as of the last version from SQLite into
    record batches, and the content hash of those batches (BLAKE3; and SHA-256, the
    definition exports recorded before)."""
    conn = C.raw(db)
    plan = plan_table(conn, "t", db.version, "t.lance")
    encoder = Encoder(plan, "float32", {}, export_schema(plan, "float32", {}, {}))
    batches: list = []

    def read(keep: bool = False) -> None:
        """The batches are dropped as they come (as Lance's writer does): keeping 1.5 GB of
        them would time fresh memory too. ``keep``: for the hash parts."""
        with mmap_reads(conn):
            for batch in (encoder.batch(r) for r in read_rows(conn, db.session.semantic, plan)):
                if keep:
                    batches.append(batch)

    def digest(algorithm: str) -> None:
        hashed = ContentHash(encoder.schema, algorithm)
        for batch in batches:
            hashed.add(batch)
        hashed.hexdigest()

    out = []
    read(keep=True)  # warm, and the batches the hash parts hash
    for label, fn in (
        ("SQLite read into record batches only", lambda: read(keep=False)),
        ("BLAKE3 content hash only", lambda: digest("blake3")),
        ("SHA-256 content hash only (the definition before BLAKE3)", lambda: digest("sha256")),
    ):
        C.progress(label)
        t_ours, t_plain = C.compare(fn, plain, repeat, setup_ours=os.sync, setup_plain=clean_direct)
        out.append(C.compared_line(f"part: {label} ({rows:,} × {dim})", t_ours, t_plain, None))
    clean_direct()
    batches.clear()
    return out


def main() -> None:
    ap = C.parser(__doc__.splitlines()[0], default_rows=20_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--full", action="store_true", help="1,000,000 rows (the P7 measurement)")
    ap.set_defaults(repeat=3)
    args = ap.parse_args()
    rows = 1_000_000 if args.full and args.rows is None else C.rows_option(args)
    dim = args.dim
    print(C.environment())
    import lance

    with C.workdir(args.dir) as work:
        C.progress(f"filling {rows:,} rows × {dim}-d")
        db = galaxlite.Database(work / "db")
        table = fill(db, rows, dim)
        direct = work / "direct.lance"
        tags = iter(range(1_000_000))
        made: list[str] = []

        # Each timed call starts with no dirty pages: the write-back of 1.5 GB written by the
        # previous call would otherwise fall on whichever side runs next.
        def clean_direct() -> None:
            shutil.rmtree(direct, ignore_errors=True)
            os.sync()

        def clean_ours() -> None:
            for path in made:
                shutil.rmtree(Path(path).parent, ignore_errors=True)
            made.clear()
            os.sync()

        def ours(**options) -> None:
            tag = f"bench-{next(tags)}"
            db.create_training_snapshot(tag, **options)
            made.append(db.training_dataset(tag))

        def plain() -> None:
            lance.write_dataset(table, str(direct), mode="create", **LANCE_OPTIONS)

        C.progress("warm-up (one untimed run of each side)")
        ours()
        plain()
        clean_ours()
        clean_direct()
        lines = []
        sizes = {}
        cpu: dict[str, list[float]] = {"ours": [], "plain": []}
        kernel: dict[str, list[float]] = {"ours": [], "plain": []}

        def cpu_timed(side: str, fn) -> None:
            start = resource.getrusage(resource.RUSAGE_SELF)
            fn()
            end = resource.getrusage(resource.RUSAGE_SELF)
            cpu[side].append(end.ru_utime - start.ru_utime)
            kernel[side].append(end.ru_stime - start.ru_stime)

        for label, options, goal in (
            ("float32, primary-key order", {}, GOAL_RATIO),
            ("float32, TRAINING SEED 42 (staged, shuffled)", {"seed": 42}, None),
            ("sq8 (staged, fitted)", {"precision": "sq8"}, None),
            ("rabitq (staged, fitted)", {"precision": "rabitq"}, None),
        ):
            C.progress(f"export {label}")
            for times in (*cpu.values(), *kernel.values()):
                times.clear()
            t_ours, t_plain = C.compare(
                lambda o=options: cpu_timed("ours", lambda: ours(**o)),
                lambda: cpu_timed("plain", plain), args.repeat,
                setup_ours=clean_ours, setup_plain=clean_direct,
            )
            precision = options.get("precision", "float32")
            if made and precision not in sizes:
                sizes[precision] = (vector_bytes(made[-1]), disk_bytes(made[-1]))
            lines.append(C.compared_line(
                f"export {rows:,} × {dim}: {label}", t_ours, t_plain, goal
            ))
            if goal is not None:
                lines.append(C.compared_line(
                    "(info) same rounds, user CPU time of the process (all threads)",
                    cpu["ours"], cpu["plain"], None,
                ))
                if min(kernel["plain"]) > 0:  # (a small --quick run may take none)
                    lines.append(C.compared_line(
                        "(info) same rounds, system (kernel) CPU time of the process",
                        kernel["ours"], kernel["plain"], None,
                    ))
            clean_ours()
            clean_direct()
        lines += parts(db, plain, clean_direct, rows, dim, args.repeat)
        db.close()
    C.print_table(
        f"P7: training export vs lance.write_dataset of the same Arrow table ({rows:,} rows)",
        lines,
        notes=[
            "galaxlite = db.create_training_snapshot(...) end to end; plain = lance.write_dataset "
            f"of an in-memory Arrow table; Lance options on both sides: {LANCE_OPTIONS}.",
            f"Median of {args.repeat} interleaved rounds; ratio = median of per-round ratios.",
        ],
    )
    base_vec, base_disk = sizes["float32"]
    print("\n### Vector bytes per row\n")
    print("| precision | vector bytes / row | vs float32 | goal | met? | dataset on disk / row |")
    print("|---|---:|---:|---:|:---:|---:|")
    for precision, (vec, disk) in sizes.items():
        goal = BYTES_GOAL.get(precision)
        met = "info" if goal is None else ("yes" if vec / base_vec <= goal + 1e-9 else "**NO**")
        print(
            f"| {precision} | {vec:,.1f} | {vec / base_vec:.4f} (1/{base_vec / vec:.1f}) | "
            f"{'—' if goal is None else f'≤ {goal:.4f}'} | {met} | {disk / rows:,.1f} B |"
        )


if __name__ == "__main__":
    main()

"""Embedding throughput and latency of galaxlite's built-in embedders.

Usage:
    python benchmarks/bench_embed.py [--n 2000] [--embedders hash,minilm] [--declared-n 1000]

For each embedder: load time (first ``get_embedder``, i.e. reading the model), throughput in
texts per second on ``--n`` generated sentences (about 13 words each), also per CPU-second of
the process (less sensitive to other load on the machine), on the same number of short six-word
texts, and single-text latency (median of repeated one-text calls).  The texts
are generated from a fixed seed, so runs are comparable.  Not a test: it only prints.

Then the declared-column path (``text TEXT EMBEDDING MODEL 'name'``), per embedder, on a
table of ``--declared-n`` distinct sentences: texts/s of ``db.embed`` with an empty cache
(every text embedded, in batches, and stored in the file) and again with every text cached,
and of a float32 training export whose embeddings are all missing vs all cached (a fresh
database each, same rows; the export's rate counts rows, whose texts are distinct).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import galaxlite  # noqa: E402
from galaxlite.semantic.embedders import (  # noqa: E402
    EmbedderNotAvailableError,
    available_embedders,
    get_embedder,
)

SUBJECTS = [
    "the model",
    "a database",
    "our pipeline",
    "the export",
    "each snapshot",
    "this function",
    "the training loop",
    "a query",
    "the optimizer",
    "every worker",
]
VERBS = [
    "reads",
    "writes",
    "caches",
    "rejects",
    "shuffles",
    "normalises",
    "returns",
    "validates",
    "compresses",
    "streams",
]
OBJECTS = [
    "the rows",
    "a batch of vectors",
    "sparse features",
    "the tagged version",
    "all labels",
    "image captions",
    "tokenised text",
    "the checkpoint",
    "null values",
    "duplicate records",
]
TAILS = [
    "before the next epoch",
    "when the table changes",
    "without blocking readers",
    "in deterministic order",
    "for every shard",
    "unless the flag is set",
    "after a crash",
    "using little memory",
    "on a single core",
    "at version two",
]


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` docstring-like sentences of ~13 words."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
        f"{rng.choice(TAILS)} and {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
        for _ in range(n)
    ]


def short_texts(n: int, seed: int = 1) -> list[str]:
    """``n`` six-word texts."""
    rng = random.Random(seed)
    words = " ".join(SUBJECTS + VERBS + OBJECTS + TAILS).split()
    return [" ".join(rng.choice(words) for _ in range(6)) for _ in range(n)]


def throughput(embed, texts: list[str]) -> tuple[float, float]:
    """(texts per wall-clock second, texts per CPU second of this process, all threads)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = embed(texts)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    assert out.shape[0] == len(texts)
    return len(texts) / dt, len(texts) / max(dc, 1e-9)


def single_latency_ms(embed, text: str, repeats: int = 30) -> float:
    embed([text])  # warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        embed([text])
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def declared_path(name: str, texts: list[str]) -> tuple[float, float, float, float]:
    """(db.embed texts/s uncached, cached; export rows/s uncached, cached) of a declared column."""

    def fresh(folder: Path) -> galaxlite.Database:
        db = galaxlite.Database(folder)
        db.execute(f"CREATE TABLE docs (id INTEGER PRIMARY KEY, text TEXT EMBEDDING MODEL '{name}')")
        db.executemany("INSERT INTO docs (text) VALUES (?)", [(t,) for t in texts])
        return db

    def rate(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return len(texts) / (time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        with galaxlite.Database(Path(tmp) / "w") as db:  # Lance's first write in the process
            db.execute("CREATE TABLE w (id INTEGER PRIMARY KEY)")
            db.create_training_snapshot("w")
        with fresh(Path(tmp) / "a") as db:
            embed_cold = rate(lambda: db.embed("docs", "text"))
            embed_warm = rate(lambda: db.embed("docs", "text"))
            export_warm = rate(lambda: db.create_training_snapshot("warm"))
        with fresh(Path(tmp) / "b") as db:
            export_cold = rate(lambda: db.create_training_snapshot("cold"))
    return embed_cold, embed_warm, export_cold, export_warm


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="texts per throughput run")
    ap.add_argument(
        "--embedders",
        default=",".join(available_embedders()),
        help="comma-separated embedder names",
    )
    ap.add_argument("--declared-n", type=int, default=1000, help="rows of the declared-column runs")
    args = ap.parse_args(argv)

    long_texts = sentences(args.n)
    shorts = short_texts(args.n)
    avg_words = statistics.mean(len(t.split()) for t in long_texts)
    print(f"{args.n} sentences of {avg_words:.1f} words on average; {args.n} six-word texts")
    print(f"load average before: {_loadavg()}  (numbers drop sharply on a busy machine)")
    header = (
        f"{'embedder':<10} {'dim':>5} {'load s':>7} {'sent/s':>9} {'sent/cpu-s':>11} "
        f"{'short/s':>9} {'single ms':>10}"
    )
    print(header)
    print("-" * len(header))
    for name in [n.strip() for n in args.embedders.split(",") if n.strip()]:
        t0 = time.perf_counter()
        try:
            emb = get_embedder(name)
        except EmbedderNotAvailableError as exc:
            print(f"{name:<10} not available: {exc}")
            continue
        load = time.perf_counter() - t0
        emb.embed(long_texts[:64])  # warm-up (caches, BLAS threads)
        sent_s, sent_cpu = throughput(emb.embed, long_texts)
        short_s, _ = throughput(emb.embed, shorts)
        single = single_latency_ms(emb.embed, long_texts[0])
        print(
            f"{name:<10} {emb.dim:>5} {load:>7.2f} {sent_s:>9,.0f} {sent_cpu:>11,.0f} "
            f"{short_s:>9,.0f} {single:>10.2f}"
        )
    texts = sentences(args.declared_n, seed=2)
    texts = [f"{t} ({i})" for i, t in enumerate(texts)]  # distinct: each one is embedded
    print(f"\ndeclared column (text TEXT EMBEDDING MODEL ...), {len(texts)} distinct sentences")
    header = (f"{'embedder':<10} {'embed/s cold':>13} {'embed/s cached':>15} "
              f"{'export/s cold':>14} {'export/s cached':>16}")
    print(header)
    print("-" * len(header))
    for name in [n.strip() for n in args.embedders.split(",") if n.strip()]:
        try:
            get_embedder(name)
        except EmbedderNotAvailableError:
            continue
        a, b, c, d = declared_path(name, texts)
        print(f"{name:<10} {a:>13,.0f} {b:>15,.0f} {c:>14,.0f} {d:>16,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""P9: SEMANTIC_MATCH over 100k cached rows (goal < 100 ms per query), and embedding throughput.

Usage:
    python benchmarks/bench_semantic.py [--rows 100000] [--quick] [--repeat 5] [--queries 30]
                                        [--no-minilm]

A versioned table ``docs(id, body)`` gets ``--rows`` generated sentences (about 13 words,
from bench_embed's generator), embedded with the ``hash`` embedder by ``db.embed`` (fast, so
100k rows take seconds). Then:

* P9 line: ``SELECT id FROM docs WHERE SEMANTIC_MATCH(body, ?, 0.6)``, a new query text
  each time (median over ``--queries``; the query text is embedded each time, the 100k
  candidate embeddings come from the in-memory cache). Baseline ("plain" column): bare
  numpy on the same matrix, ``np.flatnonzero(X @ q >= t)`` with q given — the arithmetic
  alone, no SQL, no rows returned.
* the same with the default model, MiniLM, embedding each query (a ``VECTOR(384)`` column of
  100k unit vectors stands for a MiniLM-embedded column: embedding 100k texts with MiniLM
  would take a quarter of an hour on 2 cores), unless ``--no-minilm``;
* for information: the same query again (its TEMP table is reused), ``ORDER BY
  SEMANTIC_SCORE(...) DESC LIMIT 10`` (every row needs a score), the query ``AT VERSION``
  a tag of the same rows (the past is matched by value, not by rowid), the first query after a
  one-row UPDATE (the cache is rebuilt, reusing the other 99,999 vectors), and the first
  query on a new connection (the vectors come from the file's cache table);
* embedding throughput of each built-in embedder (texts per second, 2,000 sentences), and of
  ``db.embed`` filling the file's cache with the hash embedder.

Not a test: it only prints.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402
from bench_embed import sentences, throughput  # noqa: E402

import galaxlite  # noqa: E402
from galaxlite.semantic.embedders import EmbedderNotAvailableError, get_embedder  # noqa: E402

GOAL_S = 0.100
THRESHOLD = 0.6
MATCH = "SELECT id FROM docs WHERE SEMANTIC_MATCH(body, ?, ?)"


def queries(n: int, seed: int = 99) -> list[str]:
    """``n`` new query texts (sentences the table does not hold)."""
    return [f"{s} (query {k})" for k, s in enumerate(sentences(n, seed=seed))]


def median_ms_per_call(fn, args: list, repeat: int = 1) -> tuple[float, list[int]]:
    """Median seconds of ``fn(a)`` over ``args`` (each ``repeat`` times); result sizes."""
    times, sizes = [], []
    for a in args:
        for _ in range(repeat):
            out = []
            times.append(C.timed(lambda a=a, out=out: out.append(fn(a))))
            sizes.append(len(out[0]))
    return statistics.median(times), sizes


def source_matrix(db: galaxlite.Database) -> np.ndarray:
    """The in-memory embedding matrix galaxlite scores against (for the numpy baseline)."""
    sources = list(db.session.semantic.cache.sources.values())
    return max(sources, key=lambda s: len(s.values)).matrix


def bench_hash(d: Path, n: int, nq: int) -> tuple[list[C.Line], list[str]]:
    db = galaxlite.Database(d / "hash.db", embedder="hash")
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    C.progress(f"inserting {n:,} sentences")
    db.bulk_insert("docs", [(s,) for s in sentences(n, seed=7)], columns=["body"])
    db.create_tag("v1")
    C.progress("db.embed('docs', 'body') with the hash embedder")
    t0 = time.perf_counter()
    computed = db.embed("docs", "body")
    embed_s = time.perf_counter() - t0
    qs = queries(nq)
    db.query(MATCH, ("warm-up query", THRESHOLD))
    C.progress(f"{nq} SEMANTIC_MATCH queries")
    ours, sizes = median_ms_per_call(lambda q: db.query(MATCH, (q, THRESHOLD)), qs)
    x = source_matrix(db)
    emb = get_embedder("hash")
    qvecs = emb.embed(qs)
    base, _ = median_ms_per_call(lambda i: np.flatnonzero(x @ qvecs[i] >= THRESHOLD), list(range(nq)))
    again, _ = median_ms_per_call(lambda q: db.query(MATCH, (q, THRESHOLD)), qs[:5], repeat=3)
    top = "SELECT id, SEMANTIC_SCORE(body, ?) AS s FROM docs ORDER BY s DESC LIMIT 10"
    topk, _ = median_ms_per_call(lambda q: db.query(top, (q,)), qs[:5])
    past_sql = MATCH.replace("FROM docs", "FROM docs AT VERSION 'v1'")
    db.query(past_sql, ("warm-up query", THRESHOLD))
    past, _ = median_ms_per_call(lambda q: db.query(past_sql, (q, THRESHOLD)), qs[:10])
    C.progress("one-row UPDATE, then a query")
    after = []
    for k, q in enumerate(qs[:5]):
        db.execute("UPDATE docs SET body = ? WHERE id = ?", (f"an edited sentence number {k}", k + 1))
        after.append(C.timed(lambda q=q: db.query(MATCH, (q, THRESHOLD))))
    db.close()
    C.progress("a new connection: first query")
    fresh = galaxlite.Database(d / "hash.db", embedder="hash")
    first = C.timed(lambda: fresh.query(MATCH, (qs[0], THRESHOLD)))
    fresh.close()
    rows = f"{n // 1000}k" if n >= 1000 else str(n)
    lines = [
        C.Line(f"P9 SEMANTIC_MATCH, {rows} cached rows (hash, 384-d), new query each time",
               ours, base, GOAL_S, absolute=True, unit="ms"),
        C.Line("  same query again (TEMP table reused)", again, base, unit="ms"),
        C.Line("  ORDER BY SEMANTIC_SCORE DESC LIMIT 10 (a score per row)", topk, base, unit="ms"),
        C.Line("  AT VERSION 'v1' (the past: rows matched by value in SQL)", past, base, unit="ms"),
        C.Line("  first query after a one-row UPDATE (cache rebuilt)", statistics.median(after),
               unit="ms"),
        C.Line("  first query on a new connection (vectors read from the file)", first, unit="ms"),
    ]
    notes = [
        f"Rows matched per query at threshold {THRESHOLD}: median {statistics.median(sizes):,.0f} "
        f"(min {min(sizes):,}, max {max(sizes):,}). Plain column: bare numpy "
        "np.flatnonzero(X @ q >= t) over the same in-memory matrix (q already embedded).",
        f"db.embed('docs', 'body'): {computed:,} texts in {embed_s:.1f} s "
        f"({computed / embed_s:,.0f} texts/s with the hash embedder, cache rows written).",
    ]
    return lines, notes


def bench_minilm(d: Path, n: int, nq: int) -> tuple[list[C.Line], list[str]]:
    try:
        emb = get_embedder("minilm")
    except EmbedderNotAvailableError as exc:
        return [], [f"MiniLM not measured: {exc}"]
    db = galaxlite.Database(d / "minilm.db")  # default embedder: minilm
    db.execute("CREATE TABLE vecs (id INTEGER PRIMARY KEY, emb VECTOR(384) NOT NULL)")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, emb.dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    C.progress(f"inserting {n:,} VECTOR(384) rows")
    db.bulk_insert("vecs", [(row,) for row in x], columns=["emb"])
    sql = "SELECT id FROM vecs WHERE SEMANTIC_MATCH(emb, ?, ?)"
    threshold = 0.2  # random unit vectors: cosines ~N(0, 1/384), 0.2 is ~4 sigma
    db.query(sql, ("warm-up query", threshold))
    qs = queries(nq, seed=123)
    C.progress(f"{nq} SEMANTIC_MATCH queries embedded by MiniLM")
    ours, _ = median_ms_per_call(lambda q: db.query(sql, (q, threshold)), qs)
    mat = source_matrix(db)
    qvecs = emb.embed(qs)
    base, _ = median_ms_per_call(lambda i: np.flatnonzero(mat @ qvecs[i] >= threshold), list(range(nq)))
    embed_one, _ = median_ms_per_call(lambda q: emb.embed([q + " again"]), qs[:10])
    db.close()
    rows = f"{n // 1000}k" if n >= 1000 else str(n)
    lines = [
        C.Line(f"P9 SEMANTIC_MATCH, {rows} rows VECTOR(384), query embedded by MiniLM",
               ours, base, GOAL_S, absolute=True, unit="ms"),
        C.Line("  of which: MiniLM embedding one query", embed_one, unit="ms"),
    ]
    return lines, []


def bench_throughput(n: int) -> tuple[list[C.Line], list[str]]:
    texts = sentences(n, seed=3)
    lines, notes = [], []
    for name in ("hash", "minilm"):
        try:
            emb = get_embedder(name)
        except EmbedderNotAvailableError as exc:
            notes.append(f"{name}: not available ({exc})")
            continue
        emb.embed(texts[:64])  # warm-up
        per_s, per_cpu_s = throughput(emb.embed, texts)
        lines.append(C.Line(f"embedding throughput, {name} ({emb.dim}-d), per text",
                            n / per_s, unit="µs", per=n))
        notes.append(f"{name}: {per_s:,.0f} texts/s ({per_cpu_s:,.0f} per CPU-second), "
                     f"{n:,} sentences of ~13 words.")
    return lines, notes


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0], default_rows=100_000)
    ap.add_argument("--queries", type=int, default=30, help="query texts timed per line")
    ap.add_argument("--no-minilm", action="store_true", help="skip the MiniLM lines")
    args = ap.parse_args(argv)
    n = C.rows_option(args)
    random.seed(0)
    print(C.environment())
    print(f"P9 semantic search: {n:,} rows, {args.queries} queries per line (median)")
    lines, notes = [], []
    with C.workdir(args.dir) as d:
        for part in (
            lambda: bench_hash(d, n, args.queries),
            (lambda: ([], [])) if args.no_minilm else (lambda: bench_minilm(d, n, args.queries)),
            lambda: bench_throughput(200 if args.quick else 2000),
        ):
            more_lines, more_notes = part()
            lines += more_lines
            notes += more_notes
    C.print_table(f"P9 — SEMANTIC_MATCH over {n:,} cached rows (goal < 100 ms per query)", lines, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

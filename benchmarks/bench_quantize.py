"""P8 and the size part of P7: sq8 and RaBitQ of 1 to 8 bits (galaxlite.exports.quantize) on real embeddings.

Usage:
    python benchmarks/bench_quantize.py [--rows 1000] [--queries 100] [--quick]
                                        [--embedder minilm|hash] [--seeds 8] [--no-cache]

Data: sentences of the docstrings of Python's standard library (6 to 20 words, deduplicated,
shuffled with a fixed seed; the same texts for a given Python version), embedded by galaxlite's
default embedder, all-MiniLM-L6-v2 (384-d, unit vectors). ``--rows`` sentences are the table,
``--queries`` other sentences the queries. Embedding is the slow part (MiniLM in numpy does
~25-100 sentences/s on 2 cores), so the vectors are cached in the temp folder, keyed by the
texts and the embedder; the first run of a size embeds, later runs reuse (``--no-cache``: never).
Without MiniLM installed, ``--embedder hash`` (lexical, not semantic) is used and said so.

Printed (float32 is the baseline, measured in the same run):
* bytes per vector (codes + per-vector factors; the per-column metadata is excluded and named),
  and the ratio to float32 (P7: sq8 ¼, rabitq ≤ 1/25);
* fit / encode / decode speed (vectors per second, median of ``--repeat``);
* inner products <x, q> for every (table row, query) pair: mean / p99 |error| and the mean
  signed error (bias) of sq8 (decoded vectors) and rabitq (the paper's estimator); rabitq's bias
  is also averaged over ``--seeds`` independent rotations, where the paper proves it is 0;
* coverage of the paper's error bound at ε0 = 1.9 and 3.0 (share of pairs inside it);
* recall@10 of the top 10 by estimate, and after re-ranking the top 40 / 100 candidates with
  the exact vectors (P8 goal ≥ 0.95); sq8 recall@10 and cos(x̂, x);
* a table of the RaBitQ widths ('rabitq', 'rabitq2' ... 'rabitq8'): bytes per vector, encode
  speed, recall@10 without re-ranking (goal ≥ 0.90 at 4 bits) and after re-ranking 40, mean
  |IP error|, cos between code and vector;
* a second table per decoder (sq8, rabitq norm / unbiased / mse): cos(x̂, x), relative L2
  error, |Δ<x̂, q>|, bias, and |Δcos| of random pairs with both sides decoded.

Not a test: it only prints.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

from galaxlite.exports import quantize as Q  # noqa: E402
from galaxlite.semantic.embedders import EmbedderNotAvailableError, get_embedder  # noqa: E402

SEED = 42
K = 10
RERANK = (40, 100)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


# ---------------------------------------------------------------------------- data


def docstring_sentences(count: int) -> list[str]:
    """``count`` distinct sentences (6-20 words, capitalised) from stdlib docstrings, shuffled
    with a fixed seed. Files are read in name order until there are enough."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py")
                   if not {"test", "tests", "idlelib", "site-packages"} & set(p.parts))
    found: set[str] = set()
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node) or ""
                for sentence in _SENTENCE_END.split(" ".join(doc.split())):
                    if 6 <= len(sentence.split()) <= 20 and sentence[:1].isupper():
                        found.add(sentence)
        if len(found) >= 1.25 * count:
            break
    texts = sorted(found)
    random.Random(SEED).shuffle(texts)
    if len(texts) < count:
        raise SystemExit(f"only {len(texts):,} docstring sentences here; ask for fewer rows")
    return texts[:count]


def embed(texts: list[str], name: str, cache: bool) -> tuple[np.ndarray, str, str]:
    """float32 unit vectors of ``texts``, the embedder used, and where they came from."""
    try:
        embedder = get_embedder(name)
    except EmbedderNotAvailableError as exc:
        C.progress(f"{name} is not installed ({exc}); using the hash embedder")
        embedder, name = get_embedder("hash"), "hash"
    key = hashlib.sha256("\n".join([name, *texts]).encode()).hexdigest()[:20]
    path = Path(tempfile.gettempdir()) / f"galaxlite-bench-quantize-{key}.npy"
    if cache and path.exists():
        return np.load(path), name, f"loaded from the cache {path}"
    C.progress(f"embedding {len(texts):,} sentences with {name} (cached for later runs)")
    start = time.perf_counter()
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    seconds = time.perf_counter() - start
    if cache:
        np.save(path, vectors)
    return vectors, name, f"embedded in {seconds:.0f} s ({len(texts) / seconds:.0f} sentences/s)"


# ---------------------------------------------------------------------------- measures


def seconds(fn: Callable[[], object], repeat: int) -> float:
    return C.median([C.timed(fn) for _ in range(repeat)])


def per_second(fn: Callable[[], object], count: int, repeat: int) -> float:
    return count / seconds(fn, repeat)


def error_stats(err: np.ndarray) -> tuple[float, float, float]:
    """mean |e|, p99 |e| and mean e (the bias)."""
    flat = err.ravel().astype(np.float64)
    return float(np.mean(np.abs(flat))), float(np.quantile(np.abs(flat), 0.99)), float(flat.mean())


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the k largest scores of each column, (k, m)."""
    k = min(k, scores.shape[0])
    return np.argpartition(-scores, k - 1, axis=0)[:k]


def recall(truth: np.ndarray, found: np.ndarray) -> float:
    hits = [len(set(truth[:, j]) & set(found[:, j])) for j in range(truth.shape[1])]
    return sum(hits) / truth.size


def reranked(candidates: np.ndarray, x: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The top k of each query's candidates by the exact inner product."""
    out = np.empty((k, candidates.shape[1]), dtype=np.int64)
    for j in range(candidates.shape[1]):
        exact = x[candidates[:, j]] @ queries[j]
        out[:, j] = candidates[np.argsort(-exact)[:k], j]
    return out


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)


def decoder_row(name: str, decoded: np.ndarray, x: np.ndarray, queries: np.ndarray,
                truth: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]) -> list[str]:
    i, j = pairs
    err = decoded.astype(np.float64) @ queries.T - truth
    rel = np.linalg.norm(decoded - x, axis=1) / np.maximum(np.linalg.norm(x, axis=1), 1e-30)
    sym = np.abs(cosine_rows(decoded[i], decoded[j]) - cosine_rows(x[i], x[j]))
    return [name, f"{cosine_rows(decoded, x).mean():.5f}", f"{rel.mean():.4f}",
            f"{np.abs(err).mean():.4f}", f"{err.mean():+.5f}", f"{sym.mean():.4f}"]


def markdown(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(r, widths, strict=True))) + " |"

    print(fmt(header))
    print("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    for r in rows:
        print(fmt(r))


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def extended_rabitq(x: np.ndarray, queries: np.ndarray, truth: np.ndarray, true_top: np.ndarray,
                    repeat: int) -> None:
    """P8 with the extended codes: 'rabitq' (1 bit) and 'rabitq2' ... 'rabitq8' side by side."""
    rows, d = x.shape
    table = []
    for bits in Q.RABITQ_BITS:
        precision = "rabitq" if bits == 1 else f"rabitq{bits}"
        C.progress(precision)
        model = Q.rabitq_fit(x, SEED, bits)
        codes = Q.rabitq_encode(model, x)
        size = Q.bytes_per_vector(precision, d)
        assert codes.codes.nbytes + codes.norm.nbytes + codes.ip.nbytes == rows * size
        est = Q.rabitq_estimate_ip(model, codes, queries).astype(np.float64)
        found = recall(true_top, top(est, K))
        mean_err, _, _ = error_stats(est - truth)
        cos = cosine_rows(Q.rabitq_decode(model, codes, "mse") - model.centroid, x - model.centroid)
        goal = "≥ 0.90" if bits == 4 else ""
        table.append([
            precision, str(size), f"1/{4 * d / size:.1f}",
            f"{per_second(lambda m=model: Q.rabitq_encode(m, x), rows, repeat):,.0f}/s",
            f"{found:.3f}", f"{recall(true_top, reranked(top(est, RERANK[0]), x, queries, K)):.3f}",
            f"{mean_err:.4f}", f"{cos.mean():.4f}", goal, verdict(found >= 0.90) if goal else "",
        ])
    print("\n### Extended RaBitQ: bits per dimension (estimates against float queries)\n")
    markdown(["precision", "B/vector", "size", "encode", "recall@10, no re-rank",
              f"recall@10, re-rank {RERANK[0]}", "mean abs IP error", "cos(ĝ, o)", "goal", "met?"], table)
    print("\ncos(ĝ, o): the cosine between each residual and its code's direction (the ip factor).")


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0], default_rows=1000)
    ap.add_argument("--queries", type=int, default=100, help="query sentences (not in the table)")
    ap.add_argument("--embedder", default="minilm", help="minilm (default) or hash")
    ap.add_argument("--seeds", type=int, default=8, help="rotations averaged for the bias line")
    ap.add_argument("--no-cache", action="store_true", help="always embed, never keep the vectors")
    ap.set_defaults(repeat=3)
    args = ap.parse_args(argv)
    rows = args.rows if args.rows is not None else 300 if args.quick else 1000
    nq = args.queries

    print(C.environment())
    texts = docstring_sentences(rows + nq)
    vectors, embedder, origin = embed(texts, args.embedder, not args.no_cache)
    x, queries = vectors[:rows], vectors[rows:]
    d = x.shape[1]
    truth = x.astype(np.float64) @ queries.T.astype(np.float64)  # (rows, queries)
    true_top = top(truth, K)
    print(f"\n{rows:,} table rows + {nq} queries, {d}-d {embedder} embeddings of stdlib docstring "
          f"sentences ({origin}); RaBitQ seed {SEED}")

    C.progress("sq8")
    params = Q.sq8_fit(x)
    sq8_codes = Q.sq8_encode(params, x)
    sq8_x = Q.sq8_decode(params, sq8_codes)
    sq8_err = sq8_x.astype(np.float64) @ queries.T - truth
    sq8_speed = (seconds(lambda: Q.sq8_fit(x), args.repeat),
                 per_second(lambda: Q.sq8_encode(params, x), rows, args.repeat),
                 per_second(lambda: Q.sq8_decode(params, sq8_codes), rows, args.repeat))

    C.progress("rabitq")
    model = Q.rabitq_fit(x, SEED)
    codes = Q.rabitq_encode(model, x)
    est = Q.rabitq_estimate_ip(model, codes, queries).astype(np.float64)
    rq_err = est - truth
    rq_speed = (seconds(lambda: Q.rabitq_fit(x, SEED), args.repeat),
                per_second(lambda: Q.rabitq_encode(model, x), rows, args.repeat),
                per_second(lambda: Q.rabitq_decode(model, codes), rows, args.repeat))
    estimate_speed = per_second(lambda: Q.rabitq_estimate_ip(model, codes, queries), rows * nq,
                                args.repeat)
    coverage = {eps: float(np.mean(np.abs(rq_err) <= Q.rabitq_error_bound(codes, queries, model, eps)))
                for eps in (1.9, 3.0)}
    seed_bias = []
    for seed in range(1000, 1000 + args.seeds):
        m = Q.rabitq_fit(x, seed)
        seed_bias.append(float(np.mean(Q.rabitq_estimate_ip(m, Q.rabitq_encode(m, x), queries) - truth)))
    bias_mean = statistics.fmean(seed_bias)
    bias_se = statistics.stdev(seed_bias) / np.sqrt(len(seed_bias)) if len(seed_bias) > 1 else float("nan")

    recall_sq8 = recall(true_top, top(sq8_x.astype(np.float64) @ queries.T, K))
    recall_rq = recall(true_top, top(est, K))
    recall_rr = {n: recall(true_top, reranked(top(est, n), x, queries, K)) for n in RERANK}

    sizes = {p: Q.bytes_per_vector(p, d) for p in Q.PRECISIONS}
    assert sq8_codes.nbytes == rows * sizes["sq8"]
    assert codes.codes.nbytes + codes.norm.nbytes + codes.ip.nbytes == rows * sizes["rabitq"]
    ratio = {p: sizes[p] / sizes["float32"] for p in Q.PRECISIONS}
    s_mean, s_p99, s_bias = error_stats(sq8_err)
    r_mean, r_p99, r_bias = error_stats(rq_err)
    cos_sq8 = cosine_rows(sq8_x, x)

    def speed(v: float) -> str:
        return f"{v:,.0f}/s"

    table = [
        ["bytes per vector (codes + per-vector factors)", str(sizes["float32"]), str(sizes["sq8"]),
         str(sizes["rabitq"]), "—", ""],
        ["size / float32", "1", f"{ratio['sq8']:.3f} (1/{1 / ratio['sq8']:.0f})",
         f"{ratio['rabitq']:.4f} (1/{1 / ratio['rabitq']:.1f})", "sq8 ¼, rabitq ≤ 1/25",
         verdict(ratio["sq8"] == 0.25 and ratio["rabitq"] <= 1 / 25)],
        ["fit (ms; rabitq: mostly the QR of the rotation)", "—", f"{sq8_speed[0] * 1e3:.1f}",
         f"{rq_speed[0] * 1e3:.1f}", "—", ""],
        ["encode (vectors/s)", "—", speed(sq8_speed[1]), speed(rq_speed[1]), "—", ""],
        ["decode (vectors/s)", "—", speed(sq8_speed[2]), speed(rq_speed[2]) + " (norm)", "—", ""],
        ["IP estimate (row·query pairs/s)", "—", "—", speed(estimate_speed), "—", ""],
        ["mean abs IP error", "0", f"{s_mean:.5f}", f"{r_mean:.4f}", "—", ""],
        ["p99 abs IP error", "0", f"{s_p99:.5f}", f"{r_p99:.4f}", "—", ""],
        [f"bias: mean signed IP error (one rotation, seed {SEED})", "0", f"{s_bias:+.6f}",
         f"{r_bias:+.5f}", "—", ""],
        [f"rabitq bias averaged over {args.seeds} rotations (± 1 s.e.)", "0", "—",
         f"{bias_mean:+.5f} (± {bias_se:.5f})", "|bias| < 3 s.e.",
         verdict(abs(bias_mean) < 3 * bias_se)],
        ["error-bound coverage, ε0 = 1.9", "—", "—", f"{coverage[1.9]:.4f}", "≈ 0.94 (≥ 0.93)",
         verdict(coverage[1.9] >= 0.93)],
        ["error-bound coverage, ε0 = 3.0", "—", "—", f"{coverage[3.0]:.4f}", "≥ 0.99",
         verdict(coverage[3.0] >= 0.99)],
        ["recall@10, estimates alone", "1", f"{recall_sq8:.3f}", f"{recall_rq:.3f}", "—", ""],
        *[[f"recall@10, exact re-rank of the top {n}", "1", "—", f"{recall_rr[n]:.3f}", "≥ 0.95",
           verdict(recall_rr[n] >= 0.95)] for n in RERANK],
        ["cos(x̂, x) mean / min", "1", f"{cos_sq8.mean():.6f} / {cos_sq8.min():.5f}", "see below",
         "sq8 ≥ 0.9999", verdict(cos_sq8.mean() >= 0.9999)],
    ]
    print("\n### P7 (size) and P8: vector quantization\n")
    markdown(["what", "float32", "sq8", "rabitq", "goal", "met?"], table)
    print(f"\nPer column, the export's metadata adds {2 * 4 * d:,} B (sq8 lo/hi) or {4 * d:,} B + "
          "a few numbers (rabitq centroid; the rotation is regenerated from the seed). "
          f"Recall: the true top {K} by exact inner product among {rows:,} rows; re-ranking the "
          f"top {RERANK[-1]} reads {RERANK[-1] / rows:.1%} of the table's vectors.")

    extended_rabitq(x, queries, truth, true_top, args.repeat)

    pair_rng = np.random.default_rng(7)
    pairs = (pair_rng.integers(0, rows, 20_000), pair_rng.integers(0, rows, 20_000))
    decoders = [decoder_row("sq8", sq8_x, x, queries, truth, pairs)] + [
        decoder_row(f"rabitq {mode}", Q.rabitq_decode(model, codes, mode), x, queries, truth, pairs)
        for mode in Q.RABITQ_MODES
    ]
    print("\n### Decoders (what a training job reading the export gets)\n")
    markdown(["decoder", "cos(x̂, x)", "rel L2 error", "mean abs Δ<x̂,q>", "bias", "pairs abs Δcos"],
             decoders)
    print(f"\nPairs: 20,000 random pairs of table rows, both decoded; rabitq's ⟨ō,o⟩ (ip) has mean "
          f"{codes.ip.mean():.4f}. rabitq 'unbiased' decoding gives the same inner products as "
          "the estimator.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

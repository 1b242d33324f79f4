"""galaxlite.exports.quantize: sq8 and 1-bit RaBitQ codes, their metadata, decoders and estimators.

Oracles: the formulas of the module docstring recomputed in float64, the RaBitQ paper's
statistical claims (unbiasedness over random rotations, the error bound's coverage), and
the JSON metadata read back in a fresh interpreter.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import galaxlite
from galaxlite.exports import quantize as Q
from galaxlite.semantic.embedders import HashEmbedder

ROOT = Path(__file__).resolve().parents[1]


def embedding_like(n: int, d: int = 384, seed: int = 0) -> np.ndarray:
    """Unit vectors with the structure of sentence embeddings: a shared mean direction, a
    low-rank topic part and noise (isotropic data would be the easy case for sq8 ranges)."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((16, d))
    x = rng.standard_normal((n, 16)) @ topics * 0.3 + rng.standard_normal((n, d)) + 2.0 * rng.standard_normal(d)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def docs_vectors() -> np.ndarray:
    """Real text (the demo fixture's 200 sentences) embedded by the hash embedder."""
    with open(ROOT / "fixtures" / "demo" / "docs.csv", newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    return HashEmbedder().embed(texts).astype(np.float32)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return np.sum(a64 * b64, axis=1) / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1))


def json_round_trip(meta: dict) -> dict:
    return json.loads(json.dumps(meta, sort_keys=True))


# ---------------------------------------------------------------------------- sq8


@pytest.mark.parametrize("data", ["embedding_like", "docs"])
def test_sq8_round_trip_keeps_cosine(data, docs_vectors):
    x = embedding_like(2000) if data == "embedding_like" else docs_vectors
    params = Q.sq8_fit(x)
    codes = Q.sq8_encode(params, x)
    assert codes.dtype == np.uint8 and codes.shape == x.shape
    decoded = Q.sq8_decode(params, codes)
    assert decoded.dtype == np.float32 and decoded.shape == x.shape
    cos = cosines(decoded, x)
    assert cos.mean() >= 0.9999 and cos.min() >= 0.999


def test_sq8_follows_the_faiss_qt8bit_formula():
    x = embedding_like(500, d=64, seed=3)
    params = Q.sq8_fit(x)
    lo, hi = x.min(axis=0).astype(np.float64), x.max(axis=0).astype(np.float64)
    assert np.array_equal(params.lo, x.min(axis=0)) and np.array_equal(params.hi, x.max(axis=0))
    oracle = np.floor(np.clip((x - lo) / (hi - lo), 0, 1) * 255)
    codes = Q.sq8_encode(params, x).astype(np.int64)
    # float32 arithmetic may land a value on the other side of a bucket edge, never further
    assert np.abs(codes - oracle).max() <= 1
    assert np.mean(codes != oracle) < 1e-3
    # the minimum of each dimension is code 0, the maximum code 255 (floor convention)
    assert (codes.min(axis=0) == 0).all() and (codes.max(axis=0) >= 254).all()
    centre = lo + (codes + 0.5) * (hi - lo) / 255
    np.testing.assert_allclose(Q.sq8_decode(params, codes.astype(np.uint8)), centre, rtol=0, atol=1e-6)


def test_sq8_decode_error_is_at_most_half_a_step():
    x = embedding_like(1000, d=48, seed=4)
    params = Q.sq8_fit(x)
    err = np.abs(Q.sq8_decode(params, Q.sq8_encode(params, x)) - x)
    step = params.step()
    assert (err <= step / 2 * (1 + 1e-4) + 1e-7).all()
    assert err.max() > step.max() / 4  # the bound is attained up to a factor, not vacuous


def test_sq8_clamps_values_outside_the_fitted_range():
    params = Q.Sq8Params(np.array([0.0, -1.0], np.float32), np.array([1.0, 1.0], np.float32))
    x = np.array([[-5.0, -1.5], [7.0, 2.0], [0.5, 0.0]], np.float32)
    codes = Q.sq8_encode(params, x)
    assert codes.tolist() == [[0, 0], [255, 255], [127, 127]]
    decoded = Q.sq8_decode(params, codes)
    np.testing.assert_allclose(decoded[0], [0.5 / 255, -1 + 1 / 255], rtol=1e-6)
    np.testing.assert_allclose(decoded[1], [255.5 / 255, -1 + 2 * 255.5 / 255], rtol=1e-6)


@pytest.mark.filterwarnings("error")
def test_sq8_constant_dimensions_and_huge_values():
    x = np.array([[3.0, 1.0, 0.0], [3.0, 2.0, 0.0], [3.0, 1.5, 0.0]], np.float32)
    params = Q.sq8_fit(x)
    codes = Q.sq8_encode(params, x)
    assert (codes[:, 0] == 0).all() and (codes[:, 2] == 0).all()
    decoded = Q.sq8_decode(params, codes)
    assert (decoded[:, 0] == 3.0).all() and (decoded[:, 2] == 0.0).all()
    far = Q.Sq8Params(np.array([-3e38, -1, -3e38], np.float32), np.array([-3e38, 1, 3e38], np.float32))
    huge = np.array([[3e38, 3e38, 3e38], [-3e38, -3e38, -3e38]], np.float32)  # x - lo = inf
    assert Q.sq8_encode(far, huge).tolist() == [[0, 255, 255], [0, 0, 0]]
    assert np.isfinite(Q.sq8_decode(far, Q.sq8_encode(far, huge))).all()


@pytest.mark.filterwarnings("error")
def test_sq8_empty_input():
    params = Q.sq8_fit(np.zeros((0, 5), np.float32))
    assert params.dim == 5 and not params.lo.any() and not params.hi.any()
    assert Q.sq8_encode(params, np.zeros((0, 5), np.float32)).shape == (0, 5)
    decoded = Q.sq8_decode(params, np.zeros((0, 5), np.uint8))
    assert decoded.shape == (0, 5) and decoded.dtype == np.float32
    # a later vector clamps into the single bucket: decodes to 0, still finite
    assert Q.sq8_decode(params, Q.sq8_encode(params, np.ones((1, 5)))).tolist() == [[0.0] * 5]
    assert Q.Sq8Params.from_metadata(json_round_trip(params.to_metadata())) == params


def test_sq8_metadata_round_trip_and_determinism(docs_vectors):
    params = Q.sq8_fit(docs_vectors)
    meta = json_round_trip(params.to_metadata())
    assert meta["dim"] == docs_vectors.shape[1] and meta["bounds"] == "per-dimension"
    back = Q.Sq8Params.from_metadata(meta)
    assert back == params and back.lo.dtype == np.float32
    again = Q.sq8_fit(docs_vectors.copy())
    assert json.dumps(again.to_metadata(), sort_keys=True) == json.dumps(meta, sort_keys=True)
    assert Q.sq8_encode(again, docs_vectors).tobytes() == Q.sq8_encode(back, docs_vectors).tobytes()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"algorithm": "sq4"}, "'algorithm'"),
        ({"convention": "round"}, "'convention'"),
        ({"dim": 4}, "'lo' holds"),
        ({"dim": 0}, "at least 1"),
        ({"dim": "3"}, "wrong type"),
        ({"lo": "***"}, "not base64"),
        ({"hi": None}, "wrong type"),
    ],
)
def test_sq8_from_metadata_rejects_bad_metadata(change, message):
    meta = Q.sq8_fit(np.eye(3, dtype=np.float32)).to_metadata()
    with pytest.raises(galaxlite.DataError, match=message):
        Q.Sq8Params.from_metadata({**meta, **change})
    with pytest.raises(galaxlite.DataError, match="no 'hi'"):
        Q.Sq8Params.from_metadata({k: v for k, v in meta.items() if k != "hi"})
    with pytest.raises(galaxlite.DataError, match="JSON object"):
        Q.Sq8Params.from_metadata([meta])
    swapped = {**meta, "lo": meta["hi"], "hi": meta["lo"]}
    with pytest.raises(galaxlite.DataError, match="hi < lo"):
        Q.Sq8Params.from_metadata(swapped)


# ---------------------------------------------------------------------------- rabitq


def test_rotation_is_the_sign_fixed_qr_of_the_seeded_gaussian():
    rotation = Q.rabitq_rotation(20, 5)
    assert rotation.dtype == np.float32 and rotation.shape == (20, 20)
    q, r = np.linalg.qr(np.random.default_rng([5, 1]).standard_normal((20, 20)))
    np.testing.assert_array_equal(rotation, (q * np.sign(np.diag(r))).astype(np.float32))
    np.testing.assert_allclose(rotation.T.astype(np.float64) @ rotation, np.eye(20), atol=1e-6)
    assert np.array_equal(Q.rabitq_rotation(20, 5), rotation)
    assert not np.allclose(Q.rabitq_rotation(20, 6), rotation, atol=0.1)


def test_rabitq_codes_match_a_float64_oracle():
    x = embedding_like(300, d=37, seed=7)
    model = Q.rabitq_fit(x, seed=11)
    np.testing.assert_allclose(model.centroid, x.astype(np.float64).mean(axis=0), atol=1e-7)
    codes = Q.rabitq_encode(model, x)
    assert codes.codes.shape == (300, 5) and model.code_bytes == 5
    r = x.astype(np.float64) - model.centroid
    rotated = r @ model.rotation.astype(np.float64)  # P^T r as rows
    norm = np.linalg.norm(r, axis=1)
    oracle_bits = rotated > 0
    bits = np.unpackbits(codes.codes, axis=1, count=37, bitorder="little").astype(bool)
    near_zero = np.abs(rotated) < 1e-5 * norm[:, None]
    assert (bits == oracle_bits)[~near_zero].all()
    np.testing.assert_allclose(codes.norm, norm, rtol=1e-5)
    np.testing.assert_allclose(codes.ip, np.abs(rotated).sum(axis=1) / (norm * math.sqrt(37)), rtol=1e-5)
    # the padding bits of the last byte stay zero (37 = 4·8 + 5)
    assert not (codes.codes[:, 4] >> 5).any()


def test_rabitq_decoders_keep_what_they_promise():
    x = embedding_like(400, d=64, seed=8)
    model = Q.rabitq_fit(x, seed=1)
    codes = Q.rabitq_encode(model, x)
    r = x.astype(np.float64) - model.centroid
    lengths = {"norm": codes.norm, "unbiased": codes.norm / codes.ip, "mse": codes.norm * codes.ip}
    for mode, length in lengths.items():
        decoded = Q.rabitq_decode(model, codes, mode)
        assert decoded.dtype == np.float32 and decoded.shape == x.shape
        residual = decoded.astype(np.float64) - model.centroid
        np.testing.assert_allclose(np.linalg.norm(residual, axis=1), length, rtol=1e-4)
        # every mode points along ō, whose cosine to the true residual is ip = <ō, o>
        np.testing.assert_allclose(cosines(residual, r), codes.ip, atol=1e-4)
    assert Q.rabitq_decode(model, codes).tobytes() == Q.rabitq_decode(model, codes, "norm").tobytes()
    q = embedding_like(5, d=64, seed=9)
    unbiased = Q.rabitq_decode(model, codes, "unbiased")
    np.testing.assert_allclose(Q.rabitq_estimate_ip(model, codes, q), unbiased @ q.T, atol=1e-4)


def test_unknown_decode_mode_is_a_value_error():
    model = Q.rabitq_fit(np.eye(4, dtype=np.float32), 0)
    codes = Q.rabitq_encode(model, np.eye(4, dtype=np.float32))
    with pytest.raises(galaxlite.QuantizationModeError, match="'exact'.*norm, unbiased, mse"):
        Q.rabitq_decode(model, codes, "exact")
    with pytest.raises(ValueError):
        Q.rabitq_decode(model, codes, "NORM")
    with pytest.raises(galaxlite.ProgrammingError, match="'int4'"):
        Q.bytes_per_vector("int4", 4)


def test_rabitq_estimator_is_unbiased_over_random_rotations():
    """The paper's Theorem 3.2: E_P[<ō,q>/<ō,o>] = <o,q>. One sample per seed (the mean error
    over a few rows), so the samples are independent and a z-test applies; 5σ ⇒ a false alarm
    has probability < 1e-6. The same test must reject the naive (biased) estimate <ō,q>."""
    x = embedding_like(60, d=24, seed=12)
    q = x[:8] + 0.1 * embedding_like(8, d=24, seed=13)  # close to the rows: large <o, q>
    rows = np.arange(8)
    truth = np.einsum("ij,ij->i", x[:8].astype(np.float64), q)
    unbiased, naive = [], []
    for seed in range(1500):
        model = Q.rabitq_fit(x, seed)
        codes = Q.rabitq_encode(model, x[:8])
        est = np.array([Q.rabitq_estimate_ip(model, codes, q[i])[i] for i in rows], np.float64)
        unbiased.append(np.mean(est - truth))
        plain = np.einsum("ij,ij->i", Q.rabitq_decode(model, codes, "norm").astype(np.float64), q)
        naive.append(np.mean(plain - truth))

    def z(samples: list[float]) -> float:
        s = np.asarray(samples)
        return abs(s.mean()) / (s.std(ddof=1) / math.sqrt(len(s)))

    assert z(unbiased) < 5
    assert z(naive) > 5


def test_error_bound_coverage_matches_the_paper():
    x = embedding_like(3000, d=384, seed=14)
    queries = embedding_like(40, d=384, seed=15)
    model = Q.rabitq_fit(x, seed=42)
    codes = Q.rabitq_encode(model, x)
    err = np.abs(Q.rabitq_estimate_ip(model, codes, queries) - x @ queries.T)
    coverage = {
        eps0: float(np.mean(err <= Q.rabitq_error_bound(codes, queries, model, eps0)))
        for eps0 in (1.0, 1.9, 3.0)
    }
    assert coverage[1.9] >= 0.90
    assert coverage[3.0] >= 0.99
    assert coverage[1.0] < 0.85  # a bound that is not vacuous: ≈ 68 % at one sigma
    bound = Q.rabitq_error_bound(codes, queries[0], model)
    assert bound.shape == (3000,) and bound.dtype == np.float32
    np.testing.assert_allclose(bound, Q.rabitq_error_bound(codes, queries, model)[:, 0])


@pytest.mark.filterwarnings("error")
def test_rabitq_zero_residuals_and_empty_input():
    x = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [2.0, 2.0, 2.0], [0.0, 0.0, 0.0]], np.float32)
    model = Q.rabitq_fit(x[:2], seed=3)  # centroid (2, 2, 2): row 2 equals it
    codes = Q.rabitq_encode(model, x)
    assert not codes.codes[2].any() and codes.norm[2] == 0 and codes.ip[2] == 1
    for mode in Q.RABITQ_MODES:
        decoded = Q.rabitq_decode(model, codes, mode)
        assert np.isfinite(decoded).all() and decoded[2].tolist() == [2.0, 2.0, 2.0]
    q = np.array([1.0, -1.0, 0.5], np.float32)
    assert Q.rabitq_estimate_ip(model, codes, q)[2] == pytest.approx(1.0)  # <c, q>
    assert Q.rabitq_error_bound(codes, q, model)[2] == 0

    zero_model = Q.rabitq_fit(np.zeros((5, 3), np.float32), seed=0)
    zero_codes = Q.rabitq_encode(zero_model, np.zeros((5, 3), np.float32))
    assert not zero_codes.codes.any() and not zero_codes.norm.any()
    assert not Q.rabitq_decode(zero_model, zero_codes, "unbiased").any()

    empty = Q.rabitq_fit(np.zeros((0, 3), np.float32), seed=9)
    assert empty.centroid.tolist() == [0.0, 0.0, 0.0]
    none = Q.rabitq_encode(empty, np.zeros((0, 3), np.float32))
    assert none.codes.shape == (0, 1) and len(none) == 0
    assert Q.rabitq_decode(empty, none).shape == (0, 3)
    assert Q.rabitq_estimate_ip(empty, none, q).shape == (0,)
    assert Q.rabitq_error_bound(none, q, empty).shape == (0,)
    assert Q.RabitqModel.from_metadata(json_round_trip(empty.to_metadata())) == empty


def test_rabitq_one_dimension_is_exact():
    x = np.array([[1.0], [-2.5], [4.0]], np.float32)
    model = Q.rabitq_fit(x, seed=2)
    assert model.code_bytes == 1
    codes = Q.rabitq_encode(model, x)
    assert (codes.ip == 1).all()
    for mode in Q.RABITQ_MODES:
        np.testing.assert_allclose(Q.rabitq_decode(model, codes, mode), x, rtol=1e-6)
    np.testing.assert_allclose(Q.rabitq_estimate_ip(model, codes, np.array([2.0])), 2 * x[:, 0], rtol=1e-6)
    assert not Q.rabitq_error_bound(codes, np.array([2.0]), model).any()


@pytest.mark.filterwarnings("error")
def test_rabitq_tiny_and_huge_vectors():
    tiny = np.array([[1e-40, 0.0], [0.0, -1e-40]], np.float32)  # subnormal
    model = Q.rabitq_fit(np.zeros((1, 2), np.float32), seed=0)
    codes = Q.rabitq_encode(model, tiny)
    assert np.isfinite(Q.rabitq_decode(model, codes, "unbiased")).all()
    with pytest.raises(galaxlite.DataError, match="too large"):
        Q.rabitq_encode(model, np.array([[3e38, 3e38]], np.float32))


def test_rabitq_metadata_round_trip_regenerates_the_rotation():
    x = embedding_like(200, d=50, seed=16)
    model = Q.rabitq_fit(x, seed=123)
    meta = json_round_trip(model.to_metadata())
    assert meta["bits"] == 1 and meta["seed"] == 123 and meta["dim"] == 50
    assert "rotation_check" in meta and len(json.dumps(meta)) < 2000  # the matrix is not in it
    back = Q.RabitqModel.from_metadata(meta)
    assert back == model
    assert Q.rabitq_encode(back, x) == Q.rabitq_encode(model, x)
    # tolerance: a rotation that differs only by rounding still passes
    nudged = {**meta, "rotation_check": [f + 1e-6 for f in meta["rotation_check"]]}
    assert Q.RabitqModel.from_metadata(nudged) == model


@pytest.mark.parametrize(
    "change, message",
    [
        ({"seed": 124}, "rotation check failed.*seed 124"),
        ({"rotation_check": "x"}, "wrong type"),
        ({"rotation_check": [0.0] * 3}, "8 numbers"),
        ({"algorithm": "rabitq-4bit"}, "'algorithm'"),
        ({"bits": 4}, "'bits' is 4"),
        ({"dim": 51}, "'centroid' holds 200 bytes, expected 204"),
        ({"seed": -1}, "non-negative"),
        ({"seed": 1.5}, "wrong type"),
        ({"centroid": "@@"}, "not base64"),
    ],
)
def test_rabitq_from_metadata_rejects_a_wrong_rotation_or_bad_metadata(change, message):
    meta = json_round_trip(Q.rabitq_fit(embedding_like(20, d=50, seed=17), seed=123).to_metadata())
    with pytest.raises(galaxlite.DataError, match=message):
        Q.RabitqModel.from_metadata({**meta, **change})


def test_rabitq_from_metadata_rejects_a_rotation_check_off_by_more_than_the_tolerance():
    meta = json_round_trip(Q.rabitq_fit(embedding_like(20, d=50, seed=17), seed=123).to_metadata())
    off = list(meta["rotation_check"])
    off[5] += 1e-3
    with pytest.raises(galaxlite.DataError, match="rotation check failed"):
        Q.RabitqModel.from_metadata({**meta, "rotation_check": off})
    # the same dimension and centroid with another dimension's check (a swapped file) fails too
    other = json_round_trip(Q.rabitq_fit(embedding_like(20, d=50, seed=17), seed=7).to_metadata())
    with pytest.raises(galaxlite.DataError, match="rotation check failed"):
        Q.RabitqModel.from_metadata({**meta, "rotation_check": other["rotation_check"]})


_FINGERPRINT = """
import hashlib, json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from galaxlite.exports import quantize as Q
rng = np.random.default_rng(0)
x = rng.standard_normal((2000, 96)).astype(np.float32)
h = hashlib.sha256()
model = Q.rabitq_fit(x, seed=77)
codes = Q.rabitq_encode(model, x)
params = Q.sq8_fit(x)
for part in (codes.codes, codes.norm, codes.ip, Q.sq8_encode(params, x)):
    h.update(part.tobytes())
for meta in (model.to_metadata(), params.to_metadata()):
    h.update(json.dumps(meta, sort_keys=True).encode())
print(h.hexdigest())
"""


def test_codes_and_metadata_are_byte_identical_across_processes_and_blas_threads():
    """The export's content hash depends on it: fresh interpreters with one BLAS thread and
    with two produce the same bytes."""
    digests = set()
    for threads in ("1", "2"):
        env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
        env.update(OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        out = subprocess.run(
            [sys.executable, "-c", _FINGERPRINT, str(ROOT)], capture_output=True, text=True,
            env=env, check=True,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64


# ---------------------------------------------------------------------------- validation


@pytest.mark.filterwarnings("error")
def test_bad_inputs_raise_data_errors():
    model = Q.rabitq_fit(np.eye(4, dtype=np.float32), 0)
    params = Q.sq8_fit(np.eye(4, dtype=np.float32))
    with pytest.raises(galaxlite.DataError, match="2-D"):
        Q.sq8_fit(np.ones(4, np.float32))
    with pytest.raises(galaxlite.DataError, match="row 1 holds NaN, infinity or a number too large"):
        Q.rabitq_encode(model, np.array([[0, 0, 0, 0], [0, np.nan, 0, 0]], np.float32))
    with pytest.raises(galaxlite.DataError, match="row 0 holds NaN, infinity or a number too large"):
        Q.sq8_fit(np.array([[1e300]]))
    with pytest.raises(galaxlite.DataError, match="3 dimensions, the quantizer was fitted on 4"):
        Q.sq8_encode(params, np.ones((2, 3), np.float32))
    with pytest.raises(galaxlite.DataError, match="real numbers"):
        Q.sq8_fit(np.array([["a", "b"]]))
    with pytest.raises(galaxlite.DataError, match="uint8"):
        Q.sq8_decode(params, np.ones((2, 4), np.int64))
    with pytest.raises(galaxlite.DataError, match="non-negative integer"):
        Q.rabitq_fit(np.eye(4, dtype=np.float32), -1)
    with pytest.raises(galaxlite.DataError, match="non-negative integer"):
        Q.rabitq_fit(np.eye(4, dtype=np.float32), True)
    with pytest.raises(galaxlite.DataError, match="at least one dimension"):
        Q.rabitq_fit(np.zeros((3, 0), np.float32), 0)
    with pytest.raises(galaxlite.DataError, match="1 bytes per vector, a 9-d 1-bit model uses 2"):
        Q.rabitq_decode(Q.rabitq_fit(np.eye(9, dtype=np.float32), 0), Q.rabitq_encode(model, np.eye(4)))
    with pytest.raises(galaxlite.DataError, match="shape"):
        Q.RabitqCodes(np.zeros((3, 1), np.uint8), np.zeros(2, np.float32), np.ones(3, np.float32))
    with pytest.raises(galaxlite.DataError, match=r"\(0, 1\]"):
        Q.RabitqCodes(np.zeros((1, 1), np.uint8), np.zeros(1, np.float32), np.zeros(1, np.float32))
    with pytest.raises(galaxlite.DataError, match="query has 3 dimensions"):
        Q.rabitq_estimate_ip(model, Q.rabitq_encode(model, np.eye(4)), np.ones(3))
    with pytest.raises(galaxlite.DataError, match="eps0"):
        Q.rabitq_error_bound(Q.rabitq_encode(model, np.eye(4)), np.ones(4), model, eps0=-1)


def test_dataclasses_are_frozen_and_read_only():
    model = Q.rabitq_fit(np.eye(4, dtype=np.float32), 0)
    with pytest.raises(AttributeError):
        model.seed = 1  # type: ignore[misc]
    with pytest.raises(ValueError):
        model.centroid[0] = 1.0
    source = np.eye(4, dtype=np.float32)
    params = Q.sq8_fit(source)
    source[:] = 9  # the parameters hold their own copy
    assert params.hi.tolist() == [1.0] * 4


def test_bytes_per_vector_meet_the_size_goals():
    assert Q.bytes_per_vector("float32", 384) == 1536
    assert Q.bytes_per_vector("sq8", 384) * 4 == Q.bytes_per_vector("float32", 384)
    assert Q.bytes_per_vector("rabitq", 384) == 48 + 8
    assert Q.bytes_per_vector("rabitq", 384) * 25 <= Q.bytes_per_vector("float32", 384)
    model = Q.rabitq_fit(embedding_like(10, d=384), 0)
    codes = Q.rabitq_encode(model, embedding_like(10, d=384))
    stored = codes.codes.nbytes + codes.norm.nbytes + codes.ip.nbytes
    assert stored == 10 * Q.bytes_per_vector("rabitq", 384)


# ---------------------------------------------------------------------------- properties

_shapes = st.tuples(st.integers(0, 24), st.integers(1, 40))
_finite = st.floats(-1e4, 1e4, width=32, allow_subnormal=True)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_property_sq8_shapes_and_half_step_error(data):
    n, d = data.draw(_shapes)
    x = data.draw(hnp.arrays(np.float32, (n, d), elements=_finite))
    params = Q.sq8_fit(x)
    codes = Q.sq8_encode(params, x)
    assert codes.dtype == np.uint8 and codes.shape == (n, d)
    decoded = Q.sq8_decode(params, codes)
    assert decoded.dtype == np.float32 and decoded.shape == (n, d)
    if n:
        span = params.hi.astype(np.float64) - params.lo
        tolerance = span * 1e-5 + np.abs(params.lo) * 1e-6 + 1e-30
        assert (np.abs(decoded.astype(np.float64) - x) <= span / 510 + tolerance).all()
        assert (decoded >= params.lo).all()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_property_rabitq_shapes_and_factors(data):
    n, d = data.draw(_shapes)
    x = data.draw(hnp.arrays(np.float32, (n, d), elements=_finite))
    seed = data.draw(st.integers(0, 2**32))
    model = Q.rabitq_fit(x, seed)
    codes = Q.rabitq_encode(model, x)
    assert codes.codes.shape == (n, (d + 7) // 8) and codes.codes.dtype == np.uint8
    assert codes.norm.dtype == np.float32 and codes.ip.dtype == np.float32
    assert ((codes.ip >= np.float32(1 / math.sqrt(d)) * (1 - 1e-6)) & (codes.ip <= 1)).all()
    for mode in Q.RABITQ_MODES:
        decoded = Q.rabitq_decode(model, codes, mode)
        assert decoded.dtype == np.float32 and decoded.shape == (n, d)
        assert np.isfinite(decoded).all()
    q = data.draw(hnp.arrays(np.float32, (d,), elements=_finite))
    est = Q.rabitq_estimate_ip(model, codes, q)
    assert est.shape == (n,) and np.isfinite(est).all()
    assert (Q.rabitq_error_bound(codes, q, model, 3.0) >= 0).all()
    assert Q.RabitqModel.from_metadata(json_round_trip(model.to_metadata())) == model


_bits = st.sampled_from([1.0, -1.0, 0.5, 3.0, 2.0**-23, 2.0**-24, -(2.0**-24), 2.0**-25, 2.0**-60])


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_property_settled_matmul_ignores_the_summation_order(data):
    """Any BLAS sums in some order, at most (d-1)·u·Σ|a_ij b_jk| from the exact dot product.
    Whatever float64 matmul returns within that, the float32 result has the same bits. The
    entries favour powers of two, whose exact dot products sit on float32 rounding midpoints."""
    n, d, k = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 12)), data.draw(st.integers(1, 4))
    element = _bits | st.floats(-4, 4, width=32)
    a = data.draw(hnp.arrays(np.float32, (n, d), elements=element))
    b = data.draw(hnp.arrays(np.float32, (d, k), elements=element))
    exact = [[sum(Fraction(float(a[i, j])) * Fraction(float(b[j, c])) for j in range(d))
              for c in range(k)] for i in range(n)]
    worst = (d - 1) * 2.0**-53 * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)))
    results = set()
    for shift in (-1.0, -0.5, 0.0, 0.5, 1.0):
        def product(a64, b64, shift=shift):
            near = np.array([[float(t) for t in row] for row in exact])
            return near + shift * worst * (1 - 1e-9)

        results.add(Q.settled_matmul(a, b, product).tobytes())
    results.add(Q.settled_matmul(a, b).tobytes())
    assert len(results) == 1
    # and it is the float32 rounding of the exact product, up to the double rounding of ties
    # (relative 2^-24 each, plus half the smallest subnormal)
    got = np.frombuffer(results.pop(), dtype=np.float32).reshape(n, k)
    for i in range(n):
        for c in range(k):
            slack = abs(exact[i][c]) * Fraction(2**-23) + Fraction(worst[i, c]) + Fraction(2**-149)
            assert abs(Fraction(float(got[i, c])) - exact[i][c]) <= slack

"""Vector quantization for training exports: ``float32``, ``sq8`` and 1-bit ``rabitq``.

Pure numpy. Every function takes float32 matrices ``(n, d)`` (other real dtypes are
converted; NaN/inf or a wrong shape raise :class:`galaxlite.errors.DataError`), and ``n`` may
be 0 (fitting then gives zero bounds / a zero centroid). Measured numbers below: 10,000 MiniLM
embeddings (384-d, unit norm) of stdlib docstring sentences, 200 other sentences as queries
(``benchmarks/bench_quantize.py --rows 10000 --queries 200``).

**sq8** (Faiss ``QT_8bit``: per-dimension ``[lo, hi]``, floor encode, bucket-centre decode)::

    step = (hi - lo) / 255
    code = floor(clip((x - lo) / step, 0, 255))          # uint8, out-of-range values clamp
    x̂    = lo + (code + 0.5) * step                       # sq8_decode

A constant dimension (``lo == hi``) has step 0: every code is 0 and decodes to ``lo``. For data
inside ``[lo, hi]`` the error is at most ``step / 2`` per dimension (RMS ≈ step/√12).
Measured: mean cos(x̂, x) 0.99997, relative L2 error 0.008, mean |Δ<x, q>| 0.0003 (p99 0.0011),
recall@10 0.996 without re-ranking. 1 byte per dimension (¼ of float32).

**rabitq** (1-bit RaBitQ, Gao & Long, SIGMOD 2024). With the centroid ``c`` (mean of the fitted
vectors), a Haar-random orthogonal ``P`` regenerated from the seed (:func:`rabitq_rotation`),
``r = x - c`` and ``o = r / ||r||``::

    o'   = P^T o                                          # the rotated unit residual
    bits = o' > 0                                          # d bits, np.packbits(bitorder="little")
    norm = ||r||                                           # float32 per vector
    ip   = <ō, o> = sum|o'_i| / √d                          # float32 per vector, ≈ 0.80
    ĝ    = P (2·bits - 1) / √d                              # the unit code direction ō

Stored per 384-d vector: 48 code bytes + 2 float32 = 56 B (1/27.4 of float32). A zero residual
(a vector equal to the centroid) gets all-zero bits, ``norm = 0``, ``ip = 1`` and decodes to
``c``. Decoders (:func:`rabitq_decode`), ``x̂ = c + r̂`` with:

* ``"norm"`` (default): ``r̂ = norm · ĝ``, keeps the length of ``r``; its direction is off by
  acos(ip) ≈ 37°. Measured: cos(x̂, x) 0.818, relative L2 error 0.60, mean |Δ<x̂, q>| 0.028,
  and |Δcos| of random pairs with both sides decoded 0.041 (the best of the three).
* ``"unbiased"``: ``r̂ = norm / ip · ĝ``, so ``<x̂, q>`` is an unbiased estimate of ``<x, q>``
  for a fixed ``q`` (over the random rotation; it equals :func:`rabitq_estimate_ip`); the
  length of ``r`` is inflated by 1/ip ≈ 1.25. Measured: cos 0.813, relative L2 0.72, mean
  |Δ<x̂, q>| 0.029 (p99 0.094), bias averaged over 8 rotations -0.0001 ± 0.0001; pairs 0.048.
* ``"mse"``: ``r̂ = norm · ip · ĝ``, the least-squares reconstruction (shrinks the length).
  Measured: cos 0.820, relative L2 0.57 (the lowest), mean |Δ<x̂, q>| 0.035; pairs 0.058.

:func:`rabitq_estimate_ip` is the paper's unbiased estimator against a float query,
``<c, q> + norm · <ĝ, q> / ip``, and :func:`rabitq_error_bound` its per-row bound
``norm·||q||·sqrt((1-ip²)/ip²)·ε0/√(d-1)``; measured coverage 94.4 % of (row, query) pairs at
ε0 = 1.9 and 99.75 % at ε0 = 3. The 1-bit code is a candidate filter, not a stand-in for the
vector: recall@10 of the estimates alone is 0.78, and 0.987 / 0.998 after re-ranking the top
40 / 100 by the exact vectors.

**Determinism.** The same input and seed give the same bytes: sq8 is element-wise; RaBitQ's
stored values (bits, ``norm``, ``ip``) and the metadata's ``rotation_check`` are computed so that
they do not depend on the BLAS library or its number of threads (which change float32 matmul
results in the last bits; see ``_settled_matmul``). The rotation comes from LAPACK's QR in
float64, identical across thread counts here; another LAPACK build may round a few of its
float32 entries differently, which ``RabitqModel.from_metadata`` tolerates (the check's
tolerance is 1e-4) and which changes decoded vectors by ~1e-7. Decoding and estimates use
float32 BLAS and are not bit-stable across thread counts (compare them with a tolerance).

Example::

    >>> x = np.random.default_rng(0).standard_normal((100, 16)).astype(np.float32)
    >>> p = sq8_fit(x)
    >>> sq8_decode(p, sq8_encode(p, x)).shape
    (100, 16)
    >>> m = rabitq_fit(x, seed=7)
    >>> c = rabitq_encode(m, x)
    >>> c.codes.shape, m.code_bytes
    ((100, 2), 2)
    >>> RabitqModel.from_metadata(m.to_metadata()).to_metadata() == m.to_metadata()
    True
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from galaxlite import errors
from galaxlite.transpile import PRECISIONS

# PRECISIONS (float32, sq8, rabitq) come from the SQL front end, which checks them in
# CREATE VERSION TAG ... WITH TRAINING PRECISION; the RaBitQ decoders are named here only.
RABITQ_MODES = ("norm", "unbiased", "mse")

SQ8_ALGORITHM = "sq8"
SQ8_CONVENTION = "faiss-qt8bit: code=floor(clip((x-lo)/(hi-lo),0,1)*255), x=lo+(code+0.5)*(hi-lo)/255"
RABITQ_ALGORITHM = "rabitq-1bit/galaxlite-v1"
RABITQ_ROTATION = "haar-qr: Q,R=qr(default_rng([seed,1]).standard_normal((d,d))); Q*=sign(diag(R))"
RABITQ_LAYOUT = "bits=(P^T(x-c))>0, packbits little-endian; norm=||x-c||; ip=sum|P^T o|/sqrt(d)"

# Rotation check: u_j^T P v for fixed unit probes, compared within this absolute tolerance.
# A wrong P gives values of size ~1/sqrt(d) (≥ 0.015 up to d = 4096); a P that differs only by
# another BLAS/LAPACK's rounding gives < 1e-5.
_CHECK_PROBES = 8
_CHECK_TOLERANCE = 1e-4
_CHUNK = 1 << 14  # rows per block: bounds the float temporaries of encode/decode


# ---------------------------------------------------------------------------- helpers


def _matrix(x: object, what: str, dim: int | None = None) -> np.ndarray:
    """``x`` as a C-contiguous float32 (n, d) array, or a DataError saying what is wrong."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise errors.DataError(f"{what} must be a 2-D array of numbers: {exc}") from None
    if arr.ndim != 2:
        raise errors.DataError(f"{what} must be a 2-D array (rows × dimensions), got shape {arr.shape}")
    if arr.dtype.kind not in "fiub":
        raise errors.DataError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    if dim is not None and arr.shape[1] != dim:
        raise errors.DataError(f"{what} has {arr.shape[1]} dimensions, the quantizer was fitted on {dim}")
    with np.errstate(over="ignore"):  # too large for float32 → inf, reported just below
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    for start in range(0, arr.shape[0], _CHUNK):  # by blocks: no n × d boolean temporary
        block = arr[start:start + _CHUNK]
        if np.isfinite(block).all():
            continue
        row = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
        raise errors.DataError(
            f"{what}: row {row} holds NaN, infinity or a number too large for float32, "
            "which cannot be quantized"
        )
    return arr


def _query(q: object, dim: int) -> np.ndarray:
    """A query ``(d,)`` or a batch ``(m, d)`` as float32 of the same rank."""
    arr = np.asarray(q)
    if arr.ndim == 1:
        return _matrix(arr[None, :], "query", dim)[0]
    return _matrix(arr, "queries", dim)


def _frozen(arr: np.ndarray, dtype: type, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A read-only array of exactly ``dtype``/``shape`` (a frozen dataclass holds no mutable state)."""
    out = np.array(arr, dtype=dtype, copy=True, order="C")
    if out.shape != shape:
        raise errors.DataError(f"{what} must have shape {shape}, got {out.shape}")
    out.setflags(write=False)
    return out


def _blocks(
    n: int, width: int, dtype: type, fill: Callable[[slice], np.ndarray], chunk: int = _CHUNK
) -> np.ndarray:
    """An (n, width) array filled block by block (``fill(rows)`` returns the block for ``rows``)."""
    out = np.empty((n, width), dtype=dtype)
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        out[rows] = fill(rows)
    return out


def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr, dtype="<f4").tobytes()).decode("ascii")


def _meta_value(meta: object, key: str, kind: type | tuple[type, ...], what: str) -> object:
    if not isinstance(meta, dict):
        raise errors.DataError(f"{what} metadata must be a JSON object, got {type(meta).__name__}")
    if key not in meta:
        raise errors.DataError(f"{what} metadata has no {key!r}")
    value = meta[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise errors.DataError(f"{what} metadata {key!r} has the wrong type ({type(value).__name__})")
    return value


def _meta_dim(meta: object, what: str) -> int:
    dim = _meta_value(meta, "dim", int, what)
    if dim < 1:
        raise errors.DataError(f"{what} metadata 'dim' must be at least 1, got {dim}")
    return dim


def _meta_floats(meta: object, key: str, dim: int, what: str) -> np.ndarray:
    text = _meta_value(meta, key, str, what)
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise errors.DataError(f"{what} metadata {key!r} is not base64") from None
    if len(raw) != 4 * dim:
        raise errors.DataError(
            f"{what} metadata {key!r} holds {len(raw)} bytes, expected {4 * dim} ({dim} float32)"
        )
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def _meta_expect(meta: object, key: str, expected: object, what: str) -> None:
    value = _meta_value(meta, key, type(expected), what)
    if value != expected:
        raise errors.DataError(f"{what} metadata {key!r} is {value!r}, expected {expected!r}")


# ---------------------------------------------------------------------------- exact rounding
# BLAS results depend on the summation order, which changes with the number of threads (1 vs 2
# OpenBLAS threads gave different last bits for 6 % of a float32 r @ P). So the stored RaBitQ
# values are computed in float64, where the products of float32 numbers are exact and any
# summation order is within (d - 1)·u·Σ|terms| of the exact sum (u = 2^-53). Where that interval
# rounds to one float32 value the result is certain; the rare rest (< 0.1 % of the elements) is
# re-summed in a fixed order with an error-free transformation (Sum2, Ogita-Rump-Oishi 2005),
# accurate to u·|sum| + O(d²u²)·Σ|terms|, so every machine and thread count agrees.

_U = 2.0**-53


def _sum2_rows(terms: np.ndarray) -> np.ndarray:
    """Σ of each row of float64 ``terms`` (m, d), in a fixed order with TwoSum compensation."""
    columns = np.ascontiguousarray(terms.T)
    total = np.zeros(terms.shape[0])
    carry = np.zeros(terms.shape[0])
    for p in columns:
        s = total + p
        z = s - total
        carry += (total - (s - z)) + (p - z)
        total = s
    return total + carry


def _settle(value: np.ndarray, err: np.ndarray, exact: Callable[[tuple], np.ndarray]) -> np.ndarray:
    """float32 of ``value`` (float64, at most ``err / 2`` from an exact quantity): where
    ``value ± err`` could round to two float32 values, ``exact(index)`` decides instead."""
    out = value.astype(np.float32)
    edge = value - err
    low = edge.astype(np.float32)
    np.add(value, err, out=edge)
    unsure = np.nonzero(low != edge.astype(np.float32))
    if unsure[0].size:
        out[unsure] = np.asarray(exact(unsure), dtype=np.float64).astype(np.float32)
    return out


def _settled_matmul(
    a: np.ndarray, b: np.ndarray, product: Callable[[np.ndarray, np.ndarray], np.ndarray] = np.matmul
) -> np.ndarray:
    """float32 (n, k) ``a @ b`` for float32 ``a`` (n, d) and ``b`` (d, k), the same bits whatever
    the BLAS library and its threads (see above). ``product`` is the float64 matmul (tests pass
    one that errs by the worst case allowed)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    value = product(a64, b64)
    # Cauchy-Schwarz: Σ_j |a_ij b_jk| ≤ ||a_i||·||b_k||; 2x for two machines' errors, 1.01 for
    # the rounding of the norms themselves
    row = np.sqrt(np.einsum("ij,ij->i", a64, a64)) * float(np.linalg.norm(b64, axis=0).max(initial=0))
    err = (row * (2.02 * (a.shape[1] + 1) * _U))[:, None]

    def exact(index: tuple) -> np.ndarray:
        rows, cols = index
        return _sum2_rows(a64[rows] * b64[:, cols].T)

    return _settle(value, err, exact)


# ---------------------------------------------------------------------------- sq8


@dataclass(frozen=True, eq=False)
class Sq8Params:
    """Per-dimension bounds of 8-bit scalar quantization (Faiss ``QT_8bit`` convention)."""

    lo: np.ndarray  # float32 (d,)
    hi: np.ndarray  # float32 (d,)

    def __post_init__(self) -> None:
        lo = np.asarray(self.lo)
        if lo.ndim != 1 or lo.shape[0] < 1:
            raise errors.DataError(f"sq8 bounds must be 1-D with at least one dimension, got {lo.shape}")
        object.__setattr__(self, "lo", _frozen(lo, np.float32, lo.shape, "sq8 lo"))
        object.__setattr__(self, "hi", _frozen(self.hi, np.float32, lo.shape, "sq8 hi"))
        if not (np.isfinite(self.lo).all() and np.isfinite(self.hi).all()):
            raise errors.DataError("sq8 bounds hold NaN or infinity")
        if (self.hi < self.lo).any():
            raise errors.DataError("sq8 bounds have hi < lo in some dimension")

    @property
    def dim(self) -> int:
        return int(self.lo.shape[0])

    def step(self) -> np.ndarray:
        """The bucket width ``(hi - lo) / 255`` per dimension (float32; 0 for constant dims)."""
        return ((self.hi.astype(np.float64) - self.lo) / 255.0).astype(np.float32)

    def to_metadata(self) -> dict:
        """JSON-serialisable description: ``lo``/``hi`` as base64 little-endian float32."""
        return {
            "algorithm": SQ8_ALGORITHM,
            "convention": SQ8_CONVENTION,
            "bounds": "per-dimension",
            "dim": self.dim,
            "lo": _b64(self.lo),
            "hi": _b64(self.hi),
        }

    @classmethod
    def from_metadata(cls, meta: dict) -> Sq8Params:
        """The parameters :meth:`to_metadata` described; DataError if ``meta`` is not such a dict."""
        what = "sq8"
        _meta_expect(meta, "algorithm", SQ8_ALGORITHM, what)
        _meta_expect(meta, "convention", SQ8_CONVENTION, what)
        _meta_expect(meta, "bounds", "per-dimension", what)
        dim = _meta_dim(meta, what)
        return cls(_meta_floats(meta, "lo", dim, what), _meta_floats(meta, "hi", dim, what))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sq8Params):
            return NotImplemented
        return np.array_equal(self.lo, other.lo) and np.array_equal(self.hi, other.hi)


def sq8_fit(x: np.ndarray) -> Sq8Params:
    """Per-dimension min/max of ``x`` (n, d). With n = 0 the bounds are all 0 (every value then
    clamps to the one bucket, decoded as 0)."""
    x = _matrix(x, "sq8 training vectors")
    if x.shape[1] < 1:
        raise errors.DataError("sq8 needs at least one dimension")
    if x.shape[0] == 0:
        zeros = np.zeros(x.shape[1], dtype=np.float32)
        return Sq8Params(zeros, zeros)
    return Sq8Params(x.min(axis=0), x.max(axis=0))


def sq8_encode(params: Sq8Params, x: np.ndarray) -> np.ndarray:
    """uint8 codes (n, d); values outside ``[lo, hi]`` clamp to code 0 / 255."""
    x = _matrix(x, "sq8 vectors", params.dim)
    span = params.hi.astype(np.float64) - params.lo
    with np.errstate(over="ignore"):  # a subnormal span: scale inf, codes 0 or 255 (fill)
        scale = np.divide(255.0, span, out=np.zeros_like(span), where=span > 0).astype(np.float32)
    lo = params.lo

    def fill(rows: slice) -> np.ndarray:
        # far out-of-range values overflow to ±inf (clamped below); an inf times the 0 scale of
        # a constant dimension is NaN, which fmax/fmin (unlike clip) map to code 0
        with np.errstate(over="ignore", invalid="ignore"):
            t = x[rows] - lo
            t *= scale
        np.fmax(t, 0.0, out=t)
        np.fmin(t, 255.0, out=t)
        return t  # the uint8 cast truncates, i.e. floors the non-negative t

    return _blocks(x.shape[0], params.dim, np.uint8, fill)


def sq8_decode(params: Sq8Params, codes: np.ndarray) -> np.ndarray:
    """float32 (n, d): the centre ``lo + (code + 0.5)·step`` of each code's bucket."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.dtype != np.uint8 or codes.shape[1] != params.dim:
        raise errors.DataError(
            f"sq8 codes must be a uint8 array (n, {params.dim}), got {codes.dtype} {codes.shape}"
        )
    span = params.hi.astype(np.float64) - params.lo
    # float32 holds (code + 0.5)·step unless the range itself nears the float32 limit
    work = np.float64 if span.max(initial=0) > 1e38 else np.float32
    step = (span / 255.0).astype(work)
    offset = (params.lo + 0.5 * step).astype(work)
    top = float(np.finfo(np.float32).max)

    def fill(rows: slice) -> np.ndarray:
        out = np.multiply(codes[rows], step, dtype=work)
        out += offset
        return out if work is np.float32 else np.clip(out, -top, top)

    return _blocks(codes.shape[0], params.dim, np.float32, fill)


# ---------------------------------------------------------------------------- rabitq


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise errors.DataError(f"the RaBitQ seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def rabitq_rotation(dim: int, seed: int) -> np.ndarray:
    """The Haar-random orthogonal (d, d) float32 matrix of ``seed``: QR (in float64) of a
    Gaussian from ``np.random.default_rng([seed, 1])``, with the sign fix ``Q *= sign(diag R)``."""
    seed = _check_seed(seed)
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
        raise errors.DataError(f"the RaBitQ dimension must be a positive integer, got {dim!r}")
    gauss = np.random.default_rng([seed, 1]).standard_normal((int(dim), int(dim)))
    q, r = np.linalg.qr(gauss)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0  # probability 0, but a zero would wipe out a column
    return (q * signs).astype(np.float32)


def _probes(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed unit vectors (independent of any seed) for the rotation check: u (k, d), v (d,)."""
    i = np.arange(dim, dtype=np.int64)
    k = np.arange(_CHECK_PROBES, dtype=np.int64)[:, None]
    u = ((i * 7919 + k * 104729 + 17) % 211 - 105).astype(np.float64)
    v = ((i * 131 + 7) % 97 - 48).astype(np.float64) + 0.5  # never all zero
    u[~u.any(axis=1)] = 1.0
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u, v / np.linalg.norm(v)


def _rotation_check(rotation: np.ndarray) -> list[float]:
    """u_j^T P v with exact sums (math.fsum), so the metadata bytes do not depend on BLAS."""
    u, v = _probes(rotation.shape[0])
    pv = np.array([math.fsum(row) for row in rotation.astype(np.float64) * v])
    return [math.fsum(row) for row in u * pv]


@dataclass(frozen=True, eq=False)
class RabitqModel:
    """1-bit RaBitQ (Gao & Long, SIGMOD 2024): the centroid and the seeded rotation."""

    dim: int
    seed: int
    centroid: np.ndarray  # float32 (d,)
    rotation: np.ndarray  # float32 (d, d), orthogonal

    def __post_init__(self) -> None:
        if isinstance(self.dim, bool) or not isinstance(self.dim, int | np.integer) or self.dim < 1:
            raise errors.DataError(f"the RaBitQ dimension must be a positive integer, got {self.dim!r}")
        d = int(self.dim)
        object.__setattr__(self, "dim", d)
        object.__setattr__(self, "seed", _check_seed(self.seed))
        object.__setattr__(self, "centroid", _frozen(self.centroid, np.float32, (d,), "centroid"))
        object.__setattr__(self, "rotation", _frozen(self.rotation, np.float32, (d, d), "rotation"))
        if not np.isfinite(self.centroid).all():
            raise errors.DataError("the RaBitQ centroid holds NaN or infinity")

    @property
    def code_bytes(self) -> int:
        """Bytes of one packed code: ceil(dim / 8)."""
        return (self.dim + 7) // 8

    def to_metadata(self) -> dict:
        """JSON-serialisable description. The rotation is not stored: :meth:`from_metadata`
        regenerates it from the seed and compares it with ``rotation_check``."""
        return {
            "algorithm": RABITQ_ALGORITHM,
            "bits": 1,
            "dim": self.dim,
            "seed": self.seed,
            "rotation": RABITQ_ROTATION,
            "layout": RABITQ_LAYOUT,
            "centroid": _b64(self.centroid),
            "rotation_check": _rotation_check(self.rotation),
            "rotation_check_tolerance": _CHECK_TOLERANCE,
        }

    @classmethod
    def from_metadata(cls, meta: dict) -> RabitqModel:
        """The model :meth:`to_metadata` described, its rotation regenerated from the seed.

        DataError when ``meta`` is malformed or the regenerated rotation does not reproduce
        ``rotation_check`` (another seed, dimension or random-number algorithm wrote it).
        """
        what = "rabitq"
        _meta_expect(meta, "algorithm", RABITQ_ALGORITHM, what)
        _meta_expect(meta, "bits", 1, what)
        _meta_expect(meta, "rotation", RABITQ_ROTATION, what)
        _meta_expect(meta, "layout", RABITQ_LAYOUT, what)
        dim = _meta_dim(meta, what)
        seed = _meta_value(meta, "seed", int, what)
        if seed < 0:
            raise errors.DataError(f"rabitq metadata 'seed' must be non-negative, got {seed}")
        centroid = _meta_floats(meta, "centroid", dim, what)
        stored = _meta_value(meta, "rotation_check", list, what)
        if len(stored) != _CHECK_PROBES or not all(
            isinstance(f, int | float) and not isinstance(f, bool) for f in stored
        ):
            raise errors.DataError(f"rabitq metadata 'rotation_check' must be {_CHECK_PROBES} numbers")
        rotation = rabitq_rotation(dim, seed)
        deviation = float(np.max(np.abs(np.array(stored, dtype=np.float64) - _rotation_check(rotation))))
        if not deviation <= _CHECK_TOLERANCE:  # `not <=` also catches NaN
            raise errors.DataError(
                f"rabitq rotation check failed: the rotation regenerated from seed {seed} "
                f"(dim {dim}) differs from the one the codes were made with (max deviation "
                f"{deviation:.3g} > {_CHECK_TOLERANCE}); the export was written by another seed, "
                "dimension or random-number algorithm and cannot be decoded here"
            )
        return cls(dim=dim, seed=seed, centroid=centroid, rotation=rotation)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RabitqModel):
            return NotImplemented
        return (
            (self.dim, self.seed) == (other.dim, other.seed)
            and np.array_equal(self.centroid, other.centroid)
            and np.array_equal(self.rotation, other.rotation)
        )


@dataclass(frozen=True, eq=False)
class RabitqCodes:
    """Packed sign bits plus the two per-vector factors of the RaBitQ estimator."""

    codes: np.ndarray  # uint8 (n, code_bytes), little-endian bit order
    norm: np.ndarray  # float32 (n,): ||x - c||
    ip: np.ndarray  # float32 (n,): <ō, o>, in [1/√d, 1]

    def __post_init__(self) -> None:
        codes = np.asarray(self.codes)
        if codes.ndim != 2 or codes.dtype != np.uint8:
            raise errors.DataError(f"RaBitQ codes must be a 2-D uint8 array, got {codes.dtype} {codes.shape}")
        n = codes.shape[0]
        object.__setattr__(self, "codes", _frozen(codes, np.uint8, codes.shape, "RaBitQ codes"))
        object.__setattr__(self, "norm", _frozen(self.norm, np.float32, (n,), "RaBitQ norm"))
        object.__setattr__(self, "ip", _frozen(self.ip, np.float32, (n,), "RaBitQ ip"))
        if not (np.isfinite(self.norm).all() and (self.norm >= 0).all()):
            raise errors.DataError("RaBitQ norms must be finite and non-negative")
        if not ((self.ip > 0) & (self.ip <= 1)).all():
            raise errors.DataError("RaBitQ ip factors must lie in (0, 1]")

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RabitqCodes):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in ("codes", "norm", "ip")
        )


def rabitq_fit(x: np.ndarray, seed: int) -> RabitqModel:
    """The model for ``x`` (n, d): centroid = mean (zeros when n = 0), rotation from ``seed``."""
    x = _matrix(x, "RaBitQ training vectors")
    dim = x.shape[1]
    if dim < 1:
        raise errors.DataError("RaBitQ needs at least one dimension")
    centroid = x.mean(axis=0, dtype=np.float64) if x.shape[0] else np.zeros(dim)
    return RabitqModel(dim=dim, seed=seed, centroid=centroid, rotation=rabitq_rotation(dim, seed))


def rabitq_encode(model: RabitqModel, x: np.ndarray) -> RabitqCodes:
    """Sign bits of ``P^T (x - c)`` plus ``norm`` and ``ip`` per row.

    Every stored value is settled in float64 (see ``_settled_matmul``), so the codes are the same
    bytes whatever the BLAS library or its number of threads, given the same ``P``.
    """
    x = _matrix(x, "RaBitQ vectors", model.dim)
    n, d = x.shape
    norm = np.empty(n, dtype=np.float32)
    ip = np.empty(n, dtype=np.float32)
    floor, sqrt_d = np.float32(1.0 / math.sqrt(d)), math.sqrt(d)

    def fill(rows: slice) -> np.ndarray:
        residual = x[rows] - model.centroid
        rotated = _settled_matmul(residual, model.rotation)  # rows of P^T r
        r64 = residual.astype(np.float64)
        square = np.einsum("ij,ij->i", r64, r64)
        if not (np.isfinite(rotated).all() and (square <= float(np.finfo(np.float32).max) ** 2).all()):
            raise errors.DataError("RaBitQ vectors too large to quantize (their norm overflows float32)")
        block_norm = np.sqrt(square)
        zero = block_norm == 0
        absolute = np.abs(rotated).astype(np.float64)
        block_ip = absolute.sum(axis=1) / (sqrt_d * np.where(zero, 1.0, block_norm))

        def exact_norm(index: tuple) -> np.ndarray:
            return np.sqrt(_sum2_rows(r64[index[0]] ** 2))

        def exact_ip(index: tuple) -> np.ndarray:
            return _sum2_rows(absolute[index[0]]) / (sqrt_d * exact_norm(index))

        # relative error bounds (×2, two machines) of the float64 norm and ip computed here
        norm[rows] = _settle(block_norm, block_norm * ((d + 8) * _U), exact_norm)
        settled = _settle(block_ip, block_ip * ((3 * d + 20) * _U), exact_ip)
        # Cauchy-Schwarz puts ip in [1/√d, 1] (clip the rounding); a zero residual decodes to c
        ip[rows] = np.where(zero, np.float32(1), np.clip(settled, floor, np.float32(1)))
        return np.packbits(rotated > 0, axis=1, bitorder="little")

    codes = _blocks(n, model.code_bytes, np.uint8, fill, chunk=2048)  # float64 blocks in cache
    return RabitqCodes(codes=codes, norm=norm, ip=ip)


def _check_codes(model: RabitqModel, codes: RabitqCodes) -> None:
    if not isinstance(codes, RabitqCodes):
        raise errors.DataError(f"expected RabitqCodes, got {type(codes).__name__}")
    if codes.codes.shape[1] != model.code_bytes:
        raise errors.DataError(
            f"RaBitQ codes have {codes.codes.shape[1]} bytes per vector, a {model.dim}-d model "
            f"uses {model.code_bytes}"
        )


def _signs(model: RabitqModel, packed: np.ndarray) -> np.ndarray:
    """x̄ = (2·bits - 1)/√d as float32 (rows, d)."""
    bits = np.unpackbits(packed, axis=1, count=model.dim, bitorder="little").astype(np.float32)
    bits *= np.float32(2.0 / math.sqrt(model.dim))
    bits -= np.float32(1.0 / math.sqrt(model.dim))
    return bits


def rabitq_decode(model: RabitqModel, codes: RabitqCodes, mode: str = "norm") -> np.ndarray:
    """float32 (n, d) vectors ``c + r̂`` (``mode``: ``"norm"``, ``"unbiased"`` or ``"mse"``; see
    the module docstring for what each keeps and its measured error)."""
    if mode not in RABITQ_MODES:
        raise errors.QuantizationModeError(
            f"unknown RaBitQ decode mode {mode!r}: use one of {', '.join(RABITQ_MODES)}"
        )
    _check_codes(model, codes)
    scale = {"norm": codes.norm, "unbiased": codes.norm / codes.ip, "mse": codes.norm * codes.ip}[mode]
    rotation_t = model.rotation.T

    def fill(rows: slice) -> np.ndarray:
        out = _signs(model, codes.codes[rows]) @ rotation_t
        out *= scale[rows, None]
        out += model.centroid
        return out

    return _blocks(len(codes), model.dim, np.float32, fill)


def rabitq_estimate_ip(model: RabitqModel, codes: RabitqCodes, q: np.ndarray) -> np.ndarray:
    """Unbiased estimate of ``<x, q>`` per row: ``<c, q> + norm · <x̄, P^T q> / ip``.

    ``q`` is one float query (d,) → (n,), or a batch (m, d) → (n, m).
    """
    _check_codes(model, codes)
    query = _query(q, model.dim)
    batch = np.atleast_2d(query)
    rotated_t = (batch @ model.rotation).T  # (d, m): P^T q per query
    offset = batch @ model.centroid  # (m,)
    scale = (codes.norm / codes.ip)[:, None]

    def fill(rows: slice) -> np.ndarray:
        return _signs(model, codes.codes[rows]) @ rotated_t * scale[rows] + offset

    est = _blocks(len(codes), batch.shape[0], np.float32, fill)
    return est[:, 0] if query.ndim == 1 else est


def rabitq_error_bound(
    codes: RabitqCodes, q: np.ndarray, model: RabitqModel, eps0: float = 1.9
) -> np.ndarray:
    """Per-row bound on ``|estimate - <x, q>|`` (paper, Theorem 3.2, scaled by ``norm·||q||``):
    ``norm·||q||·sqrt((1 - ip²)/ip²)·eps0/√(d-1)``; holds with probability ≈ erf(eps0/√2)
    over the rotation (≈ 94 % at 1.9, 99.7 % at 3). Shape as :func:`rabitq_estimate_ip`."""
    _check_codes(model, codes)
    if isinstance(eps0, bool) or not isinstance(eps0, int | float | np.integer | np.floating) or not eps0 >= 0:
        raise errors.DataError(f"eps0 must be a non-negative number, got {eps0!r}")
    query = _query(q, model.dim)
    q_norm = np.linalg.norm(np.atleast_2d(query), axis=1)  # (m,)
    ip = codes.ip.astype(np.float64)
    # d = 1: the code is exact (ip = 1), so the √(d-1) = 0 denominator never matters
    per_row = codes.norm * np.sqrt(np.maximum(1.0 - ip * ip, 0.0)) / ip
    bound = (per_row[:, None] * q_norm * (eps0 / math.sqrt(max(model.dim - 1, 1)))).astype(np.float32)
    return bound[:, 0] if query.ndim == 1 else bound


def bytes_per_vector(precision: str, dim: int) -> int:
    """Stored bytes per vector: float32 4·d; sq8 d; rabitq ceil(d/8) code + 2 float32 factors."""
    sizes = {"float32": 4 * dim, "sq8": dim, "rabitq": (dim + 7) // 8 + 8}
    if precision not in sizes:
        raise errors.QuantizationModeError(
            f"unknown training precision {precision!r}: use one of {', '.join(PRECISIONS)}"
        )
    return sizes[precision]

"""Numeric helpers of the quantizers: input checks, block-wise fills, metadata fields, and
float32 results that do not depend on the BLAS library or its number of threads.

Every quantizer takes float32 matrices ``(n, d)`` (other real dtypes are converted; NaN/inf or
a wrong shape raise :class:`galaxlite.errors.DataError`) through :func:`as_matrix`, works in
blocks of :data:`CHUNK` rows (:func:`blocks`), and describes itself as JSON metadata whose
fields :func:`meta_value` and its siblings read back with a DataError naming what is wrong.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import numpy as np

from galaxlite import errors

CHUNK = 1 << 14  # rows per block: bounds the float temporaries of encode/decode


def as_matrix(x: object, what: str, dim: int | None = None) -> np.ndarray:
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
    for start in range(0, arr.shape[0], CHUNK):  # by blocks: no n × d boolean temporary
        block = arr[start:start + CHUNK]
        if np.isfinite(block).all():
            continue
        row = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
        raise errors.DataError(
            f"{what}: row {row} holds NaN, infinity or a number too large for float32, "
            "which cannot be quantized"
        )
    return arr


def as_query(q: object, dim: int) -> np.ndarray:
    """A query ``(d,)`` or a batch ``(m, d)`` as float32 of the same rank."""
    arr = np.asarray(q)
    if arr.ndim == 1:
        return as_matrix(arr[None, :], "query", dim)[0]
    return as_matrix(arr, "queries", dim)


def frozen(arr: np.ndarray, dtype: type, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A read-only array of exactly ``dtype``/``shape`` (a frozen dataclass holds no mutable state)."""
    out = np.array(arr, dtype=dtype, copy=True, order="C")
    if out.shape != shape:
        raise errors.DataError(f"{what} must have shape {shape}, got {out.shape}")
    out.setflags(write=False)
    return out


def blocks(
    n: int, width: int, dtype: type, fill: Callable[[slice], np.ndarray], chunk: int = CHUNK
) -> np.ndarray:
    """An (n, width) array filled block by block (``fill(rows)`` returns the block for ``rows``)."""
    out = np.empty((n, width), dtype=dtype)
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        out[rows] = fill(rows)
    return out


def b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr, dtype="<f4").tobytes()).decode("ascii")


def meta_value(meta: object, key: str, kind: type | tuple[type, ...], what: str) -> object:
    if not isinstance(meta, dict):
        raise errors.DataError(f"{what} metadata must be a JSON object, got {type(meta).__name__}")
    if key not in meta:
        raise errors.DataError(f"{what} metadata has no {key!r}")
    value = meta[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise errors.DataError(f"{what} metadata {key!r} has the wrong type ({type(value).__name__})")
    return value


def meta_dim(meta: object, what: str) -> int:
    dim = meta_value(meta, "dim", int, what)
    if dim < 1:
        raise errors.DataError(f"{what} metadata 'dim' must be at least 1, got {dim}")
    return dim


def meta_floats(meta: object, key: str, dim: int, what: str) -> np.ndarray:
    text = meta_value(meta, key, str, what)
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise errors.DataError(f"{what} metadata {key!r} is not base64") from None
    if len(raw) != 4 * dim:
        raise errors.DataError(
            f"{what} metadata {key!r} holds {len(raw)} bytes, expected {4 * dim} ({dim} float32)"
        )
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def meta_expect(meta: object, key: str, expected: object, what: str) -> None:
    value = meta_value(meta, key, type(expected), what)
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

U = 2.0**-53


def sum2_rows(terms: np.ndarray) -> np.ndarray:
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


def settle(value: np.ndarray, err: np.ndarray, exact: Callable[[tuple], np.ndarray]) -> np.ndarray:
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


def settled_matmul(
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
    err = (row * (2.02 * (a.shape[1] + 1) * U))[:, None]

    def exact(index: tuple) -> np.ndarray:
        rows, cols = index
        return sum2_rows(a64[rows] * b64[:, cols].T)

    return settle(value, err, exact)


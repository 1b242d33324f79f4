"""The ``VECTOR(n)`` value codec: vectors are stored as little-endian float32 BLOBs.

A ``VECTOR(n)`` column holds, per row, a BLOB of exactly ``4 * n`` bytes: the ``n``
components as IEEE-754 float32 in little-endian order (the layout sqlite-vec's ``float[n]``
and numpy's ``'<f4'`` use).  Values may be given as a list or tuple of numbers, a 1-D numpy
array of any integer or float dtype, an already-encoded float32 BLOB, or a string such as
``'[1, 2.5, 3]'`` (the SQL ``vector('[...]')`` form).  Components must be finite.

Example:
    >>> blob = encode_vector([1, 2.5, 3], dim=3)
    >>> len(blob)
    12
    >>> decode_vector(blob).tolist()
    [1.0, 2.5, 3.0]
    >>> encode_vector("[1, 2.5, 3]") == blob
    True
    >>> parse_vector_type("VECTOR(384)")
    384

This module is a leaf of the engine: it imports only galaxlite.errors (whose
VectorDimensionError, also a ``ValueError``, it raises) and the front end's MAX_VECTOR_DIM.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from galaxlite.errors import VectorDimensionError
from galaxlite.transpile.plan import MAX_VECTOR_DIM

__all__ = [
    "MAX_VECTOR_DIM",
    "VectorDimensionError",
    "decode_matrix",
    "dimension_error",
    "decode_vector",
    "encode_vector",
    "format_vector",
    "parse_vector_literal",
    "parse_vector_type",
]

_F32 = np.dtype("<f4")
_VECTOR_TYPE_RE = re.compile(r"\s*vector\s*\(\s*([+-]?\d+)\s*\)\s*", re.IGNORECASE)
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def dimension_error(expected: int, got: int, what: str = "vector") -> VectorDimensionError:
    """The error for a vector (``what``) of ``got`` components where ``expected`` are needed.

    >>> dimension_error(3, 2).expected, str(dimension_error(3, 2, what="row 1"))
    (3, 'row 1 dimension mismatch: expected 3 components, got 2')
    """
    return VectorDimensionError(
        f"{what} dimension mismatch: expected {expected} components, got {got}",
        expected=expected, got=got,
    )


def _check_dim(dim: int | None) -> None:
    if dim is None:
        return
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int or None, got {type(dim).__name__}")
    if not 1 <= dim <= MAX_VECTOR_DIM:
        raise ValueError(f"vector dimension must be between 1 and {MAX_VECTOR_DIM}, got {dim}")


def parse_vector_literal(text: str) -> np.ndarray:
    """Parse ``'[1, 2.5, -3e-2]'`` into a float64 array (no dimension or finiteness check).

    Accepts decimal numbers with optional sign, fraction and exponent, separated by commas,
    inside square brackets, with any whitespace.  ``nan``/``inf`` and anything else are
    rejected with a ``ValueError`` naming the offending element.

    Example:
        >>> parse_vector_literal(" [ .5, -1, 2e3 ] ").tolist()
        [0.5, -1.0, 2000.0]
    """
    s = text.strip()
    if len(s) < 2 or s[0] != "[" or s[-1] != "]":
        raise ValueError(
            f"invalid vector literal {_short(text)}: expected numbers in square brackets, "
            "e.g. '[1, 2.5, 3]'"
        )
    body = s[1:-1].strip()
    if not body:
        raise ValueError("a vector must have at least one component, got '[]'")
    parts = body.split(",")
    for i, p in enumerate(parts):
        if not _NUMBER_RE.fullmatch(p.strip()):
            raise ValueError(
                f"invalid vector literal {_short(text)}: component {i + 1} "
                f"({p.strip()!r}) is not a finite decimal number"
            )
    return np.array([float(p) for p in parts], dtype=np.float64)


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _to_float32(value: Any) -> np.ndarray:
    """Convert any accepted input form to a 1-D float32 array (no dimension check)."""
    if isinstance(value, str):
        arr = parse_vector_literal(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) % 4:
            raise ValueError(
                f"a vector BLOB must hold float32 values (a multiple of 4 bytes), "
                f"got {len(raw)} bytes"
            )
        arr = np.frombuffer(raw, dtype=_F32)
    elif isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"a vector must be 1-dimensional, got an array of shape {value.shape}")
        kind = value.dtype.kind
        if kind in "iuf":
            arr = value
        elif kind == "O":
            arr = _to_float32(list(value))
        else:
            raise TypeError(
                f"a vector must have integer or float components, got dtype {value.dtype}"
            )
    elif isinstance(value, (list, tuple)):
        for i, x in enumerate(value):
            if isinstance(x, (bool, np.bool_)) or not isinstance(
                x, (int, float, np.integer, np.floating)
            ):
                raise TypeError(
                    f"vector component {i + 1} is {type(x).__name__} ({x!r}); expected a number"
                )
        try:
            arr = np.asarray(value, dtype=np.float64)
        except OverflowError:
            raise ValueError("vector component out of float32 range") from None
    else:
        raise TypeError(
            f"cannot make a vector from {type(value).__name__}; give a list or tuple of "
            "numbers, a 1-D numpy array, float32 bytes, or a string like '[1, 2.5, 3]'"
        )
    if arr.size == 0:
        raise ValueError("a vector must have at least one component")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(
            f"vector component {bad + 1} is {float(arr[bad])}; components must be finite"
        )
    with np.errstate(over="ignore"):
        out = arr.astype(_F32)
    if not np.isfinite(out).all():
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ValueError(
            f"vector component {bad + 1} ({float(arr[bad]):g}) is out of float32 range "
            "(|x| must be below 3.4e38)"
        )
    return out


def encode_vector(value: Any, dim: int | None = None) -> bytes:
    """Encode ``value`` as a little-endian float32 BLOB, checking its dimension.

    ``value``: list/tuple of numbers, 1-D numpy array (int or float dtype), float32 bytes, or
    a string ``'[x1, x2, ...]'``.  Raises :class:`VectorDimensionError` if ``dim`` is given
    and differs from the number of components, ``ValueError`` for non-finite or
    out-of-float32-range components, an empty vector or a malformed literal, and
    ``TypeError`` for other input types.

    Example:
        >>> encode_vector((1, 2), dim=2).hex()
        '0000803f00000040'
        >>> encode_vector([1, 2], dim=3)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        VectorDimensionError: vector dimension mismatch: expected 3 components, got 2
    """
    _check_dim(dim)
    arr = _to_float32(value)
    if dim is not None and arr.shape[0] != dim:
        raise dimension_error(int(dim), int(arr.shape[0]))
    if arr.shape[0] > MAX_VECTOR_DIM:
        raise ValueError(f"vector has {arr.shape[0]} components; the maximum is {MAX_VECTOR_DIM}")
    return arr.tobytes()


def decode_vector(blob: bytes | bytearray | memoryview, dim: int | None = None) -> np.ndarray:
    """Decode a float32 BLOB into a writable 1-D native ``float32`` array.

    Example:
        >>> decode_vector(encode_vector([0.5, -2])).tolist()
        [0.5, -2.0]
    """
    _check_dim(dim)
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise TypeError(f"a vector BLOB must be bytes, got {type(blob).__name__}")
    n = len(memoryview(blob).cast("B"))
    if n % 4:
        raise ValueError(f"a vector BLOB must be a multiple of 4 bytes, got {n} bytes")
    if dim is not None and n // 4 != dim:
        raise dimension_error(int(dim), n // 4)
    return np.frombuffer(blob, dtype=_F32).astype(np.float32)


def decode_matrix(
    blobs: Sequence[bytes | bytearray | memoryview], dim: int | None = None
) -> np.ndarray:
    """Decode many float32 BLOBs into one writable ``(len(blobs), dim)`` float32 matrix.

    Vectorised: one join and one ``np.frombuffer``.  ``dim=None`` takes the dimension from
    the first BLOB.  Every BLOB must be ``4 * dim`` bytes (else :class:`VectorDimensionError`
    naming the row); ``None`` (SQL NULL) entries are rejected with ``TypeError``: filter them
    out first.

    Example:
        >>> m = decode_matrix([encode_vector([1, 2]), encode_vector([3, 4])], dim=2)
        >>> m.shape, m.dtype, m[1].tolist()
        ((2, 2), dtype('float32'), [3.0, 4.0])
    """
    _check_dim(dim)
    if dim is None:
        if len(blobs) == 0:
            raise ValueError("decode_matrix() needs dim when there are no BLOBs")
        first = blobs[0]
        if first is None:
            raise TypeError("decode_matrix(): row 0 is NULL; filter NULL vectors out first")
        if len(first) == 0 or len(first) % 4:
            raise ValueError(f"decode_matrix(): row 0 is {len(first)} bytes, not a float32 vector")
        dim = len(first) // 4
    nbytes = 4 * dim
    for i, b in enumerate(blobs):
        if b is None:
            raise TypeError(f"decode_matrix(): row {i} is NULL; filter NULL vectors out first")
        if len(b) != nbytes:
            if not isinstance(b, (bytes, bytearray, memoryview)):
                raise TypeError(f"decode_matrix(): row {i} is {type(b).__name__}, not bytes")
            if len(b) % 4:
                raise ValueError(
                    f"decode_matrix(): row {i} is {len(b)} bytes, not a float32 vector"
                )
            raise dimension_error(dim, len(b) // 4, what=f"row {i}")
    buf = bytearray().join(blobs)  # one copy, writable
    out = np.frombuffer(buf, dtype=_F32).reshape(len(blobs), dim)
    return out if _F32 == np.dtype(np.float32) else out.astype(np.float32)


def format_vector(value: Any) -> str:
    """Text form ``'[x1, x2, ...]'`` of a vector (BLOB, array or list); round-trips exactly.

    Example:
        >>> format_vector(encode_vector([1, 0.1, -2e-10]))
        '[1.0, 0.1, -2e-10]'
    """
    arr = _to_float32(value)
    # str() of a numpy float32 is its shortest text that parses back to the same float32
    return "[" + ", ".join(str(x) for x in arr) + "]"


def parse_vector_type(decltype: str | None) -> int | None:
    """Return ``n`` for a declared type ``VECTOR(n)`` (any case and spacing), else ``None``.

    Raises ``ValueError`` for ``VECTOR(n)`` with ``n`` outside 1..MAX_VECTOR_DIM, since such
    a declaration is a mistake rather than another type.

    Example:
        >>> parse_vector_type("vector( 3 )"), parse_vector_type("TEXT"), parse_vector_type(None)
        (3, None, None)
    """
    if not decltype:
        return None
    m = _VECTOR_TYPE_RE.fullmatch(decltype)
    if m is None:
        return None
    n = int(m.group(1))
    if not 1 <= n <= MAX_VECTOR_DIM:
        raise ValueError(f"VECTOR dimension must be between 1 and {MAX_VECTOR_DIM}, got {n}")
    return n

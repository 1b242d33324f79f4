"""The codec of each training precision: how a vector column is fitted, stored as Arrow columns,
described in the export's metadata, and decoded back to float32.

========== ================================================ =================================
precision  stored columns (``v`` a VECTOR(384) column)      bytes per vector
========== ================================================ =================================
float32    ``v``: ``fixed_size_list<float32>[384]``          4·d = 1536
sq8        ``v__sq8``: ``fixed_size_binary[384]``           d = 384
rabitq     ``v__rabitq``: ``fixed_size_binary[48]`` +       ceil(d/8) + 8 = 56
           float32 ``v__rabitq_norm``, ``v__rabitq_ip``
rabitqB    ``v__rabitqB`` (B = 2..8 bits): ``fixed_size_    ceil(d·B/8) + 8 (4 bits: 200)
           binary[ceil(d·B/8)]`` + ``v__rabitqB_norm``,
           ``v__rabitqB_ip``
========== ================================================ =================================

Codes are stored as binary under a name that says what they are, so a vector tool (LanceDB,
a Lance vector index) never takes them for float vectors; only float32 exports have a vector
column under the column's own name. Each code field's Arrow metadata names its encoding
(``galaxlite:encoding``) and its vector column (``galaxlite:vector``); the decoding parameters
are in the dataset's ``galaxlite`` metadata (:meth:`Codec.describe`). Exports written before
(format 1) kept sq8 codes as ``fixed_size_list<uint8>`` and 1-bit codes under the column's own
name; :meth:`Codec.decode` reads both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from galaxlite import errors
from galaxlite.exports.quantize.rabitq import (
    RABITQ_MODES,
    RabitqCodes,
    RabitqModel,
    rabitq_decode,
    rabitq_encode,
    rabitq_fit,
)
from galaxlite.exports.quantize.sq8 import Sq8Params, sq8_decode, sq8_encode, sq8_fit
from galaxlite.transpile import PRECISIONS  # the SQL front end checks WITH TRAINING PRECISION

FIT_ROWS = 1 << 16  # rows per block when fitting sq8 bounds around NULL vectors
ENCODING_KEY, VECTOR_KEY = b"galaxlite:encoding", b"galaxlite:vector"


def bits_of(precision: str) -> int:
    """RaBitQ bits per dimension of a precision (``'rabitq'`` → 1, ``'rabitq4'`` → 4)."""
    return 1 if precision == "rabitq" else int(precision.removeprefix("rabitq"))


@dataclass(frozen=True, slots=True)
class Codec:
    """How vectors are stored at one precision (see the module docstring)."""

    precision: str

    @property
    def quantized(self) -> bool:
        return self.precision != "float32"

    @property
    def rabitq(self) -> bool:
        return self.precision.startswith("rabitq")

    def bytes_per_vector(self, dim: int) -> int:
        if not self.quantized:
            return 4 * dim
        if not self.rabitq:
            return dim
        return (dim * bits_of(self.precision) + 7) // 8 + 8

    def code_column(self, name: str) -> str:
        return f"{name}__{self.precision}" if self.quantized else name

    def fit(self, matrix: np.ndarray, valid: np.ndarray | None, seed: int | None) -> Any:
        """The quantizer of a column's vectors ``matrix`` (rows where ``valid``; None: all):
        sq8 bounds, or a RaBitQ model with the rotation of ``seed`` (0 without one)."""
        if not self.quantized:
            return None
        if self.rabitq:
            return rabitq_fit(matrix if valid is None else matrix[valid], seed or 0, bits_of(self.precision))
        if valid is None:
            return sq8_fit(matrix)
        # FIT_ROWS at a time: the same bounds (min and max do not depend on grouping), without
        # a copy of every valid row
        parts = [
            sq8_fit(matrix[i : i + FIT_ROWS][valid[i : i + FIT_ROWS]])
            for i in range(0, len(matrix), FIT_ROWS) if valid[i : i + FIT_ROWS].any()
        ]
        if not parts:
            return sq8_fit(matrix[:0])
        return Sq8Params(np.min([p.lo for p in parts], axis=0), np.max([p.hi for p in parts], axis=0))

    def fields(self, name: str, dim: int, model: Any) -> list[pa.Field]:
        """The Arrow fields of vector column ``name``."""
        if not self.quantized:
            return [pa.field(name, pa.list_(pa.float32(), dim))]
        code = self.code_column(name)
        width = model.code_bytes if self.rabitq else dim
        meta = {ENCODING_KEY: self.precision.encode(), VECTOR_KEY: name.encode()}
        out = [pa.field(code, pa.binary(width), metadata=meta)]
        if self.rabitq:
            out += [pa.field(code + "_norm", pa.float32()), pa.field(code + "_ip", pa.float32())]
        return out

    def describe(self, name: str, model: Any) -> dict:
        """The metadata entries that say where and how the column is stored."""
        entry: dict[str, Any] = {"stored": self.precision, "code_column": self.code_column(name)}
        if self.quantized:
            entry["quantizer"] = model.to_metadata()
        if self.rabitq:
            entry["norm_column"], entry["ip_column"] = entry["code_column"] + "_norm", entry["code_column"] + "_ip"
        return entry

    def arrays(self, model: Any, matrix: np.ndarray, valid: np.ndarray | None) -> list[pa.Array]:
        """The Arrow arrays of :meth:`fields` for float32 vectors ``matrix`` (n, d)."""
        n, dim = matrix.shape
        if not self.quantized:
            values = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1))
            return [pa.FixedSizeListArray.from_arrays(values, dim, mask=None if valid is None else pa.array(~valid))]
        bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = 0 if valid is None else int(n - valid.sum())
        if not self.rabitq:
            codes = sq8_encode(model, matrix)
            return [pa.Array.from_buffers(pa.binary(dim), n, [bitmap, pa.py_buffer(codes)], null_count=nulls)]
        encoded = rabitq_encode(model, matrix)
        codes = pa.Array.from_buffers(
            pa.binary(model.code_bytes), n, [bitmap, pa.py_buffer(encoded.codes)], null_count=nulls
        )
        where_null = None if valid is None else ~valid
        return [codes, pa.array(encoded.norm, mask=where_null), pa.array(encoded.ip, mask=where_null)]

    def load(self, entry: dict) -> Any:
        """The quantizer an export's metadata entry describes (None for float32)."""
        if not self.quantized:
            return None
        if self.rabitq:
            model = RabitqModel.from_metadata(entry["quantizer"])
            if model.bits != bits_of(self.precision):
                raise errors.DataError(
                    f"column stored as {self.precision!r} has a {model.bits}-bit RaBitQ quantizer"
                )
            return model
        return Sq8Params.from_metadata(entry["quantizer"])

    def decode(self, model: Any, parts: dict[str, Any], dim: int, mode: str = "norm") -> np.ndarray:
        """float32 ``(rows, dim)`` from the stored columns ``parts`` (``"codes"``, and for
        RaBitQ ``"norm"``/``"ip"``: Arrow arrays, or numpy arrays as Ray or pandas give them);
        a NULL vector is a row of NaN."""
        if mode not in RABITQ_MODES:
            raise errors.QuantizationModeError(
                f"unknown RaBitQ decode mode {mode!r}: use one of {', '.join(RABITQ_MODES)}"
            )
        if not self.quantized:
            matrix, nulls = fixed_rows(parts["codes"], dim, np.float32)
        elif not self.rabitq:
            codes, nulls = fixed_rows(parts["codes"], dim, np.uint8)
            matrix = sq8_decode(model, codes)
        else:
            codes, nulls = fixed_rows(parts["codes"], model.code_bytes, np.uint8)
            norm = _floats(parts["norm"], 0.0)
            ip = _floats(parts["ip"], 1.0)
            matrix = rabitq_decode(model, RabitqCodes(codes, norm, ip), mode)
        if nulls is not None and nulls.any():
            matrix = np.array(matrix, dtype=np.float32)
            matrix[nulls] = np.nan
        return matrix


def codec(precision: str) -> Codec:
    """The codec of ``precision`` (QuantizationModeError for an unknown one)."""
    if precision not in PRECISIONS:
        raise errors.QuantizationModeError(
            f"unknown training precision {precision!r}: use one of {', '.join(PRECISIONS)}"
        )
    return Codec(precision)


def bytes_per_vector(precision: str, dim: int) -> int:
    """Stored bytes per vector: float32 4·d; sq8 d; rabitqB ceil(d·B/8) code + 2 float32 factors."""
    return codec(precision).bytes_per_vector(dim)


def fixed_rows(value: Any, width: int, dtype: type) -> tuple[np.ndarray, np.ndarray | None]:
    """A column of fixed-width rows as ``(rows, width)`` of ``dtype``, and which rows are NULL
    (None: none). ``value``: an Arrow fixed-size list / fixed-size binary array (or chunked
    array), a 2-D numpy array, or a 1-D numpy array of per-row bytes / arrays / None."""
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        n, nulls = len(value), (value.is_null().to_numpy(zero_copy_only=False) if value.null_count else None)
        if pa.types.is_fixed_size_list(value.type):
            flat = value.values.to_numpy(zero_copy_only=False)
            start = value.offset * width
            return np.asarray(flat[start : start + n * width], dtype=dtype).reshape(n, width), nulls
        if pa.types.is_fixed_size_binary(value.type) and value.type.byte_width == width:
            raw = np.frombuffer(value.buffers()[1], dtype=np.uint8, count=n * width, offset=value.offset * width)
            return raw.view(dtype).reshape(n, -1), nulls
        raise errors.TrainingExportError(f"cannot decode an Arrow column of type {value.type} as codes of width {width}")
    array = np.asarray(value)
    if array.ndim == 2:
        return np.ascontiguousarray(array, dtype=dtype), None
    if array.dtype.kind == "S":
        return np.frombuffer(array.tobytes(), dtype=np.uint8).view(dtype).reshape(len(array), -1), None
    nulls = np.array([v is None for v in array], dtype=bool)
    out = np.zeros((len(array), width), dtype=dtype)
    for i, v in enumerate(array):
        if v is not None:
            out[i] = np.frombuffer(v, dtype=np.uint8).view(dtype) if isinstance(v, bytes) else v
    return out, nulls if nulls.any() else None


def _floats(value: Any, fill: float) -> np.ndarray:
    if isinstance(value, pa.ChunkedArray | pa.Array):
        return value.fill_null(fill).to_numpy(zero_copy_only=False).astype(np.float32)
    out = np.array([fill if v is None else v for v in value] if np.asarray(value).dtype == object else value,
                   dtype=np.float32)
    return np.nan_to_num(out, nan=fill)

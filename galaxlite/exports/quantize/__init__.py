"""Vector quantization for training exports: ``float32``, ``sq8``, 1-bit ``rabitq`` and the
extended ``rabitq2`` … ``rabitq8`` (pure numpy).

Every function takes float32 matrices ``(n, d)`` (other real dtypes are converted; NaN/inf or
a wrong shape raise :class:`galaxlite.errors.DataError`), and ``n`` may be 0 (fitting then
gives zero bounds / a zero centroid). The package, by concern:

* :mod:`~galaxlite.exports.quantize.numeric`: input checks, block-wise fills, metadata fields,
  BLAS-independent float32 results;
* :mod:`~galaxlite.exports.quantize.sq8`: 8-bit scalar quantization (Faiss ``QT_8bit``);
* :mod:`~galaxlite.exports.quantize.rotation`: RaBitQ's seeded rotation and its check;
* :mod:`~galaxlite.exports.quantize.rabitq`: RaBitQ codes of 1 to 8 bits per dimension, their
  decoders, the unbiased inner-product estimator and its error bound;
* :mod:`~galaxlite.exports.quantize.codecs`: per precision, how a vector column is stored as
  Arrow columns, described in the metadata, and decoded.

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
    >>> m4 = rabitq_fit(x, seed=7, bits=4)
    >>> m4.code_bytes, bytes_per_vector("rabitq4", 16)
    (8, 16)
"""

import numpy as np  # noqa: F401 - the doctest above uses it

from galaxlite.exports.quantize.codecs import (
    PRECISIONS,
    Codec,
    bits_of,
    bytes_per_vector,
    codec,
    fixed_rows,
)
from galaxlite.exports.quantize.numeric import settled_matmul
from galaxlite.exports.quantize.rabitq import (
    RABITQ_ALGORITHM,
    RABITQ_BITS,
    RABITQ_EX_ALGORITHM,
    RABITQ_LAYOUT,
    RABITQ_MODES,
    RabitqCodes,
    RabitqModel,
    expected_scale,
    rabitq_decode,
    rabitq_encode,
    rabitq_error_bound,
    rabitq_estimate_ip,
    rabitq_fit,
)
from galaxlite.exports.quantize.rotation import RABITQ_ROTATION, rabitq_rotation
from galaxlite.exports.quantize.sq8 import (
    SQ8_ALGORITHM,
    SQ8_CONVENTION,
    Sq8Params,
    sq8_decode,
    sq8_encode,
    sq8_fit,
)

__all__ = [
    "PRECISIONS", "RABITQ_ALGORITHM", "RABITQ_BITS", "RABITQ_EX_ALGORITHM", "RABITQ_LAYOUT",
    "RABITQ_MODES", "RABITQ_ROTATION", "SQ8_ALGORITHM", "SQ8_CONVENTION", "Codec", "RabitqCodes",
    "RabitqModel", "Sq8Params", "bits_of", "bytes_per_vector", "codec", "expected_scale",
    "fixed_rows", "rabitq_decode", "rabitq_encode", "rabitq_error_bound", "rabitq_estimate_ip",
    "rabitq_fit", "rabitq_rotation", "settled_matmul", "sq8_decode", "sq8_encode", "sq8_fit",
]

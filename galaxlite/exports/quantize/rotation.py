"""The seeded random rotation of RaBitQ, and the check that a reader regenerated the same one.

The rotation ``P`` is never stored: it is regenerated from the seed (QR of a Gaussian from
``np.random.default_rng([seed, 1])``), and the metadata keeps ``rotation_check``, a few
``u_j^T P v`` for fixed probe vectors computed with exact sums, so that a reader whose
random-number algorithm or dimension differs finds out instead of decoding garbage.
"""

from __future__ import annotations

import math

import numpy as np

from galaxlite import errors

RABITQ_ROTATION = "haar-qr: Q,R=qr(default_rng([seed,1]).standard_normal((d,d))); Q*=sign(diag(R))"

# Rotation check: u_j^T P v for fixed unit probes, compared within this absolute tolerance.
# A wrong P gives values of size ~1/sqrt(d) (≥ 0.015 up to d = 4096); a P that differs only by
# another BLAS/LAPACK's rounding gives < 1e-5.
CHECK_PROBES = 8
CHECK_TOLERANCE = 1e-4


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise errors.DataError(f"the RaBitQ seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def rabitq_rotation(dim: int, seed: int) -> np.ndarray:
    """The Haar-random orthogonal (d, d) float32 matrix of ``seed``: QR (in float64) of a
    Gaussian from ``np.random.default_rng([seed, 1])``, with the sign fix ``Q *= sign(diag R)``."""
    seed = check_seed(seed)
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
    k = np.arange(CHECK_PROBES, dtype=np.int64)[:, None]
    u = ((i * 7919 + k * 104729 + 17) % 211 - 105).astype(np.float64)
    v = ((i * 131 + 7) % 97 - 48).astype(np.float64) + 0.5  # never all zero
    u[~u.any(axis=1)] = 1.0
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u, v / np.linalg.norm(v)


def rotation_check(rotation: np.ndarray) -> list[float]:
    """u_j^T P v with exact sums (math.fsum), so the metadata bytes do not depend on BLAS."""
    u, v = _probes(rotation.shape[0])
    pv = np.array([math.fsum(row) for row in rotation.astype(np.float64) * v])
    return [math.fsum(row) for row in u * pv]

"""The ``"hash"`` embedder: a dependency-free lexical embedder (signed feature hashing of
words and character 3- to 5-grams).

It is deterministic across processes and machines and very fast, but it only sees shared
spelling, not meaning: use it for tests or where no model can be installed.  Cosine scales
differ per embedder, so a ``SEMANTIC_MATCH`` threshold only makes sense for the embedder it
was chosen for: ``HashEmbedder.typical_threshold`` is this one's.

This module is a leaf: it imports nothing else from galaxlite but the embedder protocol.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np

from galaxlite.semantic.protocol import check_texts

__all__ = ["HashEmbedder"]

_WORD_RE = re.compile(r"\w+")


class HashEmbedder:
    """Lexical embedder: signed feature hashing of words and character 3-5-grams.

    Each text is NFKC-normalised and case-folded and split into word tokens (``\\w+``).  Every
    word contributes the feature ``w:<word>`` (weight 1) and every character n-gram (n = 3..5)
    of ``<word>`` (with boundary markers) a feature of weight 0.5.  A feature is hashed with
    CRC-32 (never Python's per-process salted ``hash()``): the low bits pick the dimension, the
    top bit the sign.  Rows are L2-normalised; a text with no word characters maps to one fixed
    unit vector.

    Deterministic across processes and platforms (non-ASCII text also depends on the Unicode
    tables of the Python version, through NFKC and ``\\w``); no dependency but numpy.
    It measures shared vocabulary and spelling, not meaning (paraphrases with different words
    score near 0).

    Example:
        >>> e = HashEmbedder()
        >>> a, b, c = e.embed(["Training data", "training DATA!", "quantum gravity"])
        >>> round(float(a @ b), 4), bool(float(a @ c) < 0.5)
        (1.0, True)
    """

    # Unrelated short texts reach ~0.33 at p99 through shared stop words; 0.5 means a large
    # part of the vocabulary is shared.
    typical_threshold: float = 0.5

    def __init__(self, dim: int = 384, *, name: str = "hash") -> None:
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.name = name
        self.dim = dim
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        # the fixed unit vector of texts without features (or whose features cancel out)
        idx, wts = self._features_of("\x00<empty>")
        empty = np.bincount(idx, weights=wts, minlength=dim)
        if not empty.any():
            empty[0] = 1.0
        self._empty = empty / np.linalg.norm(empty)

    def __repr__(self) -> str:
        return f"HashEmbedder(dim={self.dim}, name={self.name!r})"

    def _features_of(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        """Hashed (index, signed weight) arrays of one word's features."""
        feats = ["w:" + word]
        padded = f"<{word}>"
        n_chars = len(padded)
        for n in (3, 4, 5):
            feats.extend("c:" + padded[i : i + n] for i in range(n_chars - n + 1))
        idx = np.empty(len(feats), dtype=np.int64)
        wts = np.empty(len(feats), dtype=np.float64)
        for j, f in enumerate(feats):
            h = zlib.crc32(f.encode("utf-8"))
            idx[j] = (h & 0x7FFFFFFF) % self.dim
            wts[j] = (-1.0 if h & 0x80000000 else 1.0) * (1.0 if j == 0 else 0.5)
        return idx, wts

    def _word_features(self, word: str) -> tuple[np.ndarray, np.ndarray]:
        hit = self._cache.get(word)
        if hit is None:
            hit = self._features_of(word)
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[word] = hit
        return hit

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a ``(len(texts), dim)`` float32 array of unit rows."""
        items = check_texts(texts)
        n = len(items)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        idx_parts: list[np.ndarray] = []
        wt_parts: list[np.ndarray] = []
        for row, text in enumerate(items):
            words = _WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold())
            offset = row * self.dim
            for idx, wts in map(self._word_features, words):
                idx_parts.append(idx + offset)
                wt_parts.append(wts)
        flat = np.zeros(n * self.dim)
        if idx_parts:
            flat = np.bincount(
                np.concatenate(idx_parts), weights=np.concatenate(wt_parts), minlength=n * self.dim
            )
        out = flat.reshape(n, self.dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        zero = norms[:, 0] == 0
        if zero.any():
            out[zero] = self._empty
            norms[zero] = 1.0
        return np.ascontiguousarray(out / norms, dtype=np.float32)

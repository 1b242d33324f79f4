"""What galaxlite needs from an embedder: the ``Embedder`` protocol, and the texts every
embedder accepts.

An *embedder* turns texts into unit-length float32 vectors, so that the cosine similarity of
two texts is the dot product of their embeddings.  Every embedder works offline: nothing here
downloads anything or talks to a model hub.  Embedders are registered by name in
``galaxlite.semantic.embedders``.

This module is a leaf: it imports nothing else from galaxlite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Embedder", "EmbedderFactory", "check_texts"]


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


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, checked: a sequence of ``str`` (a single string is a mistake).

    >>> check_texts(("a", "b"))
    ['a', 'b']
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError("embed() takes a sequence of texts, not a single string; wrap it: [text]")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"embed(): text #{i} is {type(t).__name__}, expected str")
    return out

"""Semantic search: embeddings cached in the database file, SEMANTIC_MATCH / SEMANTIC_SCORE,
and the SQL side of ``VECTOR(n)`` columns.

``SemanticEngine`` (one per ``Database``) is the entry point; how a call runs is told in
``galaxlite.semantic.engine``. The pieces, low to high:

- ``vectors``: the ``VECTOR(n)`` value codec (float32 BLOBs), a leaf;
- ``protocol``, ``hashing``, ``wordpiece``, ``minilm``, ``embedders``: what an embedder is,
  the built-in ones, and the registry by name (``get_embedder``, ``register_embedder``);
- ``calls``: the arguments of one SEMANTIC_* call and the errors that point at it;
- ``targets``: resolving the call's column to a source (and which columns can be searched);
- ``cache``: candidate matrices in memory and text vectors in ``galaxlite_embeddings``;
- ``temps``: the TEMP tables a call becomes;
- ``bindings``: VECTOR(n) parameter binding, ``vector()`` / ``vector_text()``;
- ``engine``: ``SemanticEngine``, which composes them.

>>> from galaxlite.semantic import vectors
>>> vectors.decode_vector(vectors.encode_vector([1, 2])).tolist()
[1.0, 2.0]
"""

from galaxlite.semantic.engine import SemanticEngine

__all__ = ["SemanticEngine"]

"""The on-disk layout of a training export: folder and file names, column names, metadata key.

Every versioned table, read ``AT VERSION`` the tag, becomes one Lance dataset::

    <exports folder>/<tag>-<version>/<table>.lance

(the exports folder is ``./data/exports`` for a directory database, ``shop.db.exports`` for a
file; names are made file-system safe, see :func:`folder_name`).

Columns: a ``VECTOR(n)`` column becomes a fixed-size vector under its own name; a text column
that carries embeddings becomes the vector of its embedder under its own name, and its text
moves to the companion column ``<col>__text`` (:data:`TEXT_SUFFIX`). Quantized vectors are stored
as codes named for their precision (``<col>__sq8``, ``<col>__rabitq`` with float32
``<col>__rabitq_norm`` and ``<col>__rabitq_ip``; see :mod:`galaxlite.exports.quantize.codecs`).

The dataset's schema metadata ``galaxlite`` (JSON, :data:`METADATA_KEY`) says what the
dataset is — tag, table, version, precision, seed, order, and per vector column its kind,
dimension, embedder and quantizer parameters — under ``"format":`` :data:`FORMAT` and
``"format_version":`` :data:`FORMAT_VERSION`, so a reader decodes any export without the
database.

This module is a leaf of the package: the writer and the reader of exports both use it, and
it imports nothing else from galaxlite.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

FORMAT = "galaxlite-training-export"
# 2: quantized codes under their own names (``<col>__sq8``, ``<col>__rabitq4``, ...), never as
# a float vector's name and type; 1 kept them under the column's name (still read)
FORMAT_VERSION = 2
# An export is written as a new Lance dataset: its first version, which the catalog records and
# which every galaxlite reader opens (later versions, say an append by another tool, are not
# the tag's data)
LANCE_VERSION = 1
METADATA_KEY = b"galaxlite"
# Both sides of benchmarks/bench_export.py use these: Lance's 2.0 file format writes float
# vectors 2–3× faster than the newer default here, and every Lance reader opens it.
LANCE_OPTIONS: dict[str, Any] = {"data_storage_version": "2.0"}
TEXT_SUFFIX = "__text"
SHUFFLE_STREAM = 2  # rows are shuffled by default_rng([seed, 2]); the RaBitQ rotation uses 1

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, limit: int = 60) -> str:
    """A file-system-safe form of a tag or table name (``'a b/c'`` → ``'a_b_c'``).

    >>> safe_name("train v1/../x"), safe_name("日本"), safe_name("..")
    ('train_v1_.._x', '_', '_')
    """
    name = _UNSAFE.sub("_", text)[:limit].lstrip(".-")
    return name or "_"


def folder_name(tag: str, version: int) -> str:
    """The folder of one export: the safe tag name and the version, which makes it unique
    (a dropped tag's exports stay, and a new tag may reuse the name).

    >>> folder_name("train-v1", 1715385600000000)
    'train-v1-1715385600000000'
    """
    return f"{safe_name(tag)}-{int(version)}"


def file_names(tables: Sequence[str]) -> dict[str, str]:
    """``table`` → ``<safe name>.lance``, unique even on a case-insensitive file system.

    >>> file_names(["Items", "items", "a b"])
    {'Items': 'Items.lance', 'items': 'items-2.lance', 'a b': 'a_b.lance'}
    """
    taken: set[str] = set()
    out = {}
    for table in tables:
        base = safe_name(table)
        name, k = base, 1
        while name.lower() in taken:
            k += 1
            name = f"{base}-{k}"
        taken.add(name.lower())
        out[table] = f"{name}.lance"
    return out

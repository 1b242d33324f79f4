"""Decoding any training export's vectors to float32, from the batches any reader gives.

An export stores quantized vectors as codes under their own names (``v__sq8``, ``v__rabitq4``
and its factor columns, see :mod:`galaxlite.exports.quantize.codecs`); its ``galaxlite``
schema metadata holds what decoding needs. :func:`decode` turns a record batch, an Arrow table
or a dict of numpy arrays (what Ray Data's ``map_batches`` hands a function) into the same kind
of object with each vector column back under its own name as float32 ``(rows, dim)`` (Arrow:
``fixed_size_list<float32>[dim]``; numpy: a 2-D array, NULL vectors as rows of NaN), the code
and factor columns gone, every other column as it was. Columns not in the batch are skipped,
so decoding twice changes nothing.

A record batch or table read by Lance carries the metadata; a dict of numpy arrays does not:
give ``metadata=`` (the export's path or its :func:`~galaxlite.exports.read.read_metadata`),
or use :func:`~galaxlite.exports.read.decoder`, a picklable :class:`Decoder` for
``map_batches`` and ``lance.torch``. (``decode`` and ``decoder`` live in the reader module,
which opens paths.)

>>> import tempfile, galaxlite
>>> db = galaxlite.Database(tempfile.mkdtemp())
>>> _ = db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(2))")
>>> _ = db.execute("INSERT INTO t (v) VALUES (vector('[1, 2]')), (vector('[3, 4]'))")
>>> _ = db.execute("CREATE VERSION TAG 'q' FOR TRAINING WITH TRAINING PRECISION 'sq8'")
>>> import lance
>>> table = lance.dataset(db.training_dataset("q")).to_table()
>>> table.column_names
['id', 'v__sq8']
>>> out = Decoder(schema_metadata(table))(table)
>>> out.column_names, out.schema.field("v").type
(['id', 'v'], FixedSizeListType(fixed_size_list<item: float>[2]))
>>> db.close()
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from galaxlite import errors
from galaxlite.exports import quantize
from galaxlite.exports.layout import METADATA_KEY


class Decoder:
    """Decodes the batches of one export (its ``galaxlite`` metadata): ``decoder(batch)``.

    Picklable (it holds the metadata; the quantizers are rebuilt on first use in a process),
    so it can be handed to Ray Data's ``map_batches`` or to DataLoader worker processes.
    """

    def __init__(self, metadata: dict, mode: str = "norm"):
        if mode not in quantize.RABITQ_MODES:
            raise errors.QuantizationModeError(
                f"unknown RaBitQ decode mode {mode!r}: use one of {', '.join(quantize.RABITQ_MODES)}"
            )
        if not isinstance(metadata, dict) or not isinstance(metadata.get("columns"), dict):
            raise errors.TrainingExportError("not the metadata of a galaxlite training export")
        self.metadata, self.mode = metadata, mode
        self.vectors: dict[str, dict] = metadata["columns"]
        self._models: dict[str, Any] = {}
        self.parts = {name: _parts(name, entry) for name, entry in self.vectors.items()}
        self.owner = {column: name for name, parts in self.parts.items() for column in parts.values()}

    def __getstate__(self) -> dict:
        return {"metadata": self.metadata, "mode": self.mode}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["metadata"], state["mode"])

    # ------------------------------------------------------------------ column names

    def visible(self, stored: Sequence[str]) -> list[str]:
        """The column names a reader sees for the stored names ``stored``: each vector's code
        column becomes the vector's name, its factor columns disappear."""
        out = []
        for name in stored:
            owner = self.owner.get(name)
            if owner is None:
                out.append(name)
            elif self.parts[owner]["codes"] == name:
                out.append(owner)
        return out

    def stored(self, names: Sequence[str]) -> list[str]:
        """The stored columns to read for the visible columns ``names``."""
        return [c for n in names for c in (self.parts[n].values() if n in self.parts else (n,))]

    # ------------------------------------------------------------------ decoding

    def vector(self, name: str, column: Callable[[str], Any]) -> np.ndarray:
        """float32 ``(rows, dim)`` of vector column ``name``; ``column(stored name)`` gives
        the stored columns."""
        entry = self.vectors[name]
        store = self._codec(name, entry)
        if name not in self._models:
            self._models[name] = store.load(entry)
        parts = {role: column(stored) for role, stored in self.parts[name].items()}
        return store.decode(self._models[name], parts, entry["dim"], self.mode)

    def numpy(self, batch: pa.RecordBatch, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The visible columns ``names`` of a record batch as numpy arrays, vectors decoded."""
        return {
            name: self.vector(name, batch.column) if name in self.vectors
            else batch.column(name).to_numpy(zero_copy_only=False)
            for name in names
        }

    def to_tensor(self, batch: pa.RecordBatch, **_options: Any) -> dict[str, Any]:
        """A record batch as a dict of torch tensors, vectors decoded (strings stay lists):
        the ``to_tensor_fn`` of ``lance.torch.data.LanceDataset``. Needs PyTorch."""
        try:
            import torch
        except ImportError:
            raise errors.OptionalDependencyError("Decoder.to_tensor needs PyTorch: pip install torch") from None
        arrays = self.numpy(batch, self.visible(batch.schema.names))
        return {
            name: torch.from_numpy(np.array(value)) if value.dtype.kind in "biuf" else value.tolist()
            for name, value in arrays.items()
        }

    def __call__(self, batch: Any) -> Any:
        if isinstance(batch, pa.RecordBatch | pa.Table):
            return self._arrow(batch)
        if isinstance(batch, dict):
            return self._dict(batch)
        raise errors.ProgrammingError(
            "decode() takes a pyarrow RecordBatch or Table, or a dict of numpy arrays, "
            f"not {type(batch).__name__}"
        )

    def _present(self, names: Sequence[str]) -> list[str]:
        return [v for v, parts in self.parts.items() if all(c in names for c in parts.values())]

    def _dict(self, batch: dict) -> dict:
        present = self._present(list(batch))
        decoded = {v: self.vector(v, batch.__getitem__) for v in present}
        gone = {c for v in present for c in self.parts[v].values()}
        out = {}
        for key, value in batch.items():
            owner = self.owner.get(key)
            if owner in decoded and self.parts[owner]["codes"] == key:
                out[owner] = decoded[owner]
            elif key not in gone:
                out[key] = value
        return out

    def _arrow(self, batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
        names = batch.schema.names
        present = self._present(names)
        gone = {c for v in present for c in self.parts[v].values()}
        fields, arrays = [], []
        for field, name in zip(batch.schema, names, strict=True):
            owner = self.owner.get(name)
            if owner in present and self.parts[owner]["codes"] == name:
                matrix = self.vector(owner, batch.column)
                fields.append(pa.field(owner, pa.list_(pa.float32(), matrix.shape[1])))
                nulls = np.isnan(matrix).all(axis=1) if matrix.shape[1] else None
                arrays.append(pa.FixedSizeListArray.from_arrays(
                    pa.array(matrix.reshape(-1)), matrix.shape[1],
                    mask=pa.array(nulls) if nulls is not None and nulls.any() else None,
                ))
            elif name not in gone:
                fields.append(field)
                arrays.append(batch.column(name))
        schema = pa.schema(fields, metadata=batch.schema.metadata)
        if isinstance(batch, pa.Table):
            return pa.Table.from_arrays(arrays, schema=schema)
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _codec(self, name: str, entry: dict) -> quantize.Codec:
        stored = entry.get("stored")
        if stored not in quantize.PRECISIONS:
            raise errors.NotSupportedError(
                f"column {name!r} is stored as {stored!r}, which this galaxlite cannot decode"
            )
        return quantize.codec(stored)


def _parts(name: str, entry: dict) -> dict[str, str]:
    """role → stored column of one vector column (format 1 kept the codes under ``name``)."""
    parts = {"codes": entry.get("code_column", name)}
    if "norm_column" in entry:
        parts["norm"], parts["ip"] = entry["norm_column"], entry["ip_column"]
    return parts


def schema_metadata(source: Any) -> dict:
    """The ``galaxlite`` metadata carried by an Arrow schema (or by a batch or table)."""
    schema = source if isinstance(source, pa.Schema) else getattr(source, "schema", None)
    raw = (getattr(schema, "metadata", None) or {}).get(METADATA_KEY)
    if raw is None:
        raise errors.TrainingExportError(
            "this batch carries no galaxlite metadata (a dict of numpy arrays, or a table read "
            "without its schema metadata): pass metadata=<the export's path>, or decode with "
            "galaxlite.decoder(path)"
        )
    return json.loads(raw)

"""Dataset snapshots: CREATE / SAMPLE / PUBLISH / ARCHIVE / PURGE SNAPSHOT and the
``db4ai_*`` parameters (openGauss DB4AI semantics): the statements the runners call.

The catalog is the plain table ``db4ai_snapshot`` (schema/snapshots.sql). Each snapshot is
a real SQLite view named ``<prefix><delimiter><version>`` ("m0@1.0.0"), plain SQL that any
client can read. Its rows live in one of two storage models, chosen by
``db4ai_snapshot_mode`` when it is made:

* MSS — table ``_gl_s<id>``, the snapshot's rows under the user's column names.
* CSS — one *matrix* table ``_gl_m<id>`` per lineage: a row id ``_gl_rid``, physical
  columns ``f1, f2, ...`` and membership marks. A derived snapshot shares the matrix rows
  it leaves unchanged and appends a copy of each row it changes (copy-on-write per row); a
  new column is a new physical column.

Every snapshot is made the same way: a working table W receives the rows (a query's, or a
parent's: in CSS each keeps its matrix rowid as its rowid), the USING commands run on W in
order, then W *is* the MSS table, or is compared with the matrix (CSS): rows equal to their
matrix row (value and type of every inherited column) are shared, the others appended. Both
models therefore give the same rows. Everything happens inside one savepoint of the
caller's write scope: a failure leaves no snapshot, no table and no catalog change.

Reading snapshots (the catalog records, ``name@version`` in any statement, the parameters
in force) is below the engine, in ``galaxlite.storage.snapshot_catalog`` and
``galaxlite.storage.snapshot_names``. This package makes and changes them:

* ``create`` — CREATE SNAPSHOT ... AS / FROM ... USING;
* ``sample`` — SAMPLE SNAPSHOT;
* ``manage`` — PUBLISH / ARCHIVE / PURGE, and the refusal to DROP VIEW a snapshot's view;
* ``parameters`` — SET / RESET / SHOW and ALTER DATABASE SET / RESET of ``db4ai_*``;
* ``names`` — a new snapshot's version and full name;
* ``work`` — the working table W, the USING commands, errors located in the statement;
* ``css`` — the matrix of a CSS lineage, its marks, and the read-only guards;
* ``registry`` — the catalog row, the storage and the view of a new snapshot.
"""

from galaxlite.snapshots.create import create_snapshot
from galaxlite.snapshots.manage import check_not_a_snapshot_view, manage_snapshot
from galaxlite.snapshots.parameters import set_parameter, show_parameter
from galaxlite.snapshots.sample import sample_snapshot

__all__ = [
    "check_not_a_snapshot_view", "create_snapshot", "manage_snapshot", "sample_snapshot",
    "set_parameter", "show_parameter",
]

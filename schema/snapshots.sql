-- Dataset snapshots (CREATE SNAPSHOT ...; openGauss DB4AI semantics). Plain SQLite: any
-- client reads the catalog as `db4ai_snapshot` (galaxlite also answers to `db4ai.snapshot`)
-- and each snapshot as the view named after it ("m0@1.0.0").
--
-- The openGauss columns first: `name` is the full name (prefix, delimiter, version) under the
-- delimiter/separator in force when the snapshot was made; `commands` is a JSON array of
-- strings, the lineage recipe (openGauss's TEXT[]): ["SELECT *", "FROM t", ""] for CREATE ...
-- AS, the USING pieces (["DELETE", "WHERE x > 3", ...]) for CREATE ... FROM, ["SAMPLE _train
-- .8 {label}"] for SAMPLE; a purge prepends the purged snapshot's recipe to its children's.
-- `created` is UTC 'YYYY-MM-DD HH:MM:SS.ffffff'; `published`/`archived` are 0/1.
--
-- Then galaxlite's own: `prefix` and `version` (the name's two parts), `mode` (MSS: the rows
-- are table `storage` = _gl_s<id>; CSS: they are rows of the matrix table `storage` =
-- _gl_m<matrix_id>, shared by a lineage), `columns`, the JSON list [[user name, physical
-- column, column definition], ...] in the snapshot's column order, and (CSS) `membership`,
-- JSON {"top": n, "flags": ["_s3", "_s7"], "masks": {"_gl_x0": 5}}: the snapshot is the
-- matrix rows with _gl_rid <= top, none of the mask bits set, whose flag columns are all 1.
-- Storage tables carry triggers _gl_s<id>_read_only_insert/update/delete (and the same for
-- _gl_m<id>) that refuse every write, from any client: snapshots are immutable.
CREATE TABLE IF NOT EXISTS db4ai_snapshot (
    id        INTEGER PRIMARY KEY,
    parent_id INTEGER,
    matrix_id INTEGER,
    root_id   INTEGER,
    schema    TEXT NOT NULL,
    name      TEXT NOT NULL COLLATE NOCASE,
    owner     TEXT NOT NULL,
    commands  TEXT NOT NULL,
    comment   TEXT,
    published INTEGER NOT NULL DEFAULT 0,
    archived  INTEGER NOT NULL DEFAULT 0,
    created   TEXT,
    row_count INTEGER NOT NULL,
    prefix    TEXT NOT NULL,
    version   TEXT NOT NULL,
    mode      TEXT NOT NULL CHECK (mode IN ('MSS', 'CSS')),
    storage   TEXT NOT NULL,
    columns   TEXT NOT NULL,
    membership TEXT,
    UNIQUE (schema, name)
);
CREATE INDEX IF NOT EXISTS db4ai_snapshot_by_parent ON db4ai_snapshot (parent_id);

-- Like openGauss's catalog, it is read-only for users: only galaxlite's snapshot statements
-- change it (inside galaxlite_catalog_writer(), as the other catalogs: see catalog.sql).
CREATE TRIGGER IF NOT EXISTS db4ai_snapshot_no_insert BEFORE INSERT ON db4ai_snapshot
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'permission denied for relation snapshot');
END;
CREATE TRIGGER IF NOT EXISTS db4ai_snapshot_no_update BEFORE UPDATE ON db4ai_snapshot
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'permission denied for relation snapshot');
END;
CREATE TRIGGER IF NOT EXISTS db4ai_snapshot_no_delete BEFORE DELETE ON db4ai_snapshot
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'permission denied for relation snapshot');
END;

-- galaxlite catalog. Plain SQLite: any client can read it (and must not need galaxlite to).
CREATE TABLE IF NOT EXISTS galaxlite_meta (
    key   TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;

-- The version clock lives in the file so that triggers (which cannot see TEMP tables) and
-- plain clients share it. `version` is the last version handed out, in µs since the epoch.
-- `pinned` is 1 only inside a galaxlite write transaction, whose writes all share `version`;
-- it is reset before COMMIT, so no other connection ever sees it set.
CREATE TABLE IF NOT EXISTS galaxlite_clock (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    pinned  INTEGER NOT NULL DEFAULT 0
);
-- (not INSERT OR IGNORE: the guard below fires before the conflict would be ignored)
INSERT INTO galaxlite_clock (id, version, pinned) SELECT 1, 0, 0
WHERE NOT EXISTS (SELECT 1 FROM galaxlite_clock);

-- Version tags: a name for one version. Creating one copies nothing.
CREATE TABLE IF NOT EXISTS galaxlite_tags (
    name         TEXT PRIMARY KEY,
    version      INTEGER NOT NULL UNIQUE,
    created_us   INTEGER NOT NULL,
    for_training INTEGER NOT NULL DEFAULT 0,
    precision    TEXT,
    seed         INTEGER
);
CREATE TRIGGER IF NOT EXISTS galaxlite_tags_immutable BEFORE UPDATE ON galaxlite_tags
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: version tags are immutable');
END;

-- One row per schema version of each versioned table: [valid_from, valid_to) in µs,
-- valid_to NULL for the schema in force. `columns` maps the user's column names at that
-- version to the stable column names of the history table (JSON [[name, hcol], ...]).
CREATE TABLE IF NOT EXISTS galaxlite_tables (
    table_id    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    valid_from  INTEGER NOT NULL,
    valid_to    INTEGER,
    history     TEXT NOT NULL,
    companion   TEXT NOT NULL,
    key_columns TEXT NOT NULL,
    columns     TEXT NOT NULL,
    PRIMARY KEY (table_id, valid_from)
);
CREATE INDEX IF NOT EXISTS galaxlite_tables_by_name ON galaxlite_tables (name COLLATE NOCASE, valid_from);

-- Embedding cache of semantic search (SEMANTIC_MATCH / SEMANTIC_SCORE): one row per embedder
-- and distinct text, the text known by its BLAKE2b-128 hash (of its UTF-8 bytes); `vector` is
-- `dim` little-endian float32 values of unit length. Shared by current data, AT VERSION
-- reads and snapshots. Only a cache: deleting rows costs recomputation, never correctness.
CREATE TABLE IF NOT EXISTS galaxlite_embeddings (
    embedder  TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    dim       INTEGER NOT NULL,
    vector    BLOB NOT NULL,
    PRIMARY KEY (embedder, text_hash)
);

-- The embedder each column's embeddings come from (recorded on first use; Database.embed
-- with another embedder re-embeds the column and switches it). Embedders are never mixed.
-- `declared` 1: the column was declared `EMBEDDING [MODEL 'name'] [DIM n]` (CREATE / ALTER
-- TABLE), and its embedder is the declared model whatever the session's default; 0: recorded
-- on first use by SEMANTIC_MATCH or Database.embed. (Files of an older galaxlite get the
-- column when a writer opens them: galaxlite.storage.check.bring_catalog_up_to_date.)
CREATE TABLE IF NOT EXISTS galaxlite_embedding_columns (
    table_name  TEXT NOT NULL COLLATE NOCASE,
    column_name TEXT NOT NULL COLLATE NOCASE,
    embedder    TEXT NOT NULL,
    dim         INTEGER NOT NULL,
    declared    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (table_name, column_name)
);

-- Every row galaxlite_embedding_columns has had, with the versions it was in force: from
-- valid_from (included) to valid_to (excluded; NULL: in force now). Every write of
-- galaxlite_embedding_columns (a declaration, DROP EMBEDDING, first use, another embedder)
-- closes the row in force here and opens the new one, at the version of the change, in its
-- transaction; a rename renames the rows here too, a dropped table's or column's rows go
-- (galaxlite.storage.declarations). An export of a tag uses the declarations in force at the
-- tag's version (galaxlite.exports.plan), so that it holds what an export at tag time held.
-- Files of an older galaxlite get it when a writer opens them, their declarations in force
-- since version 0 (what exports of their tags used until then); galaxlite_meta row
-- 'embedding_history' says that the file has it.
CREATE TABLE IF NOT EXISTS galaxlite_embedding_history (
    table_name  TEXT NOT NULL COLLATE NOCASE,
    column_name TEXT NOT NULL COLLATE NOCASE,
    embedder    TEXT NOT NULL,
    dim         INTEGER NOT NULL,
    declared    INTEGER NOT NULL,
    valid_from  INTEGER NOT NULL,
    valid_to    INTEGER
);
CREATE INDEX IF NOT EXISTS galaxlite_embedding_history_by_column ON galaxlite_embedding_history (table_name, column_name, valid_from);

-- Training exports (CREATE VERSION TAG ... FOR TRAINING, Database.export_training): one row per
-- table exported as a Lance dataset. `path` is relative to the database's exports folder and
-- tells the exports of one tag apart (several precisions or seeds coexist). `tag` is the tag's
-- name when it was exported (DROP VERSION TAG keeps its exports; `version` tells the
-- generations of a reused name apart). `seed` NULL: primary-key order; a seed of 2^63 or more
-- is stored as seed - 2^64 (the same 64 bits). `content_hash` ("sha256:<hex>") covers the
-- data, not the tag, version or table name (galaxlite.exports.ContentHash). `lance_version`:
-- the dataset's Lance version galaxlite wrote, the one its readers open. (Files made before
-- had PRIMARY KEY (version, table_name) and no lance_version: galaxlite.storage.check
-- brings them up to date when a writer opens them.)
CREATE TABLE IF NOT EXISTS galaxlite_exports (
    tag           TEXT NOT NULL,
    version       INTEGER NOT NULL,
    table_name    TEXT NOT NULL,
    path          TEXT NOT NULL PRIMARY KEY,
    precision     TEXT NOT NULL,
    seed          INTEGER,
    row_count     INTEGER NOT NULL,
    content_hash  TEXT NOT NULL,
    created_us    INTEGER NOT NULL,
    lance_version INTEGER NOT NULL DEFAULT 1
);
CREATE TRIGGER IF NOT EXISTS galaxlite_exports_immutable BEFORE UPDATE ON galaxlite_exports
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: training export records are immutable');
END;

-- Retention (PURGE HISTORY ... BEFORE VERSION a): per table, the horizon before which row
-- versions that no tag, snapshot or definition sees were removed; reading such a version is
-- an error (HistoryPurgedError), never a silently incomplete answer. galaxlite_meta's row
-- 'history_purged' says that a purge happened (so a dropped galaxlite_purges is damage).
CREATE TABLE IF NOT EXISTS galaxlite_purges (
    table_id  INTEGER PRIMARY KEY,
    horizon   INTEGER NOT NULL,
    purged_us INTEGER NOT NULL
);

-- Guards: every catalog is read-only for other clients (Python's sqlite3, the sqlite3 shell,
-- sqlite-utils, Datasette, ...). Only galaxlite's own statements change them: their guards
-- call galaxlite_catalog_writer(), an SQL function that only galaxlite connections define
-- (1 inside galaxlite's own catalog writes, galaxlite.storage.guards.catalog_writer; 0
-- otherwise). Another client's write to a catalog fails when SQLite prepares it ("no such
-- function: galaxlite_catalog_writer"), before it changes anything. None of these guards
-- fires on a plain client's ordinary writes to the user's tables. They stop mistakes and
-- tools that do not know galaxlite; a client set on tampering can still drop them
-- (galaxlite check names every missing or changed guard; --repair makes them again).
CREATE TRIGGER IF NOT EXISTS galaxlite_meta_no_insert BEFORE INSERT ON galaxlite_meta
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: galaxlite_meta changes only with galaxlite''s statements (ALTER DATABASE SET)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_meta_no_update BEFORE UPDATE ON galaxlite_meta
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: galaxlite_meta changes only with galaxlite''s statements (ALTER DATABASE SET)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_meta_no_delete BEFORE DELETE ON galaxlite_meta
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: galaxlite_meta changes only with galaxlite''s statements (ALTER DATABASE RESET)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_tags_no_insert BEFORE INSERT ON galaxlite_tags
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: version tags are made only by CREATE VERSION TAG (the catalog is read-only for other clients)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_tags_no_delete BEFORE DELETE ON galaxlite_tags
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: version tags are removed only by DROP VERSION TAG (the catalog is read-only for other clients)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_exports_no_insert BEFORE INSERT ON galaxlite_exports
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: training export records are made only by CREATE VERSION TAG ... FOR TRAINING (the catalog is read-only for other clients)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_exports_no_delete BEFORE DELETE ON galaxlite_exports
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: training export records are immutable (the catalog is read-only for other clients)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_purges_no_insert BEFORE INSERT ON galaxlite_purges
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: purge horizons are recorded only by PURGE HISTORY (the catalog is read-only for other clients)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_purges_no_update BEFORE UPDATE ON galaxlite_purges
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: purge horizons are recorded only by PURGE HISTORY (the catalog is read-only for other clients)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_purges_no_delete BEFORE DELETE ON galaxlite_purges
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: purge horizons are recorded only by PURGE HISTORY (the catalog is read-only for other clients)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_tables_no_insert BEFORE INSERT ON galaxlite_tables
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the catalog of versioned tables changes only with galaxlite''s schema statements (it is read-only for other clients)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_tables_no_update BEFORE UPDATE ON galaxlite_tables
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the catalog of versioned tables changes only with galaxlite''s schema statements (it is read-only for other clients)');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_tables_no_delete BEFORE DELETE ON galaxlite_tables
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the catalog of versioned tables changes only with galaxlite''s schema statements (it is read-only for other clients)');
END;
-- The embedding cache is written by galaxlite's semantic search only. Deleting cache rows is
-- allowed to everyone (it costs recomputation, never correctness); rewriting them is not,
-- nor the record of which embedder each column uses.
CREATE TRIGGER IF NOT EXISTS galaxlite_embeddings_no_insert BEFORE INSERT ON galaxlite_embeddings
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the embedding cache is written only by galaxlite''s semantic search');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_embeddings_no_update BEFORE UPDATE ON galaxlite_embeddings
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the embedding cache is written only by galaxlite''s semantic search');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_embedding_columns_no_insert BEFORE INSERT ON galaxlite_embedding_columns
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the embedder of a column is recorded only by galaxlite''s semantic search');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_embedding_columns_no_update BEFORE UPDATE ON galaxlite_embedding_columns
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the embedder of a column is recorded only by galaxlite''s semantic search');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_embedding_columns_no_delete BEFORE DELETE ON galaxlite_embedding_columns
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the embedder of a column is recorded only by galaxlite''s semantic search');
END;
-- The history of embedding declarations is written only by galaxlite (galaxlite.storage.declarations).
CREATE TRIGGER IF NOT EXISTS galaxlite_embedding_history_no_insert BEFORE INSERT ON galaxlite_embedding_history
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the history of embedding declarations is written only by galaxlite');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_embedding_history_no_update BEFORE UPDATE ON galaxlite_embedding_history
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the history of embedding declarations is written only by galaxlite');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_embedding_history_no_delete BEFORE DELETE ON galaxlite_embedding_history
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the history of embedding declarations is written only by galaxlite');
END;
-- The clock only moves forward, for everyone. Pinning (pinned 0 -> 1) always draws a new
-- version: a client that set pinned without it would make its writes share an old version,
-- perhaps a tag's, and so change what the tag reads.
-- (typeof: a TEXT or REAL version would compare above or between integers.)
CREATE TRIGGER IF NOT EXISTS galaxlite_clock_forward BEFORE UPDATE ON galaxlite_clock
WHEN NEW.id IS NOT OLD.id OR typeof(NEW.version) <> 'integer' OR NEW.version < OLD.version
    OR (NEW.pinned IS NOT OLD.pinned AND NEW.pinned NOT IN (0, 1))
    OR (OLD.pinned = 0 AND NEW.pinned = 1 AND NEW.version <= OLD.version)
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the version clock only moves forward');
END;
-- Only galaxlite pins the clock (its transactions' writes then share one version, and the
-- companions' guards trust a pinned clock). A plain client's triggers never write pinned.
CREATE TRIGGER IF NOT EXISTS galaxlite_clock_pin BEFORE UPDATE OF pinned ON galaxlite_clock
WHEN OLD.pinned = 0 AND NEW.pinned IS NOT 0 AND NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: only galaxlite pins the version clock');
END;
CREATE TRIGGER IF NOT EXISTS galaxlite_clock_no_delete BEFORE DELETE ON galaxlite_clock
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the version clock cannot be deleted');
END;
-- (galaxlite puts the row back, at a version past every one in the file, if it is gone)
CREATE TRIGGER IF NOT EXISTS galaxlite_clock_no_insert BEFORE INSERT ON galaxlite_clock
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the version clock has one row');
END;

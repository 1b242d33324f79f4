-- Storage of one versioned table. Placeholders in {braces} are filled by schema.render().
--   {table}      the user's table: current rows only, exactly as the user declared it
--   {history}    closed row versions: the user's columns as h0, h1, ... + rowid + [valid_from, valid_to)
--   {companion}  valid_from of each current row, keyed by rowid (or the WITHOUT ROWID key)
--   {ranges}     (rowid tables) valid_from of rows appended by a bulk insert, as rowid ranges:
--                a current row without a companion row has the valid_from of the latest
--                range that covers its rowid
-- Every write from any client is versioned by the triggers below; they use only plain SQL
-- that SQLite 3.31 understands (UPSERT with a conflict target, no unixepoch('subsec')),
-- so edge devices can write to the file too.

-- name: close_old_version
-- (inside the UPDATE and DELETE triggers) draw a version for a plain client's write, then
-- copy the row's old version into history unless it was written in this same version.
UPDATE galaxlite_clock SET version = max(version + 1, {now}) WHERE pinned = 0;
    INSERT INTO {history} ({history_names}, _gl_rowid, valid_from, valid_to)
        SELECT {old_values}, {old_rowid}, o.valid_from, k.version
        FROM (SELECT {old_valid_from} AS valid_from) AS o, galaxlite_clock AS k
        WHERE o.valid_from < k.version;

-- name: history
CREATE TABLE {history} (
    {history_columns},
    _gl_rowid,
    valid_from INTEGER NOT NULL,
    valid_to   INTEGER NOT NULL
);
CREATE INDEX {history_index} ON {history} (valid_to);
{history_guards}

-- name: companion
CREATE TABLE {companion} (
    {companion_key_defs},
    valid_from INTEGER NOT NULL{companion_pk}
){companion_options};
{companion_guards}

-- name: ranges
CREATE TABLE {ranges} (
    lo         INTEGER NOT NULL,
    hi         INTEGER NOT NULL,
    valid_from INTEGER NOT NULL
);
CREATE INDEX {ranges_index} ON {ranges} (lo);
{ranges_guards}

-- name: stash
-- {stash} (pending): the versions of the rows a plain client's INSERT is about to replace.
-- REPLACE (and INSERT OR REPLACE) deletes the rows its new row conflicts with without firing
-- DELETE triggers unless recursive_triggers is on, which plain clients leave off: their old
-- versions would never reach history. So before each insert that conflicts with a row (on
-- the rowid / primary key or a UNIQUE index), the conflicting rows' versions are noted here;
-- after the insert, those that are gone (or were replaced in place) go to history. Rows that
-- stay (INSERT OR IGNORE, UPSERT) are dropped from here when they change or are deleted,
-- so a leftover always equals the row's current version.
CREATE TABLE {stash} (
    {stash_key_defs},
    {stash_value_defs},
    valid_from INTEGER{stash_pk}
){stash_options};

-- name: flush_stash
-- (inside the insert and update triggers) the noted rows that the write replaced: their
-- versions end now; those still there are forgotten.
INSERT INTO {history} ({history_names}, _gl_rowid, valid_from, valid_to)
        SELECT {s_values}, {s_rowid}, s.valid_from, k.version
        FROM {stash} AS s, galaxlite_clock AS k
        WHERE s.valid_from < k.version
            AND ({s_is_new_key} OR NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {t_is_s_key}));
    DELETE FROM {companion} WHERE ({companion_keys}) IN (
        SELECT {s_keys} FROM {stash} AS s
        WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {t_is_s_key}));
    DELETE FROM {stash} WHERE {stash_is_new_key}
        OR NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {t_is_stash_key});

-- name: update_delete_triggers
CREATE TRIGGER {prefix}_au AFTER UPDATE ON {table}
WHEN {key_unchanged}
BEGIN
    {close_old_version}
    INSERT INTO {companion} SELECT {new_key}, version FROM galaxlite_clock WHERE 1
        ON CONFLICT ({companion_keys}) DO UPDATE SET valid_from = excluded.valid_from;
    DELETE FROM {stash} WHERE {s_is_old_key};
    {flush_stash}
END;
-- An UPDATE that changes the rowid / primary key moves the row version to its new key.
CREATE TRIGGER {prefix}_ak AFTER UPDATE ON {table}
WHEN NOT ({key_unchanged})
BEGIN
    {close_old_version}
    DELETE FROM {companion} WHERE {c_is_old_key};
    INSERT INTO {companion} SELECT {new_key}, version FROM galaxlite_clock WHERE 1
        ON CONFLICT ({companion_keys}) DO UPDATE SET valid_from = excluded.valid_from;
    DELETE FROM {stash} WHERE {s_is_old_key};
    {flush_stash}
END;
CREATE TRIGGER {prefix}_ad AFTER DELETE ON {table}
BEGIN
    {close_old_version}
    DELETE FROM {companion} WHERE {c_is_old_key};
    DELETE FROM {stash} WHERE {s_is_old_key};
END;

-- name: drop_triggers
DROP TRIGGER IF EXISTS {prefix}_bi;
DROP TRIGGER IF EXISTS {prefix}_bu;
DROP TRIGGER IF EXISTS {prefix}_ai;
DROP TRIGGER IF EXISTS {prefix}_au;
DROP TRIGGER IF EXISTS {prefix}_ak;
DROP TRIGGER IF EXISTS {prefix}_ad;

-- name: drop_insert_trigger
DROP TRIGGER IF EXISTS {prefix}_bi;
DROP TRIGGER IF EXISTS {prefix}_bu;
DROP TRIGGER IF EXISTS {prefix}_ai;

-- name: insert_trigger
-- Before a plain client's insert that conflicts with existing rows, note their versions (see
-- the stash). galaxlite's own writes (clock pinned) handle REPLACE with recursive triggers.
CREATE TRIGGER {prefix}_bi BEFORE INSERT ON {table}
WHEN (SELECT pinned FROM galaxlite_clock) = 0
    AND EXISTS (SELECT 1 FROM {table} AS o WHERE {o_conflicts_with_new})
BEGIN
    DELETE FROM {stash};
    INSERT INTO {stash} ({stash_columns}) SELECT {o_key}, {o_values}, {o_valid_from}
        FROM {table} AS o WHERE {o_conflicts_with_new};
END;
-- UPDATE OR REPLACE deletes the rows its new values conflict with, without DELETE triggers
-- too: note them the same way (the updated row itself excepted).
CREATE TRIGGER {prefix}_bu BEFORE UPDATE ON {table}
WHEN (SELECT pinned FROM galaxlite_clock) = 0
    AND EXISTS (SELECT 1 FROM {table} AS o WHERE ({o_conflicts_with_new}) AND NOT ({o_is_old_key}))
BEGIN
    DELETE FROM {stash};
    INSERT INTO {stash} ({stash_columns}) SELECT {o_key}, {o_values}, {o_valid_from}
        FROM {table} AS o WHERE ({o_conflicts_with_new}) AND NOT ({o_is_old_key});
END;
CREATE TRIGGER {prefix}_ai AFTER INSERT ON {table}
BEGIN
    UPDATE galaxlite_clock SET version = max(version + 1, {now}) WHERE pinned = 0;
    INSERT INTO {companion} VALUES ({new_key}, (SELECT version FROM galaxlite_clock))
        ON CONFLICT ({companion_keys}) DO UPDATE SET valid_from = excluded.valid_from;
    {flush_stash}
END;

-- name: history_guards
-- Guards of history ({history}): closed row versions are only ever added, by the versioning
-- triggers, stamped (valid_to) with the version of the write that closes them; never
-- updated; deleted only by galaxlite itself (inside galaxlite_catalog_writer(), a function
-- only galaxlite connections define: see catalog.sql), never by another client. (A row
-- forged with the clock's current version cannot be told from a trigger's by a trigger:
-- galaxlite check finds one that overlaps another version of its key.)
CREATE TRIGGER {prefix}_h_no_forgery BEFORE INSERT ON {history}
WHEN NEW.valid_to IS NOT (SELECT version FROM galaxlite_clock)
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: closed row versions (history) are immutable (rows are added only by writes to the table)');
END;
CREATE TRIGGER {prefix}_h_no_update BEFORE UPDATE ON {history}
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: closed row versions (history) are immutable (they cannot be updated)');
END;
CREATE TRIGGER {prefix}_h_no_delete BEFORE DELETE ON {history}
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: closed row versions (history) are immutable (they cannot be deleted)');
END;

-- name: ranges_guards
-- Guards of the bulk ranges ({ranges}): rows are added only by galaxlite's own bulk writes
-- (a plain client's triggers never write here), stamped with their version; changed or
-- deleted only by galaxlite itself.
CREATE TRIGGER {prefix}_r_no_forgery BEFORE INSERT ON {ranges}
WHEN NOT galaxlite_catalog_writer() OR NEW.valid_from IS NOT (SELECT version FROM galaxlite_clock)
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: bulk row ranges are immutable (rows are added only by galaxlite''s bulk writes)');
END;
CREATE TRIGGER {prefix}_r_no_update BEFORE UPDATE ON {ranges}
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: bulk row ranges are immutable (they cannot be updated)');
END;
CREATE TRIGGER {prefix}_r_no_delete BEFORE DELETE ON {ranges}
WHEN NOT galaxlite_catalog_writer()
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: bulk row ranges are immutable (they cannot be deleted)');
END;

-- name: companion_guards
-- Guards of the companion ({companion}), which the versioning triggers of every client
-- write. A current row's valid_from changes only to the clock's version, and (clock not
-- pinned: a plain client's write) only once its old version is closed: in history (an
-- UPDATE's close_old_version) or noted in the stash (a REPLACE, on its way to history). A
-- pinned clock is galaxlite's own transaction (only galaxlite pins it: catalog.sql). A
-- companion row's key never changes; it goes only when no current row has its key.
CREATE TRIGGER {prefix}_c_no_forgery BEFORE INSERT ON {companion}
WHEN NEW.valid_from IS NOT (SELECT version FROM galaxlite_clock)
    OR ((SELECT pinned FROM galaxlite_clock) = 0 AND EXISTS (
        SELECT 1 FROM {companion} AS c WHERE {c_is_new} AND c.valid_from IS NOT NEW.valid_from
            AND NOT ({c_closed})))
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: row versions are immutable (valid_from cannot be rewritten)');
END;
CREATE TRIGGER {prefix}_c_no_update BEFORE UPDATE ON {companion}
WHEN NOT ({c_key_unchanged}) OR (NEW.valid_from IS NOT OLD.valid_from AND (
    NEW.valid_from IS NOT (SELECT version FROM galaxlite_clock)
    OR ((SELECT pinned FROM galaxlite_clock) = 0 AND NOT ({old_closed}))))
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: row versions are immutable (valid_from cannot be rewritten)');
END;
CREATE TRIGGER {prefix}_c_no_delete BEFORE DELETE ON {companion}
WHEN EXISTS (SELECT 1 FROM {table} WHERE {key_is_old_c})
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: row versions are immutable (a current row keeps its valid_from)');
END;

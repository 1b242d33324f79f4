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
-- (inside the insert and update triggers, before the written row's companion row moves on)
-- the noted rows that the write replaced: their versions end now.
INSERT INTO {history} ({history_names}, _gl_rowid, valid_from, valid_to)
        SELECT {s_values}, {s_rowid}, s.valid_from, k.version
        FROM {stash} AS s, galaxlite_clock AS k
        WHERE s.valid_from < k.version
            AND ({s_is_new_key} OR NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {t_is_s_key}));
    DELETE FROM {companion} WHERE ({companion_keys}) IN (
        SELECT {s_keys} FROM {stash} AS s
        WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {t_is_s_key}));

-- name: forget_stash
-- (after flush_stash and the companion row) the noted rows are done with; those still there
-- are forgotten.
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
    {forget_stash}
END;
-- An UPDATE that changes the rowid / primary key moves the row version to its new key.
CREATE TRIGGER {prefix}_ak AFTER UPDATE ON {table}
WHEN NOT ({key_unchanged})
BEGIN
    {close_old_version}
    DELETE FROM {companion} WHERE {c_is_old_key};
    DELETE FROM {stash} WHERE {s_is_old_key};
    {flush_stash}
    INSERT INTO {companion} SELECT {new_key}, version FROM galaxlite_clock WHERE 1
        ON CONFLICT ({companion_keys}) DO UPDATE SET valid_from = excluded.valid_from;
    {forget_stash}
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
DROP TRIGGER IF EXISTS {prefix}_p_no_forgery;
DROP TRIGGER IF EXISTS {prefix}_p_no_update;

-- name: drop_insert_trigger
DROP TRIGGER IF EXISTS {prefix}_bi;
DROP TRIGGER IF EXISTS {prefix}_bu;
DROP TRIGGER IF EXISTS {prefix}_ai;
DROP TRIGGER IF EXISTS {prefix}_p_no_forgery;
DROP TRIGGER IF EXISTS {prefix}_p_no_update;

-- name: insert_trigger
-- Before a plain client's insert that conflicts with existing rows, note their versions (see
-- the stash). galaxlite's own writes (clock pinned) handle REPLACE with recursive triggers.
-- A new row (or, for UPDATE, a new rowid) inside a bulk range is noted too, without a
-- version: its companion row is then known to start a row, not to move a bulk row's version
-- (see companion_guards). (Made again inside galaxlite's own writes, after a bulk insert
-- for one: the stash is emptied then, so no note outlives rows written without triggers.)
DELETE FROM {stash};
CREATE TRIGGER {prefix}_bi BEFORE INSERT ON {table}
WHEN (SELECT pinned FROM galaxlite_clock) = 0
    AND (EXISTS (SELECT 1 FROM {table} AS o WHERE {o_conflicts_with_new}){insert_in_range})
BEGIN
    DELETE FROM {stash};
    INSERT INTO {stash} ({stash_columns}) SELECT {o_key}, {o_values}, {o_valid_from}
        FROM {table} AS o WHERE {o_conflicts_with_new};
    {note_new_row}
END;
-- UPDATE OR REPLACE deletes the rows its new values conflict with, without DELETE triggers
-- too: note them the same way (the updated row itself excepted).
CREATE TRIGGER {prefix}_bu BEFORE UPDATE ON {table}
WHEN (SELECT pinned FROM galaxlite_clock) = 0
    AND (EXISTS (SELECT 1 FROM {table} AS o WHERE ({o_conflicts_with_new}) AND NOT ({o_is_old_key})){update_in_range})
BEGIN
    DELETE FROM {stash};
    INSERT INTO {stash} ({stash_columns}) SELECT {o_key}, {o_values}, {o_valid_from}
        FROM {table} AS o WHERE ({o_conflicts_with_new}) AND NOT ({o_is_old_key});
    {note_new_row}
END;
CREATE TRIGGER {prefix}_ai AFTER INSERT ON {table}
BEGIN
    UPDATE galaxlite_clock SET version = max(version + 1, {now}) WHERE pinned = 0;
    {flush_stash}
    INSERT INTO {companion} VALUES ({new_key}, (SELECT version FROM galaxlite_clock))
        ON CONFLICT ({companion_keys}) DO UPDATE SET valid_from = excluded.valid_from;
    {forget_stash}
END;
-- Guards of the stash ({stash}): only the insert triggers above write it, and a row there is
-- a current row of the table exactly (key, values, valid_from), or, without a version, a key
-- the table does not hold (a new row being inserted). Never updated. (Its rows go to history
-- and let the companion's valid_from move: a forged one would forge both.)
CREATE TRIGGER {prefix}_p_no_forgery BEFORE INSERT ON {stash}
WHEN NOT ((NEW.valid_from IS NULL AND NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {t_is_new_stash_key}))
    OR EXISTS (SELECT 1 FROM {table} AS t WHERE {t_is_new_stash_key} AND {new_stash_is_t}
        AND NEW.valid_from IS {t_valid_from}))
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the stash holds only current row versions (it is written by the versioning triggers)');
END;
CREATE TRIGGER {prefix}_p_no_update BEFORE UPDATE ON {stash}
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: the stash holds only current row versions (it is never updated)');
END;

-- name: history_guards
-- Guards of history ({history}): closed row versions are only ever added, by the versioning
-- triggers, stamped (valid_to) with the version of the write that closes them; never
-- updated; deleted only by galaxlite itself (inside galaxlite_catalog_writer(), a function
-- only galaxlite connections define: see catalog.sql), never by another client.
-- A trigger closes only a key's current version, so a new closed version starts where the
-- key's current one does (its companion row's valid_from, or the bulk range's covering its
-- rowid: a REPLACE's flush_stash runs before the companion row moves on) and overlaps no
-- other closed version of the key (one probe of an index of history: the key index, or in a
-- rowid table without an INTEGER PRIMARY KEY the rowid index; with one, its value is the
-- rowid, as in every row a trigger copies, or the key index probe would miss the overlap). (A row forged with exactly those values cannot be told from a trigger's by a
-- trigger: galaxlite check finds it overlapping the current version, unless the companion
-- row moves on too.)
CREATE TRIGGER {prefix}_h_no_forgery BEFORE INSERT ON {history}
WHEN NEW.valid_to IS NOT (SELECT version FROM galaxlite_clock)
    OR (NEW.valid_from < NEW.valid_to) IS NOT 1
    OR {h_current} IS NOT NEW.valid_from
    OR {h_key_not_rowid}
    OR EXISTS (SELECT 1 FROM {history} AS h WHERE {h_overlaps_new})
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

-- name: dropped_history_guard
-- (DROP TABLE) the history of a dropped table gets no more rows; its guard, which reads the
-- companion and ranges dropped with the table, becomes one that reads nothing (SQLite
-- refuses every ALTER TABLE of a file with a trigger that names a missing table).
DROP TRIGGER IF EXISTS {prefix}_h_no_forgery;
CREATE TRIGGER {prefix}_h_no_forgery BEFORE INSERT ON {history}
BEGIN
    SELECT RAISE(ABORT, 'galaxlite: closed row versions (history) are immutable (the table was dropped)');
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
-- UPDATE's close_old_version, a REPLACE's flush_stash). A pinned clock is galaxlite's own
-- transaction (only galaxlite pins it: catalog.sql). A companion row's key never changes;
-- it goes only when no current row has its key.
-- (Rowid tables) a row without a companion row has its bulk range's valid_from: a companion
-- row made for it is the same change, allowed once that version is closed in history, or
-- when the row is new (a key the insert triggers noted in the stash without a version).
CREATE TRIGGER {prefix}_c_no_forgery BEFORE INSERT ON {companion}
WHEN NEW.valid_from IS NOT (SELECT version FROM galaxlite_clock)
    OR ((SELECT pinned FROM galaxlite_clock) = 0 AND (EXISTS (
        SELECT 1 FROM {companion} AS c WHERE {c_is_new} AND c.valid_from IS NOT NEW.valid_from
            AND NOT ({c_closed})){bulk_row_moved}))
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

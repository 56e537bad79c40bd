-- hipaakit audit trail, PostgreSQL schema version 3: the Merkle tree of each
-- stream (audit/FORMAT.md, "Merkle tree (format v2)"). Idempotent: it only
-- creates what is missing.

-- The stored hashes of each stream's tree (golang.org/x/mod/sumdb/tlog
-- stored-hash indexes): one row per commit holding the 32-byte hashes at
-- indexes first_idx, first_idx + 1, ... concatenated, inserted in the
-- transaction of the records they cover. A stream written before this table
-- existed gets its tree rebuilt from its records when its writer opens.
CREATE TABLE IF NOT EXISTS hipaakit_audit_tree (
    stream    text COLLATE "C" NOT NULL,
    first_idx bigint NOT NULL CHECK (first_idx >= 0),
    hashes    bytea  NOT NULL CHECK (length(hashes) > 0 AND length(hashes) % 32 = 0),
    PRIMARY KEY (stream, first_idx)
);

-- Format-v2 checkpoints: C2SP signed notes of the tree's size and root.
CREATE TABLE IF NOT EXISTS hipaakit_audit_tree_checkpoints (
    stream    text COLLATE "C" NOT NULL,
    size      bigint NOT NULL CHECK (size >= 0),
    note      bytea  NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS hipaakit_audit_tree_checkpoints_size ON hipaakit_audit_tree_checkpoints (stream, size);

-- Append-only, as the records.
DROP TRIGGER IF EXISTS hipaakit_audit_tree_append_only ON hipaakit_audit_tree;
CREATE TRIGGER hipaakit_audit_tree_append_only
    BEFORE UPDATE OR DELETE ON hipaakit_audit_tree
    FOR EACH ROW EXECUTE FUNCTION hipaakit_audit_reject_change();
DROP TRIGGER IF EXISTS hipaakit_audit_tree_no_truncate ON hipaakit_audit_tree;
CREATE TRIGGER hipaakit_audit_tree_no_truncate
    BEFORE TRUNCATE ON hipaakit_audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION hipaakit_audit_reject_change();
DROP TRIGGER IF EXISTS hipaakit_audit_tree_checkpoints_append_only ON hipaakit_audit_tree_checkpoints;
CREATE TRIGGER hipaakit_audit_tree_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON hipaakit_audit_tree_checkpoints
    FOR EACH ROW EXECUTE FUNCTION hipaakit_audit_reject_change();
DROP TRIGGER IF EXISTS hipaakit_audit_tree_checkpoints_no_truncate ON hipaakit_audit_tree_checkpoints;
CREATE TRIGGER hipaakit_audit_tree_checkpoints_no_truncate
    BEFORE TRUNCATE ON hipaakit_audit_tree_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION hipaakit_audit_reject_change();

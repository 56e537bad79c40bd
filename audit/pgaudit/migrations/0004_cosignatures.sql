-- hipaakit audit trail, PostgreSQL schema version 4: witness cosignatures of
-- the format-v2 checkpoints (C2SP tlog-cosignature lines, audit/FORMAT.md).
-- Idempotent: it only creates what is missing.

-- One row per witness cosignature line of one checkpoint note (the log's
-- signed note, kept whole so that the lines verify against its body).
-- Several processes may store the same line: the primary key keeps one.
CREATE TABLE IF NOT EXISTS hipaakit_audit_cosignatures (
    stream    text COLLATE "C" NOT NULL,
    size      bigint NOT NULL CHECK (size >= 0),
    note      bytea  NOT NULL,
    line      text   NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, size, line)
);

-- Append-only, as the checkpoints.
DROP TRIGGER IF EXISTS hipaakit_audit_cosignatures_append_only ON hipaakit_audit_cosignatures;
CREATE TRIGGER hipaakit_audit_cosignatures_append_only
    BEFORE UPDATE OR DELETE ON hipaakit_audit_cosignatures
    FOR EACH ROW EXECUTE FUNCTION hipaakit_audit_reject_change();
DROP TRIGGER IF EXISTS hipaakit_audit_cosignatures_no_truncate ON hipaakit_audit_cosignatures;
CREATE TRIGGER hipaakit_audit_cosignatures_no_truncate
    BEFORE TRUNCATE ON hipaakit_audit_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION hipaakit_audit_reject_change();

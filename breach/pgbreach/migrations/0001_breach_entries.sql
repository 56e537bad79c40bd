-- Incident entries of package breach (schema version 1). Each row is one
-- entry, its canonical line (breach/FORMAT.md) in "line"; incident and seq
-- are copies of the line's members for the key and the gap-free check.
CREATE TABLE breach_entries (
    incident  text COLLATE "C" NOT NULL CHECK (octet_length(incident) BETWEEN 5 AND 64),
    seq       bigint NOT NULL CHECK (seq >= 1),
    line      text   NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident, seq)
);

-- Append-only: an entry is never updated or deleted.
CREATE FUNCTION breach_entries_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'breach entries are append-only: % rejected', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER breach_entries_append_only
    BEFORE UPDATE OR DELETE ON breach_entries
    FOR EACH ROW EXECUTE FUNCTION breach_entries_reject_change();
CREATE TRIGGER breach_entries_no_truncate
    BEFORE TRUNCATE ON breach_entries
    FOR EACH STATEMENT EXECUTE FUNCTION breach_entries_reject_change();

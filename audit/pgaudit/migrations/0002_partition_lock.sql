-- hipaakit audit trail, PostgreSQL schema version 2: partitions are created
-- under an advisory lock of the schema, so that writers of several
-- processes reaching a new month (or starting on an empty schema) at once
-- never fail with "relation ... already exists".
CREATE OR REPLACE FUNCTION hipaakit_audit_ensure_partitions(from_time timestamptz, months integer)
RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    m timestamp := date_trunc('month', from_time AT TIME ZONE 'UTC');
    created integer := 0;
    name text;
BEGIN
    IF months < 1 OR months > 120 THEN
        RAISE EXCEPTION 'hipaakit_audit_ensure_partitions: months must be 1-120';
    END IF;
    -- Held to the end of the caller's transaction: a second caller waits,
    -- then finds the partitions made.
    PERFORM pg_advisory_xact_lock(hashtextextended('hipaakit/audit/partitions/' || current_schema(), 0));
    FOR i IN 1..months LOOP
        name := 'hipaakit_audit_records_p' || to_char(m, 'YYYYMM');
        IF to_regclass(quote_ident(name)) IS NULL THEN
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF hipaakit_audit_records FOR VALUES FROM (%L) TO (%L)',
                name, (m AT TIME ZONE 'UTC'), ((m + interval '1 month') AT TIME ZONE 'UTC'));
            -- statement triggers are not inherited: guard the partition itself
            EXECUTE format('CREATE TRIGGER hipaakit_audit_no_truncate BEFORE TRUNCATE ON %I
                FOR EACH STATEMENT EXECUTE FUNCTION hipaakit_audit_reject_change()', name);
            created := created + 1;
        END IF;
        m := m + interval '1 month';
    END LOOP;
    RETURN created;
END $$;

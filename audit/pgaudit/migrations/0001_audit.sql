-- hipaakit audit trail, PostgreSQL schema version 1 (see the package doc).

-- One row per stream: the stored head of its hash chain and the writer that
-- currently owns it. Writers move it with a compare-and-set on (owner,
-- last_seq) in the transaction that inserts their records.
CREATE TABLE hipaakit_audit_streams (
    stream      text COLLATE "C" PRIMARY KEY,
    owner       text        NOT NULL,
    last_seq    bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    head        bytea       NOT NULL CHECK (length(head) = 32),
    last_logged timestamptz NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now()
);

-- The records. line is the canonical record line (audit/FORMAT.md); every
-- other column is derived from it for indexing and partitioning, and is
-- re-checked against the parsed line when read. logged_at is the write
-- time, never decreasing along a stream, so that dropping the oldest
-- partitions removes a prefix of every stream.
CREATE TABLE hipaakit_audit_records (
    stream      text COLLATE "C" NOT NULL,
    seq         bigint      NOT NULL CHECK (seq > 0),
    logged_at   timestamptz NOT NULL,
    time_s      bigint      NOT NULL,
    time_n      integer     NOT NULL,
    action      text COLLATE "C" NOT NULL,
    outcome     text COLLATE "C" NOT NULL,
    subject     text COLLATE "C" NOT NULL,
    actor_id    text COLLATE "C" NOT NULL,
    record_type text COLLATE "C" NOT NULL,
    record_id   text COLLATE "C" NOT NULL,
    hash        bytea       NOT NULL,
    line        bytea       NOT NULL,
    PRIMARY KEY (stream, seq, logged_at)
) PARTITION BY RANGE (logged_at);

CREATE INDEX hipaakit_audit_records_time ON hipaakit_audit_records (time_s, time_n, stream, seq);
CREATE INDEX hipaakit_audit_records_subject ON hipaakit_audit_records (subject, time_s, time_n) WHERE subject <> '';
CREATE INDEX hipaakit_audit_records_actor ON hipaakit_audit_records (actor_id, time_s, time_n) WHERE actor_id <> '';

-- Signed checkpoints (canonical checkpoint lines) of each stream.
CREATE TABLE hipaakit_audit_checkpoints (
    stream text COLLATE "C" NOT NULL,
    seq    bigint NOT NULL CHECK (seq >= 0),
    reason text   NOT NULL,
    line   bytea  NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hipaakit_audit_checkpoints_seq ON hipaakit_audit_checkpoints (stream, seq);

-- Legal holds: while a hold is active, no partition it covers is purged.
-- An empty subject holds the whole trail.
CREATE TABLE hipaakit_audit_holds (
    id          text PRIMARY KEY,
    subject     text COLLATE "C" NOT NULL,
    reason      text NOT NULL,
    placed_at   timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz
);

-- Purges performed: which partition, the boundary of each stream.
CREATE TABLE hipaakit_audit_purges (
    partition    text        NOT NULL,
    range_start  timestamptz NOT NULL,
    range_end    timestamptz NOT NULL,
    purged_at    timestamptz NOT NULL DEFAULT now()
);

-- Append-only: no row of the trail is ever updated or deleted.
CREATE FUNCTION hipaakit_audit_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hipaakit audit trail is append-only: % on % rejected', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER hipaakit_audit_records_append_only
    BEFORE UPDATE OR DELETE ON hipaakit_audit_records
    FOR EACH ROW EXECUTE FUNCTION hipaakit_audit_reject_change();
CREATE TRIGGER hipaakit_audit_records_no_truncate
    BEFORE TRUNCATE ON hipaakit_audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION hipaakit_audit_reject_change();
CREATE TRIGGER hipaakit_audit_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON hipaakit_audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION hipaakit_audit_reject_change();
CREATE TRIGGER hipaakit_audit_checkpoints_no_truncate
    BEFORE TRUNCATE ON hipaakit_audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION hipaakit_audit_reject_change();
CREATE TRIGGER hipaakit_audit_purges_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON hipaakit_audit_purges
    FOR EACH STATEMENT EXECUTE FUNCTION hipaakit_audit_reject_change();

-- Creates the monthly partitions (UTC months) from the month of "from" for
-- "months" months, when missing. Partition names: hipaakit_audit_records_pYYYYMM.
CREATE FUNCTION hipaakit_audit_ensure_partitions(from_time timestamptz, months integer)
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
    FOR i IN 1..months LOOP
        name := 'hipaakit_audit_records_p' || to_char(m, 'YYYYMM');
        IF to_regclass(quote_ident(name)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF hipaakit_audit_records FOR VALUES FROM (%L) TO (%L)',
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

-- The partitions that a purge with this cutoff may drop: every month that
-- ends at or before cutoff and is not covered by an active legal hold (a
-- hold on the whole trail, or on a subject with records in the partition).
CREATE FUNCTION hipaakit_audit_purgeable(cutoff timestamptz)
RETURNS TABLE (partition text, range_start timestamptz, range_end timestamptz)
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    p record;
    lo timestamptz;
    hi timestamptz;
    held boolean;
BEGIN
    FOR p IN
        SELECT c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'hipaakit_audit_records'::regclass
        ORDER BY c.relname
    LOOP
        IF p.name !~ '^hipaakit_audit_records_p[0-9]{6}$' THEN
            CONTINUE;
        END IF;
        lo := (to_date(right(p.name, 6), 'YYYYMM')::timestamp) AT TIME ZONE 'UTC';
        hi := ((to_date(right(p.name, 6), 'YYYYMM') + interval '1 month')::timestamp) AT TIME ZONE 'UTC';
        IF hi > cutoff THEN
            CONTINUE;
        END IF;
        IF EXISTS (SELECT 1 FROM hipaakit_audit_holds h WHERE h.released_at IS NULL AND h.subject = '') THEN
            CONTINUE;
        END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I r JOIN hipaakit_audit_holds h
            ON h.subject = r.subject AND h.released_at IS NULL WHERE r.subject <> %L)', p.name, '')
            INTO held;
        IF held THEN
            CONTINUE;
        END IF;
        partition := p.name; range_start := lo; range_end := hi;
        RETURN NEXT;
    END LOOP;
END $$;

-- The only path that removes audit data: drops whole partitions that are
-- purgeable at cutoff (re-checked here, in the caller's transaction), and
-- records each drop. It refuses a cutoff less than min_retention before
-- now(), so no caller can shorten the retention below that floor.
CREATE FUNCTION hipaakit_audit_purge(cutoff timestamptz, partitions text[], min_retention interval)
RETURNS SETOF text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    p record;
BEGIN
    IF cutoff > now() - min_retention THEN
        RAISE EXCEPTION 'hipaakit_audit_purge: cutoff is within the minimum retention' USING ERRCODE = 'HK003';
    END IF;
    -- Only the oldest partitions, without a gap: every stream must keep a
    -- contiguous chain.
    IF EXISTS (
        SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'hipaakit_audit_records'::regclass
          AND c.relname::text COLLATE "C" < (SELECT max(x) COLLATE "C" FROM unnest(partitions) AS x)
          AND NOT (c.relname::text = ANY (partitions))) THEN
        RAISE EXCEPTION 'hipaakit_audit_purge: partitions are not the oldest contiguous run' USING ERRCODE = 'HK004';
    END IF;
    FOR p IN SELECT * FROM hipaakit_audit_purgeable(cutoff) WHERE partition = ANY (partitions) LOOP
        EXECUTE format('ALTER TABLE hipaakit_audit_records DETACH PARTITION %I', p.partition);
        EXECUTE format('DROP TABLE %I', p.partition);
        INSERT INTO hipaakit_audit_purges (partition, range_start, range_end) VALUES (p.partition, p.range_start, p.range_end);
        RETURN NEXT p.partition;
    END LOOP;
END $$;

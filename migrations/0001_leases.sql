-- hipaakit deployment tables, PostgreSQL schema version 1 (see lease.go).

-- One row per write stream (audit trail and disposal ledger): the process
-- that holds it and until when. A holder renews expires_at by heartbeat; a
-- start that finds the lease unexpired and held by another owner refuses,
-- and a lease that expired (its holder crashed) is taken over.
CREATE TABLE hipaakit_stream_leases (
    stream      text COLLATE "C" PRIMARY KEY,
    owner       text        NOT NULL,
    instance    text        NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

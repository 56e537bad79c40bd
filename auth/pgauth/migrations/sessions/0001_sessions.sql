-- auth_sessions component, version 1: server-side sessions (token hashes
-- only) and the emergency-access review log.
CREATE TABLE auth_sessions (
    id                   text        PRIMARY KEY,
    token_sha256         bytea       NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    user_id              text        NOT NULL,
    tenant_id            text        NOT NULL,
    created_at           timestamptz NOT NULL,
    last_seen_at         timestamptz NOT NULL,
    authenticated_at     timestamptz NOT NULL,
    idle_timeout_ms      bigint      NOT NULL CHECK (idle_timeout_ms > 0),
    absolute_timeout_ms  bigint      NOT NULL CHECK (absolute_timeout_ms > 0),
    expires_at           timestamptz NOT NULL,
    mfa                  boolean     NOT NULL,
    emergency_access_id  text,
    emergency_role       text,
    emergency_reason     text,
    emergency_started_at timestamptz,
    emergency_until      timestamptz,
    CHECK ((emergency_access_id IS NULL) = (emergency_until IS NULL))
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id, created_at, id);
CREATE INDEX auth_sessions_expires_idx ON auth_sessions (expires_at, id);

CREATE TABLE auth_emergency_access (
    id         text        PRIMARY KEY,
    user_id    text        NOT NULL,
    tenant_id  text        NOT NULL,
    session_id text        NOT NULL,
    role       text        NOT NULL,
    reason     text        NOT NULL,
    started_at timestamptz NOT NULL,
    until      timestamptz NOT NULL,
    ended_at   timestamptz,
    end_reason text        NOT NULL DEFAULT ''
);
CREATE INDEX auth_emergency_access_started_idx ON auth_emergency_access (started_at, id);

-- auth_users holds auth.User identities (see package auth). IDs are never
-- reused: removal is a status, rows are never deleted by the store. Secrets
-- are stored sealed (totp_secret) or hashed (password_hash, recovery_codes).
CREATE TABLE auth_users (
    id                  text        PRIMARY KEY,
    tenant_id           text        NOT NULL,
    name                text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('active', 'disabled', 'removed')),
    roles               text[]      NOT NULL DEFAULT '{}',
    admin               boolean     NOT NULL DEFAULT false,
    password_hash       text        NOT NULL DEFAULT '',
    password_changed_at timestamptz,
    totp_secret         bytea,
    totp_active         boolean     NOT NULL DEFAULT false,
    totp_digits         integer     NOT NULL DEFAULT 0,
    totp_period         integer     NOT NULL DEFAULT 0,
    totp_algorithm      text        NOT NULL DEFAULT '',
    totp_last_step      bigint      NOT NULL DEFAULT 0,
    totp_enrolled_at    timestamptz,
    recovery_codes      text[]      NOT NULL DEFAULT '{}',
    failures            integer     NOT NULL DEFAULT 0,
    last_failure        timestamptz,
    locked_at           timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    version             bigint      NOT NULL CHECK (version >= 1)
);

-- A login name is unique among a tenant's users that are not removed.
CREATE UNIQUE INDEX auth_users_tenant_name ON auth_users (tenant_id, name) WHERE status <> 'removed';
CREATE INDEX auth_users_tenant_list ON auth_users (tenant_id, name, id);

-- hipaakit deployment tables, PostgreSQL schema version 3 (see challenge_key.go).

-- The deployment's login-challenge key (name 'login'), shared by every
-- replica so that a login begun on one finishes on another: 32 random
-- bytes wrapped by the deployment's KEK (associated data
-- "hipaakit/challenge-key/v1"), never the plaintext. kek_id names the KEK
-- that wrapped it. The first start inserts it with ON CONFLICT DO NOTHING
-- and every start reads back the row that won; `hipaakit kek migrate`
-- re-wraps it in place.
CREATE TABLE hipaakit_challenge_keys (
    name       text COLLATE "C" PRIMARY KEY,
    version    integer     NOT NULL,
    kek_id     text        NOT NULL,
    wrapped    bytea       NOT NULL,
    created_at timestamptz NOT NULL
);

-- auth_attempts counts login attempts per throttle key (auth.AttemptStore):
-- client keys and names that match no usable account, shared by every
-- replica. Keys are SHA-256 digests in hex, never names or addresses.
CREATE TABLE auth_attempts (
    key   text        PRIMARY KEY CHECK (length(key) = 64),
    count integer     NOT NULL CHECK (count >= 0),
    last  timestamptz NOT NULL
);
CREATE INDEX auth_attempts_last ON auth_attempts (last);

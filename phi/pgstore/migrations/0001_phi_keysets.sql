-- Wrapped keysets and shred tombstones of phi/pgstore (schema version 1).
--
-- A row is a keyset while shredded_at IS NULL and a tombstone afterwards: a
-- tombstone has no ciphertext and no key IDs, and never turns back into a
-- keyset. ref uses the "C" collation so that comparison and ORDER BY follow
-- the byte order that phi.KeyStore.List promises, whatever the database's
-- default collation.
CREATE TABLE phi_keysets (
    ref         text COLLATE "C" PRIMARY KEY
                CHECK (octet_length(ref) BETWEEN 1 AND 128),
    version     bigint      NOT NULL CHECK (version >= 0),
    kek_id      text        NOT NULL,
    ciphertext  bytea,
    key_ids     bigint[]    NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    shredded_at timestamptz,
    CONSTRAINT phi_keysets_tombstone_has_no_key CHECK (
        (shredded_at IS NULL AND ciphertext IS NOT NULL AND version >= 1)
        OR (shredded_at IS NOT NULL AND ciphertext IS NULL AND cardinality(key_ids) = 0 AND kek_id = '')
    )
);

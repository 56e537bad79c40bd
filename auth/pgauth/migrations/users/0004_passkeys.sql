-- passkeys holds the user's WebAuthn credentials (auth.Passkey: credential
-- ID, COSE public key, sign counter, flags, name, times) as a JSON array.
-- Nothing in it is secret; raw attestation is never stored.
ALTER TABLE auth_users ADD COLUMN passkeys jsonb NOT NULL DEFAULT '[]'::jsonb;

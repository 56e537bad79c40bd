-- passkey records that the session's login used a WebAuthn passkey (a
-- phishing-resistant factor; auth.Session.Passkey).
ALTER TABLE auth_sessions ADD COLUMN passkey boolean NOT NULL DEFAULT false;

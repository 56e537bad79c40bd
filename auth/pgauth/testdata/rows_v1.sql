-- Rows as pgauth writes them with migrations users 0001-0004 and sessions
-- 0001-0002 (auth_users with role_request and passkeys, auth_sessions with
-- passkey). TestGoldenRows reads them back; later code must keep reading
-- them to the same values.
INSERT INTO auth_users (id, tenant_id, name, status, roles, admin, password_hash, password_changed_at,
	totp_secret, totp_active, totp_digits, totp_period, totp_algorithm, totp_last_step, totp_enrolled_at,
	recovery_codes, failures, last_failure, locked_at, created_at, updated_at, version, role_request, passkeys)
VALUES ('k5mqhc2wztobhwjzjnd6v3bq2i', 'clinic-7', 'dr.ada@example.org', 'active', '{physician}', false,
	'$argon2id$v=19$m=19456,t=2,p=1$Ti4UOK/YiZhTfXc2Ld3RuA$7r01/8fwGNXJNpCVf2A/WRH1dxrypXZuwAeFq8tnKTE', '2026-02-01T01:00:00Z',
	NULL, false, 0, 0, '', 0, NULL,
	'{}', 2, '2026-02-01T06:00:00Z', NULL, '2026-02-01T00:00:00Z', '2026-02-01T05:00:00Z', 4,
	'{"roles":["admin","physician"],"requested_by":"admin-1","requested_at":"2026-02-01T02:00:00Z"}',
	'[{"id":"AQIDBAUGBwg=","name":"work laptop","public_key":"pQECAyYgAQ==","sign_count":41,"aaguid":"rc4AAjW8xgpkiwsl8fBVAw==","user_verified":true,"backup_eligible":true,"backup_state":true,"transports":["internal","hybrid"],"attestation_format":"none","created_at":"2026-02-01T03:00:00Z","last_used_at":"2026-02-01T04:00:00Z"},{"id":"CQk=","name":"security key","public_key":"pQE=","created_at":"2026-02-01T05:00:00Z","last_used_at":"0001-01-01T00:00:00Z"}]');

INSERT INTO auth_sessions (id, token_sha256, user_id, tenant_id, created_at, last_seen_at, authenticated_at,
	idle_timeout_ms, absolute_timeout_ms, expires_at, mfa,
	emergency_access_id, emergency_role, emergency_reason, emergency_started_at, emergency_until, passkey)
VALUES ('00112233445566778899aabbccddeeff', '\x34a6f75ebc3219821f559f98224c01bf7a7c56e7b32ecedf182339c7da312db5',
	'k5mqhc2wztobhwjzjnd6v3bq2i', 'clinic-7', '2026-03-01T09:00:00Z', '2026-03-01T09:05:00Z', '2026-03-01T09:00:00Z',
	900000, 43200000, '2026-03-01T09:20:00Z', true, NULL, NULL, NULL, NULL, NULL, true);

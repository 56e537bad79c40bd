-- role_request holds a pending auth.RoleRequest (a role change waiting for
-- a second administrator's approval) as JSON, or NULL when none is pending.
ALTER TABLE auth_users ADD COLUMN role_request jsonb;

package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// File is a loaded policy file: the role policy and the tenant security
// policies.
type File struct {
	RBAC    *RBAC
	Tenants *Tenants
}

// policyFileVersion is the version of the policy file format.
const policyFileVersion = 1

// maxPolicyFile bounds the size of a policy file.
const maxPolicyFile = 1 << 20

// policyDoc is the policy file format (version 1), in JSON or YAML:
//
//	version: 1
//	permissions: [patient:read, patient:write, lab_result:update]
//	roles:
//	  - name: physician
//	    permissions: [patient:read, patient:write]
//	  - name: er_override
//	    emergency: true
//	    eligible_roles: [physician]
//	    max_duration: 1h
//	    permissions: [patient:read]
//	default_tenant_policy: {idle_timeout: 15m}
//	tenants:
//	  - tenant_id: clinic-a
//	    require_mfa: true
//	    idle_timeout: 30m
//	    absolute_timeout: 8h
//	    reauth_after: 5m
//	    password_policy: nist-800-63b
//	    recovery_methods: [recovery_code]
//	    approve_phi_grants: true
//	    emergency_reason_min_chars: 20
//	    emergency_reason_min_words: 3
//	    max_emergencies_per_day: 3
//	    permanent_lockout: false   # true: lock for good after MaxFailures
//	    max_sessions_per_user: 3   # 0 (default): unlimited; a login beyond it ends the oldest
//	    passkey_roles: [admin]     # sessions of these roles need a passkey
//	    passkey_second_factor: true     # a passkey may be the second factor after the password
//	    passkey_user_verification: required   # or preferred; empty: the deployment's setting
//
// Unknown fields are errors, durations use Go's syntax ("90s", "30m", "8h").
type policyDoc struct {
	Version       int         `json:"version"`
	Permissions   []string    `json:"permissions"`
	Roles         []roleDoc   `json:"roles"`
	DefaultTenant *tenantDoc  `json:"default_tenant_policy"`
	Tenants       []tenantDoc `json:"tenants"`
}

type roleDoc struct {
	Name          string   `json:"name"`
	Permissions   []string `json:"permissions"`
	Emergency     bool     `json:"emergency"`
	EligibleRoles []string `json:"eligible_roles"`
	MaxDuration   string   `json:"max_duration"`
}

type tenantDoc struct {
	TenantID     string   `json:"tenant_id"`
	RequireMFA   bool     `json:"require_mfa"`
	PasskeyRoles []string `json:"passkey_roles"`
	// Passkeys as the second factor, and their user verification.
	PasskeySecondFactor     bool     `json:"passkey_second_factor"`
	PasskeyUserVerification string   `json:"passkey_user_verification"`
	IdleTimeout             string   `json:"idle_timeout"`
	AbsoluteTimeout         string   `json:"absolute_timeout"`
	ReauthAfter             string   `json:"reauth_after"`
	PasswordPolicy          string   `json:"password_policy"`
	RecoveryMethods         []string `json:"recovery_methods"`
	// Administration and break-glass limits.
	ApprovePHIGrants        bool `json:"approve_phi_grants"`
	EmergencyReasonMinChars int  `json:"emergency_reason_min_chars"`
	EmergencyReasonMinWords int  `json:"emergency_reason_min_words"`
	MaxEmergenciesPerDay    int  `json:"max_emergencies_per_day"`

	PermanentLockout bool `json:"permanent_lockout"`

	MaxSessionsPerUser int `json:"max_sessions_per_user"`
}

func parseDur(s, what string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: %s is not a duration", ErrInvalid, what)
	}
	return d, nil
}

func (t *tenantDoc) policy() (Tenant, error) {
	p := Tenant{TenantID: t.TenantID, RequireMFA: t.RequireMFA, PasswordPolicy: t.PasswordPolicy,
		ApprovePHIGrants: t.ApprovePHIGrants, EmergencyReasonMinChars: t.EmergencyReasonMinChars,
		EmergencyReasonMinWords: t.EmergencyReasonMinWords, MaxEmergenciesPerDay: t.MaxEmergenciesPerDay,
		PermanentLockout: t.PermanentLockout, MaxSessionsPerUser: t.MaxSessionsPerUser,
		PasskeyRoles: t.PasskeyRoles, PasskeySecondFactor: t.PasskeySecondFactor,
		PasskeyUserVerification: UserVerification(t.PasskeyUserVerification)}
	var err error
	if p.IdleTimeout, err = parseDur(t.IdleTimeout, "idle_timeout"); err != nil {
		return p, err
	}
	if p.AbsoluteTimeout, err = parseDur(t.AbsoluteTimeout, "absolute_timeout"); err != nil {
		return p, err
	}
	if p.ReauthAfter, err = parseDur(t.ReauthAfter, "reauth_after"); err != nil {
		return p, err
	}
	if t.RecoveryMethods != nil {
		p.RecoveryMethods = make([]RecoveryMethod, 0, len(t.RecoveryMethods))
		for _, m := range t.RecoveryMethods {
			p.RecoveryMethods = append(p.RecoveryMethods, RecoveryMethod(m))
		}
	}
	return p, p.Validate()
}

// Parse parses and validates a policy file in JSON (a document that
// starts with '{') or YAML. Errors never quote the input beyond names of
// roles and permissions.
func Parse(data []byte) (*File, error) {
	if len(data) > maxPolicyFile {
		return nil, fmt.Errorf("%w: policy file larger than %d bytes", ErrInvalid, maxPolicyFile)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%w: not valid YAML", ErrInvalid)
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%w: YAML holds values JSON cannot represent", ErrInvalid)
		}
		data = j
	}
	var doc policyDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: malformed policy document", ErrInvalid)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the policy document", ErrInvalid)
	}
	if doc.Version != policyFileVersion {
		return nil, fmt.Errorf("%w: unsupported policy file version %d", ErrInvalid, doc.Version)
	}
	perms := make([]Permission, len(doc.Permissions))
	for i, p := range doc.Permissions {
		perms[i] = Permission(p)
	}
	roles := make([]Role, len(doc.Roles))
	for i, rd := range doc.Roles {
		d, err := parseDur(rd.MaxDuration, "max_duration")
		if err != nil {
			return nil, err
		}
		roles[i] = Role{Name: rd.Name, Emergency: rd.Emergency, EligibleRoles: rd.EligibleRoles, MaxDuration: d}
		for _, p := range rd.Permissions {
			roles[i].Permissions = append(roles[i].Permissions, Permission(p))
		}
	}
	rbac, err := NewRBAC(perms, roles)
	if err != nil {
		return nil, err
	}
	var def Tenant
	if doc.DefaultTenant != nil {
		if doc.DefaultTenant.TenantID != "" {
			return nil, fmt.Errorf("%w: the default policy has no tenant id", ErrInvalid)
		}
		if def, err = doc.DefaultTenant.policy(); err != nil {
			return nil, err
		}
	}
	tps := make([]Tenant, 0, len(doc.Tenants))
	for i := range doc.Tenants {
		p, err := doc.Tenants[i].policy()
		if err != nil {
			return nil, err
		}
		tps = append(tps, p)
	}
	tenants, err := NewTenants(def, tps...)
	if err != nil {
		return nil, err
	}
	return &File{RBAC: rbac, Tenants: tenants}, nil
}

// Load reads and parses the policy file at path.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth/policy: open policy file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPolicyFile+1))
	if err != nil {
		return nil, fmt.Errorf("auth/policy: read policy file: %w", err)
	}
	return Parse(b)
}

package suite

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hipaakit/hipaakit/internal/redact"
)

// ErrCheckFile reports a check file (the test users and routes of Check)
// that cannot be used; the error is a *CheckFileError naming the field.
var ErrCheckFile = errors.New("compliance: invalid check file")

// CheckFileError names the member of the check file at fault. It never
// quotes a value: the file holds passwords and TOTP secrets.
type CheckFileError struct {
	Field  string // for example "users[2].totp_secret"
	Reason string
}

func (e *CheckFileError) Error() string {
	if e.Field == "" {
		return "compliance: check file: " + e.Reason
	}
	return "compliance: check file: " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrCheckFile) true.
func (e *CheckFileError) Is(target error) bool { return target == ErrCheckFile }

// CheckFileVersion is the version of the check file format ParseCheckFile reads.
const CheckFileVersion = 1

// maxCheckFile bounds the size of a check file.
const maxCheckFile = 1 << 20

// CheckFile is a parsed check file: what Check needs to know about a live
// deployment that it cannot learn from outside. The format (JSON, version 1):
//
//	{
//	  "version": 1,
//	  "tenant_id": "demo",
//	  "auth_prefix": "/api/auth",          // where auth.Service's endpoints are mounted
//	  "login_page": "/login",              // optional: pages redirect there without a session
//	  "roles": ["physician", "nurse"],
//	  "routes": [{"method": "GET", "path": "/api/patients/p-1", "pattern": "GET /api/patients/{id}",
//	              "roles": ["physician"], "phi": true, "body": "", "send": false}],
//	  "users": [{"name": "doc-1", "password": "...", "totp_secret": "BASE32", "role": "physician"}],
//	  "password_only_users": [{"name": "...", "password": "...", "role": "nurse"}],
//	  "lockout_user": {"name": "...", "password": "..."},
//	  "lockout_threshold": 10,
//	  "require_mfa": true,
//	  "idle_timeout": "15m", "session_lifetime": "12h", "max_wait": "2m",
//	  "exclude": {"164.312(a)(2)(iii) automatic logoff": "why"}
//	}
//
// Routes with a method other than GET or HEAD are sent only without a
// session or as a role that must be refused, unless "send" is true: the
// check writes nothing into the deployment. Users are test accounts of the
// deployment; several per role let the check log in again without waiting
// for the next TOTP step. The lockout user ends the check locked (when the
// tenant locks accounts). The automatic-logoff check waits out the declared
// idle_timeout and session_lifetime in real time, and fails as "cannot be
// checked" when they exceed max_wait (default 2 minutes): run it against a
// deployment configured with short limits, or exclude it.
//
// The file holds secrets: a CheckFile prints as a redaction under every
// fmt verb, slog and JSON, and errors name fields, never values.
type CheckFile struct {
	f checkFile
}

type checkFile struct {
	Version           int               `json:"version"`
	TenantID          string            `json:"tenant_id"`
	AuthPrefix        string            `json:"auth_prefix"`
	LoginPage         string            `json:"login_page"`
	Roles             []string          `json:"roles"`
	Routes            []checkRoute      `json:"routes"`
	Users             []checkUser       `json:"users"`
	PasswordOnlyUsers []checkUser       `json:"password_only_users"`
	LockoutUser       *checkUser        `json:"lockout_user"`
	LockoutThreshold  int               `json:"lockout_threshold"`
	RequireMFA        bool              `json:"require_mfa"`
	IdleTimeout       string            `json:"idle_timeout"`
	SessionLifetime   string            `json:"session_lifetime"`
	MaxWait           string            `json:"max_wait"`
	Exclude           map[string]string `json:"exclude"`

	idle, absolute, maxWait time.Duration
}

type checkRoute struct {
	Method  string   `json:"method"`
	Path    string   `json:"path"`
	Pattern string   `json:"pattern"`
	Roles   []string `json:"roles"`
	PHI     bool     `json:"phi"`
	Body    string   `json:"body"`
	Send    bool     `json:"send"`
}

type checkUser struct {
	Name       string `json:"name"`
	Password   string `json:"password"`
	TOTPSecret string `json:"totp_secret"`
	Role       string `json:"role"`
}

const defaultMaxWait = 2 * time.Minute

// ParseCheckFile parses and validates a check file.
func ParseCheckFile(b []byte) (*CheckFile, error) {
	if len(b) > maxCheckFile {
		return nil, &CheckFileError{Reason: fmt.Sprintf("larger than %d bytes", maxCheckFile)}
	}
	var f checkFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		// The decoder's message can quote input; name only its kind.
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, &CheckFileError{Field: ute.Field, Reason: "wrong type"}
		}
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			return nil, &CheckFileError{Reason: "unknown member"}
		}
		return nil, &CheckFileError{Reason: "not a JSON object"}
	}
	if dec.More() {
		return nil, &CheckFileError{Reason: "trailing data after the JSON object"}
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &CheckFile{f: f}, nil
}

func (f *checkFile) validate() error {
	bad := func(field, reason string) error { return &CheckFileError{Field: field, Reason: reason} }
	if f.Version != CheckFileVersion {
		return bad("version", fmt.Sprintf("must be %d", CheckFileVersion))
	}
	if f.TenantID == "" {
		return bad("tenant_id", "required")
	}
	if !strings.HasPrefix(f.AuthPrefix, "/") || !cleanPath(f.AuthPrefix) {
		return bad("auth_prefix", "must be an absolute path such as /api/auth")
	}
	f.AuthPrefix = strings.TrimSuffix(f.AuthPrefix, "/")
	if f.LoginPage != "" && !cleanPath(f.LoginPage) {
		return bad("login_page", "must be an absolute path such as /login")
	}
	if len(f.Roles) == 0 {
		return bad("roles", "required")
	}
	if len(f.Routes) == 0 {
		return bad("routes", "required")
	}
	for i, rt := range f.Routes {
		field := fmt.Sprintf("routes[%d]", i)
		if !validMethod(rt.Method) {
			return bad(field+".method", "not an HTTP method")
		}
		if !cleanPath(rt.Path) {
			return bad(field+".path", "must be a path on the deployment (starting with one /)")
		}
		for _, role := range rt.Roles {
			if !contains(f.Roles, role) {
				return bad(field+".roles", "names a role not in roles")
			}
		}
	}
	for _, list := range []struct {
		name  string
		users []checkUser
		totp  bool
	}{{"users", f.Users, true}, {"password_only_users", f.PasswordOnlyUsers, false}} {
		for i, u := range list.users {
			field := fmt.Sprintf("%s[%d]", list.name, i)
			if err := u.validate(field, f.Roles, true); err != nil {
				return err
			}
			if !list.totp && u.TOTPSecret != "" {
				return bad(field+".totp_secret", "a password-only user has no second factor")
			}
		}
	}
	if u := f.LockoutUser; u != nil {
		if err := u.validate("lockout_user", f.Roles, false); err != nil {
			return err
		}
		if f.LockoutThreshold <= 0 {
			return bad("lockout_threshold", "required with lockout_user")
		}
	}
	if f.LockoutThreshold < 0 || f.LockoutThreshold > 1000 {
		return bad("lockout_threshold", "must be between 1 and 1000")
	}
	var err error
	for _, d := range []struct {
		field string
		in    string
		out   *time.Duration
	}{{"idle_timeout", f.IdleTimeout, &f.idle}, {"session_lifetime", f.SessionLifetime, &f.absolute}, {"max_wait", f.MaxWait, &f.maxWait}} {
		if d.in == "" {
			continue
		}
		if *d.out, err = time.ParseDuration(d.in); err != nil || *d.out <= 0 {
			return bad(d.field, "must be a positive duration such as 15m")
		}
	}
	if f.maxWait == 0 {
		f.maxWait = defaultMaxWait
	}
	for control, why := range f.Exclude {
		if !contains(Controls(), control) {
			return bad("exclude", "names a control the suite does not check")
		}
		if strings.TrimSpace(why) == "" {
			return bad("exclude", "each excluded control needs a justification")
		}
	}
	return nil
}

func (u checkUser) validate(field string, roles []string, needRole bool) error {
	if u.Name == "" {
		return &CheckFileError{Field: field + ".name", Reason: "required"}
	}
	if u.Password == "" {
		return &CheckFileError{Field: field + ".password", Reason: "required"}
	}
	if needRole && !contains(roles, u.Role) {
		return &CheckFileError{Field: field + ".role", Reason: "must be one of roles"}
	}
	if u.TOTPSecret != "" {
		s := strings.ToUpper(strings.TrimRight(u.TOTPSecret, "="))
		if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s); err != nil || len(s) < 16 {
			return &CheckFileError{Field: field + ".totp_secret", Reason: "not a base32 TOTP secret of at least 80 bits"}
		}
	}
	return nil
}

// cleanPath accepts an origin-relative path (with an optional query): one
// leading slash, no scheme, host, fragment, control characters or spaces,
// so a route can never point the check at another host.
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '#' || c == '\\' {
			return false
		}
	}
	return true
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// Format, LogValue and MarshalJSON redact the file: it holds passwords and
// TOTP secrets.
func (c CheckFile) Format(f fmt.State, _ rune)   { redact.Format(f, "compliance.CheckFile") }
func (c CheckFile) LogValue() slog.Value         { return redact.Log("compliance.CheckFile") }
func (c CheckFile) MarshalJSON() ([]byte, error) { return redact.JSON("compliance.CheckFile") }

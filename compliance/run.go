package compliance

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/compliance/evidence"

	"github.com/hipaakit/hipaakit/compliance/suite"
)

// The controls the suite checks, as they name its subtests.
const (
	ControlAccess       = suite.ControlAccess
	ControlEmergency    = suite.ControlEmergency
	ControlAutoLogoff   = suite.ControlAutoLogoff
	ControlAudit        = suite.ControlAudit
	ControlIntegrity    = suite.ControlIntegrity
	ControlAuthn        = suite.ControlAuthn
	ControlMFA          = suite.ControlMFA
	ControlTransmission = suite.ControlTransmission
	ControlConfidential = suite.ControlConfidential
	// ControlPasskey is checked when Service.PasskeyRoles is set.
	ControlPasskey = suite.ControlPasskey
)

// Controls lists the controls Run checks, in the order it checks them;
// Run also checks ControlPasskey, after ControlMFA, for a Service with
// PasskeyRoles.
func Controls() []string { return suite.Controls() }

// Run checks the service described by tg, one subtest per control. It fails
// t (not just the subtest) when tg lacks a required field.
func Run(t *testing.T, tg Service) {
	t.Helper()
	if tg.Handler == nil || len(tg.Routes) == 0 || len(tg.Roles) == 0 || tg.Login == nil {
		t.Fatal("compliance: Service needs Handler, Routes, Roles and Login")
	}
	spec := suite.Spec{Routes: tg.Routes, Served: tg.Served, Roles: tg.Roles, LoginPage: tg.LoginPage, Logout: tg.Logout,
		Clock: tg.Clock, IdleTimeout: tg.IdleTimeout, AbsoluteTimeout: tg.AbsoluteTimeout, LockoutThreshold: tg.LockoutThreshold,
		RequireMFA: tg.RequireMFA, Events: tg.Events, VerifyAudit: tg.VerifyAudit, Logs: tg.Logs, CanaryRole: tg.CanaryRole,
		EmergencyRole: tg.EmergencyRole, EmergencyRoute: tg.EmergencyRoute, Exclude: tg.Exclude, PasskeyRoles: tg.PasskeyRoles}
	var st suite.T = testingT{t}
	var results func() suite.Results
	if tg.Evidence != nil {
		st, results = suite.Tee(st)
	}
	suite.RunHandler(st, tg.Handler, spec, hooksOf(tg), func(h string) string { return "Service." + h })
	if tg.Evidence != nil {
		if err := writeEvidence(tg.Evidence, results()); err != nil {
			t.Errorf("compliance: writing the CI evidence: %v", err)
		}
	}
}

// writeEvidence writes the run's results as junit.xml and results.json,
// each signed, into e.Dir.
func writeEvidence(e *Evidence, rs suite.Results) error {
	if e.Dir == "" || e.SigningKey == nil {
		return errors.New("Service.Evidence needs Dir and SigningKey")
	}
	junit, err := evidence.JUnit("compliance.Run", time.Now(), rs)
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	return evidence.WriteDir(e.Dir, e.SigningKey, map[string][]byte{"junit.xml": junit, "results.json": append(js, '\n')})
}

// testingT adapts *testing.T to the suite's T.
type testingT struct{ t *testing.T }

func (a testingT) Helper()                      { a.t.Helper() }
func (a testingT) Errorf(f string, args ...any) { a.t.Helper(); a.t.Errorf(f, args...) }
func (a testingT) Fatalf(f string, args ...any) { a.t.Helper(); a.t.Fatalf(f, args...) }
func (a testingT) Logf(f string, args ...any)   { a.t.Helper(); a.t.Logf(f, args...) }
func (a testingT) Run(name string, fn func(suite.T)) bool {
	return a.t.Run(name, func(t *testing.T) { fn(testingT{t}) })
}

// tbOf returns the testing.TB behind t, for the Service's hooks: in-process
// the suite always passes them the T it got from Run.
func tbOf(t suite.T) testing.TB {
	for {
		u, ok := t.(interface{ Unwrap() suite.T })
		if !ok {
			return t.(testingT).t
		}
		t = u.Unwrap()
	}
}

// hooksOf adapts tg's callbacks; a nil callback stays nil.
func hooksOf(tg Service) suite.Hooks {
	h := suite.Hooks{Login: func(t suite.T, role string) Session { return tg.Login(tbOf(t), role) }}
	if f := tg.PasswordLogin; f != nil {
		h.PasswordLogin = func(t suite.T, role string) Session { return f(tbOf(t), role) }
	}
	if f := tg.ChangePassword; f != nil {
		h.ChangePassword = func(t suite.T, s Session) { f(tbOf(t), s) }
	}
	if f := tg.TOTP; f != nil {
		h.TOTP = func(t suite.T) (string, func(string) bool) { return f(tbOf(t)) }
	}
	if f := tg.NewCredentials; f != nil {
		h.NewCredentials = func(t suite.T) Credentials { return f(tbOf(t)) }
	}
	if f := tg.TryLogin; f != nil {
		h.TryLogin = func(t suite.T, c Credentials) bool { return f(tbOf(t), c) }
	}
	if f := tg.SeedCanary; f != nil {
		h.SeedCanary = func(t suite.T, s Session, c string) []Route { return f(tbOf(t), s, c) }
	}
	if f := tg.SeedFields; f != nil {
		h.SeedFields = func(t suite.T, s Session) ([]Route, map[string]string) { return f(tbOf(t), s) }
	}
	if f := tg.NonPasskeyLogin; f != nil {
		h.NonPasskeyLogin = func(t suite.T, role string) Session { return f(tbOf(t), role) }
	}
	if f := tg.Emergency; f != nil {
		h.Emergency = func(t suite.T, s Session, reason string) (Session, bool) { return f(tbOf(t), s, reason) }
	}
	return h
}

package auth

import "context"

// The parts of a Service, built alone for the tests that exercise one of
// them; programs build the whole Service with New.

// NewAuthenticator builds the credential part of a Service that ends
// sessions through rev.
func NewAuthenticator(cfg Config, rev SessionRevoker) (*Authenticator, error) {
	return newAuthenticator(cfg, rev)
}

// NewSessionManager builds the session part of a Service.
var NewSessionManager = newSessionManager

// NewGuard builds the RBAC part of a Service.
var NewGuard = newGuard

// NewHandlers builds the HTTP endpoints of a Service.
var NewHandlers = newHandlers

// NoSessions is a SessionRevoker that revokes nothing, for tests of the
// credential part alone.
var NoSessions SessionRevoker = SessionRevokerFunc(func(context.Context, string) error { return nil })

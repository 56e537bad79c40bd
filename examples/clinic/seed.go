package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/totp"
)

// demoUser is one seeded account; the secrets are printed once and kept by
// nobody (tests read them from seed's return value).
type demoUser struct {
	Role, Name, Password, TOTPSecret, URI string
	ID                                    string
	// RecoveryCodes are the single-use codes that sign the user in when
	// the authenticator is lost.
	RecoveryCodes []string
}

// demoAccount is one account the first start creates.
type demoAccount struct{ Role, Name string }

// demoAccounts are one user per role, named after it, and a second
// administrator (PHI grants need two).
func demoAccounts() []demoAccount {
	var out []demoAccount
	for _, r := range demoRoles {
		out = append(out, demoAccount{r, r})
	}
	return append(out, demoAccount{roleAdmin, secondAdmin})
}

// seedActor is the actor of everything the first start creates.
var seedActor = audit.Actor{UserID: "system:seed"}

// randomPassword returns 20 characters from a 56-symbol alphabet (116 bits).
func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}

// seed creates the demo tenant's users (one per role, each with TOTP
// enrolled and confirmed) and two demo patients, unless users exist already.
// It returns nil users when there was nothing to do.
func (a *app) seed(ctx context.Context) ([]demoUser, error) {
	existing, err := a.d.Users.List(ctx, demoTenant)
	if err != nil {
		return nil, fmt.Errorf("clinic: list users: %w", err)
	}
	if len(existing) > 0 {
		return nil, nil
	}
	origin := audit.Origin{Channel: audit.ChannelSystem, Route: "seed"}
	var out []demoUser
	for _, acc := range demoAccounts() {
		role := acc.Role
		pw, err := randomPassword()
		if err != nil {
			return nil, err
		}
		u, err := a.d.Auth.CreateUser(ctx, auth.NewUser{TenantID: demoTenant, Name: acc.Name, Roles: []string{role},
			Admin: role == roleAdmin, Password: pw}, seedActor, origin)
		if err != nil {
			return nil, fmt.Errorf("clinic: create demo user %s: %w", role, err)
		}
		// The enrolment gives the secret and the URI of the deployment's TOTP
		// settings; it is activated by import, not confirmed with a code:
		// confirming would spend the current code, and the user's first
		// login in the same 30 s would be refused as a replay.
		enr, err := a.d.Auth.EnrollTOTP(ctx, u.ID, origin)
		if err != nil {
			return nil, fmt.Errorf("clinic: enrol demo user %s: %w", role, err)
		}
		rc, err := a.d.Auth.ImportTOTP(ctx, u.ID, totp.Import{Secret: enr.Secret()}, seedActor, origin)
		if err != nil {
			return nil, fmt.Errorf("clinic: confirm demo user %s: %w", role, err)
		}
		out = append(out, demoUser{Role: role, Name: acc.Name, Password: pw, TOTPSecret: enr.Secret(), URI: enr.URI(), ID: u.ID,
			RecoveryCodes: rc})
	}
	for _, p := range []patientIn{
		{"mrn": "MRN-1001", "name": "Jane Doe", "dob": "1961-04-02", "zip": "02139", "phone": "+1 617 555 0101"},
		{"mrn": "MRN-1002", "name": "John Roe", "dob": "1930-11-30", "zip": "03601", "email": "john.roe@example.org"},
	} {
		if _, err := a.clinic.create(ctx, p, seedActor, origin); err != nil {
			return nil, fmt.Errorf("clinic: create demo patient: %w", err)
		}
	}
	return out, nil
}

// printDemoUsers tells the operator, once, how to sign in.
func printDemoUsers(w io.Writer, users []demoUser, url string) {
	fmt.Fprintf(w, "\nFirst start: created the demo tenant %q with one user per role.\n", demoTenant)
	fmt.Fprintln(w, "These passwords, authenticator secrets and recovery codes are shown ONCE. Add each otpauth")
	fmt.Fprintln(w, "URI to an authenticator app (or generate codes with: oathtool --totp -b SECRET), then sign in at")
	fmt.Fprintf(w, "%s/login with the user name, password and the current 6-digit code. A recovery code\n", url)
	fmt.Fprintln(w, "replaces the 6-digit code once if the authenticator is lost.")
	fmt.Fprintln(w)
	for _, u := range users {
		fmt.Fprintf(w, "  %-14s user %-14s password %s\n  %14s %s\n  %14s recovery codes: %s\n", u.Role, u.Name, u.Password, "", u.URI,
			"", strings.Join(u.RecoveryCodes, " "))
	}
	fmt.Fprintln(w, "\nDemo patients: MRN-1001 and MRN-1002 (search by MRN).")
}

package main

// `hipaakit user ...`: operators recover accounts (unlock after a lockout,
// disable, enable, reset the second factor, issue new recovery codes) on the
// file stores of a stopped service (HIPAAKIT_DATA_DIR: users/, sessions/,
// audit/) or on a live PostgreSQL deployment (DATABASE_URL: the
// auth_users and auth_sessions tables). Every change goes through
// auth.Service and is audited with the operator as actor (--by,
// default cli:$USER), on a deployment opened by hipaakit.OpenTool; list
// reads through hipaakit.Inspect and runs beside a service.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

const userUsage = `usage: hipaakit user <command>

commands:
  list --tenant T                               list a tenant's users (status, MFA, lockout)
  unlock USER [--by U]                          clear the lockout and failure count
  disable USER [--by U]                         disable the user (ends its sessions)
  enable USER [--by U]                          enable a disabled user
  reset-mfa USER [--by U]                       remove TOTP and recovery codes (ends its sessions)
  recovery-codes USER [--by U]                  print new recovery codes (replaces the old ones)

USER is a user ID, or a login name with --tenant T.
`

// cmdUser runs `hipaakit user ...`.
func cmdUser(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, userUsage)
		return exitUsage
	}
	sub := args[0]
	switch sub {
	case "list", "unlock", "disable", "enable", "reset-mfa", "recovery-codes":
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, userUsage)
		return exitOK
	default:
		fmt.Fprintf(c.stderr, "hipaakit user: unknown command %q\n\n%s", sub, userUsage)
		return exitUsage
	}
	fs := drFlags(c, "user "+sub)
	tenant := fs.String("tenant", "", "tenant ID")
	by := fs.String("by", "", "operator user ID (default cli:$USER)")
	pos, err := drParse(fs, args[1:])
	want := 1
	if sub == "list" {
		want = 0
	}
	if err != nil || len(pos) != want || (sub == "list" && *tenant == "") {
		fmt.Fprint(c.stderr, userUsage)
		return exitUsage
	}
	if sub == "list" {
		return userList(ctx, c, *tenant)
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, "user", err)
	}
	defer t.Close()
	a, err := t.Auth(ctx)
	if err != nil {
		return drFail(c, "user", err)
	}
	u, err := userFind(ctx, a, *tenant, pos[0])
	if errors.Is(err, auth.ErrUserNotFound) {
		fmt.Fprintf(c.stderr, "hipaakit user %s: no such user\n", sub)
		return exitCheck
	}
	if err != nil {
		return drFail(c, "user "+sub, err)
	}
	actor := audit.Actor{UserID: drActor(c, *by), TenantID: u.TenantID}
	origin := audit.Origin{Channel: audit.ChannelSystem, UserAgent: "hipaakit-cli"}
	var codes []string
	switch sub {
	case "unlock":
		err = a.Unlock(ctx, u.ID, actor, origin)
	case "disable":
		err = a.SetStatus(ctx, u.ID, auth.StatusDisabled, actor, origin)
	case "enable":
		err = a.SetStatus(ctx, u.ID, auth.StatusActive, actor, origin)
	case "reset-mfa":
		err = a.DisableTOTP(ctx, u.ID, "", actor, origin)
	case "recovery-codes":
		codes, err = a.RegenerateRecoveryCodes(ctx, u.ID, actor, origin)
	}
	var refused *auth.RefusedError
	isRefused := errors.As(err, &refused)
	switch {
	case errors.Is(err, auth.ErrInvalidUser),
		isRefused && (refused.Reason == "user_inactive" || refused.Reason == "mfa_not_enrolled" || refused.Reason == "recovery_not_allowed"):
		fmt.Fprintf(c.stderr, "hipaakit user %s: %v\n", sub, err)
		return exitCheck
	case err != nil:
		return drFail(c, "user "+sub, err)
	}
	for _, code := range codes {
		fmt.Fprintln(c.stdout, code)
	}
	if codes == nil {
		fmt.Fprintf(c.stdout, "%s %s\n", sub, u.ID)
	}
	return exitOK
}

// userFind resolves USER: an ID, or a name in tenant.
func userFind(ctx context.Context, a *auth.Service, tenant, ref string) (*auth.User, error) {
	if tenant == "" {
		return a.Users().Get(ctx, ref)
	}
	name, err := auth.CanonicalName(ref)
	if err != nil {
		return nil, auth.ErrUserNotFound
	}
	return a.Users().GetByName(ctx, tenant, name)
}

// userList lists the users of tenant, read-only (hipaakit.Inspect): it
// records nothing, claims no stream and runs beside a service.
func userList(ctx context.Context, c *cli, tenant string) int {
	in, err := inspect(ctx, c)
	if err != nil {
		return drFail(c, "user list", err)
	}
	defer in.Close()
	all, err := in.Users(ctx)
	var missing *hipaakit.MissingError
	if errors.As(err, &missing) {
		err = nil // no user was ever stored
	}
	if err != nil {
		return drFail(c, "user list", err)
	}
	var us []*auth.User
	for _, u := range all.Users {
		if u.TenantID == tenant {
			us = append(us, u)
		}
	}
	slices.SortFunc(us, func(a, b *auth.User) int { return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID)) })
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tROLES\tMFA\tFAILURES\tLOCKED")
	for _, u := range us {
		locked := "-"
		if u.Lockout.Locked() {
			locked = u.Lockout.LockedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%d\t%s\n", u.ID, u.Name, u.Status, drDash(strings.Join(u.Roles, ",")),
			u.MFA.TOTPActive, u.Lockout.Failures, locked)
	}
	tw.Flush()
	return exitOK
}

package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/retention"
)

const holdUsage = `usage: hipaakit hold <command>

commands:
  set  (--subject ID | --kind KIND | both) --reason TEXT [--by USER]   place a legal hold
  lift HOLD-ID --reason TEXT [--by USER]                             lift a hold (it stays on record)
  list [--all]                                                       list active holds (--all: lifted too)
`

// cmdHold runs `hipaakit hold ...`.
func cmdHold(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, holdUsage)
		return exitUsage
	}
	sub := args[0]
	fs := drFlags(c, "hold "+sub)
	var subject, kind, reason, by *string
	all := fs.Bool("all", false, "list lifted holds too")
	switch sub {
	case "set":
		subject = fs.String("subject", "", "subject ID to hold")
		kind = fs.String("kind", "", "record kind to hold")
		fallthrough
	case "lift":
		reason = fs.String("reason", "", "why (required; no PHI)")
		by = fs.String("by", "", "user ID (default cli:$USER)")
	case "list":
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, holdUsage)
		return exitOK
	default:
		fmt.Fprintf(c.stderr, "hipaakit hold: unknown command %q\n\n%s", sub, holdUsage)
		return exitUsage
	}
	pos, err := drParse(fs, args[1:])
	wantPos := map[string]int{"set": 0, "lift": 1, "list": 0}[sub]
	if err != nil || len(pos) != wantPos || (reason != nil && *reason == "") {
		fmt.Fprint(c.stderr, holdUsage)
		return exitUsage
	}
	if sub == "list" {
		return holdList(ctx, c, *all)
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, "hold", err)
	}
	defer t.Close()
	reg, err := t.Holds(ctx)
	if err != nil {
		return drFail(c, "hold", err)
	}
	switch sub {
	case "set":
		h, err := reg.Set(ctx, retention.HoldRequest{Subject: *subject, Kind: *kind, Reason: *reason, SetBy: drActor(c, *by)})
		if errors.Is(err, retention.ErrInvalidHold) {
			fmt.Fprintf(c.stderr, "hipaakit hold set: %v\n", err)
			return exitUsage
		}
		if err != nil {
			return drFail(c, "hold set", err)
		}
		fmt.Fprintln(c.stdout, h.ID)
	case "lift":
		_, err := reg.Lift(ctx, pos[0], drActor(c, *by), *reason)
		if errors.Is(err, retention.ErrHoldNotFound) || errors.Is(err, retention.ErrHoldLifted) {
			fmt.Fprintf(c.stderr, "hipaakit hold lift: %v\n", err)
			return exitCheck
		}
		if errors.Is(err, retention.ErrInvalidHold) {
			fmt.Fprintf(c.stderr, "hipaakit hold lift: %v\n", err)
			return exitUsage
		}
		if err != nil {
			return drFail(c, "hold lift", err)
		}
		fmt.Fprintf(c.stdout, "lifted %s\n", pos[0])
	}
	return exitOK
}

// holdList lists the holds on record, read-only (hipaakit.Inspect): it
// records nothing, claims no stream and runs beside a service.
func holdList(ctx context.Context, c *cli, all bool) int {
	in, err := inspect(ctx, c)
	if err != nil {
		return drFail(c, "hold list", err)
	}
	defer in.Close()
	holds, err := in.Holds(ctx)
	var missing *hipaakit.MissingError
	if errors.As(err, &missing) {
		holds, err = nil, nil // no hold was ever placed
	}
	if err != nil {
		return drFail(c, "hold list", err)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSUBJECT\tKIND\tSET BY\tSET AT\tSTATUS\tREASON")
	for _, h := range holds {
		if !h.Active() && !all {
			continue
		}
		status := "active"
		if !h.Active() {
			status = "lifted " + h.LiftedAt.Format(time.DateOnly) + " by " + audit.EscapeText(h.LiftedBy)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", audit.EscapeText(h.ID), drDash(h.Subject), drDash(h.Kind),
			audit.EscapeText(h.SetBy), h.SetAt.Format(time.RFC3339), status, audit.EscapeText(h.Reason))
	}
	tw.Flush()
	return exitOK
}

func drDash(s string) string {
	if s == "" {
		return "*"
	}
	return audit.EscapeText(s)
}

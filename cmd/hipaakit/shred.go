package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/disposal"
	"github.com/hipaakit/hipaakit/durable"
)

const shredUsage = "usage: hipaakit shred SUBJECT --reason TEXT [--by USER] [--kinds k1,k2] [--out FILE]\n"

// cmdShred runs `hipaakit shred`: crypto-shred a subject and print (or
// write) its signed disposal certificate. Exit 1 when refused (legal hold,
// unknown subject).
func cmdShred(ctx context.Context, c *cli, args []string) int {
	fs := drFlags(c, "shred")
	reason := fs.String("reason", "", "why the subject is disposed of (required; no PHI)")
	by := fs.String("by", "", "user ID ordering the disposal (default cli:$USER)")
	kinds := fs.String("kinds", "", "comma-separated record kinds the subject has (narrows which legal holds apply)")
	out := fs.String("out", "", "write the certificate to FILE instead of standard output")
	pos, err := drParse(fs, args)
	if err != nil || len(pos) != 1 || *reason == "" {
		fmt.Fprint(c.stderr, shredUsage)
		return exitUsage
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, "shred", err)
	}
	defer t.Close()
	shredder, err := t.Shredder(ctx)
	if err != nil {
		return drFail(c, "shred", err)
	}
	opts := []disposal.ShredOption{disposal.By(audit.Actor{UserID: drActor(c, *by)}), disposal.Via(audit.Origin{Channel: audit.ChannelSystem, UserAgent: "hipaakit-cli"})}
	if *kinds != "" {
		opts = append(opts, disposal.Kinds(drSplit(*kinds)...))
	}
	res, err := shredder.Shred(ctx, pos[0], *reason, opts...)
	switch {
	case errors.Is(err, disposal.ErrLegalHold), errors.Is(err, disposal.ErrUnknownSubject):
		fmt.Fprintf(c.stderr, "hipaakit shred: refused: %v\n", err)
		return exitCheck
	case errors.Is(err, disposal.ErrInvalidSubject), errors.Is(err, disposal.ErrInvalidReason):
		fmt.Fprintf(c.stderr, "hipaakit shred: %v\n", err)
		return exitUsage
	case err != nil:
		return drFail(c, "shred", err)
	}
	if *out != "" {
		if err := durable.WriteFileAtomic(*out, res.Signed, 0o644); err != nil {
			return drFail(c, "shred", fmt.Errorf("subject shredded, but writing the certificate failed (run the command again to get it): %w", durable.WithoutPath(err)))
		}
	} else {
		c.raw.Write(res.Signed) // signed bytes, kept exact
	}
	state := "shredded"
	if res.Repeated {
		state = "was already shredded; original certificate returned"
	}
	if t.MirrorHeld() && !res.Repeated {
		fmt.Fprintln(c.stderr, "hipaakit shred: the disposal is recorded in PostgreSQL; the service running on the data directory "+
			"holds the ledger's mirror and copies it there at its next housekeeping pass")
	}
	fmt.Fprintf(c.stderr, "hipaakit shred: subject %s; certificate %s; ledger %s entry %d\n", state, res.Certificate.ID, res.Certificate.Ledger.Stream, res.Certificate.Ledger.Seq)
	return exitOK
}

func drSplit(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

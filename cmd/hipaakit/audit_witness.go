package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/signing"
)

// auditWitnessStatus runs "hipaakit audit witness-status": whether the
// stream's newest checkpoint is cosigned by K of the given witnesses in
// the store the Publisher writes (witness.CheckStored).
func auditWitnessStatus(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("witness-status", flag.ContinueOnError)
	var keyFiles, witnesses multiFlag
	fs.Var(&keyFiles, "key", "checkpoint public key file (repeatable)")
	fs.Var(&witnesses, "witness-key", "NAME=FILE: a witness's name and public key file (repeatable)")
	require := fs.Int("require", 0, "cosignatures required (default: every --witness-key)")
	stream := fs.String("stream", "", "the stream (PostgreSQL TARGET)")
	target, err := parseTarget(fs, args)
	if err == nil && len(witnesses) == 0 {
		err = usagef("give at least one --witness-key NAME=FILE")
	}
	if err == nil && (*require < 0 || *require > len(witnesses)) {
		err = usagef("--require must be between 1 and the number of --witness-key")
	}
	if err != nil {
		return fail(c, err)
	}
	keys, err := readKeys(keyFiles)
	if err != nil {
		return fail(c, err)
	}
	var wkeys []witness.Key
	for _, w := range witnesses {
		name, file, ok := strings.Cut(w, "=")
		if !ok || name == "" {
			return fail(c, usagef("--witness-key takes NAME=FILE"))
		}
		s, err := signing.ReadKeySet(file)
		if err != nil || s.Len() != 1 {
			return fail(c, fmt.Errorf("witness key file of %s: one public key expected", name))
		}
		wkeys = append(wkeys, witness.Key{Name: name, Public: s.Keys()[0]})
	}
	k := *require
	if k == 0 {
		k = len(wkeys)
	}
	src, err := openTarget(ctx, c, target)
	if err != nil {
		return fail(c, err)
	}
	defer src.close()
	p, err := src.prover(*stream, keys)
	if err != nil {
		return fail(c, err)
	}
	st, err := witness.CheckStored(ctx, src.cosigned, p, keys, wkeys, k)
	switch {
	case err == nil:
		fmt.Fprintf(c.stdout, "OK: stream %s checkpoint of size %d is cosigned by %d of %d witnesses (%d required)\n", st.Stream, st.Size, st.Cosigned, len(wkeys), k)
		return exitOK
	case errors.Is(err, witness.ErrTooFewCosignatures), errors.Is(err, witness.ErrStale), errors.Is(err, witness.ErrNoCosigned):
		fmt.Fprintf(c.stdout, "FAILED: %v\n", err)
		return exitCheck
	case errors.Is(err, audit.ErrNoTree):
		fmt.Fprintf(c.stdout, "FAILED: %v\n", err)
		return exitCheck
	}
	return proofFail(c, err)
}

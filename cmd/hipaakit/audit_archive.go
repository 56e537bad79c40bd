package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
	"github.com/hipaakit/hipaakit/backup"
)

// auditArchiveVerify runs "hipaakit audit archive-verify ARCHIVE": it
// checks a stream's archive on its own with only the public keys and, with
// --prove SEQ, writes an inclusion proof of an archived record.
func auditArchiveVerify(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("archive-verify", flag.ContinueOnError)
	var keyFiles multiFlag
	fs.Var(&keyFiles, "key", "checkpoint public key file (repeatable)")
	stream := fs.String("stream", audit.DefaultStream, "the archived stream")
	prove := fs.String("prove", "", "also prove record SEQ from the archive")
	out := fs.String("out", "", "write the --prove proof to this file (default stdout)")
	since := fs.String("since", "", "a format-v2 checkpoint kept from the log that the archive must extend")
	pos, err := parseArgs(fs, args)
	if err == nil && len(pos) != 1 {
		err = usagef("expected one ARCHIVE (a directory or s3://bucket/prefix)")
	}
	if err != nil {
		return fail(c, err)
	}
	keys, err := readKeys(keyFiles)
	if err != nil {
		return fail(c, err)
	}
	tgt, err := (&backupCmd{c: c}).target(ctx, pos[0])
	if err != nil {
		return fail(c, fmt.Errorf("hipaakit: open the archive: %w", err))
	}
	a, err := archive.New(archive.Config{Target: backup.ArchiveTarget(tgt), Keys: keys})
	if err != nil {
		return fail(c, err)
	}
	res, err := a.Verify(ctx, *stream)
	if err != nil {
		return archiveFail(c, err)
	}
	if *since != "" {
		kept, err := readNote(*since, keys)
		if err != nil {
			return proofFail(c, err)
		}
		if _, err := a.Prover(*stream).VerifySince(ctx, kept); err != nil {
			return archiveFail(c, err)
		}
		fmt.Fprintf(c.stdout, "OK: the archive extends the kept checkpoint of size %d\n", kept.Size)
	}
	fmt.Fprintf(c.stdout, "OK: stream %s archive holds records %d-%d in %d units, signed root %x at size %d\n",
		res.Stream, res.First, res.Last, res.Units, res.Checkpoint.Root[:], res.Checkpoint.Size)
	if *prove == "" {
		return exitOK
	}
	seq, err := strconv.ParseUint(*prove, 10, 64)
	if err != nil {
		return fail(c, usagef("--prove needs a sequence number"))
	}
	p, err := a.Prover(*stream).ProveInclusion(ctx, seq)
	if err != nil {
		return archiveFail(c, err)
	}
	b, err := p.Marshal()
	if err != nil {
		return fail(c, err)
	}
	if *out == "" {
		c.raw.Write(b)
		return exitOK
	}
	if err := os.WriteFile(*out, b, 0o600); err != nil {
		return fail(c, errors.New("hipaakit: cannot write the proof file"))
	}
	fmt.Fprintf(c.stdout, "proof of stream %s seq %d against the archive's checkpoint of size %d written\n", *stream, seq, p.Checkpoint.Size)
	return exitOK
}

// archiveFail reports a damaged archive as a failed check (exit 1).
func archiveFail(c *cli, err error) int {
	if errors.Is(err, archive.ErrDamaged) || errors.Is(err, archive.ErrMalformedUnit) || errors.Is(err, archive.ErrMalformedTile) ||
		errors.Is(err, audit.ErrTruncated) || errors.Is(err, audit.ErrNoTree) {
		fmt.Fprintf(c.stdout, "FAILED: %v\n", err)
		return exitCheck
	}
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		fmt.Fprintf(c.stdout, "FAILED: %v\n", err)
		return exitCheck
	}
	return proofFail(c, err)
}

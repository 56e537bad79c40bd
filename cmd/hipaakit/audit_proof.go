package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/signing"
)

const auditProofUsage = `
  prove --key FILE [--stream S] [--out FILE] TARGET SEQ
      Write a self-contained inclusion proof of record SEQ of a stream (a
      file log directory is one stream; PostgreSQL needs --stream): the
      record, its leaf hash, its path and the stream's signed format-v2
      checkpoint. The proof goes to --out or stdout, byte for byte.
  verify-proof --key FILE [--stream S] PROOF
      Check an inclusion proof offline with only the public keys. Exit 0 when
      it verifies, 1 when it does not.
  consistency --key FILE [--log TARGET] OLD NEW
      Check that checkpoint note NEW extends OLD (two format-v2 checkpoint
      files of one stream); the proof is computed from the trail in TARGET
      (without --log, the two must be equal).
  witness --key FILE --witness URL [--witness URL]... [--stream S]
      [--out FILE] TARGET
      Send the stream's newest format-v2 checkpoint to each witness (C2SP
      tlog-witness, with a consistency proof from the size it last cosigned)
      and write the checkpoint with their cosignatures. Exit 1 when a
      witness refused it.
  witness-status --key FILE --witness-key NAME=FILE [--witness-key ...]
      [--require K] [--stream S] TARGET
      Check that the stream's newest checkpoint is cosigned by K (default
      all) of the witnesses in the store the deployment's publisher writes
      (checkpoint.cosigned beside a file log; PostgreSQL's table). Exit 1
      when too few cosigned it or publishing is behind.
  archive-verify --key FILE [--stream S] [--since CHECKPOINT]
      [--prove SEQ [--out FILE]] ARCHIVE
      Check a stream's audit archive (a directory or s3://bucket/prefix,
      written by audit/archive) on its own with only the public keys:
      segment hashes, tree tiles, every checkpoint and the hash chain.
      --since CHECKPOINT (a format-v2 checkpoint kept from the log) also
      checks that the archive extends it: an archive whose newest units were
      removed fails. With --prove, also write an inclusion proof of archived
      record SEQ. Exit 1 when the archive is damaged.
`

// readKeys reads every trusted public key of keyFiles.
func readKeys(keyFiles []string) (signing.KeySet, error) {
	var set signing.KeySet
	for _, f := range keyFiles {
		s, err := signing.ReadKeySet(f)
		if err != nil {
			return signing.KeySet{}, fmt.Errorf("key file: %w", err)
		}
		if set, err = set.With(s.Keys()...); err != nil {
			return signing.KeySet{}, err
		}
	}
	if set.Len() == 0 {
		return set, usagef("give at least one --key")
	}
	return set, nil
}

// proofFail reports a proof that does not verify (exit 1) or fails.
func proofFail(c *cli, err error) int {
	var sm *audit.StreamMismatchError
	switch {
	case errors.Is(err, audit.ErrBadSignature), errors.Is(err, audit.ErrTreeMismatch),
		errors.Is(err, audit.ErrNotExtended), errors.Is(err, audit.ErrMalformedProof),
		errors.Is(err, audit.ErrMalformedNote), errors.Is(err, audit.ErrChainBroken), errors.As(err, &sm):
		fmt.Fprintf(c.stdout, "FAILED: %v\n", err)
		return exitCheck
	}
	return fail(c, err)
}

func auditProve(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("prove", flag.ContinueOnError)
	var keyFiles multiFlag
	fs.Var(&keyFiles, "key", "checkpoint public key file (repeatable)")
	out := fs.String("out", "", "write the proof to this file")
	stream := fs.String("stream", "", "the stream (PostgreSQL TARGET)")
	pos, err := parseArgs(fs, args)
	if err == nil && len(pos) != 2 {
		err = usagef("expected TARGET SEQ")
	}
	if err != nil {
		return fail(c, err)
	}
	seq, err := strconv.ParseUint(pos[1], 10, 64)
	if err != nil || seq == 0 {
		return fail(c, usagef("SEQ must be a record's sequence number (1, 2, ...)"))
	}
	keys, err := readKeys(keyFiles)
	if err != nil {
		return fail(c, err)
	}
	pr, done, err := openProver(ctx, c, pos[0], *stream, keys)
	if err != nil {
		return fail(c, err)
	}
	defer done()
	p, err := pr.ProveInclusion(ctx, seq)
	if err != nil {
		return proofFail(c, err)
	}
	b, err := p.Marshal()
	if err != nil {
		return fail(c, err)
	}
	if *out == "" {
		c.raw.Write(b) // the proof's bytes, kept exact
		return exitOK
	}
	if err := os.WriteFile(*out, b, 0o600); err != nil {
		return fail(c, errors.New("hipaakit: cannot write the proof file"))
	}
	fmt.Fprintf(c.stdout, "proof of stream %s seq %d against checkpoint size %d written\n", p.Record.Stream, seq, p.Checkpoint.Size)
	return exitOK
}

func auditVerifyProof(_ context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("verify-proof", flag.ContinueOnError)
	var keyFiles multiFlag
	fs.Var(&keyFiles, "key", "checkpoint public key file (repeatable)")
	stream := fs.String("stream", "", "the stream the proof must be of")
	pos, err := parseArgs(fs, args)
	if err == nil && len(pos) != 1 {
		err = usagef("expected one PROOF file")
	}
	if err != nil {
		return fail(c, err)
	}
	keys, err := readKeys(keyFiles)
	if err != nil {
		return fail(c, err)
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return fail(c, errors.New("hipaakit: cannot read the proof file"))
	}
	p, err := audit.VerifyInclusionProof(b, keys, *stream)
	if err != nil {
		return proofFail(c, err)
	}
	fmt.Fprintf(c.stdout, "OK: stream %s seq %d (action %s, %s) is in the log of size %d, root %x\n",
		p.Record.Stream, p.Record.Seq, p.Record.Event.Action, p.Record.Event.Time.UTC().Format("2006-01-02T15:04:05Z"), p.Checkpoint.Size, p.Checkpoint.Root[:])
	return exitOK
}

func readNote(path string, keys signing.KeySet) (audit.TreeCheckpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return audit.TreeCheckpoint{}, errors.New("hipaakit: cannot read a checkpoint file")
	}
	return audit.ParseTreeCheckpoint(b, keys, "")
}

func auditConsistency(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("consistency", flag.ContinueOnError)
	var keyFiles multiFlag
	fs.Var(&keyFiles, "key", "checkpoint public key file (repeatable)")
	logDir := fs.String("log", "", "TARGET to compute the proof from")
	pos, err := parseArgs(fs, args)
	if err == nil && len(pos) != 2 {
		err = usagef("expected OLD NEW checkpoint files")
	}
	if err != nil {
		return fail(c, err)
	}
	keys, err := readKeys(keyFiles)
	if err != nil {
		return fail(c, err)
	}
	older, err := readNote(pos[0], keys)
	if err != nil {
		return proofFail(c, err)
	}
	newer, err := readNote(pos[1], keys)
	if err != nil {
		return proofFail(c, err)
	}
	var proof []audit.Hash
	if *logDir != "" {
		pr, done, err := openProver(ctx, c, *logDir, newer.Stream, keys)
		if err != nil {
			return fail(c, err)
		}
		defer done()
		if proof, err = pr.ProveConsistency(ctx, older, newer); err != nil {
			return proofFail(c, err)
		}
	}
	if err := audit.VerifyConsistency(older, newer, proof); err != nil {
		return proofFail(c, err)
	}
	fmt.Fprintf(c.stdout, "OK: stream %s size %d extends size %d (%d proof hashes)\n", newer.Stream, newer.Size, older.Size, len(proof))
	return exitOK
}

// verifySince is "verify --since": the log must extend the kept
// checkpoint note at path.
func verifySince(ctx context.Context, c *cli, target string, keyFiles []string, path string) int {
	keys, err := readKeys(keyFiles)
	if err != nil {
		return fail(c, err)
	}
	kept, err := readNote(path, keys)
	if err != nil {
		return proofFail(c, err)
	}
	p, done, err := openProver(ctx, c, target, kept.Stream, keys)
	if err != nil {
		return fail(c, err)
	}
	defer done()
	cp, err := p.VerifySince(ctx, kept)
	if err != nil {
		return proofFail(c, err)
	}
	fmt.Fprintf(c.stdout, "OK: stream %s grew from size %d to %d since the kept checkpoint\n", cp.Stream, kept.Size, cp.Size)
	return exitOK
}

// openProver opens the Prover of stream in TARGET (a file log directory,
// whose one stream it is, or PostgreSQL).
func openProver(ctx context.Context, c *cli, target, stream string, keys signing.KeySet) (audit.Prover, func(), error) {
	src, err := openTarget(ctx, c, target)
	if err != nil {
		return nil, nil, err
	}
	p, err := src.prover(stream, keys)
	if err != nil {
		src.close()
		return nil, nil, err
	}
	return p, src.close, nil
}

// auditWitness sends the stream's newest checkpoint to witnesses and
// writes it with their cosignatures.
func auditWitness(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("witness", flag.ContinueOnError)
	var keyFiles, urls multiFlag
	fs.Var(&keyFiles, "key", "checkpoint public key file (repeatable)")
	fs.Var(&urls, "witness", "witness base URL (repeatable)")
	stream := fs.String("stream", "", "the stream (PostgreSQL TARGET)")
	out := fs.String("out", "", "write the cosigned checkpoint to this file")
	target, err := parseTarget(fs, args)
	if err == nil && len(urls) == 0 {
		err = usagef("give at least one --witness URL")
	}
	if err != nil {
		return fail(c, err)
	}
	keys, err := readKeys(keyFiles)
	if err != nil {
		return fail(c, err)
	}
	p, done, err := openProver(ctx, c, target, *stream, keys)
	if err != nil {
		return fail(c, err)
	}
	defer done()
	ws := make([]witness.Adder, len(urls))
	for i, u := range urls {
		ws[i] = witness.Client{URL: u}
	}
	note, werr := witness.Publish(ctx, p, ws...)
	if note == nil {
		return proofFail(c, werr)
	}
	if werr != nil {
		fmt.Fprintf(c.stderr, "hipaakit audit: some witnesses refused: %v\n", werr)
	}
	if *out == "" {
		c.raw.Write(note) // the signed note, kept exact
	} else if err := os.WriteFile(*out, note, 0o600); err != nil {
		return fail(c, errors.New("hipaakit: cannot write the cosigned checkpoint"))
	}
	if werr != nil {
		return exitCheck
	}
	return exitOK
}

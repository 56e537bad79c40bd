package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/compliance/evidence"
	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/serviceconfig"
	"github.com/hipaakit/hipaakit/signing"
)

// signingKeyFor returns the signing key at path, or the deployment's own
// (its data directory's signing-key.pem) when path is empty.
func signingKeyFor(path string, cfg *serviceconfig.Config) (*signing.PrivateKey, error) {
	if path == "" {
		if cfg == nil || cfg.DataDir == "" {
			return nil, errors.New("--signing-key is required")
		}
		path = filepath.Join(cfg.DataDir, hipaakit.FileSigningKey)
	}
	k, err := signing.Load(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the signing key %s", filepath.Base(path))
	}
	return k, nil
}

// writeReportEvidence writes rep as report.html and report.json into dir,
// each signed.
func writeReportEvidence(dir string, key *signing.PrivateKey, rep report.Report) error {
	var html, js bytes.Buffer
	if err := rep.WriteHTML(&html); err != nil {
		return err
	}
	if err := rep.WriteJSON(&js); err != nil {
		return err
	}
	return evidence.WriteDir(dir, key, map[string][]byte{"report.html": html.Bytes(), "report.json": js.Bytes()})
}

// verifyEvidence runs "hipaakit report --verify FILE": FILE.sig must be a
// signature of FILE by a key of the trusted-keys file, or of the
// configuration's audit keys.
func verifyEvidence(c *cli, file, keysPath, configPath string) int {
	var trusted signing.KeySet
	switch {
	case keysPath != "":
		ks, err := signing.ReadKeySet(keysPath)
		if err != nil {
			fmt.Fprintf(c.stderr, "hipaakit report: --keys %s: %v\n", filepath.Base(keysPath), err)
			return exitUsage
		}
		trusted = ks
	case configPath != "":
		cfg, err := serviceconfig.Load(configPath)
		if err != nil {
			fmt.Fprintf(c.stderr, "hipaakit report: %v\n", err)
			return exitUsage
		}
		if trusted, err = signing.NewKeySet(append(cfg.AuditPublicKeys(), cfg.LedgerPublicKeys()...)...); err != nil {
			fmt.Fprintf(c.stderr, "hipaakit report: the configuration's keys: %v\n", err)
			return exitUsage
		}
	default:
		return reportUsageErr(c, "--verify needs --keys or --config (the trusted public keys)")
	}
	content, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit report: cannot read %s\n", filepath.Base(file))
		return exitFailure
	}
	sig, err := os.ReadFile(file + evidence.SigSuffix)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit report: cannot read %s%s\n", filepath.Base(file), evidence.SigSuffix)
		return exitFailure
	}
	s, err := evidence.Verify(file, content, sig, trusted)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit report: %v\n", err)
		return exitCheck
	}
	fmt.Fprintf(c.stdout, "%s: signature verifies (key %s, sha256 %x)\n", s.File, s.KeyID, s.SHA256)
	return exitOK
}

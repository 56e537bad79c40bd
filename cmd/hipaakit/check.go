package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/compliance/suite"
)

const checkUsage = `usage: hipaakit check --users FILE [--ca FILE] [--max-requests N] [--format text|json]
                      [--evidence DIR --signing-key FILE] https://HOST[:PORT]

Run the black-box part of the compliance suite against a live deployment
over HTTPS: TLS versions and cipher suites, HSTS, security headers and
no-store on every declared route, 401 without a session, the role matrix,
undeclared routes, role escalation, CSRF refusal, session-cookie flags,
canary PHI echoed by refusals, logout, TOTP replay, lockout, the second
factor, and idle and absolute logoff. Results carry the same control names
as compliance.Run; controls that need the audit trail are listed as not
checked.

  --users FILE       the check file: test users (passwords and TOTP secrets),
                     routes and declared limits (see go doc
                     github.com/hipaakit/hipaakit/suite.CheckFile); it
                     must not be readable by group or others
  --ca FILE          PEM certificates trusted for the deployment (default: the
                     system's roots)
  --max-requests N   bound on requests and connections (default 5000)
  --format F         text (default) or json
  --evidence DIR     also write junit.xml and check.json into DIR, each with a
                     detached signature (.sig) by --signing-key (the
                     deployment's signing key); verify with hipaakit report --verify

Only HOST is contacted, redirects are not followed, requests that change
state are sent only where the check file allows it, and every session the
check opens is logged out. Credentials are read from the file only, never
from the command line or the environment.

Exit status: 0 no control failed; 1 some control failed; 2 usage error or
invalid check file; 3 operational error (unreadable file).
`

// cmdCheck runs "hipaakit check ...".
func cmdCheck(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	users := fs.String("users", "", "check file")
	ca := fs.String("ca", "", "trusted certificates (PEM)")
	maxReq := fs.Int("max-requests", suite.DefaultMaxRequests, "request bound")
	format := fs.String("format", "text", "text or json")
	evidenceDir := fs.String("evidence", "", "evidence directory")
	signingKey := fs.String("signing-key", "", "signing key file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, checkUsage)
			return exitOK
		}
		return checkUsageErr(c, err.Error())
	}
	switch {
	case fs.NArg() != 1:
		return checkUsageErr(c, "exactly one https://HOST is required")
	case *users == "":
		return checkUsageErr(c, "--users is required")
	case *format != "text" && *format != "json":
		return checkUsageErr(c, "--format must be text or json")
	case *maxReq <= 0:
		return checkUsageErr(c, "--max-requests must be positive")
	case *evidenceDir != "" && *signingKey == "":
		return checkUsageErr(c, "--evidence needs --signing-key")
	}
	file, code := readCheckFile(c, *users)
	if file == nil {
		return code
	}
	var roots *x509.CertPool
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fmt.Fprintf(c.stderr, "hipaakit check: cannot read --ca %s\n", filepath.Base(*ca))
			return exitFailure
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			fmt.Fprintf(c.stderr, "hipaakit check: --ca %s holds no PEM certificate\n", filepath.Base(*ca))
			return exitUsage
		}
	}
	res, err := suite.Check(ctx, suite.CheckConfig{URL: fs.Arg(0), File: file, RootCAs: roots, MaxRequests: *maxReq})
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit check: %v\n", err)
		return exitUsage
	}
	if *format == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res) //nolint:errcheck // stdout
	} else {
		fmt.Fprint(c.stdout, res.String())
	}
	if *evidenceDir != "" {
		if err := writeCheckEvidence(*evidenceDir, *signingKey, res); err != nil {
			fmt.Fprintf(c.stderr, "hipaakit check: evidence: %v\n", err)
			return exitFailure
		}
	}
	if res.Failed() {
		return exitCheck
	}
	return exitOK
}

// readCheckFile reads and parses the check file, refusing one that group or
// others may read (it holds passwords and TOTP secrets).
func readCheckFile(c *cli, path string) (*suite.CheckFile, int) {
	name := filepath.Base(path)
	fi, err := os.Stat(path)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit check: cannot read the check file %s\n", name)
		return nil, exitFailure
	}
	if fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(c.stderr, "hipaakit check: the check file %s is readable by group or others (mode %04o); it holds credentials: chmod 600 it\n",
			name, fi.Mode().Perm())
		return nil, exitUsage
	}
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit check: cannot read the check file %s\n", name)
		return nil, exitFailure
	}
	f, err := suite.ParseCheckFile(b)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit check: %s: %v\n", name, err)
		return nil, exitUsage
	}
	return f, exitOK
}

func checkUsageErr(c *cli, msg string) int {
	fmt.Fprintf(c.stderr, "hipaakit check: %s\n\n%s", msg, checkUsage)
	return exitUsage
}

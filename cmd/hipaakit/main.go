// Command hipaakit is the operator's tool for a service built with hipaakit:
// it verifies and queries the audit trail, shreds subjects, runs retention,
// manages legal holds, creates, verifies, restores and drills backups, and
// prints the compliance report, recovers user accounts, and migrates a
// deployment to another master key.
//
// It is the only non-test code in hipaakit that reads the environment or calls
// os.Exit. Exit codes are scriptable: 0 success, 1 a check failed (for example
// a tampered audit trail or a failed verification), 2 a usage error, 3 an
// operational error (unreachable database, unreadable file).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK       = 0
	exitCheck    = 1
	exitUsage    = 2
	exitFailure  = 3
	usageMessage = `usage: hipaakit <command> [arguments]

commands:
  audit      verify, query and export the audit trail; accounting of disclosures;
             inclusion and consistency proofs
  backup     create, list, verify, restore, drill and prune encrypted backups
  breach     breach response: incidents, scoping from the audit trail, assessment, notice deadlines
  check      run the compliance suite's black-box checks against a live deployment over HTTPS
  disposal   verify disposal certificates and the disposal ledger; replay it after a restore
  help       show this message
  hold       set, lift and list legal holds
  kek        migrate: move the deployment to another master key (local or AWS KMS)
  report     HIPAA control-mapping report from the service's configuration and stores
  retention  sweep: apply retention policies (crypto-shred expired subjects)
  shred      crypto-shred a subject and print its signed disposal certificate
  user       list users; unlock, disable, enable, reset MFA, new recovery codes
  witness    run a C2SP tlog-witness that cosigns consistent audit checkpoints
`
)

// cli carries what a command may touch of the outside world, so that tests
// run commands in-process with their own streams and environment.
type cli struct {
	stdout, stderr io.Writer
	// raw is stdout without terminal escaping (see terminalWriter), for
	// byte-exact machine formats only: canonical JSON Lines and signed
	// certificates.
	raw    io.Writer
	getenv func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &cli{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches a command line and returns the process exit code.
func run(ctx context.Context, c *cli, args []string) int {
	c, flush := c.terminalSafe()
	defer flush()
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usageMessage)
		return exitUsage
	}
	if h := args[0]; h != "help" && h != "-h" && h != "--help" {
		if err := c.refuseRetiredEnv(); err != nil {
			fmt.Fprintf(c.stderr, "hipaakit: %v\n", err)
			return exitUsage
		}
	}
	switch args[0] {
	// Each command group lives in its own file; add one case per group here.
	case "audit":
		return cmdAudit(ctx, c, args[1:])
	case "breach":
		return cmdBreach(ctx, c, args[1:])
	case "check":
		return cmdCheck(ctx, c, args[1:])
	case "backup":
		return cmdBackup(ctx, c, args[1:])
	case "shred":
		return cmdShred(ctx, c, args[1:])
	case "retention":
		return cmdRetention(ctx, c, args[1:])
	case "hold":
		return cmdHold(ctx, c, args[1:])
	case "disposal":
		return cmdDisposal(ctx, c, args[1:])
	case "report":
		return cmdReport(ctx, c, args[1:])
	case "kek":
		return cmdKEK(ctx, c, args[1:])
	case "user":
		return cmdUser(ctx, c, args[1:])
	case "witness":
		return cmdWitness(ctx, c, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, usageMessage)
		return exitOK
	default:
		fmt.Fprintf(c.stderr, "hipaakit: unknown command %q\n\n%s", args[0], usageMessage)
		return exitUsage
	}
}

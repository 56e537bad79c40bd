package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hipaakit/hipaakit/audit/witness"
	"github.com/hipaakit/hipaakit/signing"
)

const witnessUsage = `usage: hipaakit witness --key FILE --name NAME --log-key FILE --state FILE [--listen ADDR]

Runs a C2SP tlog-witness for hipaakit audit checkpoints: POST /add-checkpoint
cosigns a format-v2 checkpoint signed by a --log-key key when it is consistent
with the last checkpoint of that log the witness cosigned, and refuses any
other (409 with the witness's size, 422 inconsistent, 403 unknown key).

  --key FILE      the witness's own ed25519 private key (PEM PKCS #8; created
                  0600 when missing, its public key beside it as .pub.pem)
  --name NAME     the witness's key name, e.g. witness.example.org/w1
  --log-key FILE  trusted log public keys (PEM), repeatable
  --state FILE    the witness's state (last cosigned size and root per log)
  --listen ADDR   address to serve on (default 127.0.0.1:7380)
`

func cmdWitness(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("witness", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	keyFile := fs.String("key", "", "the witness's private key file")
	name := fs.String("name", "", "the witness's key name")
	var logKeys multiFlag
	fs.Var(&logKeys, "log-key", "trusted log public key file (repeatable)")
	state := fs.String("state", "", "the witness's state file")
	listen := fs.String("listen", "127.0.0.1:7380", "address to serve on")
	pos, err := parseArgs(fs, args)
	if err == nil && (len(pos) != 0 || *keyFile == "" || *name == "" || *state == "" || len(logKeys) == 0) {
		err = usagef("witness needs --key, --name, --log-key and --state")
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit witness: %v\n\n%s", err, witnessUsage)
		return exitUsage
	}
	key, err := signing.LoadOrCreate(*keyFile)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit witness: %v\n", err)
		return exitFailure
	}
	logs, err := readKeys(logKeys)
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit witness: %v\n", err)
		return exitFailure
	}
	w, err := witness.New(witness.Config{Name: *name, Signer: key, Logs: logs, StatePath: *state})
	if err != nil {
		fmt.Fprintf(c.stderr, "hipaakit witness: %v\n", err)
		return exitFailure
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(c.stderr, "hipaakit witness: cannot listen on the address")
		return exitFailure
	}
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	fmt.Fprintf(c.stdout, "witness %s (key %s) listening on %s\n", *name, key.KeyID(), ln.Addr())
	if f, ok := c.stdout.(interface{ flush() }); ok {
		f.flush()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return exitOK
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return exitOK
		}
		fmt.Fprintln(c.stderr, "hipaakit witness: server stopped")
		return exitFailure
	}
}

// Command clinic is a patient-records service built with hipaakit: sealed
// PHI with per-patient keys, a tamper-evident audit trail, MFA, automatic
// logoff, deny-by-default roles, crypto-shredding with certificates, legal
// holds, verified backups, and a small web UI.
//
//	go run ./examples/clinic
//
// starts it on https://127.0.0.1:8080 with embedded stores in ./clinic-data.
// See README.md in this directory for the flags, PostgreSQL, AWS KMS and S3.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hipaakit/hipaakit/clock"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}

// run starts the clinic and serves until ctx ends. ready, when not nil,
// receives the base URL once the server accepts connections (tests use it).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "clinic: %v (run with -h for the flags)\n", err)
		return 2
	}
	if err := serve(ctx, cfg, clock.System, stdout, stderr, ready); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg config, clk clock.Clock, stdout, logOut io.Writer, ready chan<- string) error {
	a, err := openApp(ctx, cfg, clk, logOut)
	if err != nil {
		return err
	}
	defer a.Close()
	h, err := a.handler()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("clinic: cannot listen on %s: %w", cfg.Addr, err)
	}
	scheme := "https"
	if cfg.NoTLS {
		scheme = "http"
	} else {
		tc, err := tlsConfig(cfg.TLSCert, cfg.TLSKey, cfg.DataDir, a.now())
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	url := scheme + "://" + ln.Addr().String()
	if cfg.Seed {
		users, err := a.seed(ctx)
		if err != nil {
			ln.Close()
			return err
		}
		if users != nil {
			printDemoUsers(stdout, users, url)
		}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: nil}
	fmt.Fprintf(stdout, "clinic: listening on %s (data in %s)\n", url, cfg.DataDir)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- url
	}
	select {
	case err := <-errc:
		return fmt.Errorf("clinic: server stopped: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("clinic: shutdown: %w", err)
	}
	fmt.Fprintln(stdout, "clinic: stopped")
	return nil
}

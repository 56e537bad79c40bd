// Command minimal is the smallest hipaakit service: one PHI route, GET
// /patients/{id}, behind sign-in with password and TOTP (MFA required), RBAC
// (a physician may read, a clerk may not) and the audit trail, with the
// diagnosis sealed under the patient's own key. The environment alone
// (hipaakit.ConfigFromEnv: DATABASE_URL, HIPAAKIT_KMS_KEY_ID) moves it to
// PostgreSQL and AWS KMS. README.md tells how to sign in.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/phi"
)

const (
	tenant, demoPatient = "minimal", "patient-1001"
	permRead            = policy.Permission("patient:read")
	patientsDir         = "patients" // the sealed records (the application's own), in the data directory
)

func main() {
	data, addr := flag.String("data", "minimal-data", "data directory"), flag.String("addr", "127.0.0.1:8080", "listen address")
	cert, key := flag.String("tls-cert", "", "TLS certificate file"), flag.String("tls-key", "", "TLS key file")
	flag.Parse()
	if err := serve(*data, *addr, *cert, *key); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "minimal:", err)
		os.Exit(1)
	}
}

// serve runs the service until SIGINT or SIGTERM; plain HTTP only on a
// loopback address.
func serve(data, addr, cert, key string) error {
	cfg, err := hipaakit.ConfigFromEnv(os.Getenv)
	cfg.DataDir, cfg.PlainHTTP = data, cert == ""
	ln, lerr := net.Listen("tcp", addr)
	if err = errors.Join(err, lerr); err == nil && cfg.PlainHTTP && !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		err = errors.New("plain HTTP is for a loopback address only: give -tls-cert and -tls-key")
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, h, err := open(ctx, cfg, os.Stdout)
	if err != nil {
		return err
	}
	defer d.Close()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	fmt.Printf("minimal: listening on %s\n", ln.Addr())
	if cert != "" {
		return srv.ServeTLS(ln, cert, key)
	}
	return srv.Serve(ln)
}

// open opens the deployment, seeds it on the first start, and returns the
// handler: the sign-in endpoints under /auth, the PHI route behind Protect
// (session → tenant policy → RBAC → audit), security headers on everything.
func open(ctx context.Context, cfg hipaakit.Config, out io.Writer) (_ *hipaakit.Deployment, _ http.Handler, err error) {
	if cfg.Auth.RBAC, err = policy.NewRBAC([]policy.Permission{permRead},
		[]policy.Role{{Name: "physician", Permissions: []policy.Permission{permRead}}, {Name: "clerk"}}); err != nil {
		return nil, nil, err
	}
	cfg.AppDirs = []string{patientsDir} // in every backup
	d, err := hipaakit.Open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	subject := func(r *http.Request) string { // the audited patient: an opaque, well-formed ID or none
		if id := r.PathValue("id"); phi.ValidSubject(id) {
			return id
		}
		return ""
	}
	phiRoutes, err := d.Protect(hipaakit.ProtectConfig{Subject: subject, Purpose: func(*http.Request) string { return "treatment" }})
	if err == nil {
		err = seed(ctx, d, out)
	}
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	d.Auth.HandleFunc("GET /patients/{id}", permRead, func(w http.ResponseWriter, r *http.Request) {
		id := subject(r)
		sealed, err := os.ReadFile(d.DataPath(filepath.Join(patientsDir, id)))
		if id == "" || err != nil {
			http.NotFound(w, r)
			return
		}
		dx, err := d.Vault.Reveal(r.Context(), phi.Binding{Subject: id, Field: "diagnosis"}, sealed, "treatment") // audited
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"id": id, "diagnosis": string(dx)})
	})
	mux := http.NewServeMux()
	d.Auth.Mount(mux, "/auth")
	mux.Handle("/", phiRoutes)
	return d, d.SecurityHeaders(mux), nil
}

// seed creates the demo users and the demo patient on the first start.
func seed(ctx context.Context, d *hipaakit.Deployment, out io.Writer) error {
	if users, err := d.Users.List(ctx, tenant); err != nil || len(users) > 0 {
		return err
	}
	origin, actor := audit.Origin{Channel: audit.ChannelSystem, Route: "seed"}, audit.Actor{UserID: "system:seed"}
	for _, u := range [][2]string{{"doctor", "physician"}, {"clerk", "clerk"}} {
		pw := rand.Text() // 26 random characters
		if _, err := d.Auth.CreateUser(ctx, auth.NewUser{TenantID: tenant, Name: u[0], Roles: u[1:], Password: pw}, actor, origin); err != nil {
			return err
		}
		fmt.Fprintf(out, "minimal: created user %s (role %s) with password %s (shown once)\n", u[0], u[1], pw)
	}
	sealed, err := d.Vault.Seal(ctx, phi.Binding{Subject: demoPatient, Field: "diagnosis"}, []byte("Type 2 diabetes"))
	if err = errors.Join(err, os.MkdirAll(d.DataPath(patientsDir), 0o700)); err != nil {
		return err
	}
	return os.WriteFile(d.DataPath(filepath.Join(patientsDir, demoPatient)), sealed, 0o600)
}

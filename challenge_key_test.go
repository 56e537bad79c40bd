package hipaakit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/authtest"
	"github.com/hipaakit/hipaakit/auth/passkey"
	"github.com/hipaakit/hipaakit/auth/policy"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/internal/redact"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/pgstore"
)

const (
	challengePassword = "correct horse battery staple"
	challengeRPID     = "clinic.example"
	challengeOrigin   = "https://clinic.example"
	// challengeKeyAD is the associated data of the stored key's wrap
	// (challenge_key.go), which the tests use to read the stored key.
	challengeKeyAD = "hipaakit/challenge-key/v1"
)

// withPasskeys turns passkeys on in cfg.
func withPasskeys(cfg hipaakit.Config) hipaakit.Config {
	cfg.Auth.Passkeys = passkey.Config{RPID: challengeRPID, Origins: []string{challengeOrigin}}
	return cfg
}

// totpUser creates a user on d with TOTP enrolled and returns it with its
// TOTP secret.
func totpUser(t *testing.T, d *hipaakit.Deployment, clk *clock.Fake, name string) (*auth.User, string) {
	t.Helper()
	ctx := context.Background()
	o := audit.Origin{Channel: audit.ChannelAPI}
	u, err := d.Auth.CreateUser(ctx, auth.NewUser{TenantID: "t1", Name: name, Password: challengePassword},
		audit.Actor{UserID: "system:test"}, o)
	if err != nil {
		t.Fatal(err)
	}
	enr, err := d.Auth.EnrollTOTP(ctx, u.ID, o)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := hipaakittest.TOTPCode(enr.Secret(), clk.Now())
	if _, err := d.Auth.ConfirmTOTP(ctx, u.ID, code, "", o); err != nil {
		t.Fatal(err)
	}
	clk.Advance(31 * time.Second) // a fresh TOTP step for the login
	return u, enr.Secret()
}

// passwordStep runs the password step on d and returns its challenge.
func passwordStep(t *testing.T, d *hipaakit.Deployment, name string) string {
	t.Helper()
	res, err := d.Auth.Login(context.Background(), auth.LoginRequest{TenantID: "t1", Name: name, Password: challengePassword,
		Origin: audit.Origin{Channel: audit.ChannelAPI}})
	if err != nil || !res.SecondFactorRequired || res.Challenge == "" {
		t.Fatalf("password step on %s: %+v %v", d.InstanceID, res, err)
	}
	return res.Challenge
}

// secondFactor finishes challenge on d with secret's current TOTP code.
func secondFactor(d *hipaakit.Deployment, clk *clock.Fake, challenge, secret string) (*auth.LoginResult, error) {
	code, err := hipaakittest.TOTPCode(secret, clk.Now())
	if err != nil {
		return nil, err
	}
	return d.Auth.VerifySecondFactor(context.Background(), auth.SecondFactorRequest{Challenge: challenge, TOTPCode: code,
		Origin: audit.Origin{Channel: audit.ChannelAPI}})
}

// registerPasskey registers dev for u, begun on one replica and finished
// on another.
func registerPasskey(t *testing.T, begin, finish *hipaakit.Deployment, u *auth.User, dev *authtest.SoftAuthenticator) {
	t.Helper()
	ctx := context.Background()
	opts, err := begin.Auth.BeginPasskeyRegistration(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := finish.Auth.FinishPasskeyRegistration(ctx, u.ID, "phone", dev.Register(opts), audit.Origin{}); err != nil {
		t.Fatalf("passkey registration begun on %s, finished on %s: %v", begin.InstanceID, finish.InstanceID, err)
	}
}

// passkeyLogin begins a passwordless passkey login on begin and finishes it
// on finish.
func passkeyLogin(t *testing.T, begin, finish *hipaakit.Deployment, dev *authtest.SoftAuthenticator) ([]byte, *auth.LoginResult, error) {
	t.Helper()
	opts, err := begin.Auth.BeginPasskeyLogin(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	assertion := dev.Assert(opts)
	res, err := finish.Auth.FinishPasskeyLogin(context.Background(), assertion, "", audit.Origin{})
	return assertion, res, err
}

// storedChallengeRows counts the rows of hipaakit_challenge_keys.
func (s *replicaSet) challengeRows() (n int) {
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM hipaakit_challenge_keys`).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// storedChallengeKey reads the stored row and unwraps it with the set's
// KEK: the plaintext key, for the canaries.
func (s *replicaSet) storedChallengeKey() (key, wrapped []byte) {
	ctx := context.Background()
	if err := s.pool.QueryRow(ctx, `SELECT wrapped FROM hipaakit_challenge_keys WHERE name = 'login'`).Scan(&wrapped); err != nil {
		s.t.Fatal(err)
	}
	kek, err := localkek.Parse(s.kek)
	if err != nil {
		s.t.Fatal(err)
	}
	if key, err = kek.Unwrap(ctx, wrapped, []byte(challengeKeyAD)); err != nil {
		s.t.Fatalf("the stored challenge key does not unwrap under the deployment's KEK: %v", err)
	}
	return key, wrapped
}

// TestChallengesAcrossReplicas: two Deployments on one PostgreSQL schema
// share the login-challenge key without configuring one: a password step
// on A is finished with TOTP on B, a passkey registration and a passkey
// login begun on A are finished on B, and each challenge completes one
// login in the whole deployment.
func TestChallengesAcrossReplicas(t *testing.T) {
	s := newReplicaSet(t)
	a, b := open(t, withPasskeys(s.config("a"))), open(t, withPasskeys(s.config("b")))
	if n := s.challengeRows(); n != 1 {
		t.Fatalf("%d stored challenge keys, want 1", n)
	}

	u, secret := totpUser(t, a, s.clk, "ivy")
	challenge := passwordStep(t, a, "ivy")
	res, err := secondFactor(b, s.clk, challenge, secret)
	if err != nil || !res.Authenticated || !res.MFA || res.User.ID != u.ID {
		t.Fatalf("password step on a, TOTP on b: %+v %v", res, err)
	}
	s.clk.Advance(31 * time.Second)
	if _, err := secondFactor(a, s.clk, challenge, secret); err == nil {
		t.Fatal("the challenge finished a second login, on a")
	}

	dev := authtest.NewSoftAuthenticator(t, challengeRPID, challengeOrigin)
	registerPasskey(t, a, b, u, dev)
	assertion, res, err := passkeyLogin(t, a, b, dev)
	if err != nil || res.User.ID != u.ID {
		t.Fatalf("passkey login begun on a, finished on b: %+v %v", res, err)
	}
	if _, err := a.Auth.FinishPasskeyLogin(context.Background(), assertion, "", audit.Origin{}); err == nil {
		t.Fatal("a replayed passkey assertion was accepted on a")
	}
}

// TestChallengeKeyFirstStartRace: six replicas starting at once (behind a
// barrier) on a schema with no challenge key store exactly one, and all
// use it: a passkey login begun on each is finished on the next. The first
// start, with Auth.ChallengeKey set, stored none.
func TestChallengeKeyFirstStartRace(t *testing.T) {
	const n = 6
	s := newReplicaSet(t)
	first := withPasskeys(s.config("first"))
	first.Auth.ChallengeKey = bytes.Repeat([]byte{7}, hipaakit.MinChallengeKeySize)
	f := open(t, first)
	if rows := s.challengeRows(); rows != 0 {
		t.Fatalf("a start with Auth.ChallengeKey stored %d challenge keys", rows)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ds := make([]*hipaakit.Deployment, n)
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		cfg := withPasskeys(s.config(fmt.Sprintf("r%d", i)))
		wg.Go(func() {
			start.Wait()
			ds[i], errs[i] = hipaakit.Open(context.Background(), cfg)
		})
	}
	start.Done()
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		t.Cleanup(func() { ds[i].Close() })
	}
	if rows := s.challengeRows(); rows != 1 {
		t.Fatalf("%d stored challenge keys after %d concurrent first starts, want exactly 1", rows, n)
	}
	u, err := ds[0].Auth.CreateUser(context.Background(), auth.NewUser{TenantID: "t1", Name: "race", Password: challengePassword},
		audit.Actor{UserID: "system:test"}, audit.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	dev := authtest.NewSoftAuthenticator(t, challengeRPID, challengeOrigin)
	registerPasskey(t, ds[0], ds[1], u, dev)
	for i := range n {
		if _, _, err := passkeyLogin(t, ds[i], ds[(i+1)%n], dev); err != nil {
			t.Fatalf("passkey login begun on r%d, finished on r%d: %v", i, (i+1)%n, err)
		}
	}
}

// TestChallengeKeyWrongKEKRefused: a start whose KEK cannot open the
// stored challenge key (no keyset is stored yet, so only the challenge key
// tells) is refused with a *ChallengeKeyError naming the table, writes
// nothing, and leaves no master key file behind; the deployment then opens
// with its own KEK.
func TestChallengeKeyWrongKEKRefused(t *testing.T) {
	ctx := context.Background()
	s := newReplicaSet(t)
	a := open(t, s.config("a"))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	before := s.rows(a.LedgerSchema)
	_, wrappedBefore := s.storedChallengeKey()

	other, err := localkek.Generate()
	if err != nil {
		t.Fatal(err)
	}
	foreign := s.config("b")
	foreign.KEK.Key = other
	_, err = hipaakit.Open(ctx, foreign)
	var ce *hipaakit.ChallengeKeyError
	if !errors.As(err, &ce) || !errors.Is(err, hipaakit.ErrChallengeKey) || !errors.Is(err, hipaakit.ErrWrongKEK) {
		t.Fatalf("start with another KEK: %v", err)
	}
	if ce.Object != "table hipaakit_challenge_keys" || ce.StoredKEK != a.KEK.ID() || ce.KEK == ce.StoredKEK ||
		!strings.Contains(err.Error(), "hipaakit_challenge_keys") {
		t.Fatalf("the error does not name the object and the KEKs: %+v: %v", ce, err)
	}
	if _, err := os.Stat(filepath.Join(foreign.DataDir, hipaakit.FileInstanceID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused start wrote its instance ID: %v", err)
	}

	nokek := s.config("c")
	nokek.KEK = hipaakit.KEKConfig{}
	if _, err := hipaakit.Open(ctx, nokek); !errors.Is(err, hipaakit.ErrChallengeKey) {
		t.Fatalf("start without the master key: %v", err)
	}
	if _, err := os.Stat(hipaakit.DefaultKeyFile(nokek.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused start left a master key behind: %v", err)
	}

	if after := s.rows(a.LedgerSchema); after != before {
		t.Fatalf("the refused starts wrote %d rows", after-before)
	}
	if _, wrapped := s.storedChallengeKey(); !bytes.Equal(wrapped, wrappedBefore) || s.challengeRows() != 1 {
		t.Fatal("a refused start changed the stored challenge key")
	}
	open(t, s.config("a"))
}

// TestChallengeKeyNeverShown: the stored key (read back with the KEK) and
// a configured Auth.ChallengeKey appear in no log line, error, fmt verb of
// the Deployment or the Config, nor in plaintext in the database.
func TestChallengeKeyNeverShown(t *testing.T) {
	ctx := context.Background()
	s := newReplicaSet(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfgA := withPasskeys(s.config("a"))
	cfgA.Logger = logger
	a := open(t, cfgA)
	key, wrapped := s.storedChallengeKey()
	canaries := append(redact.Canaries(key), base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key))
	if bytes.Contains(wrapped, key) {
		t.Fatal("the database holds the challenge key in plaintext")
	}

	var shown []string
	_, secret := totpUser(t, a, s.clk, "leak")
	challenge := passwordStep(t, a, "leak")
	if _, err := a.Auth.VerifySecondFactor(ctx, auth.SecondFactorRequest{Challenge: challenge, TOTPCode: "000000"}); err != nil {
		shown = append(shown, err.Error())
	}
	if _, err := secondFactor(a, s.clk, challenge+"x", secret); err != nil {
		shown = append(shown, err.Error())
	}
	other, _ := localkek.Generate()
	foreign := s.config("b")
	foreign.KEK.Key, foreign.Logger = other, logger
	_, err := hipaakit.Open(ctx, foreign)
	if err == nil {
		t.Fatal("a start with another KEK opened")
	}
	shown = append(shown, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	for _, verb := range redact.Verbs {
		shown = append(shown, fmt.Sprintf(verb, a), fmt.Sprintf(verb, cfgA))
	}
	shown = append(shown, logs.String())
	for _, out := range shown {
		for _, c := range canaries {
			if strings.Contains(out, c) {
				t.Fatalf("the challenge key is shown: %.200q", out)
			}
		}
	}

	// A configured key: the AuthConfig and the Config redact it.
	cfg := s.config("c")
	cfg.Auth.ChallengeKey = bytes.Repeat([]byte("CHALLENGE-CANARY"), 2)
	if bad := redact.Leaks(cfg.Auth, "hipaakit.AuthConfig", redact.Canaries(cfg.Auth.ChallengeKey)...); len(bad) > 0 {
		t.Errorf("AuthConfig leaks: %v", bad)
	}
	for _, verb := range redact.Verbs {
		if out := fmt.Sprintf(verb, cfg); strings.Contains(out, "CHALLENGE-CANARY") {
			t.Errorf("Config under %s shows the challenge key", verb)
		}
	}
	if _, err := json.Marshal(cfg.Auth); err != nil {
		t.Errorf("AuthConfig JSON: %v", err)
	}
}

// TestChallengeKeyEmbedded: on the embedded stores the key is the data
// directory's FileChallengeKey (0600, wrapped, versioned), it survives a
// restart (a challenge issued before it is finished after), another KEK
// is refused with a *ChallengeKeyError naming the file, and a short
// Auth.ChallengeKey is refused by Validate.
func TestChallengeKeyEmbedded(t *testing.T) {
	ctx := context.Background()
	cfg, clk := embedded(t, nil)
	d, err := hipaakit.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, secret := totpUser(t, d, clk, "emb")
	challenge := passwordStep(t, d, "emb")
	file := filepath.Join(cfg.DataDir, hipaakit.FileChallengeKey)
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("challenge key file: %v %v", st, err)
	}
	raw, _ := os.ReadFile(file)
	var stored struct {
		Version int    `json:"version"`
		KEKID   string `json:"kek_id"`
		Wrapped []byte `json:"wrapped"`
	}
	if err := json.Unmarshal(raw, &stored); err != nil || stored.Version != 1 || stored.KEKID != d.KEK.ID() {
		t.Fatalf("challenge key file %+v: %v", stored, err)
	}
	key, err := d.KEK.Unwrap(ctx, stored.Wrapped, []byte(challengeKeyAD))
	if err != nil || len(key) != 32 || bytes.Contains(raw, key) {
		t.Fatalf("the stored key does not unwrap to 32 bytes kept apart from the file: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = open(t, cfg)
	if res, err := secondFactor(d, clk, challenge, secret); err != nil || !res.Authenticated {
		t.Fatalf("a challenge issued before a restart: %+v %v", res, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// A deployment that holds no keyset yet: only the challenge key tells
	// that the KEK is another.
	fresh, _ := embedded(t, nil)
	if d, err = hipaakit.Open(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	freshFile := filepath.Join(fresh.DataDir, hipaakit.FileChallengeKey)
	raw, _ = os.ReadFile(freshFile)
	other, _ := localkek.Generate()
	foreign := fresh
	foreign.KEK = hipaakit.KEKConfig{Key: other}
	_, err = hipaakit.Open(ctx, foreign)
	var ce *hipaakit.ChallengeKeyError
	if !errors.As(err, &ce) || ce.Object != "file "+hipaakit.FileChallengeKey || !errors.Is(err, hipaakit.ErrWrongKEK) {
		t.Fatalf("embedded start with another KEK: %v", err)
	}
	if again, _ := os.ReadFile(freshFile); !bytes.Equal(again, raw) {
		t.Fatal("the refused start changed the challenge key file")
	}
	if strings.Contains(err.Error(), fresh.DataDir) {
		t.Fatalf("the error holds the data directory's path: %v", err)
	}

	short := cfg
	short.Auth.ChallengeKey = make([]byte, 31)
	var cfgErr *hipaakit.ConfigError
	if err := short.Validate(); !errors.As(err, &cfgErr) || cfgErr.Field != "Auth.ChallengeKey" {
		t.Fatalf("a 31-byte Auth.ChallengeKey: %v", err)
	}
}

// TestRewrapChallengeKey: kek migrate's re-wrap moves the stored key to the
// new KEK (the deployment then opens with it and keeps its challenges),
// is resumable, and refuses a key neither KEK wrapped.
func TestRewrapChallengeKey(t *testing.T) {
	ctx := context.Background()
	s := newReplicaSet(t)
	a := open(t, s.config("a"))
	_, secret := totpUser(t, a, s.clk, "mig")
	challenge := passwordStep(t, a, "mig")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	from, _ := localkek.Parse(s.kek)
	toKey, _ := localkek.Generate()
	to, _ := localkek.Parse(toKey)
	for i, want := range []bool{true, false} {
		done, err := hipaakit.RewrapChallengeKey(ctx, s.pool, "", from, to)
		if err != nil || done != want {
			t.Fatalf("run %d: rewrapped %t, %v; want %t", i, done, err, want)
		}
	}
	// The keysets (the sealed TOTP secret's), as kek migrate re-wraps them.
	v, err := phi.NewVault(phi.VaultConfig{Keys: pgstore.New(s.pool, pgstore.Config{}), KEK: to, OldKEKs: []phi.KEK{from}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.RotateKEK(ctx, to, nil); err != nil {
		t.Fatal(err)
	}
	cfg := s.config("a")
	cfg.KEK.Key = toKey
	cfg.Backup.Dir = filepath.Join(t.TempDir(), "backups") // kek migrate re-wraps the repository too
	d := open(t, cfg)
	if res, err := secondFactor(d, s.clk, challenge, secret); err != nil || !res.Authenticated {
		t.Fatalf("a challenge issued before the re-wrap: %+v %v", res, err)
	}
	third, _ := localkek.Generate()
	k3, _ := localkek.Parse(third)
	var ce *hipaakit.ChallengeKeyError
	if _, err := hipaakit.RewrapChallengeKey(ctx, s.pool, "", from, k3); !errors.As(err, &ce) {
		t.Fatalf("re-wrap of a key neither KEK wrapped: %v", err)
	}
	// An embedded deployment with no key stored yet: nothing to do.
	if done, err := hipaakit.RewrapChallengeKey(ctx, nil, t.TempDir(), from, to); done || err != nil {
		t.Fatalf("re-wrap without a stored key: %t %v", done, err)
	}
	// An embedded deployment's file (it holds no keyset): re-wrapped, it
	// opens under the new KEK.
	emb, _ := embedded(t, nil)
	emb.KEK.Key = s.kek
	e := open(t, emb)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if done, err := hipaakit.RewrapChallengeKey(ctx, nil, emb.DataDir, from, to); !done || err != nil {
		t.Fatalf("re-wrap of the embedded key: %t %v", done, err)
	}
	emb.KEK.Key, emb.Backup.Dir = toKey, filepath.Join(t.TempDir(), "backups")
	open(t, emb)
}

// TestRevealNamesRoute: a reveal inside a route behind Protect is audited
// with the route's pattern (never the path); one outside a request has no
// route.
func TestRevealNamesRoute(t *testing.T) {
	ctx := context.Background()
	const perm policy.Permission = "record:read"
	rbac, err := policy.NewRBAC([]policy.Permission{perm}, []policy.Role{{Name: "reader", Permissions: []policy.Permission{perm}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, clk := embedded(t, nil)
	cfg.Auth.RBAC = rbac
	d := open(t, cfg)
	b := phi.Binding{Subject: "p1", Field: "dob"}
	sealed, err := d.Vault.Seal(ctx, b, []byte("1970-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	protected, err := d.Protect(hipaakit.ProtectConfig{Subject: func(r *http.Request) string { return r.PathValue("id") }})
	if err != nil {
		t.Fatal(err)
	}
	d.Auth.HandleFunc("GET /records/{id}", perm, func(w http.ResponseWriter, r *http.Request) {
		if _, err := d.Vault.Reveal(r.Context(), b, sealed, "treatment"); err != nil {
			http.Error(w, "reveal failed", http.StatusInternalServerError)
		}
	}, auth.PHI())
	u := login(t, d, clk, "rita", "reader")
	begin := httptest.NewRecorder()
	if _, _, err := d.Auth.Begin(ctx, begin, httptest.NewRequest("POST", "/login", nil), u, true); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/records/p1", nil)
	req.AddCookie(begin.Result().Cookies()[0])
	rec := httptest.NewRecorder()
	protected.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /records/p1: %d %s", rec.Code, rec.Body)
	}
	if _, err := d.Vault.Reveal(ctx, b, sealed, "operations"); err != nil {
		t.Fatal(err)
	}
	routes := map[string]string{}
	for r, err := range d.Audit.Search(ctx, audit.Filter{Subject: "p1"}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Event.Action == audit.ActionReveal {
			routes[r.Event.Purpose] = r.Event.Origin.Route
			if r.Event.Purpose == "treatment" && r.Event.Actor.UserID != u.ID {
				t.Errorf("the reveal in the route names actor %q, want %q", r.Event.Actor.UserID, u.ID)
			}
		}
	}
	if len(routes) != 2 || routes["treatment"] != "GET /records/{id}" || routes["operations"] != "" {
		t.Fatalf("reveal routes by purpose: %v", routes)
	}
}

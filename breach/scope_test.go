package breach_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/breach"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/signing"
)

// trail is a real audit trail under test: where to write, and how to read
// its entries for verification.
type trail struct {
	w       audit.Writer
	close   func()
	entries audit.EntrySource
	keys    signing.KeySet
	dir     string // file trails only
}

func fileTrail(t *testing.T) *trail {
	_, priv, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	l, err := audit.OpenFileLog(context.Background(), dir, audit.FileOptions{Signer: priv, CheckpointEvery: 50,
		Clock: clock.NewFake(time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	return &trail{w: l, close: func() { l.Close() }, entries: l.Reader().Entries, keys: mustKeySet(t, priv.Public().(ed25519.PublicKey)), dir: dir}
}

func pgTrail(t *testing.T) *trail {
	ctx := context.Background()
	pool := hipaakittest.Postgres(t)
	if err := pgaudit.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	w, err := pgaudit.Open(ctx, pool, pgaudit.Options{Stream: "app-1", Signer: priv, CheckpointEvery: 50})
	if err != nil {
		t.Fatal(err)
	}
	return &trail{w: w, close: func() { w.Close(context.Background()) }, entries: pgaudit.NewStore(pool).Entries, keys: mustKeySet(t, priv.Public().(ed25519.PublicKey))}
}

const compromised = "u-nurse-7"

var day = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func read(at time.Time, actor, subject, field, ip string) audit.Event {
	return audit.Event{Time: at, Action: audit.ActionRead, Outcome: audit.OutcomeSuccess,
		Actor:  audit.Actor{UserID: actor, Role: "nurse", SessionID: "s-" + actor},
		Origin: audit.Origin{Channel: audit.ChannelWeb, ClientIP: ip, Route: "GET /patients/{id}"},
		Target: audit.Target{RecordType: "patient", RecordID: "r-" + subject, Field: field, Subject: subject}, Purpose: "treatment"}
}

func patient(i int) string { return fmt.Sprintf("p-%03d", i) }

// simulate writes three days of ordinary traffic and, on the night of the
// second, the compromised account reading 40 patients from an outside
// address, and a copy of six patients' sealed values.
func simulate(t *testing.T, w audit.Writer) {
	ctx := context.Background()
	var evs []audit.Event
	for d := range 3 {
		for h := 8; h < 18; h++ {
			for k := range 6 {
				at := day.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(k)*7*time.Minute)
				actor := fmt.Sprintf("u-staff-%d", k)
				if k == 5 {
					actor = compromised // the same account, in its ordinary day shift
				}
				evs = append(evs, read(at, actor, patient((d*60+h*6+k)%200), "dob", "10.0.0.5"))
			}
		}
	}
	night := day.Add(24*time.Hour + 22*time.Hour)
	for i := range 40 {
		at := night.Add(time.Duration(i) * 3 * time.Minute)
		p := patient(100 + i)
		evs = append(evs, read(at, compromised, p, "dob", "203.0.113.9"), read(at.Add(time.Second), compromised, p, "diagnosis", "203.0.113.9"))
		if i%8 == 0 {
			e := read(at.Add(2*time.Second), compromised, p, "ssn", "203.0.113.9")
			e.Action = audit.ActionReveal
			evs = append(evs, e)
		}
		// the night shift works meanwhile
		evs = append(evs, read(at.Add(30*time.Second), "u-night-1", patient(i), "allergies", "10.0.0.8"))
	}
	// a denied attempt by the compromised account: nothing was exposed
	denied := read(night.Add(3*time.Hour), compromised, "p-900", "dob", "203.0.113.9")
	denied.Outcome, denied.Reason = audit.OutcomeFailure, "no_permission"
	evs = append(evs, denied)
	// six patients' values copied only in sealed form (an export of the
	// encrypted table)
	for i := range 6 {
		e := read(night.Add(3*time.Hour+time.Duration(i)*time.Second), compromised, patient(300+i), "dob", "203.0.113.9")
		e.Action, e.Attrs = audit.ActionExport, map[string]string{breach.AttrExposure: breach.ExposureSealed}
		evs = append(evs, e)
	}
	slices.SortStableFunc(evs, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
	for _, e := range evs {
		if err := w.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
}

func nightIndicators() breach.Indicators {
	return breach.Indicators{Actors: []string{compromised},
		Since: day.Add(24*time.Hour + 20*time.Hour), Until: day.Add(48*time.Hour + 6*time.Hour)}
}

func TestScopeCompromisedAccount(t *testing.T) {
	for name, open := range map[string]func(*testing.T) *trail{"file": fileTrail, "postgres": pgTrail} {
		t.Run(name, func(t *testing.T) {
			tr := open(t)
			simulate(t, tr.w)
			tr.close()
			shredded := patient(139)
			req := breach.ScopeRequest{Entries: tr.entries, Verify: audit.VerifyOptions{Keys: tr.keys}, Indicators: nightIndicators(),
				Shredded: func(_ context.Context, s string) (bool, error) { return s == shredded, nil }}
			sc, err := breach.ComputeScope(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			checkNightScope(t, sc, shredded)

			// the same trail, the same scope, the same bytes
			again, err := breach.ComputeScope(context.Background(), req)
			if err != nil || again.Digest() != sc.Digest() {
				t.Fatalf("second scope differs (%v)", err)
			}

			// a compromised key takes the safe harbor away
			req.CompromisedSubjects = []string{patient(302)}
			sc, err = breach.ComputeScope(context.Background(), req)
			if err != nil || len(sc.Affected) != 41 || len(sc.Excluded) != 5 {
				t.Fatalf("with a compromised subject key: %d affected, %d excluded, %v; want 41 and 5", len(sc.Affected), len(sc.Excluded), err)
			}
			req.CompromisedSubjects, req.KEKCompromised = nil, true
			sc, err = breach.ComputeScope(context.Background(), req)
			if err != nil || len(sc.Affected) != 46 || len(sc.Excluded) != 0 {
				t.Fatalf("with the KEK compromised: %d affected, %d excluded, %v; want 46 and 0", len(sc.Affected), len(sc.Excluded), err)
			}

			// network and route indicators select the same 40
			req.KEKCompromised = false
			req.Indicators = breach.Indicators{Since: req.Indicators.Since, Until: req.Indicators.Until,
				Networks: mustPrefixes("203.0.113.0/24"), Routes: []string{"GET /patients/{id}"}}
			sc, err = breach.ComputeScope(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			checkNightScope(t, sc, shredded)
		})
	}
}

func checkNightScope(t *testing.T, sc *breach.Scope, shredded string) {
	t.Helper()
	if len(sc.Affected) != 40 {
		t.Fatalf("%d affected subjects, want exactly 40", len(sc.Affected))
	}
	for i, s := range sc.Affected {
		if want := patient(100 + i); s.Subject != want {
			t.Fatalf("affected[%d] = %s, want %s (sorted, exactly the 40 read at night)", i, s.Subject, want)
		}
		want := []string{"patient.diagnosis", "patient.dob"}
		n := 2
		if i%8 == 0 {
			want, n = []string{"patient.diagnosis", "patient.dob", "patient.ssn"}, 3
		}
		if !slices.Equal(s.Elements, want) || len(s.Evidence) != n || s.Exposure != breach.ExposurePlaintext {
			t.Fatalf("%s: elements %v, %d evidence, %s; want %v, %d, plaintext", s.Subject, s.Elements, len(s.Evidence), s.Exposure, want, n)
		}
		if s.Shredded != (s.Subject == shredded) {
			t.Fatalf("%s: shredded = %v", s.Subject, s.Shredded)
		}
	}
	if len(sc.Excluded) != 6 {
		t.Fatalf("%d excluded, want the 6 sealed-only subjects", len(sc.Excluded))
	}
	for i, s := range sc.Excluded {
		if s.Subject != patient(300+i) || s.Reason != breach.ReasonSecured || s.Exposure != breach.ExposureSealed {
			t.Fatalf("excluded[%d] = %+v", i, s)
		}
	}
}

func TestScopeRefusesTamperedTrail(t *testing.T) {
	tr := fileTrail(t)
	simulate(t, tr.w)
	tr.close()
	// The newest segment (seg-<20 digits>...): not the tree or checkpoint
	// files beside the segments.
	segs, _ := filepath.Glob(filepath.Join(tr.dir, "seg-*"))
	var seg string
	for _, s := range segs {
		if st, err := os.Stat(s); err == nil && st.Mode().IsRegular() && st.Size() > 1000 {
			seg = s
		}
	}
	if seg == "" {
		t.Fatal("no audit segment found to tamper with")
	}
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	// a reader's trace hidden: one night read now names another actor
	b = []byte(strings.Replace(string(b), `"user_id":"`+compromised+`"`, `"user_id":"u-nurse-8"`, 1))
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sc, err := breach.ComputeScope(context.Background(), breach.ScopeRequest{Entries: tr.entries,
		Verify: audit.VerifyOptions{Keys: tr.keys}, Indicators: nightIndicators()})
	var ve *audit.VerifyError
	if !errors.Is(err, breach.ErrTrailUnverified) || !errors.As(err, &ve) || sc != nil {
		t.Fatalf("scope over a tampered trail: %v (scope %v), want ErrTrailUnverified with the *audit.VerifyError", err, sc != nil)
	}
}

func TestScopeBadRequests(t *testing.T) {
	tr := fileTrail(t)
	tr.close()
	for name, req := range map[string]breach.ScopeRequest{
		"no entries": {Verify: audit.VerifyOptions{Keys: tr.keys}, Indicators: nightIndicators()},
		"no keys":    {Entries: tr.entries, Indicators: nightIndicators()},
		"no window":  {Entries: tr.entries, Verify: audit.VerifyOptions{Keys: tr.keys}},
		"bad action": {Entries: tr.entries, Verify: audit.VerifyOptions{Keys: tr.keys},
			Indicators: breach.Indicators{Since: day, Until: day.Add(time.Hour), Actions: []audit.Action{"Bad Action"}}},
	} {
		if _, err := breach.ComputeScope(context.Background(), req); !errors.Is(err, breach.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestScopeExports(t *testing.T) {
	tr := fileTrail(t)
	simulate(t, tr.w)
	tr.close()
	sc, err := breach.ComputeScope(context.Background(), breach.ScopeRequest{Entries: tr.entries,
		Verify: audit.VerifyOptions{Keys: tr.keys}, Indicators: nightIndicators()})
	if err != nil {
		t.Fatal(err)
	}
	var csv, js strings.Builder
	if err := breach.WriteScopeCSV(&csv, sc); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csv.String()), "\n")
	if len(lines) != 1+40+6 || !strings.HasPrefix(lines[1], "p-100,affected,plaintext,patient.diagnosis;patient.dob;patient.ssn,false,,3,") {
		t.Fatalf("scope CSV: %d lines, first row %q", len(lines), lines[1])
	}
	if err := breach.WriteScopeJSON(&js, sc); err != nil || !strings.Contains(js.String(), `"records_read"`) {
		t.Fatalf("scope JSON: %v", err)
	}
}

// mustKeySet is the signing.KeySet of keys.
func mustKeySet(t testing.TB, keys ...ed25519.PublicKey) signing.KeySet {
	t.Helper()
	s, err := signing.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

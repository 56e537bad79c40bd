package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

// replicaConfigs are n clinic replicas of one PostgreSQL deployment, as the
// README runs them: one DATABASE_URL, one master key, one signing key file,
// one backup directory, a data directory and an instance ID each.
func replicaConfigs(t *testing.T, n int) []config {
	s := pgSetup(t)
	kek, err := localkek.Generate()
	if err != nil {
		t.Fatal(err)
	}
	shared := t.TempDir()
	var cfgs []config
	for i := range n {
		c := s.cfg
		c.DataDir = t.TempDir()
		c.MasterKey = kek
		c.InstanceID = "r" + string(rune('1'+i))
		c.SigningKey = filepath.Join(shared, "signing-key.pem")
		c.BackupDir = filepath.Join(shared, "backups")
		cfgs = append(cfgs, c)
	}
	return cfgs
}

// on is c (its cookies and CSRF token) talking to another replica.
func (c *client) on(tc *testClinic) *client {
	hc := *c.hc
	hc.Transport = tc.srv.Client().Transport // trusts tc's own test certificate
	return &client{tc: tc, hc: &hc, csrf: c.csrf, role: c.role}
}

// TestThreeReplicas: three clinics on one database serve one deployment: a
// session from one works on the others and its logout ends it on all,
// a write on one is read on the others, a shred on one answers 410 on all
// within a second, a backup made through one is listed by all, each
// replica writes its own stream and is ready, a fourth process with a live replica's instance ID
// is refused, and the trail of all three verifies.
func TestThreeReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfgs := replicaConfigs(t, 3)
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	var rs []*testClinic
	var users map[string]demoUser
	for _, c := range cfgs {
		tc := startClinicWith(t, c, clk, users)
		users = tc.users
		rs = append(rs, tc)
	}
	for _, r := range rs {
		r.anon().mustStatus(http.StatusOK, "GET", "/readyz", nil, nil)
	}
	twin := cfgs[1]
	twin.DataDir = t.TempDir() // a copy elsewhere, under r2's name
	if _, err := openApp(ctx, twin, clk, &bytes.Buffer{}); !errors.Is(err, hipaakit.ErrStreamHeld) {
		t.Fatalf("a second process as r2: %v", err)
	}

	doc := rs[0].login(rolePhysician)
	id := newPatient(t, doc, "MRN-7001", canaryName)
	for _, r := range rs {
		doc.on(r).mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, nil)
		doc.on(r).mustStatus(http.StatusCreated, "POST", "/api/patients/"+id+"/notes", map[string]string{"value": "seen on " + r.app.d.InstanceID}, nil)
	}
	var view patientView
	doc.on(rs[2]).mustStatus(http.StatusOK, "GET", "/api/patients/"+id, nil, &view)
	if len(view.Notes) != 3 {
		t.Fatalf("r3 reads %d of the 3 acknowledged notes", len(view.Notes))
	}

	nurse := rs[1].login(roleNurse)
	nurse.on(rs[2]).mustStatus(http.StatusOK, "GET", "/api/auth/session", nil, nil)
	nurse.on(rs[0]).mustStatus(http.StatusNoContent, "POST", "/api/auth/logout", nil, nil)
	for _, r := range rs {
		nurse.on(r).mustStatus(http.StatusUnauthorized, "GET", "/api/auth/session", nil, nil)
	}

	// A shred on r1 answers 410 on every replica within a second, though
	// r2 and r3 read the patient before and had its key cached: the key
	// store announces the shred to every process.
	admin := rs[0].login(roleAdmin)
	admin.mustStatus(http.StatusOK, "POST", "/api/patients/"+id+"/shred", map[string]string{"reason": "patient request"}, nil)
	deadline := time.Now().Add(time.Second)
	for _, r := range rs {
		for {
			st, _ := doc.on(r).raw("GET", "/api/patients/"+id, nil)
			if st == http.StatusGone {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s answers %d for the shredded patient a second after the shred", r.app.d.InstanceID, st)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// One backup target: a backup made through r1 is listed by all three.
	var made struct{ Backups []string }
	admin.mustStatus(http.StatusCreated, "POST", "/api/backups", nil, &made)
	if len(made.Backups) == 0 {
		t.Fatal("the backup returned no IDs")
	}
	for _, r := range rs {
		var infos []struct{ ID string }
		admin.on(r).mustStatus(http.StatusOK, "GET", "/api/backups", nil, &infos)
		listed := map[string]bool{}
		for _, in := range infos {
			listed[in.ID] = true
		}
		for _, id := range made.Backups {
			if !listed[id] {
				t.Fatalf("%s does not list backup %s made through r1", r.app.d.InstanceID, id)
			}
		}
	}

	// Every replica wrote its own stream, and the trail as a whole (the
	// three streams) verifies with the deployment's key.
	res, err := rs[0].app.d.Audit.Verify(ctx, audit.VerifyOptions{Keys: rs[0].app.d.TrustedKeys()})
	if err != nil {
		t.Fatalf("verify the trail of three replicas: %v", err)
	}
	seen := map[string]bool{}
	for _, st := range res.Streams {
		seen[st.Stream] = st.Records > 0
	}
	for _, r := range rs {
		if !seen[r.app.d.AuditStream()] {
			t.Fatalf("no records in %s's stream %s (streams: %v)", r.app.d.InstanceID, r.app.d.AuditStream(), seen)
		}
	}
}

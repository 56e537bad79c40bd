package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/hipaakit/hipaakit"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/pgaudit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/hipaakittest"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms"
	"github.com/hipaakit/hipaakit/phi/awskms/kmstest"
	"github.com/hipaakit/hipaakit/phi/filestore"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/pgstore"
)

// kekSubjects is more than phi's page of 256, so that the walk pages.
const kekSubjects = 300

// kekSeal seals one value for each of n subjects under kek.
func kekSeal(t *testing.T, keys phi.KeyStore, kek phi.KEK, n int) map[string]phi.Sealed {
	t.Helper()
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	check(t, err)
	out := map[string]phi.Sealed{}
	for i := range n {
		s := fmt.Sprintf("patient-%03d", i)
		out[s], err = v.Seal(context.Background(), phi.Binding{Subject: s, Field: "dob"}, []byte("1970-01-01"))
		check(t, err)
	}
	return out
}

// kekIDs counts the stored keysets by the ID of the KEK that wraps them.
func kekIDs(t *testing.T, keys phi.KeyStore) map[string]int {
	t.Helper()
	out := map[string]int{}
	after := ""
	for {
		page, err := keys.List(context.Background(), after, 100)
		check(t, err)
		for _, w := range page {
			out[w.KEKID]++
		}
		if len(page) < 100 {
			return out
		}
		after = page[len(page)-1].Ref
	}
}

// kekOpenAll proves that a Vault holding only kek opens every sealed value.
func kekOpenAll(t *testing.T, keys phi.KeyStore, kek phi.KEK, sealed map[string]phi.Sealed) {
	t.Helper()
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: kek})
	check(t, err)
	for s, ct := range sealed {
		pt, err := v.Open(context.Background(), phi.Binding{Subject: s, Field: "dob"}, ct)
		if err != nil {
			t.Fatalf("%s under %s: %v", s, kek.ID(), err)
		}
		pt.Wipe()
	}
}

// interruptRotation re-wraps the first n keysets under to and stops, as a
// migration killed mid-walk leaves the store.
func interruptRotation(t *testing.T, keys phi.KeyStore, from, to phi.KEK, n int) {
	t.Helper()
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: to, OldKEKs: []phi.KEK{from}})
	check(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = v.RotateKEK(ctx, to, func(p phi.Progress) {
		if p.Rewrapped == n {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rotation: %v", err)
	}
}

func kmsEnv(srv *kmstest.Server, env map[string]string) map[string]string {
	env["HIPAAKIT_KMS_ENDPOINT"] = srv.URL()
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_REGION"] = "AKIDKMSTEST", "kmstest-secret", kmstest.Region
	return env
}

// kekMigrateEvents returns the key_rotated events of the file audit trail.
func kekMigrateEvents(t *testing.T, dir string) []audit.Event {
	t.Helper()
	r, err := audit.OpenFileReader(dir)
	check(t, err)
	var out []audit.Event
	for rec, err := range r.Records(context.Background(), 0) {
		check(t, err)
		if rec.Event.Action == audit.ActionKeyRotated {
			out = append(out, rec.Event)
		}
	}
	return out
}

// TestKEKMigrateFileToKMS: a file deployment under a local master key
// (kept in the data directory, the old default) moves to AWS KMS: every
// keyset and the backup repository key; an interrupted run is finished by
// a second run, and a third finds nothing to do.
func TestKEKMigrateFileToKMS(t *testing.T) {
	ctx := context.Background()
	srv := kmstest.NewServer(t)
	data := t.TempDir()
	old, err := localkek.FromDir(data)
	check(t, err)
	keys, err := filestore.Open(filepath.Join(data, "keys"), filestore.Config{})
	check(t, err)
	sealed := kekSeal(t, keys, old, kekSubjects)
	repo := filepath.Join(t.TempDir(), "repo")
	env := kmsEnv(srv, map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": repo, "USER": "ops"})
	if code, _, errs := runCLI(t, env, "backup", "create", "--source", "keystore"); code != exitOK {
		t.Fatalf("backup create: %d %s", code, errs)
	}
	kms, err := awskms.New(srv.Config(), awskms.Config{KeyID: srv.KeyARN()})
	check(t, err)

	interruptRotation(t, keys, old, kms, 40)
	if ids := kekIDs(t, keys); ids[kms.ID()] != 40 || ids[old.ID()] != kekSubjects-40 {
		t.Fatalf("after the interruption: %v", ids)
	}
	code, out, errs := runCLI(t, env, "kek", "migrate", "--to-kms", srv.KeyARN())
	if code != exitOK {
		t.Fatalf("migrate: %d\n%s\n%s", code, out, errs)
	}
	want := fmt.Sprintf("keysets: %d examined, %d re-wrapped, 40 already under the new KEK, 0 shredded meanwhile", kekSubjects, kekSubjects-40)
	if !strings.Contains(out, want) || !strings.Contains(out, ": rewrapped") {
		t.Fatalf("migrate output:\n%s\nwant %q", out, want)
	}
	if ids := kekIDs(t, keys); len(ids) != 1 || ids[kms.ID()] != kekSubjects {
		t.Fatalf("after the migration: %v", ids)
	}
	kekOpenAll(t, keys, kms, sealed)
	if _, err := backup.Open(ctx, mustDirTarget(t, repo), kms, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{}}); err != nil {
		t.Fatalf("the repository under KMS: %v", err)
	}
	if _, err := backup.Open(ctx, mustDirTarget(t, repo), old, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{}}); !errors.Is(err, backup.ErrWrongKey) {
		t.Fatalf("the repository under the old key: %v", err)
	}

	// A second run finds everything done.
	code, out, errs = runCLI(t, env, "kek", "migrate", "--to-kms", srv.KeyARN())
	want = fmt.Sprintf("keysets: %d examined, 0 re-wrapped, %d already under the new KEK", kekSubjects, kekSubjects)
	if code != exitOK || !strings.Contains(out, want) || !strings.Contains(out, "already under the new KEK\n") {
		t.Fatalf("second run: %d\n%s\n%s", code, out, errs)
	}

	// Audited: start and end of both runs, and the repository's rewrap once.
	var got []string
	for _, e := range kekMigrateEvents(t, filepath.Join(data, "audit")) {
		if e.Outcome != audit.OutcomeSuccess || e.Actor.UserID != "cli:ops" {
			t.Errorf("event %+v", e)
		}
		got = append(got, e.Reason)
		if e.Reason == "kek_migrate_end" && (e.Attrs["from_kek"] != old.ID() || e.Attrs["to_kek"] != kms.ID() || e.Attrs["scanned"] != fmt.Sprint(kekSubjects)) {
			t.Errorf("end event attrs %v", e.Attrs)
		}
	}
	if strings.Join(got, " ") != "kek_migrate_start rewrap kek_migrate_end kek_migrate_start kek_migrate_end" {
		t.Fatalf("audited steps: %v", got)
	}
}

func mustDirTarget(t *testing.T, dir string) *backup.DirTarget {
	t.Helper()
	tg, err := backup.NewDirTarget(dir)
	check(t, err)
	return tg
}

// TestKEKMigrateRefuses: a KMS key that refuses to encrypt, a repository
// neither KEK opens, a new key file inside the data directory and
// incomplete command lines stop the migration before anything changes.
func TestKEKMigrateRefuses(t *testing.T) {
	srv := kmstest.NewServer(t)
	data := t.TempDir()
	old, err := localkek.FromDir(data)
	check(t, err)
	keys, err := filestore.Open(filepath.Join(data, "keys"), filestore.Config{})
	check(t, err)
	kekSeal(t, keys, old, 3)
	repo := filepath.Join(t.TempDir(), "repo")
	env := kmsEnv(srv, map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": repo})
	if code, _, errs := runCLI(t, env, "backup", "create", "--source", "keystore"); code != exitOK {
		t.Fatalf("backup create: %d %s", code, errs)
	}
	before := snapshotDir(t, data)

	srv.SetDisabled(srv.KeyARN(), true)
	code, _, errs := runCLI(t, env, "kek", "migrate", "--to-kms", srv.KeyARN())
	if code != exitFailure || !strings.Contains(errs, "unreachable or refuses") || !strings.Contains(errs, "nothing was changed") {
		t.Fatalf("disabled KMS key: %d %s", code, errs)
	}
	srv.SetDisabled(srv.KeyARN(), false)

	other := filepath.Join(t.TempDir(), "other-repo")
	otherEnv := kmsEnv(srv, map[string]string{"HIPAAKIT_DATA_DIR": t.TempDir(), "HIPAAKIT_BACKUP_REPO": other,
		envMasterKey: mustGenerate(t)})
	if code, _, errs := runCLI(t, otherEnv, "backup", "create", "--source", "dir", "--path", t.TempDir()); code != exitOK {
		t.Fatalf("other repository: %d %s", code, errs)
	}
	outside := filepath.Join(t.TempDir(), "new.key")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--to-kms", srv.KeyARN(), "--repo", other}, exitFailure, "neither the current nor the new KEK opens the backup repository"},
		{[]string{"--to-kms", srv.KeyARN(), "--repo", t.TempDir()}, exitUsage, "holds no repository"},
		{[]string{"--to-key-file", filepath.Join(data, "new.key")}, exitUsage, "outside the data directory"},
		{[]string{"--to-key-file", filepath.Join(data, "..", filepath.Base(data), "sub", "..", "x.key")}, exitUsage, "outside the data directory"},
		{[]string{"--to-kms", srv.KeyARN(), "--to-key-file", outside}, exitUsage, "exactly one of"},
		{[]string{}, exitUsage, "exactly one of"},
		{[]string{"--to-key-file", filepath.Join(data, localkek.FileName)}, exitUsage, "outside the data directory"},
	} {
		code, _, errs := runCLI(t, env, append([]string{"kek", "migrate"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %s; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	noRepo := map[string]string{"HIPAAKIT_DATA_DIR": data}
	if code, _, errs := runCLI(t, noRepo, "kek", "migrate", "--to-key-file", outside); code != exitUsage || !strings.Contains(errs, "--no-backup-repo") {
		t.Errorf("no repository decision: %d %s", code, errs)
	}
	retired := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_KEK_FILE": filepath.Join(data, localkek.FileName)}
	if code, _, errs := runCLI(t, retired, "kek", "migrate", "--to-key-file", outside, "--no-backup-repo"); code != exitUsage || !strings.Contains(errs, "rename it to HIPAAKIT_MASTER_KEY_FILE") {
		t.Errorf("retired name: %d %s", code, errs)
	}
	if _, err := os.Stat(outside); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused migration created the new key file: %v", err)
	}
	after := snapshotDir(t, data)
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("%s changed although every migration was refused", name)
		}
	}
	if len(after) != len(before) {
		t.Errorf("files in the data directory: %d before, %d after", len(before), len(after))
	}
}

func mustGenerate(t *testing.T) string {
	t.Helper()
	k, err := localkek.Generate()
	check(t, err)
	return k
}

// snapshotDir maps every file under dir to its content.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	check(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	}))
	return out
}

// TestKEKMigratePostgres: a PostgreSQL deployment moves from one local
// master key to another kept outside any data directory; the migration is
// audited in the CLI's PostgreSQL stream.
func TestKEKMigratePostgres(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	// The disposal ledger's schema beside it (hipaakit.LedgerSchemaSuffix).
	t.Cleanup(func() { pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`_ledger" CASCADE`) })
	check(t, pgstore.Migrate(ctx, pool))
	keys := pgstore.New(pool, pgstore.Config{})
	oldFile := filepath.Join(t.TempDir(), "old.key")
	old, err := localkek.FromFile(oldFile)
	check(t, err)
	sealed := kekSeal(t, keys, old, kekSubjects)
	sep := "?"
	if strings.Contains(hipaakittest.PostgresURL(), "?") {
		sep = "&"
	}
	newFile := filepath.Join(t.TempDir(), "new.key")
	env := map[string]string{envDatabaseURL: hipaakittest.PostgresURL() + sep + "search_path=" + schema,
		hipaakit.EnvSigningKeyFile: drWriteKey(t, t.TempDir(), "audit.pem"), envMasterKeyFile: oldFile}
	interruptRotation(t, keys, old, mustKeyFile(t, newFile), 100)
	code, out, errs := runCLI(t, env, "kek", "migrate", "--to-key-file", newFile, "--no-backup-repo")
	want := fmt.Sprintf("keysets: %d examined, %d re-wrapped, 100 already under the new KEK", kekSubjects, kekSubjects-100)
	if code != exitOK || !strings.Contains(out, want) {
		t.Fatalf("migrate: %d\n%s\n%s", code, out, errs)
	}
	nk := mustKeyFile(t, newFile)
	if ids := kekIDs(t, keys); len(ids) != 1 || ids[nk.ID()] != kekSubjects {
		t.Fatalf("after the migration: %v", ids)
	}
	kekOpenAll(t, keys, nk, sealed)

	// The migration's steps are in the CLI's audit stream.
	var reasons []string
	for e, err := range pgaudit.NewStore(pool).Entries(ctx) {
		check(t, err)
		if e.Record != nil && e.Record.Event.Action == audit.ActionKeyRotated {
			reasons = append(reasons, e.Record.Event.Reason+"/"+string(e.Record.Event.Outcome))
		}
	}
	if strings.Join(reasons, " ") != "kek_migrate_start/success kek_migrate_end/success" {
		t.Fatalf("audited: %v", reasons)
	}
	// Running it again changes nothing.
	code, out, _ = runCLI(t, env, "kek", "migrate", "--to-key-file", newFile, "--no-backup-repo")
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("0 re-wrapped, %d already", kekSubjects)) {
		t.Fatalf("second run: %d %s", code, out)
	}
}

func mustKeyFile(t *testing.T, path string) *localkek.KEK {
	t.Helper()
	k, err := localkek.FromFile(path)
	check(t, err)
	return k
}

// TestKEKMigrateStopsAudited: a keyset neither KEK unwraps stops the walk
// with exit 3 and the advice to run again; the end of the run is audited
// as a failure, and the backup repository is left under the old KEK.
func TestKEKMigrateStopsAudited(t *testing.T) {
	data := t.TempDir()
	old, err := localkek.FromDir(data)
	check(t, err)
	keys, err := filestore.Open(filepath.Join(data, "keys"), filestore.Config{})
	check(t, err)
	kekSeal(t, keys, old, 3)
	stranger, err := localkek.New(make([]byte, 32))
	check(t, err)
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: stranger})
	check(t, err)
	_, err = v.Seal(context.Background(), phi.Binding{Subject: "zz-foreign", Field: "dob"}, []byte("x"))
	check(t, err)
	repo := filepath.Join(t.TempDir(), "repo")
	env := map[string]string{"HIPAAKIT_DATA_DIR": data, "HIPAAKIT_BACKUP_REPO": repo}
	if code, _, errs := runCLI(t, env, "backup", "create", "--source", "dir", "--path", t.TempDir()); code != exitOK {
		t.Fatalf("backup create: %d %s", code, errs)
	}
	newFile := filepath.Join(t.TempDir(), "new.key")
	code, _, errs := runCLI(t, env, "kek", "migrate", "--to-key-file", newFile)
	if code != exitFailure || !strings.Contains(errs, "run the same command again") {
		t.Fatalf("migrate over a foreign keyset: %d %s", code, errs)
	}
	var got []string
	for _, e := range kekMigrateEvents(t, filepath.Join(data, "audit")) {
		got = append(got, e.Reason+"/"+string(e.Outcome))
	}
	if strings.Join(got, " ") != "kek_migrate_start/success kek_migrate_end/failure" {
		t.Fatalf("audited: %v", got)
	}
	if _, err := backup.Open(context.Background(), mustDirTarget(t, repo), old, backup.Config{Audit: audit.Discard{}, Actor: audit.Actor{}}); err != nil {
		t.Fatalf("the repository left under the old KEK: %v", err)
	}
}

// TestKEKMigrateChallengeKey: the deployment's login-challenge key, stored
// wrapped in hipaakit_challenge_keys, is re-wrapped under the new KEK (and
// audited), a second run leaves it alone, and the deployment then opens
// under the new KEK.
func TestKEKMigrateChallengeKey(t *testing.T) {
	ctx := context.Background()
	pool, schema := hipaakittest.PostgresSchema(t)
	t.Cleanup(func() { pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`_ledger" CASCADE`) })
	sep := "?"
	if strings.Contains(hipaakittest.PostgresURL(), "?") {
		sep = "&"
	}
	url := hipaakittest.PostgresURL() + sep + "search_path=" + schema
	oldFile, newFile := filepath.Join(t.TempDir(), "old.key"), filepath.Join(t.TempDir(), "new.key")
	signer := drWriteKey(t, t.TempDir(), "audit.pem")
	cfg := hipaakit.Config{DataDir: filepath.Join(t.TempDir(), "data"), DatabaseURL: url,
		KEK: hipaakit.KEKConfig{KeyFile: oldFile}, Signing: hipaakit.SigningConfig{KeyFile: signer}}
	d, err := hipaakit.Open(ctx, cfg)
	check(t, err)
	check(t, d.Close())
	kekID := func() (id string) {
		check(t, pool.QueryRow(ctx, `SELECT kek_id FROM hipaakit_challenge_keys`).Scan(&id))
		return id
	}
	if got, want := kekID(), mustKeyFile(t, oldFile).ID(); got != want {
		t.Fatalf("challenge key wrapped by %s, want %s", got, want)
	}
	env := map[string]string{envDatabaseURL: url, hipaakit.EnvSigningKeyFile: signer, envMasterKeyFile: oldFile}
	code, out, errs := runCLI(t, env, "kek", "migrate", "--to-key-file", newFile, "--no-backup-repo")
	if code != exitOK || !strings.Contains(out, "login-challenge key: rewrapped\n") {
		t.Fatalf("migrate: %d\n%s\n%s", code, out, errs)
	}
	nk := mustKeyFile(t, newFile)
	if got := kekID(); got != nk.ID() {
		t.Fatalf("after the migration the challenge key is wrapped by %s, want %s", got, nk.ID())
	}
	var attrs map[string]string
	for e, err := range pgaudit.NewStore(pool).Entries(ctx) {
		check(t, err)
		if e.Record != nil && e.Record.Event.Reason == "kek_migrate_end" {
			attrs = e.Record.Event.Attrs
		}
	}
	if attrs["challenge_key"] != "rewrapped" {
		t.Fatalf("the end of the migration records challenge_key %q", attrs["challenge_key"])
	}
	code, out, _ = runCLI(t, env, "kek", "migrate", "--to-key-file", newFile, "--no-backup-repo")
	if code != exitOK || !strings.Contains(out, "login-challenge key: none stored or already under the new KEK") {
		t.Fatalf("second run: %d %s", code, out)
	}
	// The backup repository the first start created stays under the old
	// key (the migration above had none): open with a new one.
	cfg.KEK.KeyFile, cfg.Backup.Dir = newFile, filepath.Join(t.TempDir(), "backups")
	d, err = hipaakit.Open(ctx, cfg)
	check(t, err)
	check(t, d.Close())
}

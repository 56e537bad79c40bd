package main

// `hipaakit kek migrate`: move a deployment to another master key (KEK).

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

const kekUsage = `usage: hipaakit kek migrate (--to-kms KEY | --to-key-file FILE) [--from-kms KEY]
                            (--repo REPO | --no-backup-repo) [--by USER] [--progress]

Move a deployment to another master key (KEK): from a local master key to
AWS KMS, between local keys, or between KMS keys. Every keyset of the key
store (HIPAAKIT_DATA_DIR's keys/, or DATABASE_URL) is re-wrapped
under the new KEK (phi.Vault.RotateKEK), then the deployment's
login-challenge key (hipaakit.RewrapChallengeKey), then the backup
repository's key (backup.Repository.Rewrap). Data is not re-encrypted: the keys inside the
keysets do not change.

  --to-kms KEY         the new KEK: an AWS KMS key ID or ARN (endpoint
                       --kms-endpoint or HIPAAKIT_KMS_ENDPOINT, region
                       AWS_REGION; credentials AWS_ACCESS_KEY_ID and
                       AWS_SECRET_ACCESS_KEY, else the AWS default chain)
  --to-key-file FILE   the new KEK: a local master key file, created (0600)
                       when missing; it must be outside the data directory
  --from-kms KEY       the current KEK when it is in AWS KMS (default: the
                       local master key, HIPAAKIT_MASTER_KEY,
                       HIPAAKIT_MASTER_KEY_FILE or the deployment's key file:
                       <data dir>/kek.key when it exists, else
                       <data dir>.master-key)
  --repo REPO          the backup repository (default $HIPAAKIT_BACKUP_REPO):
                       a directory or s3://bucket/prefix
  --no-backup-repo     the deployment has no backup repository

Before it changes anything it checks that both KEKs wrap and unwrap and
that the backup repository opens with one of them; it refuses to start
otherwise. It is resumable: keysets and a repository already under the new
KEK are skipped, so running the same command again after an interruption
finishes the job. Start and end are recorded in the audit trail (action
key_rotated). In file mode stop the service first; on PostgreSQL, switch
every instance to the new KEK and run the command once more, so that
keysets created under the old KEK meanwhile are re-wrapped too.

Keep the old key until the backups made before the migration have expired:
a key store backup holds keysets as they were wrapped when it was taken.

Exit status: 0 done; 2 usage; 3 a KEK is unreachable, a store cannot be
opened, or the migration stopped (run it again).
`

// kekMigration is one run of "hipaakit kek migrate".
type kekMigration struct {
	c        *cli
	tool     *hipaakit.Tool
	actor    audit.Actor
	from, to phi.KEK
	progress bool
	newFile  bool // the new KEK is a local key file
}

func cmdKEK(ctx context.Context, c *cli, args []string) int {
	if len(args) == 0 || args[0] != "migrate" {
		if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(c.stdout, kekUsage)
			return exitOK
		}
		fmt.Fprint(c.stderr, kekUsage)
		return exitUsage
	}
	fs := drFlags(c, "kek migrate")
	toKMS := fs.String("to-kms", "", "new KEK: AWS KMS key ID or ARN")
	toFile := fs.String("to-key-file", "", "new KEK: local master key file (created when missing)")
	fromKMS := fs.String("from-kms", "", "current KEK when it is in AWS KMS")
	endpoint := fs.String("kms-endpoint", "", "AWS KMS endpoint (default $HIPAAKIT_KMS_ENDPOINT)")
	repoFlag := fs.String("repo", "", "backup repository (default $HIPAAKIT_BACKUP_REPO)")
	noRepo := fs.Bool("no-backup-repo", false, "the deployment has no backup repository")
	by := fs.String("by", "", "user ID recorded in the audit trail (default cli:$USER)")
	progress := fs.Bool("progress", false, "report progress on standard error")
	pos, err := drParse(fs, args[1:])
	if err != nil {
		fmt.Fprint(c.stderr, kekUsage)
		return exitUsage
	}
	if *repoFlag == "" {
		*repoFlag = c.getenv("HIPAAKIT_BACKUP_REPO")
	}
	if *endpoint == "" {
		*endpoint = c.getenv(hipaakit.EnvKMSEndpoint)
	}
	switch {
	case len(pos) > 0:
		return kekUsageErr(c, "unexpected argument")
	case (*toKMS == "") == (*toFile == ""):
		return kekUsageErr(c, "give exactly one of --to-kms and --to-key-file")
	case (*repoFlag == "") == !*noRepo:
		return kekUsageErr(c, "give --repo (or HIPAAKIT_BACKUP_REPO), or --no-backup-repo when the deployment has none")
	}
	t, err := openTool(ctx, c)
	if err != nil {
		return drFail(c, "kek migrate", err)
	}
	defer t.Close()
	m := &kekMigration{c: c, tool: t, actor: audit.Actor{UserID: drActor(c, *by)}, progress: *progress, newFile: *toFile != ""}
	if m.from, err = m.kek(ctx, *fromKMS, "", *endpoint); err != nil {
		return drFail(c, "kek migrate", fmt.Errorf("the current KEK: %w", err))
	}
	if m.to, err = m.kek(ctx, *toKMS, *toFile, *endpoint); err != nil {
		return drFail(c, "kek migrate", fmt.Errorf("the new KEK: %w", err))
	}
	if m.from.ID() == m.to.ID() {
		return kekUsageErr(c, "the new KEK is the current one ("+m.to.ID()+")")
	}
	return m.run(ctx, *repoFlag)
}

func kekUsageErr(c *cli, msg string) int {
	fmt.Fprintf(c.stderr, "hipaakit kek migrate: %s\n\n%s", msg, kekUsage)
	return exitUsage
}

// kek returns the KEK in AWS KMS (kmsKey), in a local key file that is
// created when missing (newFile), or else the deployment's local master key.
func (m *kekMigration) kek(ctx context.Context, kmsKey, newFile, endpoint string) (phi.KEK, error) {
	switch {
	case kmsKey != "":
		return m.kmsKEK(ctx, kmsKey, endpoint)
	case newFile != "":
		if dir := m.tool.DataPath(""); dir != "" && hipaakit.KeyLocation(hipaakit.Config{DataDir: dir, KEK: hipaakit.KEKConfig{KeyFile: newFile}}).InsideDataDir {
			return nil, &drUsageError{"keep the master key file outside the data directory: a copy of the directory would then decrypt every record"}
		}
		return localkek.FromFile(newFile)
	}
	return m.c.localMasterKey()
}

// kmsKEK builds an AWS KMS KEK from the CLI's environment.
func (m *kekMigration) kmsKEK(ctx context.Context, keyID, endpoint string) (phi.KEK, error) {
	var cfg aws.Config
	if ak := m.c.getenv("AWS_ACCESS_KEY_ID"); ak != "" {
		cfg = aws.Config{Credentials: credentials.NewStaticCredentialsProvider(ak, m.c.getenv("AWS_SECRET_ACCESS_KEY"), m.c.getenv("AWS_SESSION_TOKEN"))}
	} else {
		var err error
		if cfg, err = awsconfig.LoadDefaultConfig(ctx); err != nil {
			return nil, fmt.Errorf("AWS configuration: %w", err)
		}
	}
	return awskms.New(cfg, awskms.Config{KeyID: keyID, Endpoint: endpoint, Region: m.c.getenv("AWS_REGION")})
}

// probe checks that k wraps and unwraps, without touching any store.
func probe(ctx context.Context, k phi.KEK) error {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	defer clear(secret)
	ad := []byte("hipaakit/kek-migrate/probe")
	w, err := k.Wrap(ctx, secret, ad)
	if err != nil {
		return err
	}
	got, err := k.Unwrap(ctx, w, ad)
	if err != nil {
		return err
	}
	defer clear(got)
	if !bytes.Equal(got, secret) {
		return errors.New("unwrap returned other bytes than were wrapped")
	}
	return nil
}

func (m *kekMigration) run(ctx context.Context, repoSpec string) int {
	fail := func(err error) int { return drFail(m.c, "kek migrate", err) }
	for _, k := range []struct {
		name string
		kek  phi.KEK
	}{{"current", m.from}, {"new", m.to}} {
		if err := probe(ctx, k.kek); err != nil {
			return fail(fmt.Errorf("the %s KEK (%s) is unreachable or refuses to wrap and unwrap, so nothing was changed: %w", k.name, k.kek.ID(), err))
		}
	}
	keys, err := m.tool.Keys()
	if err != nil {
		return fail(err)
	}
	w, err := m.tool.Audit(ctx)
	if err != nil {
		return fail(err)
	}
	// Open the repository before changing anything: a repository that
	// neither KEK opens stops the migration before it starts.
	var repo *backup.Repository
	if repoSpec != "" {
		if repo, err = m.openRepo(ctx, repoSpec, w); err != nil {
			return fail(err)
		}
	}
	attrs := map[string]string{"from_kek": m.from.ID(), "to_kek": m.to.ID()}
	if repo != nil {
		attrs["repository"] = repo.ID()
	}
	if err := m.audit(ctx, w, "kek_migrate_start", true, attrs); err != nil {
		return fail(err)
	}
	p, err := m.rewrapKeysets(ctx, keys)
	attrs["scanned"], attrs["rewrapped"] = strconv.Itoa(p.Scanned), strconv.Itoa(p.Rewrapped)
	attrs["skipped"], attrs["gone"] = strconv.Itoa(p.Skipped), strconv.Itoa(p.Gone)
	challengeDone := "none stored"
	if err == nil {
		challengeDone, err = m.rewrapChallengeKey(ctx)
		attrs["challenge_key"] = challengeDone
	}
	repoDone := "none"
	if err == nil && repo != nil {
		repoDone = "already under the new KEK"
		if repo.KEKID() != m.to.ID() {
			err = repo.Rewrap(ctx, m.from, m.to)
			repoDone = "rewrapped"
		}
	}
	if aerr := m.audit(ctx, w, "kek_migrate_end", err == nil, attrs); err == nil {
		err = aerr
	}
	if err != nil {
		return fail(fmt.Errorf("%w (run the same command again to finish: what is done is skipped)", err))
	}
	fmt.Fprintf(m.c.stdout, "keysets: %d examined, %d re-wrapped, %d already under the new KEK, %d shredded meanwhile\n",
		p.Scanned, p.Rewrapped, p.Skipped, p.Gone)
	fmt.Fprintf(m.c.stdout, "login-challenge key: %s\n", challengeDone)
	if repo != nil {
		fmt.Fprintf(m.c.stdout, "backup repository %s: %s\n", repo.ID(), repoDone)
	}
	fmt.Fprintf(m.c.stdout, "the deployment is now under %s: configure every instance with it; keep the old key until the backups made before now have expired\n", m.to.ID())
	if m.newFile {
		fmt.Fprintln(m.c.stdout, "keep a copy of the new key file in a safe place outside the data directory: without it nothing can be decrypted")
	}
	return exitOK
}

// openRepo opens the backup repository with the new KEK (a resumed
// migration) or else the current one.
func (m *kekMigration) openRepo(ctx context.Context, spec string, w audit.Writer) (*backup.Repository, error) {
	tg, err := (&backupCmd{c: m.c, tool: m.tool}).target(ctx, spec)
	if err != nil {
		return nil, err
	}
	cfg := backup.Config{Audit: w, Actor: m.actor}
	repo, err := backup.Open(ctx, tg, m.to, cfg)
	if errors.Is(err, backup.ErrWrongKey) {
		repo, err = backup.Open(ctx, tg, m.from, cfg)
	}
	switch {
	case errors.Is(err, backup.ErrNotFound):
		return nil, &drUsageError{"the backup target holds no repository (check --repo, or give --no-backup-repo)"}
	case errors.Is(err, backup.ErrWrongKey):
		return nil, errors.New("neither the current nor the new KEK opens the backup repository, so nothing was changed")
	}
	return repo, err
}

// rewrapKeysets re-wraps every keyset under the new KEK.
func (m *kekMigration) rewrapKeysets(ctx context.Context, keys phi.KeyStore) (phi.Progress, error) {
	v, err := phi.NewVault(phi.VaultConfig{Keys: keys, KEK: m.to, OldKEKs: []phi.KEK{m.from}})
	if err != nil {
		return phi.Progress{}, err
	}
	var last phi.Progress
	err = v.RotateKEK(ctx, m.to, func(p phi.Progress) {
		last = p
		if m.progress && (p.Done || p.Scanned%1000 == 0) {
			fmt.Fprintf(m.c.stderr, "hipaakit kek migrate: %d keysets examined, %d re-wrapped\n", p.Scanned, p.Rewrapped)
		}
	})
	return last, err
}

// rewrapChallengeKey re-wraps the deployment's login-challenge key (the
// table hipaakit_challenge_keys, or the data directory's
// hipaakit.FileChallengeKey) and says what it did.
func (m *kekMigration) rewrapChallengeKey(ctx context.Context) (string, error) {
	done, err := hipaakit.RewrapChallengeKey(ctx, m.tool.DB(), m.tool.DataPath(""), m.from, m.to)
	switch {
	case err != nil:
		return "", err
	case done:
		return "rewrapped", nil
	}
	return "none stored or already under the new KEK", nil
}

// audit records a step of the migration.
func (m *kekMigration) audit(ctx context.Context, w audit.Writer, reason string, ok bool, attrs map[string]string) error {
	e := audit.Event{
		Time: time.Now().UTC(), Action: audit.ActionKeyRotated, Outcome: audit.OutcomeSuccess, Reason: reason,
		Actor: m.actor, Origin: audit.Origin{Channel: audit.ChannelSystem},
		Target: audit.Target{RecordType: "kek", RecordID: m.to.ID()}, Attrs: attrs,
	}
	if !ok {
		e.Outcome = audit.OutcomeFailure
	}
	if err := w.Write(ctx, e); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

package hipaakit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	authfile "github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/auth/pgauth"
	"github.com/hipaakit/hipaakit/backup"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/awskms"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgretention"
)

// maxUserFile bounds a user record read from the user directory (auth's
// own limit is 64 KiB).
const maxUserFile = 64 << 10

// UserListing is what the user store shows: every stored user of every
// tenant, and whether each record has a distinct ID that matches where it
// is stored.
type UserListing struct {
	Users     []*auth.User
	UniqueIDs bool
}

// Users lists the users of every tenant. On the embedded stores the user
// files are decoded one by one (auth/filestore.DecodeUser), without the
// user store's exclusive lock, which a running service holds.
func (in *Inspection) Users(ctx context.Context) (UserListing, error) {
	if in.DB != nil {
		return in.pgUsers(ctx)
	}
	dir, err := in.dir(DirUsers, "the user store")
	if err != nil {
		return UserListing{}, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return UserListing{}, fmt.Errorf("hipaakit: read %s/: %w", DirUsers, durable.WithoutPath(err))
	}
	set := UserListing{UniqueIDs: true}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return UserListing{}, err
		}
		u, err := readUser(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // replaced between ReadDir and Open: read as gone
		}
		if err != nil {
			return UserListing{}, err
		}
		if seen[u.ID] || name != u.ID+".json" {
			set.UniqueIDs = false
		}
		seen[u.ID] = true
		set.Users = append(set.Users, u)
	}
	return set, nil
}

func readUser(path string) (*auth.User, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxUserFile+1))
	if err != nil {
		return nil, fmt.Errorf("hipaakit: read a user record: %w", durable.WithoutPath(err))
	}
	if len(b) > maxUserFile {
		return nil, fmt.Errorf("%w: too large", authfile.ErrCorrupt)
	}
	return authfile.DecodeUser(b)
}

// pgUsers lists the users of every tenant in auth_users (pgauth lists one
// tenant at a time).
func (in *Inspection) pgUsers(ctx context.Context) (UserListing, error) {
	rows, err := in.DB.Query(ctx, `SELECT DISTINCT tenant_id FROM auth_users`)
	if err != nil {
		return UserListing{}, fmt.Errorf("hipaakit: list tenants: %w", err)
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return UserListing{}, fmt.Errorf("hipaakit: list tenants: %w", err)
	}
	slices.Sort(tenants)
	st := pgauth.NewUserStore(in.DB)
	set := UserListing{UniqueIDs: true}
	seen := map[string]bool{}
	for _, t := range tenants {
		us, err := st.List(ctx, t)
		if err != nil {
			return UserListing{}, err
		}
		for _, u := range us {
			if seen[u.ID] {
				set.UniqueIDs = false
			}
			seen[u.ID] = true
		}
		set.Users = append(set.Users, us...)
	}
	return set, nil
}

// Holds lists every legal hold on record, lifted ones included
// (retention.Hold.Active tells them apart).
func (in *Inspection) Holds(ctx context.Context) ([]retention.Hold, error) {
	if in.DB != nil {
		return pgretention.NewHoldStore(in.DB).List(ctx)
	}
	dir, err := in.dir(DirHolds, "the legal-hold store")
	if err != nil {
		return nil, err
	}
	s, err := retention.OpenFileHoldStore(dir) // the directory exists: nothing is created
	if err != nil {
		return nil, err
	}
	return s.List(ctx)
}

// KEK opens the key-encryption key KeyLocation names, never creating one:
// AWS KMS, the key given by value, or the existing key file (refused when
// group or others may read it).
func (in *Inspection) KEK(ctx context.Context) (phi.KEK, error) {
	in.kekOnce.Do(func() { in.kek, in.kekErr = in.openKEK(ctx) })
	return in.kek, in.kekErr
}

func (in *Inspection) openKEK(ctx context.Context) (phi.KEK, error) { return ReadKEK(ctx, in.cfg) }

// ReadKEK opens the key-encryption key cfg names (KeyLocation) without ever
// creating one: AWS KMS, the key given by value, or an existing key file,
// refused when group or others may read it (a *MissingError when it does
// not exist). Errors never name the file's path.
func ReadKEK(ctx context.Context, cfg Config) (phi.KEK, error) {
	k := cfg.KEK
	switch place := KeyLocation(cfg); place.Kind {
	case KeyInKMS:
		kek, err := awskms.LoadDefault(ctx, awskms.Config{KeyID: k.KMSKeyID, Endpoint: k.KMSEndpoint, Region: k.KMSRegion})
		if err != nil {
			return nil, fmt.Errorf("hipaakit: AWS KMS key: %w", err)
		}
		return kek, nil
	case KeyByValue:
		return localkek.Parse(k.Key)
	default:
		st, err := os.Stat(place.File)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &MissingError{What: "the master key file " + filepath.Base(place.File) + " (set " + EnvMasterKey + " or " + EnvMasterKeyFile + ")"}
		}
		if err != nil {
			return nil, fmt.Errorf("hipaakit: master key file: %w", durable.WithoutPath(err))
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("hipaakit: the master key file is accessible by group or others (mode %v); chmod 600 it", st.Mode().Perm())
		}
		b, err := os.ReadFile(place.File)
		if err != nil {
			return nil, fmt.Errorf("hipaakit: master key file: %w", durable.WithoutPath(err))
		}
		defer clear(b)
		return localkek.Parse(strings.TrimSpace(string(b)))
	}
}

// BackupDir is the backup directory read ("" with S3): Backup.Dir, else
// the legacy DataDir/backups when it exists, else DefaultBackupDir.
func (in *Inspection) BackupDir() string {
	b := in.cfg.Backup
	switch {
	case b.S3Bucket != "":
		return ""
	case b.Dir != "":
		return b.Dir
	}
	legacy := filepath.Join(in.cfg.DataDir, DirLegacyBackups)
	if _, err := os.Stat(legacy); err == nil {
		return legacy
	}
	return DefaultBackupDir(in.cfg.DataDir)
}

// BackupTarget returns the backup target without creating anything: the S3
// bucket, or the backup directory (a *MissingError when it does not
// exist).
func (in *Inspection) BackupTarget(ctx context.Context) (backup.Target, error) {
	if in.cfg.Backup.S3Bucket != "" {
		return s3Target(ctx, in.cfg.Backup, in.clock)
	}
	dir := in.BackupDir()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, &MissingError{What: "the backup directory"}
	}
	t, err := backup.NewDirTarget(dir) // the directory exists: nothing is created
	if err != nil {
		return nil, fmt.Errorf("hipaakit: open the backup directory: %w", err)
	}
	return t, nil
}

// Backups opens the backup repository for listing and checking with the
// KEK (KEK's errors), recording nothing: operations that record an audit
// event (Backup, Verify, Drill, Restore, Prune) belong to a Deployment.
// It fails with backup.ErrNotFound when the target holds no repository and
// a *MissingError when the backup directory does not exist.
func (in *Inspection) Backups(ctx context.Context) (*backup.Repository, error) {
	target, err := in.BackupTarget(ctx)
	if err != nil {
		return nil, err
	}
	kek, err := in.KEK(ctx)
	if err != nil {
		return nil, err
	}
	return backup.Open(ctx, target, kek, backup.Config{Audit: audit.Discard{},
		Actor: audit.Actor{UserID: "system:inspect"}, Clock: in.clock})
}

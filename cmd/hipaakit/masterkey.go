package main

// The master key (key-encryption key) of a deployment, as every command that
// needs it reads it.
//
//	HIPAAKIT_MASTER_KEY        the local master key (localkek.Encode form,
//	                           hipaakit-local-kek-v1:…)
//	HIPAAKIT_MASTER_KEY_FILE   the file holding it; else the deployment's
//	                           key file (hipaakit.KeyLocation: the legacy
//	                           <data>/kek.key when it exists, else
//	                           <data>.master-key beside the data directory;
//	                           never created by the CLI)
//
// These are the names the services built with hipaakit read, taken from
// hipaakit.ConfigFromEnv (one list of names, in the root package). The
// names of
// earlier versions (HIPAAKIT_KEK, HIPAAKIT_KEK_FILE, and
// HIPAAKIT_DATABASE_URL for the database) are refused with the new name
// rather than read as a fallback, which could open a deployment with a
// different key or database than the operator meant.

import (
	"context"
	"errors"
	"io/fs"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

const (
	envMasterKey     = hipaakit.EnvMasterKey
	envMasterKeyFile = hipaakit.EnvMasterKeyFile
)

// env is the deployment the environment describes (hipaakit.ConfigFromEnv:
// the names every hipaakit program reads, refusing retired ones and both
// master-key names at once).
func (c *cli) env() (hipaakit.Config, error) {
	cfg, err := hipaakit.ConfigFromEnv(c.getenv)
	var ce *hipaakit.ConfigError
	if errors.As(err, &ce) {
		return hipaakit.Config{}, &drUsageError{ce.Field + " " + ce.Problem + ": " + ce.Fix + " (the names every hipaakit program reads)"}
	}
	return cfg, err
}

// refuseRetiredEnv returns a usage error naming the replacement when a
// retired variable is set (or both master-key names are).
func (c *cli) refuseRetiredEnv() error {
	_, err := c.env()
	return err
}

// masterKeyEnv returns the encoded key or the key file the environment
// names (at most one of them).
func (c *cli) masterKeyEnv() (encoded, file string, err error) {
	cfg, err := c.env()
	return cfg.KEK.Key, cfg.KEK.KeyFile, err
}

// localMasterKey returns the local master key: HIPAAKIT_MASTER_KEY, else the
// file HIPAAKIT_MASTER_KEY_FILE names, else the key file of the data
// directory (hipaakit.KeyLocation). It never creates a key: a new key could
// not open what the old one wrapped. The key file is read as
// hipaakit.Inspection.KEK reads it (refused when group or others may read
// it).
func (c *cli) localMasterKey() (*localkek.KEK, error) {
	cfg, err := c.env()
	if err != nil {
		return nil, err
	}
	cfg.KEK.KMSKeyID = "" // this command's KMS key, if any, is the target of a migration
	if cfg.KEK.Key == "" && cfg.KEK.KeyFile == "" && cfg.DataDir == "" {
		return nil, &drUsageError{"set " + envMasterKey + " or " + envMasterKeyFile}
	}
	kek, err := hipaakit.ReadKEK(context.Background(), cfg)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, hipaakit.ErrMissing) {
		return nil, &drUsageError{"master key file missing (set " + envMasterKey + " or " + envMasterKeyFile + ")"}
	}
	if err != nil {
		return nil, err
	}
	lk, ok := kek.(*localkek.KEK)
	if !ok {
		return nil, errors.New("the master key is not a local key")
	}
	return lk, nil
}

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
// These are the names the services built with hipaakit read
// (hipaakit.EnvMasterKey, hipaakit.EnvMasterKeyFile). The names of
// earlier versions (HIPAAKIT_KEK, HIPAAKIT_KEK_FILE, and
// HIPAAKIT_DATABASE_URL for the database) are refused with the new name
// rather than read as a fallback, which could open a deployment with a
// different key or database than the operator meant.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hipaakit/hipaakit"
	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

const (
	envMasterKey     = hipaakit.EnvMasterKey
	envMasterKeyFile = hipaakit.EnvMasterKeyFile
)

// retiredEnv lists the environment names of earlier versions of the CLI
// and the name, shared with the services (package hipaakit), that replaced
// each. run refuses every command while one of them is set.
var retiredEnv = []struct{ old, now string }{
	{"HIPAAKIT_KEK", envMasterKey},
	{"HIPAAKIT_KEK_FILE", envMasterKeyFile},
	{"HIPAAKIT_DATABASE_URL", envDatabaseURL},
}

// refuseRetiredEnv returns a usage error naming the replacement when a
// retired variable is set.
func (c *cli) refuseRetiredEnv() error {
	for _, r := range retiredEnv {
		if c.getenv(r.old) != "" {
			return &drUsageError{fmt.Sprintf("%s is no longer read: rename it to %s (the name the services read)", r.old, r.now)}
		}
	}
	return nil
}

// masterKeyEnv returns the encoded key or the key file the environment
// names (at most one of them), refusing both at once.
func (c *cli) masterKeyEnv() (encoded, file string, err error) {
	encoded, file = c.getenv(envMasterKey), c.getenv(envMasterKeyFile)
	if encoded != "" && file != "" {
		return "", "", &drUsageError{"set " + envMasterKey + " or " + envMasterKeyFile + ", not both"}
	}
	return encoded, file, nil
}

// localMasterKey returns the local master key: HIPAAKIT_MASTER_KEY, else the
// file HIPAAKIT_MASTER_KEY_FILE names, else defaultFile ("" when the command
// has none). It never creates a key: a new key could not open what the old
// one wrapped.
func (c *cli) localMasterKey(defaultFile string) (*localkek.KEK, error) {
	encoded, file, err := c.masterKeyEnv()
	if err != nil {
		return nil, err
	}
	if encoded != "" {
		return localkek.Parse(encoded)
	}
	if file == "" {
		file = defaultFile
	}
	if file == "" {
		return nil, &drUsageError{"set " + envMasterKey + " or " + envMasterKeyFile}
	}
	return readKeyFile(file)
}

// defaultKeyFile is the local master key file of the data directory, as
// hipaakit.Open finds it, or "" without a data directory.
func (e *drEnv) defaultKeyFile() string {
	if e.dataDir == "" {
		return ""
	}
	return hipaakit.KeyLocation(hipaakit.Config{DataDir: e.dataDir}).File
}

// readKeyFile opens an existing local master key file.
func readKeyFile(path string) (*localkek.KEK, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, &drUsageError{"master key file missing (set " + envMasterKey + " or " + envMasterKeyFile + ")"}
	} else if err != nil {
		return nil, fmt.Errorf("master key file: %w", durable.WithoutPath(err))
	}
	return localkek.FromFile(path)
}

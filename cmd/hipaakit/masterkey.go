package main

// The master key (key-encryption key) of a deployment, as every command that
// needs it reads it.
//
//	HIPAAKIT_MASTER_KEY        the local master key (localkek.Encode form,
//	                           hipaakit-local-kek-v1:…)
//	HIPAAKIT_MASTER_KEY_FILE   the file holding it; else the command's
//	                           default file (never created by the CLI)
//
// These are the names the services built with hipaakit read. The names of
// earlier versions (HIPAAKIT_KEK, HIPAAKIT_KEK_FILE) are refused with the
// new name rather than read as a fallback, which could open a deployment
// with a different key than the operator meant.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hipaakit/hipaakit/durable"
	"github.com/hipaakit/hipaakit/phi/localkek"
)

const (
	envMasterKey     = "HIPAAKIT_MASTER_KEY"
	envMasterKeyFile = "HIPAAKIT_MASTER_KEY_FILE"
)

// retiredKeyEnv lists the master-key names of earlier versions and the name
// that replaced each.
var retiredKeyEnv = []struct{ old, now string }{
	{"HIPAAKIT_KEK", envMasterKey},
	{"HIPAAKIT_KEK_FILE", envMasterKeyFile},
}

// refuseRetiredKeyEnv returns a usage error naming the replacement when a
// retired master-key variable is set.
func (c *cli) refuseRetiredKeyEnv() error {
	for _, r := range retiredKeyEnv {
		if c.getenv(r.old) != "" {
			return &drUsageError{fmt.Sprintf("%s is no longer read: rename it to %s (the name the services read)", r.old, r.now)}
		}
	}
	return nil
}

// masterKeyEnv returns the encoded key or the key file the environment
// names (at most one of them), refusing retired names and both at once.
func (c *cli) masterKeyEnv() (encoded, file string, err error) {
	if err := c.refuseRetiredKeyEnv(); err != nil {
		return "", "", err
	}
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

// readKeyFile opens an existing local master key file.
func readKeyFile(path string) (*localkek.KEK, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, &drUsageError{"master key file missing (set " + envMasterKey + " or " + envMasterKeyFile + ")"}
	} else if err != nil {
		return nil, fmt.Errorf("master key file: %w", durable.WithoutPath(err))
	}
	return localkek.FromFile(path)
}

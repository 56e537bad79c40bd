package report

import (
	"path/filepath"

	"github.com/hipaakit/hipaakit"
)

// keyBesideDataDir reports whether an embedded deployment's local master
// key file sits beside its data directory: in the directory that holds
// the data directory (the default place, hipaakit.DefaultKeyFile), where
// one copy of that parent, its volume or a host backup takes the records
// and the key together. A PostgreSQL deployment keeps its records in the
// database, so its key file is not beside them.
func (c *collector) keyBesideDataDir() bool {
	if c.cfg.DatabaseURL != "" || c.cfg.DataDir == "" {
		return false
	}
	k := c.in.KeyLocation()
	if k.Kind != hipaakit.KeyInFile || k.InsideDataDir {
		return false
	}
	data, err1 := filepath.Abs(c.cfg.DataDir)
	key, err2 := filepath.Abs(k.File)
	if err1 != nil || err2 != nil {
		c.note("encryption: the key file's place relative to the data directory cannot be resolved")
		return false
	}
	return filepath.Dir(key) == filepath.Dir(data)
}

package hipaakit

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/durable"
)

// maxInstanceID bounds Config.InstanceID, so that every stream name derived
// from it stays within audit.MaxStreamLen.
const maxInstanceID = 48

// ValidInstanceID reports whether id can be an instance ID: 1 to 48
// characters, letters, digits, '-', '_' and '.', beginning with a letter or
// digit (it becomes part of stream names).
func ValidInstanceID(id string) bool {
	return len(id) <= maxInstanceID && audit.ValidStream(id)
}

// instanceID is cfg.InstanceID, or the default: the host name (reduced to
// the characters an instance ID allows) and the random suffix persisted in
// DataDir/FileInstanceID, created on first start. Copies of one data
// directory on one host therefore share an ID, and their leases keep them
// from writing one stream at once: give each replica its own data directory
// or its own InstanceID.
//
// The suffix of a new ID is returned in fresh, to be persisted (by
// persistInstanceID) only once the start has succeeded.
func (d *Deployment) instanceID() (id, fresh string, err error) {
	if d.cfg.InstanceID != "" {
		return d.cfg.InstanceID, "", nil
	}
	host, _ := os.Hostname()
	host = sanitizeHost(host)
	suffix, err := os.ReadFile(d.path(FileInstanceID))
	switch {
	case err == nil:
		s := strings.TrimSpace(string(suffix))
		if !ValidInstanceID(s) || len(s) > 16 {
			return "", "", fmt.Errorf("hipaakit: %s holds no valid instance suffix; delete it to draw a new one", FileInstanceID)
		}
		return host + "-" + s, "", nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("hipaakit: read %s: %w", FileInstanceID, durable.WithoutPath(err))
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	s := hex.EncodeToString(b)
	return host + "-" + s, s, nil
}

// persistInstanceID writes a fresh instance suffix (instanceID).
func (d *Deployment) persistInstanceID(fresh string) error {
	if fresh == "" {
		return nil
	}
	if err := durable.WriteFileAtomic(d.path(FileInstanceID), []byte(fresh+"\n"), 0o600); err != nil {
		return fmt.Errorf("hipaakit: write %s: %w", FileInstanceID, durable.WithoutPath(err))
	}
	return nil
}

// sanitizeHost keeps the first label of a host name in the characters an
// instance ID allows, at most 31 of them ("host" when nothing is left).
func sanitizeHost(h string) string {
	h, _, _ = strings.Cut(strings.ToLower(h), ".")
	var b strings.Builder
	for _, c := range h {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' {
			b.WriteRune(c)
		}
		if b.Len() == 31 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "host"
	}
	return s
}

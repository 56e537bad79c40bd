package backup

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"time"
)

// EntryType says what an entry of a backup holds.
type EntryType string

// Entry types.
const (
	EntryFile     EntryType = "file"     // a regular file (directory and audit sources)
	EntryDir      EntryType = "dir"      // a directory (directory and audit sources)
	EntryKeysets  EntryType = "keysets"  // the wrapped keysets of a phi.KeyStore
	EntrySchema   EntryType = "schema"   // PostgreSQL DDL of a schema
	EntryTable    EntryType = "table"    // PostgreSQL table rows (COPY text format)
	EntrySequence EntryType = "sequence" // PostgreSQL sequence state
)

// Manifest describes one complete backup. It is stored encrypted and signed
// as "manifests/<ID>", written after every chunk it names is durable; a
// backup without a manifest does not exist.
type Manifest struct {
	Version  int        `json:"version"`
	ID       string     `json:"id"`
	Source   SourceInfo `json:"source"`
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished"`
	// ChunkSize is, in version 1, the fixed chunk size; in version 2 the
	// largest chunk content-defined chunking cuts (4 × the average).
	ChunkSize int     `json:"chunk_size"`
	Entries   []Entry `json:"entries"`
	Totals    Totals  `json:"totals"`
	// Set is the ID of the backup set the backup belongs to (version 2;
	// empty when it was taken on its own).
	Set string `json:"set,omitempty"`
}

// SourceInfo names what was backed up. Name and Attrs are chosen by the
// source (for example the database schema); they must not hold PHI.
type SourceInfo struct {
	Kind  string            `json:"kind"`
	Name  string            `json:"name,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Entry is one file, directory, key store dump or table of a backup. Its
// content is the concatenation of its chunks, in order.
type Entry struct {
	Path    string            `json:"path"`
	Type    EntryType         `json:"type"`
	Mode    uint32            `json:"mode,omitempty"`
	ModTime time.Time         `json:"mtime,omitzero"`
	Size    int64             `json:"size"`
	Rows    int64             `json:"rows,omitempty"`
	Chunks  []ChunkRef        `json:"chunks,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// ChunkRef names a chunk by its keyed hash (hex) and gives its plaintext size.
type ChunkRef struct {
	Name string `json:"n"`
	Size int64  `json:"s"`
}

// Totals summarise a backup.
type Totals struct {
	Entries   int64 `json:"entries"`
	Chunks    int64 `json:"chunks"`
	Bytes     int64 `json:"bytes"`
	NewChunks int64 `json:"new_chunks"`
	NewBytes  int64 `json:"new_bytes"`
	// NewStored is the size of the objects stored for the new chunks, after
	// compression and encryption (version 2; 0 in version 1).
	NewStored int64 `json:"new_stored,omitempty"`
}

// maxPathLen bounds entry paths.
const maxPathLen = 4096

// validEntryPath reports whether p is a clean, relative, slash-separated path.
func validEntryPath(p string) bool {
	if p == "" || len(p) > maxPathLen || p[0] == '/' || path.Clean(p) != p || p == "." {
		return false
	}
	if p == ".." || len(p) >= 3 && p[:3] == "../" {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] == 0 {
			return false
		}
	}
	return true
}

// decodeHex fills dst from s, which must be exactly 2*len(dst) lower-case
// hex digits.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil && hex.EncodeToString(dst) == s
}

func decodeChunkName(s string) ([32]byte, bool) {
	var n [32]byte
	return n, decodeHex(n[:], s)
}

// encodeManifest returns the canonical JSON body of m.
func encodeManifest(m *Manifest) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// DecodeManifest parses and validates a manifest body (the plaintext inside
// a manifest envelope). It rejects unknown fields, trailing data and any
// inconsistency between entries, chunks and totals. It never panics.
func DecodeManifest(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, corruptf("manifest is not valid")
	}
	if dec.More() {
		return nil, corruptf("trailing data after manifest")
	}
	if m.Version < 1 || m.Version > FormatVersion {
		return nil, fmt.Errorf("%w: manifest version %d", ErrUnsupportedVersion, m.Version)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if _, ok := parseID(m.ID); !ok {
		return corruptf("manifest id is malformed")
	}
	if m.Source.Kind == "" {
		return corruptf("manifest has no source kind")
	}
	if _, ok := parseID(m.Set); m.Set != "" && (!ok || m.Version < 2) {
		return corruptf("manifest set is malformed")
	}
	if m.Version == 1 && (m.ChunkSize < MinChunkSize || m.ChunkSize > MaxChunkSize) {
		return corruptf("manifest chunk size out of range")
	}
	if _, ok := cdcForMax(m.ChunkSize); m.Version > 1 && !ok {
		return corruptf("manifest chunk size out of range")
	}
	var t Totals
	seen := make(map[string]bool, len(m.Entries))
	for i := range m.Entries {
		e := &m.Entries[i]
		if !validEntryPath(e.Path) {
			return corruptf("entry %d has an invalid path", i)
		}
		if seen[e.Path] {
			return corruptf("entry %d duplicates a path", i)
		}
		seen[e.Path] = true
		switch e.Type {
		case EntryFile, EntryDir, EntryKeysets, EntrySchema, EntryTable, EntrySequence:
		default:
			return corruptf("entry %d has an unknown type", i)
		}
		if e.Size < 0 || e.Rows < 0 {
			return corruptf("entry %d has a negative size", i)
		}
		if e.Type == EntryDir && (e.Size != 0 || len(e.Chunks) != 0) {
			return corruptf("entry %d is a directory with content", i)
		}
		var sum int64
		for j, c := range e.Chunks {
			if _, ok := decodeChunkName(c.Name); !ok {
				return corruptf("entry %d chunk %d has a malformed name", i, j)
			}
			if c.Size <= 0 || c.Size > int64(m.ChunkSize) {
				return corruptf("entry %d chunk %d has an invalid size", i, j)
			}
			// Fixed-size chunking (version 1): every chunk but the last is full.
			if m.Version == 1 && j < len(e.Chunks)-1 && c.Size != int64(m.ChunkSize) {
				return corruptf("entry %d chunk %d is short", i, j)
			}
			sum += c.Size
		}
		if sum != e.Size {
			return corruptf("entry %d size does not match its chunks", i)
		}
		t.Entries++
		t.Chunks += int64(len(e.Chunks))
		t.Bytes += e.Size
	}
	if t.Entries != m.Totals.Entries || t.Chunks != m.Totals.Chunks || t.Bytes != m.Totals.Bytes {
		return corruptf("manifest totals do not match its entries")
	}
	if m.Totals.NewChunks < 0 || m.Totals.NewChunks > t.Chunks || m.Totals.NewBytes < 0 || m.Totals.NewBytes > t.Bytes {
		return corruptf("manifest totals are out of range")
	}
	if m.Totals.NewStored < 0 || m.Version == 1 && m.Totals.NewStored != 0 ||
		m.Totals.NewStored > m.Totals.NewBytes+m.Totals.NewChunks*int64(ChunkOverhead) {
		return corruptf("manifest totals are out of range")
	}
	return nil
}

// parseID decodes a backup ID (32 lower-case hex digits).
func parseID(s string) ([16]byte, bool) {
	var id [16]byte
	return id, decodeHex(id[:], s)
}

func manifestObject(id string) string { return manifestPrefix + id }
func verifiedObject(id string) string { return verifiedPrefix + id }

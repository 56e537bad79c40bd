package pgtables

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrInvalidConfig reports a source description that does not parse.
var ErrInvalidConfig = errors.New("retention/pgtables: invalid source configuration")

// ParseConfig decodes the "source" member of a retention policy file
// (retention.PolicyFile.Source):
//
//	{"postgres_tables": [{"name": "encounters", "kind": "encounter",
//	  "subject": "patient_id", "id": "id", "created": "created_at",
//	  "last_in_effect": "closed_at"}]}
//
// Errors match ErrInvalidConfig and never quote the input. New checks the
// tables further.
func ParseConfig(data []byte) ([]Table, error) {
	var c struct {
		Tables []struct {
			Name         string `json:"name"`
			Kind         string `json:"kind"`
			Subject      string `json:"subject"`
			ID           string `json:"id"`
			Created      string `json:"created"`
			LastInEffect string `json:"last_in_effect,omitempty"`
		} `json:"postgres_tables"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if len(data) == 0 || dec.Decode(&c) != nil || dec.More() {
		return nil, ErrInvalidConfig
	}
	if len(c.Tables) == 0 || len(c.Tables) > 256 {
		return nil, fmt.Errorf("%w: 1-256 postgres_tables required", ErrInvalidConfig)
	}
	out := make([]Table, len(c.Tables))
	for i, t := range c.Tables {
		for _, s := range []string{t.Name, t.Subject, t.ID, t.Created, t.LastInEffect} {
			if len(s) > 128 || bytes.IndexByte([]byte(s), 0) >= 0 {
				return nil, fmt.Errorf("%w: table %d: names must be at most 128 bytes without NUL", ErrInvalidConfig, i+1)
			}
		}
		out[i] = Table{Name: t.Name, Kind: t.Kind, Subject: t.Subject, ID: t.ID, Created: t.Created, LastInEffect: t.LastInEffect}
	}
	return out, nil
}

package retention

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Policy file format (FORMAT.md).
const (
	policyFileFormat  = "hipaakit-retention-policies"
	policyFileVersion = 1
	maxPolicyFileSize = 1 << 20
)

// PolicyFile is a parsed policy file: the policies, and the description of
// the records' source, which the source's package parses (for example
// pgtables.ParseConfig).
type PolicyFile struct {
	Policies Policies
	// Source is the "source" member, undecoded; nil when absent.
	Source json.RawMessage
	// BatchSize is the sweep batch size (0: the Sweeper's default).
	BatchSize int
}

type policyFileJSON struct {
	Format   string `json:"format"`
	Version  int    `json:"version"`
	Policies []struct {
		Kind string `json:"kind"`
		Keep string `json:"keep"`
	} `json:"policies"`
	BatchSize int             `json:"batch_size,omitempty"`
	Source    json.RawMessage `json:"source,omitempty"`
}

// ParsePolicyFile decodes a policy file:
//
//	{"format": "hipaakit-retention-policies", "version": 1,
//	 "policies": [{"kind": "encounter", "keep": "P6Y"}, {"kind": "audit", "keep": "P6Y"}],
//	 "batch_size": 500, "source": {...}}
//
// Errors match ErrInvalidPolicy or ErrUnsupportedVersion and never quote
// the input.
func ParsePolicyFile(data []byte) (PolicyFile, error) {
	if len(data) > maxPolicyFileSize {
		return PolicyFile{}, fmt.Errorf("%w: policy file too large", ErrInvalidPolicy)
	}
	var probe struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil || probe.Format != policyFileFormat {
		return PolicyFile{}, fmt.Errorf("%w: not a policy file", ErrInvalidPolicy)
	}
	if probe.Version != policyFileVersion {
		return PolicyFile{}, fmt.Errorf("%w: policy file version %d", ErrUnsupportedVersion, probe.Version)
	}
	var f policyFileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || dec.More() {
		return PolicyFile{}, fmt.Errorf("%w: malformed policy file", ErrInvalidPolicy)
	}
	if f.BatchSize < 0 || f.BatchSize > 100000 {
		return PolicyFile{}, fmt.Errorf("%w: batch_size must be 0-100000", ErrInvalidPolicy)
	}
	ps := make([]Policy, 0, len(f.Policies))
	for i, p := range f.Policies {
		keep, err := ParsePeriod(p.Keep)
		if err != nil {
			return PolicyFile{}, fmt.Errorf("%w: policy %d", err, i+1)
		}
		ps = append(ps, Policy{Kind: p.Kind, Keep: keep})
	}
	set, err := NewPolicies(ps...)
	if err != nil {
		return PolicyFile{}, err
	}
	return PolicyFile{Policies: set, Source: f.Source, BatchSize: f.BatchSize}, nil
}

package main

import (
	"encoding/json"
	"time"

	"github.com/hipaakit/hipaakit/compliance/evidence"
	"github.com/hipaakit/hipaakit/compliance/suite"
)

// writeCheckEvidence writes the results as junit.xml and check.json into
// dir, each signed with the key at keyPath.
func writeCheckEvidence(dir, keyPath string, res suite.Results) error {
	key, err := signingKeyFor(keyPath, nil)
	if err != nil {
		return err
	}
	junit, err := evidence.JUnit("hipaakit check", time.Now(), res)
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return evidence.WriteDir(dir, key, map[string][]byte{"junit.xml": junit, "check.json": append(js, '\n')})
}

package breach_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/breach"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/v1.jsonl (only when adding vectors of a new format version)")

// writeGolden generates the vectors; TestGoldenV1 calls it under -update.
func writeGolden(t *testing.T) {
	at := time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)
	id := "INC-20260303-0A1B2C3D4E5F"
	po := breach.Actor{UserID: "u-po-1", Role: breach.RolePrivacyOfficer}
	es := []breach.Entry{
		{Incident: id, Seq: 1, At: at, By: breach.Actor{UserID: "u-it-3", Role: "it_admin"}, Op: "open", Changes: []breach.Change{
			{breach.FieldStatus, "", "open"}, {breach.FieldDiscoveredOn, "", "2026-03-03"}, {breach.FieldTimeZone, "", "America/New_York"},
			{breach.FieldReportedBy, "", "u-it-3"}, {breach.FieldDescription, "", description}, {breach.FieldVector, "", "stolen_credentials"},
			{breach.FieldEntity, "", "covered_entity"}}},
		{Incident: id, Seq: 2, At: at.Add(time.Hour), By: po, Op: "scope", Changes: []breach.Change{
			{breach.FieldScopeDigest, "", "3b1f2c0e9a7d4b5c6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f"},
			{breach.FieldAffected, "", "40"}, {breach.FieldExcluded, "", "6"}}},
		{Incident: id, Seq: 3, At: at.Add(2*time.Hour + 500*time.Millisecond), By: po, Op: "assess", Changes: []breach.Change{
			{breach.FieldStatus, "open", "assessed"}, {breach.FieldNature, "", "Dates of birth, diagnoses and some social security numbers"},
			{breach.FieldPerson, "", "Unknown outside party using a phished account"},
			{breach.FieldAcquired, "", "Pages were rendered to the outside address: viewed"},
			{breach.FieldMitigation, "", "Account disabled and sessions revoked within two hours"},
			{breach.FieldConclusion, "", "breach"}, {breach.FieldConclusionWhy, "", "Viewed identifiers; low probability cannot be shown"},
			{breach.FieldAssessedBy, "", "u-po-1"}}},
		{Incident: id, Seq: 4, At: at.Add(3 * time.Hour), By: po, Op: "update", Changes: []breach.Change{
			{breach.FieldDescription, description, description + " \u00e9 \"quoted\" <tag> & \\ back"}}},
	}
	var out []byte
	for _, e := range es {
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, b...), '\n')
	}
	if err := os.WriteFile(filepath.Join("testdata", "golden", "v1.jsonl"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

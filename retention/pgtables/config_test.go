package pgtables_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/retention"
	"github.com/hipaakit/hipaakit/retention/pgtables"
)

func TestParseConfigGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "policies_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	pf, err := retention.ParsePolicyFile(data)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgtables.ParseConfig(pf.Source)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || tables[1].Name != "clinic.lab_results" || tables[0].LastInEffect != "closed_at" || tables[1].LastInEffect != "" {
		t.Fatalf("tables %+v", tables)
	}
	for _, bad := range []string{"", "{}", `{"postgres_tables":[]}`, `{"postgres_tables":[{"x":1}]}`, `{"postgres_tables":[{"name":"a\u0000"}]}`} {
		if _, err := pgtables.ParseConfig([]byte(bad)); !errors.Is(err, pgtables.ErrInvalidConfig) {
			t.Errorf("ParseConfig(%q) = %v", bad, err)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"postgres_tables":[{"name":"encounters","kind":"encounter","subject":"patient_id","id":"id","created":"created_at"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tables, err := pgtables.ParseConfig(data)
		if err != nil {
			if !errors.Is(err, pgtables.ErrInvalidConfig) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(tables) == 0 {
			t.Fatal("accepted a config without tables")
		}
	})
}

package retention_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/retention"
)

func TestPolicyFileGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "policies_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := retention.ParsePolicyFile(data)
	if err != nil {
		t.Fatal(err)
	}
	lab, ok := f.Policies.For("lab")
	if !ok || lab.Keep != (retention.Period{Years: 1, Months: 6}) || len(f.Policies.All()) != 3 || f.BatchSize != 250 || len(f.Source) == 0 {
		t.Fatalf("golden policy file decoded as %+v", f)
	}
}

func TestPolicyFileRejects(t *testing.T) {
	good, _ := os.ReadFile(filepath.Join("testdata", "policies_v1.json"))
	g := string(good)
	cases := map[string]struct {
		data string
		want error
	}{
		"empty":          {"", retention.ErrInvalidPolicy},
		"future version": {strings.Replace(g, `"version": 1`, `"version": 2`, 1), retention.ErrUnsupportedVersion},
		"unknown field":  {strings.Replace(g, `"batch_size"`, `"x": 1, "batch_size"`, 1), retention.ErrInvalidPolicy},
		"bad period":     {strings.Replace(g, `"P6Y"`, `"6 years"`, 1), retention.ErrInvalidPolicy},
		"duplicate kind": {strings.Replace(g, `"kind": "lab", "keep"`, `"kind": "encounter", "keep"`, 1), retention.ErrInvalidPolicy},
		"negative batch": {strings.Replace(g, `250`, `-1`, 1), retention.ErrInvalidPolicy},
	}
	for name, tc := range cases {
		if _, err := retention.ParsePolicyFile([]byte(tc.data)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func FuzzParsePolicyFile(f *testing.F) {
	good, _ := os.ReadFile(filepath.Join("testdata", "policies_v1.json"))
	f.Add(good)
	f.Add([]byte(`{"format":"hipaakit-retention-policies","version":1,"policies":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := retention.ParsePolicyFile(data)
		if err != nil {
			if !errors.Is(err, retention.ErrInvalidPolicy) && !errors.Is(err, retention.ErrUnsupportedVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, p := range pf.Policies.All() {
			if !retention.ValidKind(p.Kind) || p.Keep.IsZero() {
				t.Fatalf("invalid policy accepted: %+v", p)
			}
		}
	})
}

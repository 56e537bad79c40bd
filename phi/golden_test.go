package phi_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/localkek"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

var update = flag.Bool("update", false, "rewrite the golden vectors in testdata/golden (only when the format version changes)")

// goldenPath holds version 1 vectors. They were generated once with
// -update; later builds must keep opening them unchanged.
var goldenPath = filepath.Join("testdata", "golden", "v1.json")

type goldenKeyset struct {
	Ref        string   `json:"ref"`
	KEKID      string   `json:"kek_id"`
	Ciphertext string   `json:"ciphertext_base64"`
	KeyIDs     []uint32 `json:"key_ids"`
}

type goldenVector struct {
	Binding   phi.Binding `json:"binding"`
	Sealed    string      `json:"sealed_hex"`
	Plaintext string      `json:"plaintext"`
}

type goldenIndex struct {
	Field string `json:"field"`
	Value string `json:"value"`
	Index string `json:"index_hex"`
}

type goldenFile struct {
	Comment string         `json:"comment"`
	KEK     string         `json:"kek"`
	Keysets []goldenKeyset `json:"keysets"`
	Vectors []goldenVector `json:"vectors"`
	Indexes []goldenIndex  `json:"blind_indexes"`
}

// goldenKEKKey is the fixed, public test master key 00 01 02 ... 1f.
func goldenKEKKey() []byte {
	k := make([]byte, localkek.KeySize)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

var goldenIndexes = map[string]phi.Normalizer{"email": phi.NormalizeEmail, "mrn": phi.NormalizeDigits}

// loadGolden returns the golden file and a Vault over its keysets.
func loadGolden(t testing.TB) (goldenFile, *phi.Vault) {
	t.Helper()
	raw, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	kek, err := localkek.Parse(g.KEK)
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Config{})
	for _, k := range g.Keysets {
		ct, err := base64.StdEncoding.DecodeString(k.Ciphertext)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Create(ctx, phi.WrappedKeyset{Ref: k.Ref, KEKID: k.KEKID, Ciphertext: ct, KeyIDs: k.KeyIDs}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := phi.NewVault(phi.VaultConfig{Keys: store, KEK: kek, BlindIndexes: goldenIndexes})
	if err != nil {
		t.Fatal(err)
	}
	return g, v
}

func TestGoldenV1(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	g, v := loadGolden(t)
	if len(g.Vectors) < 4 || len(g.Indexes) < 2 {
		t.Fatal("golden file has too few vectors")
	}
	for i, vec := range g.Vectors {
		s, err := hex.DecodeString(vec.Sealed)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Open(ctx, vec.Binding, s)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if string(got.Reveal()) != vec.Plaintext {
			t.Fatalf("vector %d: plaintext differs", i)
		}
	}
	for i, x := range g.Indexes {
		got, err := v.BlindIndex(ctx, x.Field, []byte(x.Value))
		if err != nil || hex.EncodeToString(got) != x.Index {
			t.Fatalf("blind index %d: %x, %v", i, got, err)
		}
	}
}

// writeGolden generates the vectors; run with -update only when adding a
// format version (and then to a new file).
func writeGolden(t *testing.T) {
	kek, err := localkek.New(goldenKEKKey())
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Config{})
	v, err := phi.NewVault(phi.VaultConfig{Keys: store, KEK: kek, BlindIndexes: goldenIndexes})
	if err != nil {
		t.Fatal(err)
	}
	g := goldenFile{
		Comment: "phi sealed-value format v1 test vectors; see FORMAT.md. The KEK is a public test key.",
		KEK:     localkek.Encode(goldenKEKKey()),
	}
	seal := func(b phi.Binding, pt string) {
		s, err := v.Seal(ctx, b, []byte(pt))
		if err != nil {
			t.Fatal(err)
		}
		g.Vectors = append(g.Vectors, goldenVector{Binding: b, Sealed: hex.EncodeToString(s), Plaintext: pt})
	}
	seal(phi.Binding{Subject: "patient-0001", Field: "name"}, "Ann Example")
	seal(phi.Binding{Subject: "patient-0001", Field: "dob", Tenant: "clinic-a", Record: "enc-17"}, "1970-01-01")
	seal(phi.Binding{Subject: "patient-0001", Field: "note"}, "")
	if _, err := v.RotateSubjectKey(ctx, "patient-0001"); err != nil {
		t.Fatal(err)
	}
	seal(phi.Binding{Subject: "patient-0001", Field: "name"}, "Ann Example (under the rotated key)")
	seal(phi.Binding{Subject: "550e8400-e29b-41d4-a716-446655440000", Field: "ssn"}, "000-00-0000")
	for _, x := range [][2]string{{"email", "ann@example.com"}, {"mrn", "MRN-000123"}} {
		idx, err := v.BlindIndex(ctx, x[0], []byte(x[1]))
		if err != nil {
			t.Fatal(err)
		}
		g.Indexes = append(g.Indexes, goldenIndex{Field: x[0], Value: x[1], Index: hex.EncodeToString(idx)})
	}
	all, err := store.List(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range all {
		g.Keysets = append(g.Keysets, goldenKeyset{Ref: w.Ref, KEKID: w.KEKID, Ciphertext: base64.StdEncoding.EncodeToString(w.Ciphertext), KeyIDs: w.KeyIDs})
	}
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goldenPath, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

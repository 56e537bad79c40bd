package archive_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/audit/archive"
)

// archived returns a fixture whose archive holds at least three units.
func archived(t *testing.T) (*fixture, []archive.Unit) {
	f := newFixture(t)
	f.write(60)
	f.clk.Advance(48 * time.Hour)
	f.write(2)
	rep, err := f.a.Archive(context.Background(), archive.FileSource(f.log))
	if err != nil || len(rep.Archived) < 3 {
		t.Fatalf("archive: %+v %v", rep, err)
	}
	return f, rep.Archived
}

func get(t *testing.T, tgt *archive.MemoryTarget, name string) []byte {
	t.Helper()
	b, err := tgt.Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestArchiveDamageIsFound changes the archive as someone with access to
// the storage could, each time in a fresh archive, and expects Verify to
// fail with the right typed error.
func TestArchiveDamageIsFound(t *testing.T) {
	ctx := context.Background()
	seg := func(u archive.Unit) string { return fmt.Sprintf("audit/audit/seg/%020d.jsonl", u.First) }
	cpName := func(u archive.Unit) string { return fmt.Sprintf("audit/audit/checkpoint/%020d.note", u.Last) }
	for _, tc := range []struct {
		name   string
		damage func(f *fixture, us []archive.Unit)
		want   error
	}{
		{"segment edited", func(f *fixture, us []archive.Unit) {
			b := get(t, f.tgt, seg(us[1]))
			f.tgt.Tamper(seg(us[1]), bytes.Replace(b, []byte(`"s-`), []byte(`"x-`), 1))
		}, archive.ErrDamaged},
		{"segment and manifest edited", func(f *fixture, us []archive.Unit) {
			b := bytes.Replace(get(t, f.tgt, seg(us[1])), []byte(`"s-`), []byte(`"x-`), 1)
			f.tgt.Tamper(seg(us[1]), b)
			m := fmt.Sprintf("audit/audit/unit/%020d.json", us[1].First)
			u, _ := archive.ParseUnit(get(t, f.tgt, m))
			u.SHA256 = sha256Hex(b)
			f.tgt.Tamper(m, mustJSON(t, u))
		}, audit.ErrChainBroken},
		{"segment emptied", func(f *fixture, us []archive.Unit) {
			f.tgt.Tamper(seg(us[0]), nil)
		}, archive.ErrDamaged},
		{"tile edited", func(f *fixture, us []archive.Unit) {
			b := get(t, f.tgt, "audit/audit/tile/0/000.p/"+fmt.Sprint(us[len(us)-1].Last))
			b[5] ^= 1
			f.tgt.Tamper("audit/audit/tile/0/000.p/"+fmt.Sprint(us[len(us)-1].Last), b)
		}, audit.ErrTreeMismatch},
		{"checkpoint by another key", func(f *fixture, us []archive.Unit) {
			other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
			cp, _ := audit.ParseTreeCheckpoint(get(t, f.tgt, cpName(us[0])), f.keys, "audit")
			if err := audit.SignTreeCheckpoint(&cp, other); err != nil {
				t.Fatal(err)
			}
			f.tgt.Tamper(cpName(us[0]), cp.Note)
		}, audit.ErrBadSignature},
		{"checkpoint of another tree", func(f *fixture, us []archive.Unit) {
			cp, _ := audit.ParseTreeCheckpoint(get(t, f.tgt, cpName(us[0])), f.keys, "audit")
			cp.Root[0] ^= 1
			if err := audit.SignTreeCheckpoint(&cp, f.key); err != nil {
				t.Fatal(err)
			}
			f.tgt.Tamper(cpName(us[0]), cp.Note)
		}, audit.ErrNotExtended},
		{"unit missing in the middle", func(f *fixture, us []archive.Unit) {
			if err := f.tgt.Delete(ctx, fmt.Sprintf("audit/audit/unit/%020d.json", us[1].First)); err == nil {
				t.Fatal("deleted a retained object")
			}
			f.clk.Advance(7 * 366 * 24 * time.Hour) // past the lock
			if err := f.tgt.Delete(ctx, fmt.Sprintf("audit/audit/unit/%020d.json", us[1].First)); err != nil {
				t.Fatal(err)
			}
		}, archive.ErrDamaged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, us := archived(t)
			tc.damage(f, us)
			if _, err := f.a.Verify(ctx, "audit"); !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestArchiveCutIsFoundSince: removing the newest unit leaves an archive
// that verifies on its own, and VerifySince with the checkpoint kept from
// before the cut refuses it.
func TestArchiveCutIsFoundSince(t *testing.T) {
	ctx := context.Background()
	f, us := archived(t)
	kept, err := f.a.Prover("audit").TreeCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(7 * 366 * 24 * time.Hour) // past the lock
	last := us[len(us)-1]
	for _, n := range []string{fmt.Sprintf("audit/audit/unit/%020d.json", last.First), fmt.Sprintf("audit/audit/checkpoint/%020d.note", last.Last)} {
		if err := f.tgt.Delete(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := f.a.Verify(ctx, "audit"); err != nil || res.Last != us[len(us)-2].Last {
		t.Fatalf("the cut archive on its own: %+v %v", res, err)
	}
	if _, err := f.a.Prover("audit").VerifySince(ctx, kept); !errors.Is(err, audit.ErrNotExtended) {
		t.Fatalf("VerifySince the kept checkpoint: %v", err)
	}
}

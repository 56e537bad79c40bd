package memstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/clock"
	"github.com/hipaakit/hipaakit/phi"
	"github.com/hipaakit/hipaakit/phi/memstore"
)

func TestContract(t *testing.T) {
	ctx := context.Background()
	fc := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s := memstore.New(memstore.Config{Clock: fc})

	if _, err := s.Get(ctx, "a"); !errors.Is(err, phi.ErrKeyNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	ct := []byte{1, 2, 3}
	if err := s.Create(ctx, phi.WrappedKeyset{Ref: "a", Version: 7, KEKID: "k1", Ciphertext: ct, KeyIDs: []uint32{9}}); err != nil {
		t.Fatal(err)
	}
	ct[0] = 99 // the store must have copied
	got, err := s.Get(ctx, "a")
	if err != nil || got.Version != 1 || got.Ciphertext[0] != 1 || got.KEKID != "k1" || !got.Created.Equal(fc.Now()) {
		t.Fatalf("Get after Create: %+v, %v", got, err)
	}
	if err := s.Create(ctx, phi.WrappedKeyset{Ref: "a"}); !errors.Is(err, phi.ErrKeyExists) {
		t.Fatalf("Create twice: %v", err)
	}
	if err := s.Create(ctx, phi.WrappedKeyset{Ref: "../x"}); err == nil {
		t.Fatal("Create accepted an invalid reference")
	}
	fc.Advance(time.Hour)
	if err := s.Update(ctx, phi.WrappedKeyset{Ref: "a", KEKID: "k2", Ciphertext: []byte{4}}, 2); !errors.Is(err, phi.ErrConflict) {
		t.Fatalf("stale Update: %v", err)
	}
	if err := s.Update(ctx, phi.WrappedKeyset{Ref: "a", KEKID: "k2", Ciphertext: []byte{4}, KeyIDs: []uint32{9, 10}}, 1); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(ctx, "a")
	if got.Version != 2 || got.KEKID != "k2" || !got.Updated.Equal(fc.Now()) || got.Created.Equal(got.Updated) {
		t.Fatalf("after Update: %+v", got)
	}
	if err := s.Update(ctx, phi.WrappedKeyset{Ref: "b"}, 1); !errors.Is(err, phi.ErrKeyNotFound) {
		t.Fatalf("Update missing: %v", err)
	}
	for _, r := range []string{"c", "b", "d"} {
		if err := s.Create(ctx, phi.WrappedKeyset{Ref: r}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.List(ctx, "a", 2)
	if err != nil || len(l) != 2 || l[0].Ref != "b" || l[1].Ref != "c" {
		t.Fatalf("List: %+v %v", l, err)
	}
	if _, err := s.List(ctx, "", 0); err == nil {
		t.Fatal("List with limit 0 succeeded")
	}
	d, err := s.Shred(ctx, "a")
	if err != nil || len(d) != 2 || d[0] != 9 || d[1] != 10 {
		t.Fatalf("Shred: %v %v", d, err)
	}
	if d, err := s.Shred(ctx, "a"); err != nil || len(d) != 0 {
		t.Fatalf("Shred again: %v %v", d, err)
	}
	if _, err := s.Get(ctx, "a"); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Get shredded: %v", err)
	}
	if err := s.Create(ctx, phi.WrappedKeyset{Ref: "a"}); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Create shredded: %v", err)
	}
	if err := s.Update(ctx, phi.WrappedKeyset{Ref: "a"}, 2); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Update shredded: %v", err)
	}
	if _, err := s.Shred(ctx, "never"); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, phi.WrappedKeyset{Ref: "never"}); !errors.Is(err, phi.ErrShredded) {
		t.Fatalf("Create after advance shred: %v", err)
	}
	l, _ = s.List(ctx, "", 100)
	if len(l) != 3 {
		t.Fatalf("List must skip tombstones: %d", len(l))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, "b"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Get: %v", err)
	}
}

package authtest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/passkey"
)

// userPasskeys checks that a user's WebAuthn credentials round-trip with
// every field (bytes, counters, flags, UTC times), that an update replaces
// them, that removing the last one stores none, and that an invalid list is
// refused.
func userPasskeys(t *testing.T, st auth.UserStore) {
	ctx := t.Context()
	u := NewUser("t1", "passkey-user")
	u.Passkeys = []passkey.Credential{{
		ID: []byte{1, 2, 3, 4}, Name: "laptop", PublicKey: []byte{0xa5, 1, 2, 3, 0x26},
		SignCount: 7, AAGUID: make([]byte, 16), UserVerified: true, BackupEligible: true, BackupState: true,
		Transports: []string{"internal", "hybrid"}, AttestationFormat: "none",
		CreatedAt: userEpoch.Add(time.Hour), LastUsedAt: userEpoch.Add(2 * time.Hour),
	}}
	must(t, st.Create(ctx, u))
	got, err := st.Get(ctx, u.ID)
	must(t, err)
	if !reflect.DeepEqual(got.Passkeys, u.Passkeys) {
		t.Fatalf("passkeys differ after Create:\n got %+v\nwant %+v", got.Passkeys, u.Passkeys)
	}
	got.Passkeys[0].SignCount = 8
	got.Passkeys = append(got.Passkeys, passkey.Credential{ID: []byte{9}, Name: "key", PublicKey: []byte{1},
		CreatedAt: userEpoch.Add(3 * time.Hour)})
	must(t, st.Update(ctx, got))
	again, err := st.Get(ctx, u.ID)
	must(t, err)
	if !reflect.DeepEqual(again.Passkeys, got.Passkeys) {
		t.Fatalf("passkeys differ after Update:\n got %+v\nwant %+v", again.Passkeys, got.Passkeys)
	}
	again.Passkeys = nil
	must(t, st.Update(ctx, again))
	cleared, err := st.Get(ctx, u.ID)
	must(t, err)
	if cleared.Passkeys != nil {
		t.Fatalf("passkeys after removing all: %d, want nil", len(cleared.Passkeys))
	}
	cleared.Passkeys = []passkey.Credential{{ID: []byte{1}, Name: "a", PublicKey: []byte{1}}, {ID: []byte{1}, Name: "b", PublicKey: []byte{1}}}
	wantErr(t, st.Update(ctx, cleared), auth.ErrInvalidUser, "duplicate credential ID")
}

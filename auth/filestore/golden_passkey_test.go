package filestore_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/filestore"
	"github.com/hipaakit/hipaakit/auth/passkey"
)

var updatePasskeyGolden = flag.Bool("update-passkeys", false, "rewrite testdata/user_v1_passkeys.json")

// goldenPasskeyUser is the user of testdata/user_v1_passkeys.json: every
// passkey field set, on two credentials (one without the optional ones),
// and a pending role request.
func goldenPasskeyUser() *auth.User {
	at := func(h int) time.Time { return time.Date(2026, 2, 1, h, 0, 0, 0, time.UTC) }
	return &auth.User{ID: "k5mqhc2wztobhwjzjnd6v3bq2i", TenantID: "clinic-7", Name: "dr.ada@example.org", Status: auth.StatusActive,
		Roles: []string{"physician"}, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$Ti4UOK/YiZhTfXc2Ld3RuA$7r01/8fwGNXJNpCVf2A/WRH1dxrypXZuwAeFq8tnKTE",
		PasswordChangedAt: at(1),
		RoleRequest:       &auth.RoleRequest{Roles: []string{"admin", "physician"}, RequestedBy: "admin-1", RequestedAt: at(2)},
		Passkeys: []passkey.Credential{
			{ID: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "work laptop", PublicKey: []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01},
				SignCount: 41, AAGUID: []byte{0xad, 0xce, 0, 2, 0x35, 0xbc, 0xc6, 0x0a, 0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, 0x03},
				UserVerified: true, BackupEligible: true, BackupState: true, Transports: []string{"internal", "hybrid"},
				AttestationFormat: "none", CreatedAt: at(3), LastUsedAt: at(4)},
			{ID: []byte{9, 9}, Name: "security key", PublicKey: []byte{0xa5, 0x01}, CreatedAt: at(5)},
		},
		CreatedAt: at(0), UpdatedAt: at(5), Version: 4}
}

// The v1 user file with passkeys and a role request keeps decoding to the
// same user, and the encoder still writes exactly these bytes.
func TestUserFileGoldenPasskeys(t *testing.T) {
	path := filepath.Join("testdata", "user_v1_passkeys.json")
	want := goldenPasskeyUser()
	enc, err := filestore.EncodeUser(want)
	if err != nil {
		t.Fatal(err)
	}
	if *updatePasskeyGolden {
		if err := os.WriteFile(path, enc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(enc) != string(golden) {
		t.Fatalf("the encoder changed the user file format:\n got %s\nwant %s", enc, golden)
	}
	got, err := filestore.DecodeUser(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("golden user decodes differently:\n got %+v\nwant %+v", got, want)
	}
}

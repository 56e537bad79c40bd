package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
)

// A deployment on the file stores keeps a FileAttemptStore beside its
// FileUserStore, so that a failed login for an unknown name costs the same
// durable write as one for a known account and the throttles of client keys
// and unknown names survive a restart. Replicas on PostgreSQL use
// pgauth.NewAttemptStore instead.
func ExampleOpenFileAttemptStore() {
	dir, err := os.MkdirTemp("", "hipaakit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	users, err := auth.OpenFileUserStore(filepath.Join(dir, "users"))
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	attempts, err := auth.OpenFileAttemptStore(filepath.Join(dir, "attempts"))
	if err != nil {
		log.Fatal(err)
	}
	defer attempts.Close()
	a, err := auth.NewAuthenticator(auth.Config{Users: users, Attempts: attempts, Audit: audit.Discard{}}, auth.NoSessions)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for range 4 {
		_, err = a.Login(ctx, auth.LoginRequest{TenantID: "clinic", Name: "nobody", Password: "a wrong guess, clearly", ClientKey: "192.0.2.7"})
	}
	fmt.Println(errors.Is(err, auth.ErrThrottled))
	// Output: true
}

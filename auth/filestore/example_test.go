package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/hipaakit/hipaakit/audit"
	"github.com/hipaakit/hipaakit/auth"
	"github.com/hipaakit/hipaakit/auth/filestore"
)

// A deployment on the file stores keeps an AttemptStore beside its
// UserStore, so that a failed login for an unknown name costs the same
// durable write as one for a known account and the throttles of client keys
// and unknown names survive a restart. Replicas on PostgreSQL use
// pgauth.NewAttemptStore instead.
func ExampleOpenAttemptStore() {
	dir, err := os.MkdirTemp("", "hipaakit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	users, err := filestore.OpenUserStore(filepath.Join(dir, "users"))
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	attempts, err := filestore.OpenAttemptStore(filepath.Join(dir, "attempts"))
	if err != nil {
		log.Fatal(err)
	}
	defer attempts.Close()
	sessions, err := filestore.OpenSessionStore(filepath.Join(dir, "sessions"))
	if err != nil {
		log.Fatal(err)
	}
	defer sessions.Close()
	emergencies, err := filestore.OpenEmergencyLog(filepath.Join(dir, "emergency.log"))
	if err != nil {
		log.Fatal(err)
	}
	defer emergencies.Close()
	a, err := auth.New(auth.Config{Users: users, Sessions: sessions, Attempts: attempts, Emergencies: emergencies, Audit: audit.Discard{}})
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

func ExampleOpenUserStore() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "users-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := filestore.OpenUserStore(dir) // one file per user, written atomically
	if err != nil {
		log.Fatal(err)
	}
	name, _ := auth.CanonicalName("Dr.House@Example.org")
	u := &auth.User{ID: auth.NewUserID(), TenantID: "clinic-1", Name: name, Status: auth.StatusActive}
	fmt.Println(st.Create(ctx, u), u.Version)

	stale := u.Clone()
	u.Roles = []string{"physician"}
	fmt.Println(st.Update(ctx, u), u.Version)
	fmt.Println(errors.Is(st.Update(ctx, stale), auth.ErrVersionConflict)) // compare and swap
	st.Close()

	again, _ := filestore.OpenUserStore(dir)
	defer again.Close()
	got, err := again.GetByName(ctx, "clinic-1", "dr.house@example.org")
	fmt.Println(got.Roles, got.Version, err)
	// Output:
	// <nil> 1
	// <nil> 2
	// true
	// [physician] 2 <nil>
}

package report_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hipaakit/hipaakit/compliance/report"
	"github.com/hipaakit/hipaakit/serviceconfig"
)

// Collect over a data directory that holds no stores yet: the policy rows
// come from the configuration, every other row has no evidence or is not
// met, and nothing is created.
func ExampleCollect() {
	dir, err := os.MkdirTemp("", "hipaakit-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cfg := serviceconfig.Config{
		Version: 1, Service: "clinic", DataDir: dir, KEK: "local",
		AuditKeys: []string{"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="},
		Policy: serviceconfig.Policy{RequireMFA: true, IdleTimeout: serviceconfig.Duration(15 * time.Minute),
			AbsoluteTimeout: serviceconfig.Duration(12 * time.Hour), LockoutThreshold: 10, PasswordMinLength: 8},
		EmergencyRoles: []string{"emergency"},
		TLS:            serviceconfig.TLS{Enabled: true, MinVersion: "1.2", HSTS: true},
		Retention:      []serviceconfig.RetentionRule{{Kind: "audit", Keep: "P6Y"}},
		Backup:         serviceconfig.Backup{Target: "directory"},
	}
	ev, err := report.Collect(context.Background(), cfg, time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	rep := report.Build(ev)
	for _, r := range rep.Rows[:5] {
		fmt.Printf("%s %s: %s\n", r.Control, r.Title, r.Status)
	}
	entries, _ := os.ReadDir(dir)
	fmt.Println("all met:", rep.AllMet(), "- files created:", len(entries))
	// Output:
	// 164.312(a)(2)(i) Unique user identification: no evidence
	// 164.312(a)(2)(ii) Emergency access procedure: no evidence
	// 164.312(a)(2)(iii) Automatic logoff: met
	// 164.312(a)(2)(iv) Encryption and decryption: no evidence
	// 164.312(b) Audit controls: no evidence
	// all met: false - files created: 0
}

package serviceconfig_test

import (
	"fmt"
	"time"

	"github.com/hipaakit/hipaakit/serviceconfig"
)

// A service writes its configuration into its data directory at start, so
// that "hipaakit report --config <data dir>/hipaakit.json" finds it.
func ExampleParse() {
	cfg, err := serviceconfig.Parse([]byte(`{
	  "version": 1, "service": "clinic", "data_dir": ".",
	  "audit_keys": ["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="], "kek": "local",
	  "policy": {"require_mfa": true, "idle_timeout": "15m", "absolute_timeout": "12h",
	             "lockout_threshold": 10, "password_min_length": 8},
	  "emergency_roles": ["emergency"],
	  "tls": {"enabled": true, "min_version": "1.2", "hsts": true},
	  "retention": [{"kind": "audit", "keep": "P6Y"}],
	  "backup": {"target": "directory"}
	}`))
	fmt.Println(err, cfg.Service, time.Duration(cfg.Policy.IdleTimeout))

	_, err = serviceconfig.Parse([]byte(`{"version": 1, "service": "clinic", "data_dri": "."}`))
	fmt.Println(err)
	// Output:
	// <nil> clinic 15m0s
	// serviceconfig: invalid service configuration: data_dri: unknown field
}

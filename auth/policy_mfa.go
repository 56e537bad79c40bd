package auth

import (
	"errors"
	"time"

	"github.com/hipaakit/hipaakit/auth/policy"
)

// cap returns the smaller of def and the policy's limit lim (when set).
func capDuration(def, lim time.Duration) time.Duration {
	if lim > 0 && lim < def {
		return lim
	}
	return def
}

// ErrMFAWithoutSealer reports a Config whose tenant policies require MFA
// but that has no SecretSealer to seal TOTP secrets.
var ErrMFAWithoutSealer = errors.New("auth: a tenant policy requires MFA but Config.Sealer is not set; add a SecretSealer (NewKeySealer or PHISealer) to Config.Sealer")

// checkMFASealer refuses policies that require MFA without a sealer. A
// source that is not *policy.Tenants is checked when it has a RequiresMFA
// method.
func checkMFASealer(src policy.Source, sealer SecretSealer) error {
	r, ok := src.(interface{ RequiresMFA() bool })
	if ok && sealer == nil && r.RequiresMFA() {
		return ErrMFAWithoutSealer
	}
	return nil
}

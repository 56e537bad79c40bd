// Package serviceconfig is the service description format (hipaakit.json):
// a JSON document, written at every start by the deployment
// (hipaakit.Config.Service) into its data directory and, on PostgreSQL,
// into the replica's row of hipaakit_service_descriptions,
// that says where the deployment's stores are and which policy is in force,
// so that the report (package compliance/report, "hipaakit report") can
// collect evidence without the service's code.
//
// # What it guarantees
//
// Parse and Load accept only documents of the supported Version that pass
// every rule of Config.Validate; unknown members are errors. Every error
// matches ErrInvalid or ErrUnsupportedVersion with errors.Is, a *FieldError
// names the field at fault, and no message quotes a value (a database URL
// may hold a password). The document holds no secret: keys are public keys,
// a database URL with a password is refused (PublicDatabaseURL removes it),
// and Config.MasterKey is never read from or written to the file. Write
// replaces the file atomically and durably, mode 0600.
//
// It does not link package testing.
package serviceconfig

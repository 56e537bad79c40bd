package pgsource

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Error is a PostgreSQL error with its message removed: server messages can
// quote row values ("invalid input syntax for type date: …"), which may be
// PHI. Only the severity and the SQLSTATE code are kept.
type Error struct {
	Severity string
	Code     string // SQLSTATE, e.g. "23505"
}

// Error returns the severity and the SQLSTATE code.
func (e *Error) Error() string { return e.Severity + ": SQLSTATE " + e.Code }

// SQLState returns the SQLSTATE code.
func (e *Error) SQLState() string { return e.Code }

// pgFail wraps err for the step what, replacing a PostgreSQL server error by
// an *Error.
func pgFail(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		err = &Error{Severity: pe.Severity, Code: pe.Code}
	}
	if what == "" {
		return fmt.Errorf("backup/pgsource: %w", err)
	}
	return fmt.Errorf("backup/pgsource: %s: %w", what, err)
}

package hipaakit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// unreachable says which server could not be reached and why, in one line
// that never holds the password.
func unreachable(c *pgx.ConnConfig, err error) error {
	where := c.Host
	if !strings.HasPrefix(where, "/") {
		where = net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
	}
	var why string
	var pgErr *pgconn.PgError
	var opErr *net.OpError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		why = pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		why = "timed out"
	case errors.As(err, &opErr):
		why = opErr.Err.Error()
	default:
		why = lastCause(err)
	}
	return fmt.Errorf("%w at %s: %s", ErrDatabaseUnreachable, where, why)
}

// lastCause returns the message of the last attempt in a pgconn connect
// error ("host:port (ip): reason": the reason), which pgx writes without the
// password; else a generic phrase.
func lastCause(err error) string {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return "connection failed"
	}
	var causes []error
	if j, ok := ce.Unwrap().(interface{ Unwrap() []error }); ok {
		causes = j.Unwrap()
	} else if e := ce.Unwrap(); e != nil {
		causes = []error{e}
	}
	if len(causes) == 0 {
		return "connection failed"
	}
	msg := causes[len(causes)-1].Error()
	if _, rest, ok := strings.Cut(msg, "): "); ok {
		msg = rest
	}
	return strings.Join(strings.Fields(msg), " ")
}

package pgsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hipaakit/hipaakit/hipaakittest"
)

// TestErrorsCarryNoRowData: a server error that quotes a value (here an
// invalid date) reaches the caller as SQLSTATE only.
func TestErrorsCarryNoRowData(t *testing.T) {
	const canary = "999-00-1234-CANARY"
	pool := hipaakittest.Postgres(t)
	_, err := pool.Exec(context.Background(), "SELECT $1::text::date", canary)
	if err == nil || !strings.Contains(err.Error(), canary) {
		t.Fatalf("server error does not quote the value, the test proves nothing: %v", err)
	}
	e := pgFail("copy into table", err)
	if strings.Contains(fmt.Sprintf("%v %+v %#v", e, e, e), canary) {
		t.Fatalf("row data leaked: %v", e)
	}
	var pe *Error
	if !errors.As(e, &pe) || pe.Code != "22007" || pe.SQLState() != "22007" {
		t.Fatalf("error %v lost its SQLSTATE", e)
	}
}

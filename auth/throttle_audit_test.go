package auth

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hipaakit/hipaakit/audit"
)

// One unauthenticated client flooding 1,000 attempts over a minute adds a
// bounded number of audit events: the checked failures its back-off lets
// through, plus per window one event for its first refusal and one summary
// with the count of the others. Every refusal is accounted for.
func TestThrottledRefusalsAggregated(t *testing.T) {
	f := newFixture(t)
	f.create(t, "nina")
	const flood = 1000
	refused := 0
	for i := range flood {
		name := fmt.Sprintf("name-%d", i)
		if i%2 == 0 {
			name = "nina"
		}
		_, err := f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: name, Password: "wrong guess, clearly", ClientKey: "203.0.113.7"})
		if errors.Is(err, ErrThrottled) {
			refused++
		} else {
			require.ErrorIs(t, err, ErrInvalidCredentials)
		}
		f.clk.Advance(60 * time.Millisecond)
	}
	// The bound: ClientFreeFailures checked at once, then at most 6 more a
	// minute through the doubling back-off from 1s, plus 2 refusal events
	// per window.
	c := f.a.cfg.Lockout
	bound := c.ClientFreeFailures + 6 + 2
	if n := f.log.count("", ""); n-1 > bound { // minus the user's creation
		t.Fatalf("%d attempts from one client wrote %d audit events; the bound is %d", flood, n-1, bound)
	}
	t.Logf("%d attempts (%d refused) wrote %d audit events (bound %d)", flood, refused, f.log.count("", "")-1, bound)
	// A later attempt, after the window, records the count of the last one.
	f.clk.Advance(time.Hour)
	_, err := f.a.Login(t.Context(), LoginRequest{TenantID: "clinic", Name: "nina", Password: goodPassword, ClientKey: "198.51.100.1"})
	require.NoError(t, err)
	counted, firsts := 0, 0
	f.log.mu.Lock()
	for _, e := range f.log.events {
		if e.Action != audit.ActionLoginFailed {
			continue
		}
		switch e.Reason {
		case "throttled":
			firsts++
			counted++
		case "throttled_summary":
			n, err := strconv.Atoi(e.Attrs["refused"])
			require.NoError(t, err)
			counted += n
		}
	}
	f.log.mu.Unlock()
	require.Positive(t, firsts, "the first refusal is recorded")
	require.Equal(t, refused, counted, "every refusal is counted in the trail")
}

package audittest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hipaakit/hipaakit/audit"
)

// fixedClock is a clock the test moves by hand.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ServeOverlapping sends two overlapping requests through audit.Middleware
// writing to w: the first to arrive (stamped at start) completes after the
// second (stamped one second later), so w chains the later event first and
// the trail's time order differs from its chain order. It returns when
// both events are acknowledged.
func ServeOverlapping(t testing.TB, w audit.Writer, start time.Time) {
	t.Helper()
	clk := &fixedClock{t: start}
	mw, err := audit.Middleware(audit.MiddlewareConfig{
		Writer:  w,
		Actor:   func(*http.Request) (audit.Actor, bool) { return audit.Actor{UserID: "u-overlap"}, true },
		Subject: func(r *http.Request) string { return r.PathValue("id") },
		Clock:   clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow/{id}", func(rw http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		rw.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /fast/{id}", func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusOK) })
	h := mw(mux)
	serve := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	slow := make(chan int)
	go func() { slow <- serve("/slow/p-1") }()
	<-entered
	clk.advance(time.Second)
	if code := serve("/fast/p-2"); code != http.StatusOK {
		t.Fatalf("fast request: status %d", code)
	}
	close(release)
	if code := <-slow; code != http.StatusOK {
		t.Fatalf("slow request: status %d", code)
	}
}

// ExportVerifies exports every record of s as JSON Lines (audit.Export
// with a zero Filter) and verifies the export with audit.Verify and opts,
// reading it back line by line as an auditor would. It returns the
// number of records exported.
func ExportVerifies(t testing.TB, s audit.Searcher, opts audit.VerifyOptions) int64 {
	t.Helper()
	var buf bytes.Buffer
	n, err := audit.Export(context.Background(), &buf, s, audit.Filter{}, audit.ExportJSONL)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	entries := func(yield func(audit.Entry, error) bool) {
		for _, line := range bytes.SplitAfter(buf.Bytes(), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			if !yield(audit.ParseLine(line)) {
				return
			}
		}
	}
	if _, err := audit.Verify(context.Background(), entries, opts); err != nil {
		t.Fatalf("the JSON Lines export of %d records does not verify: %v", n, err)
	}
	return n
}

// ReadsReportTampering asserts that reads of the trail where the record of
// subject forged was edited in place return the forged record through
// plain (a searcher that does not verify), and report the tampering (an
// *audit.VerifyError, ProblemModified) instead of returning it through
// verified, for Query, Export and AccountingOfDisclosures over
// [since, until).
func ReadsReportTampering(t testing.TB, plain, verified audit.Searcher, forged string, since, until time.Time) {
	t.Helper()
	ctx := context.Background()
	f := audit.Filter{Subject: forged}
	if p, err := audit.Query(ctx, plain, f); err != nil || len(p.Records) != 1 {
		t.Fatalf("the plain query should return the forged record: %v, %d records", err, len(p.Records))
	}
	var ve *audit.VerifyError
	if p, err := audit.Query(ctx, verified, f); !errors.As(err, &ve) || ve.Problem != audit.ProblemModified || len(p.Records) != 0 {
		t.Fatalf("verified query: %v, %d records", err, len(p.Records))
	}
	var buf bytes.Buffer
	if _, err := audit.Export(ctx, &buf, verified, audit.Filter{}, audit.ExportJSONL); !errors.As(err, &ve) || bytes.Contains(buf.Bytes(), []byte(forged)) {
		t.Fatalf("verified export: %v, forged record written: %v", err, bytes.Contains(buf.Bytes(), []byte(forged)))
	}
	if _, err := audit.AccountingOfDisclosures(ctx, verified, audit.AccountingRequest{Subject: forged, Since: since, Until: until}); !errors.As(err, &ve) {
		t.Fatalf("verified accounting: %v", err)
	}
}

package audit

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hipaakit/hipaakit/clock"
)

// MiddlewareConfig configures Middleware. Writer, Actor and Subject are
// required; every other field has a secure default.
//
// Every function field is called with the request as the wrapped handler saw
// it, at the moment the event is recorded, so r.Pattern and r.PathValue are
// available when the middleware wraps a handler registered on an
// http.ServeMux, or wraps the ServeMux itself.
type MiddlewareConfig struct {
	// Writer stores the events. When it fails, the request is refused with
	// 503 Service Unavailable: no audit, no access.
	Writer Writer
	// Actor returns who is making the request, from the request's context
	// (the auth package supplies it). ok is false for an anonymous request,
	// which is still recorded, with an empty Actor. The middleware never reads
	// the actor or role from request headers.
	Actor func(r *http.Request) (a Actor, ok bool)
	// Subject returns the opaque identifier of the patient whose PHI the
	// request touches, or "" when there is none (for example a search).
	Subject func(r *http.Request) string

	// Record optionally returns the record type and record ID the request
	// acts on, for example ("patient", r.PathValue("id")).
	Record func(r *http.Request) (recordType, recordID string)
	// Action maps the request to an Action. The default (ActionForMethod)
	// maps GET, HEAD and OPTIONS to read, POST to create, PUT and PATCH to
	// update and DELETE to delete; any other method is recorded as read.
	// RouteActions names the routes whose method says the wrong thing (a
	// POST that searches is a query).
	Action func(r *http.Request) Action
	// Purpose optionally returns why PHI is accessed (for example
	// "treatment"), for the accounting of disclosures.
	Purpose func(r *http.Request) string
	// ClientIP extracts the client address. The default is PeerIP, the TCP
	// peer address: forwarding headers are never trusted unless the
	// integrator names an extractor such as one from TrustedProxies.
	ClientIP ClientIPFunc
	// RequestID optionally returns the request's correlation ID.
	RequestID func(r *http.Request) string
	// Channel is recorded in every event; the default is ChannelWeb.
	Channel Channel
	// WriteTimeout bounds one audit write. The write is detached from the
	// client's cancellation (a client hanging up must not leave an access
	// half-recorded) but not from this deadline. Default 10s.
	WriteTimeout time.Duration
	// Clock stamps events; the default is the system clock.
	Clock clock.Clock
}

// ErrMiddlewareConfig reports an unusable MiddlewareConfig.
var ErrMiddlewareConfig = errors.New("audit: invalid middleware configuration")

// maxUserAgent bounds the user agent stored in an event.
const maxUserAgent = 256

// Middleware returns HTTP middleware that records one Event for every request
// to the handlers it wraps, including denials (401, 403) and failures.
//
// # When the event is written, and failing closed
//
// The outcome of a request is known only once the handler chooses its status,
// so the middleware writes the event at the first moment the response would
// leave the server: when the handler calls WriteHeader with a final status,
// or first calls Write, Flush, ReadFrom or Hijack, or returns without writing
// anything (then as 200). Until the Writer has acknowledged the event, nothing
// of the response (status, headers or body) reaches the client. When the
// write fails, the handler's headers are discarded, the client receives
// 503 Service Unavailable, and every later write of the handler fails with
// ErrUnavailable. So each request yields exactly one event carrying its
// true status, streaming responses keep streaming, and no byte of a response
// is ever sent unaudited. A handler that panics before writing is recorded as
// a failure with reason "panic" and the panic continues.
//
// Work the handler does before it writes its response (for example an update)
// has already happened when the audit write fails; handlers that change state
// should also write their own audit events inside their own logic.
//
// # What is recorded
//
// Action and outcome (status < 400 is success; otherwise failure with reason
// "http_<status>"), the actor, the subject and record from the resolvers, the
// route pattern r.Pattern (never the raw path or query string, which may carry
// PHI; "" when no pattern matched), the client IP from the configured
// extractor, the user agent (made valid UTF-8 and truncated to 256 bytes),
// the request ID, the attribute "status", and as Time the moment the request
// reached the middleware.
//
// # Placement
//
// Place the middleware inside the layer that authenticates the session (so
// that Actor sees the actor in the request context) and outside the layer that
// authorises the route (so that its 403 denials are recorded).
func Middleware(cfg MiddlewareConfig) (func(http.Handler) http.Handler, error) {
	switch {
	case cfg.Writer == nil:
		return nil, errors.Join(ErrMiddlewareConfig, errors.New("audit: middleware: Writer is required"))
	case cfg.Actor == nil:
		return nil, errors.Join(ErrMiddlewareConfig, errors.New("audit: middleware: Actor is required"))
	case cfg.Subject == nil:
		return nil, errors.Join(ErrMiddlewareConfig, errors.New("audit: middleware: Subject is required"))
	case cfg.WriteTimeout < 0:
		return nil, errors.Join(ErrMiddlewareConfig, errors.New("audit: middleware: WriteTimeout is negative"))
	}
	if cfg.Action == nil {
		cfg.Action = actionForMethod
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = PeerIP
	}
	if cfg.Channel == "" {
		cfg.Channel = ChannelWeb
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	mw := &middleware{cfg: cfg}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mw.serve(next, w, r)
		})
	}, nil
}

type middleware struct {
	cfg MiddlewareConfig
}

func (m *middleware) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	rw := &recordingWriter{w: w, m: m, r: r, start: m.cfg.Clock.Now()}
	returned := false
	defer func() {
		// The handler panicked (or called runtime.Goexit) before writing:
		// record the failure and let the panic continue with its stack intact.
		if !returned && rw.state == statePending {
			rw.failed(http.StatusInternalServerError, "panic")
		}
	}()
	next.ServeHTTP(rw, r)
	returned = true
	if rw.state == statePending {
		// The handler wrote nothing: net/http would send 200.
		rw.WriteHeader(http.StatusOK)
	}
}

// event builds the event for a request that ended with status.
func (m *middleware) event(r *http.Request, at time.Time, status int, reason string) Event {
	c := &m.cfg
	e := Event{
		Time:    at.UTC(),
		Action:  c.Action(r),
		Outcome: OutcomeSuccess,
		Origin: Origin{
			Channel:   c.Channel,
			ClientIP:  c.ClientIP(r),
			UserAgent: truncateUTF8(strings.ToValidUTF8(r.UserAgent(), "\uFFFD"), maxUserAgent),
			Route:     r.Pattern,
		},
		Target: Target{Subject: c.Subject(r)},
		Attrs:  map[string]string{"status": strconv.Itoa(status)},
	}
	if a, ok := c.Actor(r); ok {
		e.Actor = a
	}
	if c.Record != nil {
		e.Target.RecordType, e.Target.RecordID = c.Record(r)
	}
	if c.Purpose != nil {
		e.Purpose = c.Purpose(r)
	}
	if c.RequestID != nil {
		e.Origin.RequestID = c.RequestID(r)
	}
	if reason != "" {
		e.Outcome, e.Reason = OutcomeFailure, reason
	} else if status >= 400 {
		e.Outcome, e.Reason = OutcomeFailure, "http_"+strconv.Itoa(status)
	}
	return e
}

func (m *middleware) write(r *http.Request, e Event) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), m.cfg.WriteTimeout)
	defer cancel()
	return m.cfg.Writer.Write(ctx, e)
}

// ActionForMethod is the middleware's default MiddlewareConfig.Action:
// GET, HEAD and OPTIONS are read, POST create, PUT and PATCH update, DELETE
// delete, and any other method read.
func ActionForMethod(r *http.Request) Action { return actionForMethod(r) }

// RouteActions returns a MiddlewareConfig.Action that records the requests
// of the route patterns in routes (r.Pattern, e.g. "POST /patients/search")
// with the action given there, and every other request as ActionForMethod
// does: a POST that searches is a query, not a create.
func RouteActions(routes map[string]Action) func(r *http.Request) Action {
	m := make(map[string]Action, len(routes))
	for k, v := range routes {
		m[k] = v
	}
	return func(r *http.Request) Action {
		if a, ok := m[r.Pattern]; ok {
			return a
		}
		return actionForMethod(r)
	}
}

func actionForMethod(r *http.Request) Action {
	switch r.Method {
	case http.MethodPost:
		return ActionCreate
	case http.MethodPut, http.MethodPatch:
		return ActionUpdate
	case http.MethodDelete:
		return ActionDelete
	default:
		return ActionRead
	}
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

const (
	statePending = iota // nothing recorded or sent yet
	stateOpen           // recorded; the response passes through
	stateRefused        // recording failed; 503 sent, handler output dropped
)

// recordingWriter holds back the response until its event is recorded.
type recordingWriter struct {
	w     http.ResponseWriter
	m     *middleware
	r     *http.Request
	start time.Time
	state int
}

// record writes the event for status; it reports whether the response may
// pass through.
func (rw *recordingWriter) record(status int) bool {
	if rw.state != statePending {
		return rw.state == stateOpen
	}
	if err := rw.m.write(rw.r, rw.m.event(rw.r, rw.start, status, "")); err != nil {
		rw.refuse()
		return false
	}
	rw.state = stateOpen
	return true
}

// failed records a failure that happened before any response was written.
func (rw *recordingWriter) failed(status int, reason string) {
	if err := rw.m.write(rw.r, rw.m.event(rw.r, rw.start, status, reason)); err != nil {
		rw.refuse()
		return
	}
	rw.state = stateOpen
}

// refuse replaces the handler's response with 503.
func (rw *recordingWriter) refuse() {
	rw.state = stateRefused
	h := rw.w.Header()
	clear(h)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "5")
	rw.w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(rw.w, "service unavailable: the access could not be audited\n")
}

// Header returns the header map of the response.
func (rw *recordingWriter) Header() http.Header { return rw.w.Header() }

// WriteHeader records the event, then sends status unless recording failed.
// Informational statuses (1xx other than 101) pass through unrecorded.
func (rw *recordingWriter) WriteHeader(status int) {
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		if rw.state != stateRefused {
			rw.w.WriteHeader(status)
		}
		return
	}
	if rw.state == statePending && rw.record(status) {
		rw.w.WriteHeader(status)
	}
}

// Write sends b once the event is recorded.
func (rw *recordingWriter) Write(b []byte) (int, error) {
	if !rw.record(http.StatusOK) {
		return 0, ErrUnavailable
	}
	return rw.w.Write(b)
}

// ReadFrom lets io.Copy use the underlying writer's fast path.
func (rw *recordingWriter) ReadFrom(src io.Reader) (int64, error) {
	if !rw.record(http.StatusOK) {
		return 0, ErrUnavailable
	}
	return io.Copy(rw.w, src)
}

// FlushError records the event, then flushes. http.ResponseController calls
// it before trying Unwrap, so no flush bypasses the audit.
func (rw *recordingWriter) FlushError() error {
	if !rw.record(http.StatusOK) {
		return ErrUnavailable
	}
	return http.NewResponseController(rw.w).Flush()
}

// Flush implements http.Flusher.
func (rw *recordingWriter) Flush() { _ = rw.FlushError() }

// Hijack records the event (status 101), then hands over the connection.
func (rw *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !rw.record(http.StatusSwitchingProtocols) {
		return nil, nil, ErrUnavailable
	}
	return http.NewResponseController(rw.w).Hijack()
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController
// (deadlines, full duplex). Flush and Hijack are answered by the wrapper
// itself, so they cannot bypass the audit.
func (rw *recordingWriter) Unwrap() http.ResponseWriter { return rw.w }

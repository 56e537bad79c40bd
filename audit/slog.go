package audit

import (
	"context"
	"errors"
	"log/slog"
	"sort"

	"github.com/hipaakit/hipaakit/clock"
)

// SlogWriter emits every event as a log/slog record, for operators who
// watch logs; combine it with a durable writer through Multi. It is not a
// tamper-evident store itself. Sealed change values are never logged, only
// their sizes; strings are passed as slog attributes, so the handler
// escapes newlines, quotes and control characters.
type SlogWriter struct {
	h     slog.Handler
	level slog.Level
	clock clock.Clock
}

// SlogConfig configures NewSlogWriter. Handler is required.
type SlogConfig struct {
	// Handler receives the records (required).
	Handler slog.Handler
	// Level is the level of every record. The zero value is slog.LevelInfo.
	Level slog.Level
	// Clock stamps events that have no Time. nil means clock.System.
	Clock clock.Clock
}

// NewSlogWriter returns a SlogWriter that emits records at cfg.Level to
// cfg.Handler.
func NewSlogWriter(cfg SlogConfig) (*SlogWriter, error) {
	if cfg.Handler == nil {
		return nil, errors.New("audit: NewSlogWriter needs a slog.Handler")
	}
	return &SlogWriter{h: cfg.Handler, level: cfg.Level, clock: clock.OrSystem(cfg.Clock)}, nil
}

var _ Writer = (*SlogWriter)(nil)

// Write validates e and hands it to the handler; it returns the handler's
// error, if any. Events below the handler's level are validated and dropped.
func (w *SlogWriter) Write(ctx context.Context, e Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if !w.h.Enabled(ctx, w.level) {
		return nil
	}
	t := normalizeTime(e.Time, w.clock.Now)
	r := slog.NewRecord(t, w.level, "audit event", 0)
	r.AddAttrs(eventAttrs(&e)...)
	return w.h.Handle(ctx, r)
}

func eventAttrs(e *Event) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("action", string(e.Action)),
		slog.String("outcome", string(e.Outcome)),
	}
	add := func(dst []slog.Attr, k, v string) []slog.Attr {
		if v != "" {
			dst = append(dst, slog.String(k, v))
		}
		return dst
	}
	attrs = add(attrs, "reason", e.Reason)
	attrs = add(attrs, "purpose", e.Purpose)
	var actor []slog.Attr
	actor = add(actor, "user_id", e.Actor.UserID)
	actor = add(actor, "tenant_id", e.Actor.TenantID)
	actor = add(actor, "role", e.Actor.Role)
	actor = add(actor, "session_id", e.Actor.SessionID)
	if e.Actor.Emergency {
		actor = append(actor, slog.Bool("emergency", true))
	}
	actor = add(actor, "emergency_reason", e.Actor.EmergencyReason)
	var origin []slog.Attr
	origin = add(origin, "channel", string(e.Origin.Channel))
	origin = add(origin, "client_ip", e.Origin.ClientIP)
	origin = add(origin, "user_agent", e.Origin.UserAgent)
	origin = add(origin, "request_id", e.Origin.RequestID)
	origin = add(origin, "route", e.Origin.Route)
	var target []slog.Attr
	target = add(target, "record_type", e.Target.RecordType)
	target = add(target, "record_id", e.Target.RecordID)
	target = add(target, "field", e.Target.Field)
	target = add(target, "subject", e.Target.Subject)
	group := func(dst []slog.Attr, k string, as []slog.Attr) []slog.Attr {
		if len(as) > 0 {
			dst = append(dst, slog.Attr{Key: k, Value: slog.GroupValue(as...)})
		}
		return dst
	}
	attrs = group(attrs, "actor", actor)
	attrs = group(attrs, "origin", origin)
	attrs = group(attrs, "target", target)
	var recipient []slog.Attr
	recipient = add(recipient, "id", e.Recipient.ID)
	recipient = add(recipient, "kind", string(e.Recipient.Kind))
	recipient = add(recipient, "name", e.Recipient.Name)
	recipient = add(recipient, "address", e.Recipient.Address)
	attrs = group(attrs, "recipient", recipient)
	if c := e.Change; c != nil {
		attrs = group(attrs, "change", []slog.Attr{slog.Int("new_bytes", len(c.New)), slog.Int("prior_bytes", len(c.Prior))})
	}
	if len(e.Attrs) > 0 {
		keys := make([]string, 0, len(e.Attrs))
		for k := range e.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		as := make([]slog.Attr, 0, len(keys))
		for _, k := range keys {
			as = append(as, slog.String(k, e.Attrs[k]))
		}
		attrs = group(attrs, "attrs", as)
	}
	return attrs
}

package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrNoWriters is returned by the Write of a Multi given no writers: with
// nowhere to store the event it is not acknowledged, so the access it
// audits must be refused. It matches ErrUnavailable with errors.Is.
var ErrNoWriters = fmt.Errorf("%w: Multi has no writers", ErrUnavailable)

// Multi returns a Writer that writes each event to every w, concurrently,
// and succeeds only when all of them do: the event is acknowledged only if
// every writer stored it. On failure it returns the writers' errors joined
// (errors.Is works on each); some writers may have stored the event. A
// Multi of no writers stores nothing, so its Write always fails with
// ErrNoWriters (which matches ErrUnavailable) rather than acknowledging.
func Multi(w ...Writer) Writer {
	ws := append([]Writer(nil), w...)
	return multiWriter(ws)
}

type multiWriter []Writer

func (m multiWriter) Write(ctx context.Context, e Event) error {
	switch len(m) {
	case 0:
		return ErrNoWriters
	case 1:
		return m[0].Write(ctx, e)
	}
	errs := make([]error, len(m))
	var wg sync.WaitGroup
	for i, w := range m[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i+1] = w.Write(ctx, cloneEvent(e))
		}()
	}
	errs[0] = m[0].Write(ctx, e)
	wg.Wait()
	return errors.Join(errs...)
}

// cloneEvent copies the maps and slices of e so that concurrent writers do
// not share them.
func cloneEvent(e Event) Event {
	if e.Attrs != nil {
		a := make(map[string]string, len(e.Attrs))
		for k, v := range e.Attrs {
			a[k] = v
		}
		e.Attrs = a
	}
	if e.Change != nil {
		c := Change{New: append([]byte(nil), e.Change.New...), Prior: append([]byte(nil), e.Change.Prior...)}
		e.Change = &c
	}
	return e
}

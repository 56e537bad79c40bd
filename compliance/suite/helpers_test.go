package suite

import "testing"

// tT adapts *testing.T to T in this package's tests (compliance.Run has
// its own adapter).
type tT struct{ t *testing.T }

func (a tT) Helper()                      { a.t.Helper() }
func (a tT) Errorf(f string, args ...any) { a.t.Helper(); a.t.Errorf(f, args...) }
func (a tT) Fatalf(f string, args ...any) { a.t.Helper(); a.t.Fatalf(f, args...) }
func (a tT) Logf(f string, args ...any)   { a.t.Helper(); a.t.Logf(f, args...) }
func (a tT) Run(name string, fn func(T)) bool {
	return a.t.Run(name, func(t *testing.T) { fn(tT{t}) })
}

// serviceField names hooks as compliance.Run does.
func serviceField(h string) string { return "Service." + h }

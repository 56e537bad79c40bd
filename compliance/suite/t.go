package suite

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// T is what a check reports to: a *testing.T inside a service's tests
// (compliance.Run adapts it), or a recorder of results against a live
// deployment (Check). The
// checks are written once, against T, and run unchanged in both.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	// Fatalf reports and ends the current check (or sub-check).
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	// Run runs fn as a named sub-check and reports whether it passed.
	Run(name string, fn func(T)) bool
}

// Status is the outcome of one control in Results.
type Status string

const (
	// Passed: every check of the control passed.
	Passed Status = "passed"
	// Failed: at least one check failed; Result.Messages says which.
	Failed Status = "failed"
	// Excluded: the service (or check file) excluded the control with the
	// justification in Result.Messages.
	Excluded Status = "excluded"
	// NotChecked: the control cannot be shown from outside the deployment
	// (it needs the audit trail or the logs); Result.Messages says why and
	// where the evidence comes from instead.
	NotChecked Status = "not checked"
)

// Result is the outcome of one control.
type Result struct {
	Control  string   `json:"control"`
	Status   Status   `json:"status"`
	Messages []string `json:"messages,omitempty"` // failures first, then notes
}

// Results is the outcome of Check, one Result per control in Controls order.
type Results []Result

// Failed reports whether any control failed.
func (rs Results) Failed() bool {
	for _, r := range rs {
		if r.Status == Failed {
			return true
		}
	}
	return false
}

// String renders one line per control and one indented line per message.
func (rs Results) String() string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%-11s %s\n", strings.ToUpper(string(r.Status)), r.Control)
		for _, m := range r.Messages {
			fmt.Fprintf(&b, "    %s\n", m)
		}
	}
	return b.String()
}

// recorder is the T of Check: it collects messages, and Fatalf ends the
// goroutine of the current (sub-)check as testing does.
type recorder struct {
	mu         sync.Mutex
	name       string
	failures   []string
	notes      []string
	failed     bool
	excluded   bool
	notChecked bool
	parent     *recorder
	results    []Result // of the root: one per control
}

func (p *recorder) Helper() {}

func (p *recorder) Errorf(f string, args ...any) {
	p.mu.Lock()
	p.failures = append(p.failures, fmt.Sprintf(f, args...))
	p.mu.Unlock()
	for q := p; q != nil; q = q.parent {
		q.mu.Lock()
		q.failed = true
		q.mu.Unlock()
	}
}

func (p *recorder) Fatalf(f string, args ...any) {
	p.Errorf(f, args...)
	runtime.Goexit()
}

func (p *recorder) Logf(f string, args ...any) {
	p.mu.Lock()
	p.notes = append(p.notes, fmt.Sprintf(f, args...))
	p.mu.Unlock()
}

// Run runs fn in its own goroutine (so Fatalf can end it) and folds its
// messages into p's, prefixed with the sub-check's name.
func (p *recorder) Run(name string, fn func(T)) bool {
	child := &recorder{name: name, parent: p}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				child.Errorf("%s: the check panicked: %v", name, v)
			}
		}()
		fn(child)
	}()
	<-done
	res := child.result()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parent == nil { // the root: each child is a control
		p.results = append(p.results, res)
		return res.Status != Failed
	}
	// A sub-check: its messages join the control's, named.
	for _, m := range child.failures {
		p.failures = append(p.failures, name+": "+m)
	}
	for _, m := range child.notes {
		p.notes = append(p.notes, name+": "+m)
	}
	return res.Status != Failed
}

// markResult records that the control t checks was excluded or cannot be
// checked from where it runs; a plain *testing.T only logs it.
func markResult(t T, st Status) {
	switch p := t.(type) {
	case *recorder:
		p.mu.Lock()
		p.excluded, p.notChecked = st == Excluded, st == NotChecked
		p.mu.Unlock()
	case *teeT:
		if p.res != nil {
			p.mu.Lock()
			p.res.Status = st
			p.mu.Unlock()
		}
	}
}

func (p *recorder) result() Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Passed
	switch {
	case p.failed:
		st = Failed
	case p.excluded:
		st = Excluded
	case p.notChecked:
		st = NotChecked
	}
	return Result{Control: p.name, Status: st, Messages: append(append([]string(nil), p.failures...), p.notes...)}
}

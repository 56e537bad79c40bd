package suite

import (
	"fmt"
	"sync"
)

// Tee returns a T that reports everything to t and also records it, and a
// function that returns the recorded Results once the run is over: how
// compliance.Run keeps a *testing.T run's results for CI evidence. t's
// own Run, Fatalf and Helper keep their meaning.
func Tee(t T) (T, func() Results) {
	root := &teeRoot{}
	return &teeT{t: t, root: root}, func() Results {
		root.mu.Lock()
		defer root.mu.Unlock()
		return append(Results(nil), root.results...)
	}
}

type teeRoot struct {
	mu      sync.Mutex
	results Results
}

// teeT is t plus the result of the control it runs under (nil at the
// root).
type teeT struct {
	t    T
	root *teeRoot
	res  *Result
	mu   *sync.Mutex
}

func (p *teeT) Helper() { p.t.Helper() }

func (p *teeT) note(msg string, failed bool) {
	if p.res == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.res.Messages = append(p.res.Messages, msg)
	if failed {
		p.res.Status = Failed
	}
}

func (p *teeT) Errorf(f string, args ...any) {
	p.note(fmt.Sprintf(f, args...), true)
	p.t.Helper()
	p.t.Errorf(f, args...)
}

func (p *teeT) Fatalf(f string, args ...any) {
	p.note(fmt.Sprintf(f, args...), true)
	p.t.Helper()
	p.t.Fatalf(f, args...)
}

func (p *teeT) Logf(f string, args ...any) {
	p.note(fmt.Sprintf(f, args...), false)
	p.t.Helper()
	p.t.Logf(f, args...)
}

func (p *teeT) Run(name string, fn func(T)) bool {
	if p.res != nil { // a sub-check: same result, messages named by t
		return p.t.Run(name, func(st T) { fn(&teeT{t: st, root: p.root, res: p.res, mu: p.mu}) })
	}
	res := &Result{Control: name, Status: Passed}
	ok := p.t.Run(name, func(st T) { fn(&teeT{t: st, root: p.root, res: res, mu: &sync.Mutex{}}) })
	if !ok {
		res.Status = Failed
	}
	p.root.mu.Lock()
	p.root.results = append(p.root.results, *res)
	p.root.mu.Unlock()
	return ok
}

// Unwrap returns the T the tee reports to.
func (p *teeT) Unwrap() T { return p.t }

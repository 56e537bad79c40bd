package backup

import (
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/clock"
)

// Progress reports how far a long operation (backup, verify, restore, drill)
// has come.
type Progress struct {
	Op      string        // "backup", "verify", "restore" or "drill"
	Bytes   int64         // bytes processed so far
	Total   int64         // bytes expected in all, 0 when unknown
	Elapsed time.Duration // since the operation started
	Rate    float64       // bytes per second so far
	ETA     time.Duration // estimated time left, -1 when unknown
	Done    bool          // the final report
}

// progressInterval is the least time between two reports.
const progressInterval = 200 * time.Millisecond

// meter accumulates bytes and reports them through a callback.
type meter struct {
	fn    func(Progress)
	clk   clock.Clock
	op    string
	start time.Time

	mu    sync.Mutex
	bytes int64
	total int64
	last  time.Time
}

func newMeter(fn func(Progress), clk clock.Clock, op string, total int64) *meter {
	now := clk.Now()
	return &meter{fn: fn, clk: clk, op: op, start: now, total: total, last: now}
}

func (m *meter) add(n int64) {
	if m == nil || m.fn == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bytes += n
	now := m.clk.Now()
	if now.Sub(m.last) < progressInterval {
		return
	}
	m.last = now
	m.fn(m.snapshot(now, false))
}

func (m *meter) done() {
	if m == nil || m.fn == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fn(m.snapshot(m.clk.Now(), true))
}

func (m *meter) snapshot(now time.Time, done bool) Progress {
	p := Progress{Op: m.op, Bytes: m.bytes, Total: m.total, Elapsed: now.Sub(m.start), ETA: -1, Done: done}
	if secs := p.Elapsed.Seconds(); secs > 0 {
		p.Rate = float64(m.bytes) / secs
	}
	if done {
		p.ETA = 0
	} else if m.total > 0 && p.Rate > 0 && m.bytes <= m.total {
		p.ETA = time.Duration(float64(m.total-m.bytes) / p.Rate * float64(time.Second))
	}
	return p
}

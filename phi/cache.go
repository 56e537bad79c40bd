package phi

import (
	"container/list"
	"sync"
	"time"

	"github.com/hipaakit/hipaakit/clock"
)

// keyCache is a bounded, aged LRU cache of unwrapped subject keysets.
//
// Invalidation races with loads: a load that started before an invalidation
// (a Shred or a rotation) must not put the stale keyset back. Every
// invalidation bumps gen; a load records gen before it reads the store, and
// put drops its result if gen moved in between.
type keyCache struct {
	clock clock.Clock
	max   int
	ttl   time.Duration

	mu      sync.Mutex
	gen     uint64
	entries map[string]*list.Element
	lru     list.List // front = most recently used; values are *cacheEntry
}

type cacheEntry struct {
	ref     string
	keys    *subjectKeys
	expires time.Time
}

func newKeyCache(c clock.Clock, max int, ttl time.Duration) *keyCache {
	return &keyCache{clock: c, max: max, ttl: ttl, entries: make(map[string]*list.Element)}
}

// get returns the cached keyset for ref, if present and not expired.
func (c *keyCache) get(ref string) *subjectKeys {
	if c.max == 0 {
		return nil
	}
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[ref]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, ref)
		return nil
	}
	c.lru.MoveToFront(el)
	return e.keys
}

// generation returns the current generation, to pass to put.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches keys for ref, unless an invalidation happened since gen was read.
func (c *keyCache) put(ref string, keys *subjectKeys, gen uint64) {
	if c.max == 0 {
		return
	}
	expires := c.clock.Now().Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if el, ok := c.entries[ref]; ok {
		e := el.Value.(*cacheEntry)
		e.keys, e.expires = keys, expires
		c.lru.MoveToFront(el)
		return
	}
	c.entries[ref] = c.lru.PushFront(&cacheEntry{ref: ref, keys: keys, expires: expires})
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).ref)
	}
}

// invalidate drops ref and makes every load in flight discard its result.
func (c *keyCache) invalidate(ref string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.entries[ref]; ok {
		c.lru.Remove(el)
		delete(c.entries, ref)
	}
}

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
//
// A watched cache (watch) hears of changes made by other processes through
// its store's announcements (KeyChangeNotifier). While they are not live
// (not yet connected, disconnected, stopped), an entry is served at most
// unwatched after it was loaded.
type keyCache struct {
	clock clock.Clock
	max   int
	ttl   time.Duration

	mu        sync.Mutex
	gen       uint64
	entries   map[string]*list.Element
	lru       list.List // front = most recently used; values are *cacheEntry
	watched   bool
	live      bool
	unwatched time.Duration
}

type cacheEntry struct {
	ref     string
	keys    *subjectKeys
	loaded  time.Time
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
	if !now.Before(e.expires) || (c.watched && !c.live && !now.Before(e.loaded.Add(c.unwatched))) {
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
	now := c.clock.Now()
	expires := now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if el, ok := c.entries[ref]; ok {
		e := el.Value.(*cacheEntry)
		e.keys, e.loaded, e.expires = keys, now, expires
		c.lru.MoveToFront(el)
		return
	}
	c.entries[ref] = c.lru.PushFront(&cacheEntry{ref: ref, keys: keys, loaded: now, expires: expires})
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

// invalidateAll drops every entry and makes every load in flight discard
// its result.
func (c *keyCache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropAll()
}

func (c *keyCache) dropAll() {
	c.gen++
	clear(c.entries)
	c.lru.Init()
}

// watch marks the cache as fed by announcements, not live yet: entries are
// served at most unwatched after loading until setLive(true).
func (c *keyCache) watch(unwatched time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watched, c.live, c.unwatched = true, false, min(unwatched, c.ttl)
}

// setLive records whether announcements are received and drops every
// entry: announcements may have been lost around the change.
func (c *keyCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.dropAll()
}

// isLive reports whether a watched cache's announcements are live.
func (c *keyCache) isLive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.watched && c.live
}

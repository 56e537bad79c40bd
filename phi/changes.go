package phi

import (
	"runtime"
	"time"
)

// UnwatchedCacheTTL bounds how long a Vault keeps an unwrapped keyset while
// its key store's change announcements cannot be received (see
// KeyChangeNotifier): before the first announcement connection is up, while
// it is down, and after Vault.Close. A shred or rotation made by another
// process then takes effect in this one within this bound instead of at
// once; it is the fail-safe side of the cache.
const UnwatchedCacheTTL = time.Second

// KeyChangeNotifier is implemented by a KeyStore that several processes
// share (phi/pgstore through PostgreSQL LISTEN/NOTIFY, phi/filestore through
// a generation file): it announces every change to a stored keyset made
// through any of them, so that a Vault in every process drops the cached
// keys at once instead of when they age out. The changes announced are
// Update (a subject-key rotation, a KEK re-wrap) and Shred; Create needs no
// announcement, since nothing can have cached keys that did not exist.
//
// NewVault watches its store when the store implements this interface and
// the cache is on.
type KeyChangeNotifier interface {
	// WatchKeyChanges starts delivering announcements to w, in a goroutine
	// of its own, and returns the function that stops it: once stop has
	// returned, w is not called again. stop is safe to call more than once.
	// A store reports w.Watching(false) whenever it may miss announcements
	// (not yet connected, disconnected), and w.Watching(true) once it
	// receives them again.
	WatchKeyChanges(w KeyChangeWatcher) (stop func())
}

// KeyChangeWatcher receives a KeyChangeNotifier's announcements. Its methods
// are cheap, never block and are safe to call from any goroutine.
type KeyChangeWatcher interface {
	// KeyChanged announces that the keyset under ref changed or was
	// shredded.
	KeyChanged(ref string)
	// AllKeysChanged announces that any keyset may have changed (for a
	// store that tracks changes only as a whole).
	AllKeysChanged()
	// Watching reports whether announcements are being received. Every
	// call drops every cached key, since announcements may have been lost
	// around it; while false, keys are cached at most UnwatchedCacheTTL.
	Watching(live bool)
}

// cacheWatcher feeds a store's announcements to a Vault's cache. It holds
// the cache, not the Vault, so that an abandoned Vault can be collected
// (and its watch stopped, see watchKeys).
type cacheWatcher struct{ c *keyCache }

func (w cacheWatcher) KeyChanged(ref string) { w.c.invalidate(ref) }
func (w cacheWatcher) AllKeysChanged()       { w.c.invalidateAll() }
func (w cacheWatcher) Watching(live bool)    { w.c.setLive(live) }

// watchKeys subscribes v's cache to its store's announcements, when the
// store makes them and the cache is on. A Vault dropped without Close stops
// watching once it is garbage collected.
func (v *Vault) watchKeys() {
	n, ok := v.store.(KeyChangeNotifier)
	if !ok || v.cache.max == 0 {
		return
	}
	v.cache.watch(UnwatchedCacheTTL)
	stop := n.WatchKeyChanges(cacheWatcher{v.cache})
	v.stopWatch = stop
	runtime.AddCleanup(v, func(stop func()) { go stop() }, stop)
}

// Close stops the Vault's watch of its key store's change announcements
// (KeyChangeNotifier), if it has one, and returns nil. The Vault stays
// usable: keys loaded afterwards are cached at most UnwatchedCacheTTL.
// Close is safe to call more than once.
func (v *Vault) Close() error {
	if v.stopWatch != nil {
		v.stopWatch()
		v.cache.setLive(false)
	}
	return nil
}

// KeyChangesLive reports whether the Vault is receiving its key store's
// change announcements, so that a shred or rotation in another process
// reaches this one at once. It is false for a store that makes none (the
// cache TTL bounds those), while the announcements are disconnected (then
// UnwatchedCacheTTL bounds them), after Close, and with the cache off
// (nothing to invalidate, so nothing is stale: the method reports the
// announcements, not staleness).
func (v *Vault) KeyChangesLive() bool { return v.cache.isLive() }

// Package keystoretest is the conformance suite for phi.KeyStore
// implementations: hipaakit runs it against phi/memstore, phi/filestore and
// phi/pgstore, and users run it against their own stores.
//
//	func TestMyStore(t *testing.T) {
//		keystoretest.Run(t, func(t *testing.T) phi.KeyStore { return newMyStore(t) })
//	}
//
// Run checks every clause of the phi.KeyStore contract on one store instance
// per subtest: Get of unknown and shredded references, Create with its
// Version 1 and its ErrKeyExists / ErrShredded refusals, Update as a
// compare-and-swap, Shred with its tombstones, its idempotence and its
// success on a never-stored reference, List ordering (by byte order of Ref,
// which catches collation-sensitive SQL) and pagination, races between
// goroutines (exactly one Create and exactly one Update of a version win),
// and ctx cancellation (a cancelled call fails with context.Canceled and
// changes nothing). It also checks that a store neither retains the caller's
// slices nor hands out its own.
//
// RunShared checks the cross-process clause: given two stores over the same
// underlying storage (two handles on one directory, two pools on one
// database), a change made through one is seen by the other, and
// compare-and-swap holds across them.
//
// RunAnnouncements checks phi.KeyChangeNotifier on two such stores: a
// watcher goes live, Update and Shred through the other handle are announced
// to it, and stop silences it. ShredVisibility measures how long a shred
// through a Vault on one handle takes to be refused by a Vault on the other
// (which had the keys cached), and Percentile summarises the measurement.
//
// # What it does not check
//
// The suite does not check durability across crashes, the secure erasure of
// storage media, or behaviour on references that fail phi.ValidRef (the Vault
// never passes them; stores may reject them). newStore must return an empty
// store each time it is called; the suite never closes it, so register any
// cleanup with t.Cleanup.
package keystoretest

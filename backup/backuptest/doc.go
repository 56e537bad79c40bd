// Package backuptest is the conformance suite for backup.Target
// implementations. Every Target in hipaakit passes it, and so must yours:
//
//	func TestMyTarget(t *testing.T) {
//		backuptest.Run(t, func(t *testing.T) backup.Target { return newMyTarget(t) })
//	}
//
// newTarget must return an empty target each time it is called (a fresh
// directory, a fresh bucket or prefix). The suite checks the contract on
// backup.Target: atomic, durable Put that replaces; Open, Stat and Delete of
// missing objects; List order and prefixes; name validation; concurrency;
// context cancellation; and a whole backup, verify and restore through the
// target. It never skips.
package backuptest

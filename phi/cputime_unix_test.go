//go:build unix

package phi_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user and system) this process has used. The
// benchmarks report it per operation beside ns/op: on a shared, loaded
// machine wall time includes waiting for a CPU, CPU time does not.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

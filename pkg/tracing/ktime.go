package tracing

import (
	"time"

	"golang.org/x/sys/unix"
)

// bootWall is the wall-clock time at which CLOCK_MONOTONIC was zero, the
// clock that every kernel timestamp in a record uses.
var bootWall = time.Now().Add(-time.Duration(Now()))

// WallTime converts a kernel timestamp (CLOCK_MONOTONIC ns) to wall time.
func WallTime(ktime uint64) time.Time {
	return bootWall.Add(time.Duration(ktime))
}

// Now is the kernel's clock for record timestamps (CLOCK_MONOTONIC ns).
func Now() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("CLOCK_MONOTONIC unavailable: " + err.Error())
	}
	return uint64(ts.Nano())
}

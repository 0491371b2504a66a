// timer: Go twin of bench/bench_timer.c. N times: time.NewTimer(time.Hour)
// and Stop, which must return true. Prints ns per NewTimer+Stop (the
// garbage collector frees the timers, within the measured time).
//
// usage: timer [timers]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func main() {
	n := int64(2000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		t := time.NewTimer(time.Hour)
		if !t.Stop() {
			fmt.Fprintf(os.Stderr, "ERROR timer: Stop returned false\n")
			os.Exit(1)
		}
	}
	elapsed := time.Since(t0)
	fmt.Printf("RESULT name=timer procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(n))
}

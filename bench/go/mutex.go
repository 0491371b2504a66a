// mutex: Go twin of bench/bench_mutex.c, for reference. An uncontended
// sync.Mutex: N pairs of Lock; counter++; Unlock in 4 rounds of N/4 after a
// warm-up of N/10. Prints ns per pair.
//
// usage: mutex [pairs]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var (
	mu    sync.Mutex
	count int64
)

func run(n int64) time.Duration {
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		mu.Lock()
		count++
		mu.Unlock()
	}
	return time.Since(t0)
}

func main() {
	n := int64(20000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	run(n / 10)
	perRound := n / 4
	var total time.Duration
	for r := 0; r < 4; r++ {
		total += run(perRound)
	}
	if want := n/10 + perRound*4; count != want {
		fmt.Fprintf(os.Stderr, "ERROR mutex: counter is %d, expected %d\n", count, want)
		os.Exit(1)
	}
	fmt.Printf("RESULT name=mutex procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(total.Nanoseconds())/float64(perRound*4))
}

// mutex_contended: Go twin of bench/bench_mutex_contended.c. 4 goroutines
// wait at a start gate (a sync.WaitGroup), then each runs N rounds of
// Lock; counter++; Unlock on one sync.Mutex. Checks the counter (4N) and
// prints ns per lock/inc/unlock.
//
// usage: mutex_contended [rounds_per_goroutine]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const tasks = 4

func main() {
	n := int64(1000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	var mu sync.Mutex
	var counter int64
	var start, all sync.WaitGroup
	start.Add(1)
	for i := 0; i < tasks; i++ {
		all.Add(1)
		go func() {
			start.Wait()
			for j := int64(0); j < n; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			all.Done()
		}()
	}
	t0 := time.Now()
	start.Done()
	all.Wait()
	elapsed := time.Since(t0)
	if counter != tasks*n {
		fmt.Fprintf(os.Stderr, "ERROR mutex_contended: counter is %d, expected %d\n", counter, tasks*n)
		os.Exit(1)
	}
	fmt.Printf("RESULT name=mutex_contended procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(tasks*n))
}

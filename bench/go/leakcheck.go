// leakcheck: Go twin of bench/bench_leakcheck.c. Go finds leaked goroutines
// during a garbage collection (the goroutineleak profile of Go 1.26 runs a
// GC cycle that marks from runnable goroutines only), so the counterpart of
// one tt_leak_check is one runtime.GC() over as many blocked goroutines:
//   live   every goroutine waits on one channel main still holds; the
//          median of 5 collections;
//   leaky  1% of them wait on a channel only they can reach; the first
//          collection.
//
// usage: leakcheck live|leaky [goroutines]
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

func main() {
	which := "live"
	if len(os.Args) > 1 {
		which = os.Args[1]
	}
	if which != "live" && which != "leaky" {
		fmt.Fprintf(os.Stderr, "leakcheck: unknown shape %s\n", which)
		os.Exit(1)
	}
	tasks := 1000000
	if len(os.Args) > 2 {
		if v, err := strconv.Atoi(os.Args[2]); err == nil && v > 0 {
			tasks = v
		}
	}
	never := make(chan int)
	var parked sync.WaitGroup
	parked.Add(tasks)
	for i := 0; i < tasks; i++ {
		if which == "leaky" && i%100 == 0 {
			go func() {
				mine := make(chan int)
				parked.Done()
				<-mine
			}()
		} else {
			go func() { parked.Done(); <-never }()
		}
	}
	parked.Wait()
	time.Sleep(50 * time.Millisecond)
	var times []time.Duration
	runs := 5
	if which == "leaky" {
		runs = 1
	}
	for r := 0; r < runs; r++ {
		t0 := time.Now()
		runtime.GC()
		times = append(times, time.Since(t0))
	}
	sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
	fmt.Printf("RESULT name=leakcheck_%s procs=%d value=%.3f unit=ms\n", which,
		runtime.GOMAXPROCS(0), float64(times[len(times)/2].Nanoseconds())/1e6)
	runtime.KeepAlive(never)
}

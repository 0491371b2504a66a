// dump: Go twin of bench/bench_dump.c. The time to write the goroutine
// profile of 100,000 parked goroutines with runtime/pprof, at debug=2
// (debug2), debug=1 (debug1) or as the gzipped protobuf (pprof), to
// io.Discard; the first write is not timed, then the median of 5.
//
// usage: dump debug2|debug1|pprof [goroutines]
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"time"
)

func main() {
	which := "debug2"
	if len(os.Args) > 1 {
		which = os.Args[1]
	}
	debug := map[string]int{"debug2": 2, "debug1": 1, "pprof": 0}
	level, ok := debug[which]
	if !ok {
		fmt.Fprintf(os.Stderr, "dump: unknown format %s\n", which)
		os.Exit(1)
	}
	tasks := 100000
	if len(os.Args) > 2 {
		if v, err := strconv.Atoi(os.Args[2]); err == nil && v > 0 {
			tasks = v
		}
	}
	never := make(chan int)
	var parked sync.WaitGroup
	parked.Add(tasks)
	for i := 0; i < tasks; i++ {
		switch i % 3 {
		case 0:
			go func() { parked.Done(); <-never }()
		case 1:
			go func() { parked.Done(); never <- 0 }()
		default:
			go func() { parked.Done(); select {} }()
		}
	}
	parked.Wait()
	time.Sleep(50 * time.Millisecond)
	p := pprof.Lookup("goroutine")
	p.WriteTo(io.Discard, level)
	var times []time.Duration
	for r := 0; r < 5; r++ {
		t0 := time.Now()
		p.WriteTo(io.Discard, level)
		times = append(times, time.Since(t0))
	}
	sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
	fmt.Printf("RESULT name=dump_%s procs=%d value=%.3f unit=ms\n", which, runtime.GOMAXPROCS(0),
		float64(times[2].Nanoseconds())/1e6)
}

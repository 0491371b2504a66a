// dump: Go twin of bench/bench_dump.c. The time to write the goroutine
// profile of 100,000 parked goroutines with runtime/pprof, at debug=2
// (debug2), debug=1 (debug1) or as the gzipped protobuf (pprof), to
// io.Discard; the first write is not timed, then the median of 5. The
// goroutines receive on a channel nobody sends on, send on another nobody
// receives from, or sit in an empty select, so none pairs off; their
// number is checked before timing. A goroutine spinning meanwhile notes the
// longest gap between two turns of its loop during the timed writes,
// reported first as dump_<format>_stall (ms).
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
	"sync/atomic"
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
	noSender, noReceiver := make(chan int), make(chan int)
	var parked sync.WaitGroup
	parked.Add(tasks)
	for i := 0; i < tasks; i++ {
		switch i % 3 {
		case 0:
			go func() { parked.Done(); <-noSender }()
		case 1:
			go func() { parked.Done(); noReceiver <- 0 }()
		default:
			go func() { parked.Done(); select {} }()
		}
	}
	parked.Wait()
	time.Sleep(50 * time.Millisecond)
	var stop, measuring, spinning int32
	var worst int64
	spin := runtime.GOMAXPROCS(0) > 1
	if spin {
		go func() {
			atomic.StoreInt32(&spinning, 1)
			last := time.Now()
			for atomic.LoadInt32(&stop) == 0 {
				t := time.Now()
				if gap := int64(t.Sub(last)); atomic.LoadInt32(&measuring) == 1 && gap > atomic.LoadInt64(&worst) {
					atomic.StoreInt64(&worst, gap)
				}
				last = t
			}
		}()
		for atomic.LoadInt32(&spinning) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	want := tasks + 1
	if spin {
		want++
	}
	if n := runtime.NumGoroutine(); n != want {
		fmt.Fprintf(os.Stderr, "dump: %d goroutines live, not %d\n", n, want)
		os.Exit(1)
	}
	p := pprof.Lookup("goroutine")
	p.WriteTo(io.Discard, level)
	var times []time.Duration
	atomic.StoreInt32(&measuring, 1)
	for r := 0; r < 5; r++ {
		t0 := time.Now()
		p.WriteTo(io.Discard, level)
		times = append(times, time.Since(t0))
	}
	atomic.StoreInt32(&measuring, 0)
	atomic.StoreInt32(&stop, 1)
	sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
	if spin {
		fmt.Printf("RESULT name=dump_%s_stall procs=%d value=%.3f unit=ms\n", which,
			runtime.GOMAXPROCS(0), float64(atomic.LoadInt64(&worst))/1e6)
	}
	fmt.Printf("RESULT name=dump_%s procs=%d value=%.3f unit=ms\n", which, runtime.GOMAXPROCS(0),
		float64(times[2].Nanoseconds())/1e6)
}

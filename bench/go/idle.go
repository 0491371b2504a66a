// idle: Go twin of bench/bench_idle.c. 1,000,000 goroutines alive at once,
// each blocked in release.Wait() on one shared sync.WaitGroup. Resident
// bytes per goroutine = (RSS once all are parked - RSS before the first
// spawn) / N, from /proc/self/statm. Then they are released and joined.
//
// usage: idle [goroutines]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}

func main() {
	tasks := int64(1000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			tasks = v
		}
	}
	var all, ready, release sync.WaitGroup
	release.Add(1)
	ready.Add(int(tasks))

	before := rss()
	t0 := time.Now()
	for i := int64(0); i < tasks; i++ {
		all.Add(1)
		go func() {
			ready.Done()
			release.Wait()
			all.Done()
		}()
	}
	ready.Wait()
	t1 := time.Now()
	time.Sleep(100 * time.Millisecond) // let the last ones reach Wait
	live := runtime.NumGoroutine() - 1
	after := rss()

	t2 := time.Now()
	release.Done()
	all.Wait()
	t3 := time.Now()
	if int64(live) < tasks {
		fmt.Fprintf(os.Stderr, "ERROR idle: only %d goroutines alive, expected %d\n", live, tasks)
		os.Exit(1)
	}
	if before < 0 || after < 0 {
		fmt.Fprintln(os.Stderr, "ERROR idle: cannot read /proc/self/statm")
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "idle: rss_before=%d rss_after=%d live=%d park_ms=%.1f release_ms=%.1f\n",
		before, after, live, float64(t1.Sub(t0).Nanoseconds())/1e6, float64(t3.Sub(t2).Nanoseconds())/1e6)
	fmt.Printf("RESULT name=idle procs=%d value=%.3f unit=bytes/task\n",
		runtime.GOMAXPROCS(0), float64(after-before)/float64(tasks))
}

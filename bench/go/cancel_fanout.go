// cancel_fanout: Go twin of bench/bench_cancel_fanout.c. 1,000,000
// goroutines each call ready.Done() and block on <-ctx.Done(); main waits
// for ready, sleeps 50 ms, then measures from cancel() until wg.Wait()
// returns. Prints ns per goroutine.
//
// usage: cancel_fanout [goroutines]
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := int64(1000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var ready, all sync.WaitGroup
	ready.Add(int(n))
	s0 := time.Now()
	for i := int64(0); i < n; i++ {
		all.Add(1)
		go func() {
			ready.Done()
			<-ctx.Done()
			all.Done()
		}()
	}
	ready.Wait()
	spawn := time.Since(s0)
	time.Sleep(50 * time.Millisecond)
	if live := int64(runtime.NumGoroutine()); live < n+1 {
		fmt.Fprintf(os.Stderr, "ERROR cancel_fanout: only %d goroutines alive, expected %d\n", live-1, n)
		os.Exit(1)
	}
	t0 := time.Now()
	cancel()
	all.Wait()
	elapsed := time.Since(t0)
	if ctx.Err() != context.Canceled {
		fmt.Fprintf(os.Stderr, "ERROR cancel_fanout: ctx.Err() = %v\n", ctx.Err())
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "cancel_fanout: spawn_ms=%.1f cancel_ms=%.1f\n",
		float64(spawn.Nanoseconds())/1e6, float64(elapsed.Nanoseconds())/1e6)
	fmt.Printf("RESULT name=cancel_fanout procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(n))
}

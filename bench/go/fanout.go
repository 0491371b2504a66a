// fanout: Go twin of bench/bench_fanout.c. A producer goroutine sends jobs
// 1..N on jobs; 8 worker goroutines each select on (<-jobs, <-done) and
// send 2*job+1 on results; main collects N results, checks the sum, closes
// done and waits for the workers and the producer. jobs and results have
// capacity 64; done is a chan struct{}. Prints ns per job.
//
// usage: fanout [jobs]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const workers = 8

func main() {
	n := int64(2000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	jobs := make(chan int64, 64)
	results := make(chan int64, 64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			for {
				select {
				case job := <-jobs:
					results <- 2*job + 1
				case <-done:
					wg.Done()
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		for j := int64(1); j <= n; j++ {
			jobs <- j
		}
		wg.Done()
	}()
	sum := int64(0)
	for i := int64(0); i < n; i++ {
		sum += <-results
	}
	elapsed := time.Since(t0)
	close(done)
	wg.Wait()
	if want := n*n + 2*n; sum != want {
		fmt.Fprintf(os.Stderr, "ERROR fanout: results sum to %d, expected %d\n", sum, want)
		os.Exit(1)
	}
	fmt.Printf("RESULT name=fanout procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(n))
}

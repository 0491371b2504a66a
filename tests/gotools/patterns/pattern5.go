// Seed pattern 5 in Go, the twin of examples/pattern5_leak.c: a worker pool
// without a shutdown (three workers, as there).
package main

import (
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"
)

var processed int64

func leak5() {
	jobs := make(chan int)
	for i := 0; i < 3; i++ {
		go func() {
			for range jobs { // waits forever
				atomic.AddInt64(&processed, 1)
			}
		}()
	}
	for j := 0; j < 10; j++ {
		jobs <- j
	}
	// never close(jobs)
}

func main() {
	leak5()
	time.Sleep(100 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}

// Seed pattern 2 in Go, the twin of examples/pattern2_leak.c: a receiver
// waiting for a close that never comes.
package main

import (
	"os"
	"runtime/pprof"
	"time"
)

var total int

func leak2() {
	ch := make(chan int)
	go func() {
		for v := range ch { // waits for close forever
			total += v
		}
	}()
	for i := 1; i <= 3; i++ {
		ch <- i
	}
	// forgot close(ch)
}

func main() {
	leak2()
	time.Sleep(100 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}

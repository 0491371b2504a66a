// pingpong: Go twin of bench/bench_pingpong.c. Two goroutines bounce a
// counter over two unbuffered channels: main sends i on ping and waits for
// i+1 on pong; the other goroutine receives, adds one and sends it back.
// Prints ns per round trip.
//
// usage: pingpong [round_trips]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	iters := int64(2000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			iters = v
		}
	}
	ping := make(chan int64)
	pong := make(chan int64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		wg.Done()
	}()
	t0 := time.Now()
	for i := int64(0); i < iters; i++ {
		ping <- i
		if v := <-pong; v != i+1 {
			fmt.Fprintf(os.Stderr, "ERROR pingpong: round trip %d came back as %d\n", i, v)
			os.Exit(1)
		}
	}
	elapsed := time.Since(t0)
	close(ping)
	wg.Wait()
	fmt.Printf("RESULT name=pingpong procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(iters))
}

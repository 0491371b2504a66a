// threadring: Go twin of bench/bench_threadring.c. 503 goroutines in a
// ring of unbuffered channels pass a token N times; the one that receives 0
// reports its number (must be N mod 503 + 1), then a stop token (-1) goes
// round once so that every goroutine returns. Prints ns per hop.
//
// usage: threadring [hops]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const ring = 503

func member(num int64, in <-chan int64, out chan<- int64, result chan<- int64, wg *sync.WaitGroup) {
	stopper := false
	for {
		token := <-in
		if token > 0 {
			out <- token - 1
		} else if token == 0 {
			result <- num
			out <- -1
			stopper = true
		} else {
			if !stopper {
				out <- -1
			}
			wg.Done()
			return
		}
	}
}

func main() {
	hops := int64(5000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			hops = v
		}
	}
	result := make(chan int64, 1)
	var chans [ring]chan int64
	for i := range chans {
		chans[i] = make(chan int64)
	}
	var wg sync.WaitGroup
	for i := 0; i < ring; i++ {
		wg.Add(1)
		go member(int64(i+1), chans[i], chans[(i+1)%ring], result, &wg)
	}
	t0 := time.Now()
	chans[0] <- hops
	winner := <-result
	elapsed := time.Since(t0)
	wg.Wait()
	if want := hops%ring + 1; winner != want {
		fmt.Fprintf(os.Stderr, "ERROR threadring: task %d got the last token, expected %d\n", winner, want)
		os.Exit(1)
	}
	fmt.Printf("RESULT name=threadring procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(hops))
}

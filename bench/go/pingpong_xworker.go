// pingpong_xworker: Go twin of bench/bench_pingpong_xworker.c, run with
// GOMAXPROCS=2. Two plain goroutines bounce a counter over two channels of
// capacity 1, each waiting by polling (select with default) and replying
// with a non-blocking send, calling runtime.Gosched after 1024 failed polls
// in a row, exactly as the C side does. Nothing pins them: Go decides where
// they run (runtime.LockOSThread would pin a goroutine to a thread, not to a
// P, and is not what the C side does). Prints ns per round trip.
//
// usage: pingpong_xworker [round_trips]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const spinYield = 1024

func pollRecv(c chan int64) int64 {
	fails := 0
	for {
		select {
		case v := <-c:
			return v
		default:
		}
		if fails++; fails == spinYield {
			fails = 0
			runtime.Gosched()
		}
	}
}

func pollSend(c chan int64, v int64) {
	fails := 0
	for {
		select {
		case c <- v:
			return
		default:
		}
		if fails++; fails == spinYield {
			fails = 0
			runtime.Gosched()
		}
	}
}

func main() {
	iters := int64(1000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			iters = v
		}
	}
	ping := make(chan int64, 1)
	pong := make(chan int64, 1)
	var wg sync.WaitGroup
	var elapsed time.Duration
	wg.Add(2)
	go func() {
		for i := int64(0); i < iters; i++ {
			pollSend(pong, pollRecv(ping)+1)
		}
		wg.Done()
	}()
	go func() {
		t0 := time.Now()
		for i := int64(0); i < iters; i++ {
			pollSend(ping, i)
			if v := pollRecv(pong); v != i+1 {
				fmt.Fprintf(os.Stderr, "ERROR pingpong_xworker: round trip %d came back as %d\n", i, v)
				os.Exit(1)
			}
		}
		elapsed = time.Since(t0)
		wg.Done()
	}()
	wg.Wait()
	fmt.Printf("RESULT name=pingpong_xworker procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(iters))
}

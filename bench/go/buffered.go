// buffered: Go twin of bench/bench_buffered.c. A producer goroutine sends
// 1..N on a channel of capacity 128 and closes it; main receives until it
// is closed and checks the sum and the count. Prints ns per element.
//
// usage: buffered [elements]
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
	n := int64(10000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	c := make(chan int64, 128)
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(1)
	go func() {
		for i := int64(1); i <= n; i++ {
			c <- i
		}
		close(c)
		wg.Done()
	}()
	sum, count := int64(0), int64(0)
	for v := range c {
		sum += v
		count++
	}
	elapsed := time.Since(t0)
	wg.Wait()
	if count != n || sum != n*(n+1)/2 {
		fmt.Fprintf(os.Stderr, "ERROR buffered: received %d values summing to %d, expected %d summing to %d\n",
			count, sum, n, n*(n+1)/2)
		os.Exit(1)
	}
	fmt.Printf("RESULT name=buffered procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(n))
}

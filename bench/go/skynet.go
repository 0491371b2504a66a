// skynet: Go twin of bench/bench_skynet.c. Same structure as the C side
// (tether has no channels yet): every inner node spawns 10 goroutines on its
// own sync.WaitGroup, they write into the parent's results[10], the parent
// waits and sums. 1,111,111 goroutines, no pool. Prints total ms and checks
// the sum (499999500000 for 1M leaves).
//
// usage: skynet [leaves]   (a power of 10)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func skynet(num, size int64, out *int64) {
	if size == 1 {
		*out = num
		return
	}
	var results [10]int64
	var wg sync.WaitGroup
	sub := size / 10
	for i := int64(0); i < 10; i++ {
		wg.Add(1)
		go child(num+i*sub, sub, &results[i], &wg)
	}
	wg.Wait()
	sum := int64(0)
	for _, r := range results {
		sum += r
	}
	*out = sum
}

func child(num, size int64, out *int64, wg *sync.WaitGroup) {
	skynet(num, size, out)
	wg.Done()
}

func main() {
	leaves := int64(1000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			leaves = v
		}
	}
	var sum int64 = -1
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(1)
	go child(0, leaves, &sum, &wg)
	wg.Wait()
	elapsed := time.Since(t0)
	if want := leaves * (leaves - 1) / 2; sum != want {
		fmt.Fprintf(os.Stderr, "ERROR skynet: sum is %d, expected %d\n", sum, want)
		os.Exit(1)
	}
	fmt.Printf("RESULT name=skynet procs=%d value=%.3f unit=ms\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/1e6)
}

// waitgroup: Go twin of bench/bench_waitgroup.c. One sync.WaitGroup,
// 1,000,000 goroutines: N times wg.Add(1) and go func() { ran[i]++;
// wg.Done() }(), then one wg.Wait(). Checks that every goroutine ran once.
// Prints ns per goroutine (add + go + done, the final wait included).
//
// usage: waitgroup [goroutines]
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
	n := int64(1000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	ran := make([]uint8, n)
	var wg sync.WaitGroup

	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		wg.Add(1)
		go func(i int64) {
			ran[i]++
			wg.Done()
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(t0)

	for i, v := range ran {
		if v != 1 {
			fmt.Fprintf(os.Stderr, "ERROR waitgroup: goroutine %d ran %d times\n", i, v)
			os.Exit(1)
		}
	}
	fmt.Printf("RESULT name=waitgroup procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(n))
}

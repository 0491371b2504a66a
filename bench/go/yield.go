// yield: Go twin of bench/bench_yield.c. Two goroutines call runtime.Gosched
// 2,000,000 times each; prints ns per yield (elapsed / total yields).
//
// usage: yield [yields_per_goroutine]
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
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			for i := int64(0); i < iters; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	fmt.Printf("RESULT name=yield procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(2*iters))
}

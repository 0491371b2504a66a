// select2: Go twin of bench/bench_select2.c. One goroutine runs a 2-case
// select over two channels of capacity 1 that are kept full: after each
// select it refills the channel it just drained with a non-blocking send
// (select with default, which must not take the default). Same checks as
// the C side. Prints ns per select, its refill included.
//
// usage: select2 [selects]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ERROR select2: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	n := int64(5000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	ch := [2]chan int64{make(chan int64, 1), make(chan int64, 1)}
	next := int64(0)
	for k := 0; k < 2; k++ {
		ch[k] <- next
		next++
	}
	sum := int64(0)
	var picks [2]int64
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		var k int
		var v int64
		select {
		case v = <-ch[0]:
			k = 0
		case v = <-ch[1]:
			k = 1
		}
		sum += v
		picks[k]++
		select {
		case ch[k] <- next:
		default:
			fail("refill of channel %d failed", k)
		}
		next++
	}
	elapsed := time.Since(t0)
	for k := 0; k < 2; k++ {
		select {
		case v := <-ch[k]:
			sum += v
		default:
			fail("channel %d is empty at the end", k)
		}
	}
	if want := (n + 2) * (n + 1) / 2; sum != want {
		fail("values sum to %d, expected %d", sum, want)
	}
	for k := 0; k < 2 && n >= 10000; k++ {
		if picks[k]*100 < n*45 || picks[k]*100 > n*55 {
			fail("case %d chosen %d times of %d", k, picks[k], n)
		}
	}
	fmt.Printf("RESULT name=select2 procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(n))
}

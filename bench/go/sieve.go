// sieve: Go twin of bench/bench_sieve.c, the concurrent prime sieve of the
// Go tour: a generator goroutine sends 2, 3, 4, ... on an unbuffered
// channel; main takes the next prime p from the end of the chain and adds a
// filter goroutine for p, 5,000 times. The primes are checked against a
// plain computation (the 5,000th is 48611). Prints total ms.
//
// usage: sieve [primes]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func generate(out chan<- int64) {
	for i := int64(2); ; i++ {
		out <- i
	}
}

func filter(in <-chan int64, out chan<- int64, prime int64) {
	for {
		i := <-in
		if i%prime != 0 {
			out <- i
		}
	}
}

func referencePrimes(n int64) []int64 {
	p := make([]int64, 0, n)
	for c := int64(2); int64(len(p)) < n; c++ {
		prime := true
		for _, q := range p {
			if q*q > c {
				break
			}
			if c%q == 0 {
				prime = false
				break
			}
		}
		if prime {
			p = append(p, c)
		}
	}
	return p
}

func main() {
	n := int64(5000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	want := referencePrimes(n)
	got := make([]int64, n)
	t0 := time.Now()
	ch := make(chan int64)
	go generate(ch)
	for i := int64(0); i < n; i++ {
		got[i] = <-ch
		next := make(chan int64)
		go filter(ch, next, got[i])
		ch = next
	}
	elapsed := time.Since(t0)
	for i := range got {
		if got[i] != want[i] {
			fmt.Fprintf(os.Stderr, "ERROR sieve: prime #%d is %d, expected %d\n", i+1, got[i], want[i])
			os.Exit(1)
		}
	}
	fmt.Printf("RESULT name=sieve procs=%d value=%.3f unit=ms\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/1e6)
}

// Seed pattern 3 in Go, the twin of examples/pattern3_leak.c: a goroutine
// waiting on itself.
package main

import (
	"os"
	"runtime/pprof"
	"time"
)

func leak3() {
	ch := make(chan int)
	go func() { ch <- <-ch }() // receives what it would send itself
}

func main() {
	leak3()
	time.Sleep(100 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}

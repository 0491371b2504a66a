// Seed pattern 1 in Go, the twin of examples/pattern1_leak.c: an abandoned
// sender. Prints the goroutine dump (debug=2) once the leak is in place.
package main

import (
	"os"
	"runtime/pprof"
	"time"
)

func leak1() {
	ch := make(chan int)
	go func() { ch <- 42 }() // blocks forever: nobody receives
}

func main() {
	leak1()
	time.Sleep(100 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}

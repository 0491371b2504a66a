// Seed pattern 6 in Go, the twin of examples/pattern6_leak.c: a leak on the
// error path only. The caller of leak6 is a request handler goroutine.
package main

import (
	"errors"
	"os"
	"runtime/pprof"
	"time"
)

func doExpensiveWork(fail bool) (int, error) {
	time.Sleep(time.Millisecond)
	if fail {
		return 0, errors.New("failed")
	}
	return 7, nil
}

func leak6(fail bool) {
	resultCh := make(chan int)
	go func() {
		result, err := doExpensiveWork(fail)
		if err != nil {
			return // resultCh never receives
		}
		resultCh <- result
	}()
	<-resultCh // blocks forever on the error path
}

func main() {
	go leak6(false) // success path: returns
	go leak6(true)  // error path: leaks
	time.Sleep(100 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
}

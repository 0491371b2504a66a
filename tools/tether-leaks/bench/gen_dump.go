// gen_dump: a Go program with N blocked goroutines in a dozen stacks (the
// seed's patterns at a few call depths), which writes the debug=2 dump of
// all its goroutines to FILE: the input of scripts/bench-analyzer.sh. The
// dump comes from runtime.Stack, as a SIGQUIT traceback does, because
// pprof's debug=2 writer stops at 64 MiB.
//
//	go run gen_dump.go N FILE
package main

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var (
	mu    sync.Mutex
	never = make(chan int)
	wg    sync.WaitGroup
)

func send(ch chan int) { ch <- 1 }
func recv(ch chan int) { <-ch }
func sel(a, b chan int) {
	select {
	case <-a:
	case <-b:
	}
}
func lock() { mu.Lock() }
func wait() { wg.Wait() }
func depth(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	depth(n-1, f)
}

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		panic(err)
	}
	mu.Lock()
	wg.Add(1)
	kinds := []func(){
		func() { send(make(chan int)) },
		func() { recv(never) },
		func() { sel(never, never) },
		func() { lock() },
		func() { wait() },
	}
	var started sync.WaitGroup
	for i := 0; i < n; i++ {
		f, d := kinds[i%len(kinds)], i%3
		started.Add(1)
		go func(id int) { started.Done(); depth(d*2, f) }(i)
	}
	started.Wait()
	for i := 0; i < 20; i++ {
		runtime.Gosched()
		time.Sleep(50 * time.Millisecond)
	}
	out, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 1024*(n+100))
	for {
		k := runtime.Stack(buf, true)
		if k < len(buf) {
			buf = buf[:k]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	if _, err := out.Write(buf); err != nil {
		panic(err)
	}
	out.Close()
}

// leaky: a Go program with each of the seed's leak patterns at known
// counts. It writes two snapshots, each in debug=2, debug=1 and pprof
// form (DIR/go-1.debug2, go-1.debug1, go-1.pb.gz, then go-2.*), leaking
// more of every pattern in between:
//
//	go run leaky.go DIR
//
// Every leaking goroutine is started on a line marked "// P:<pattern>";
// the test finds the line by its marker and expects the counts below.
package main

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// Per snapshot: how many of each pattern leak before it (the test's table
// in check_go.sh repeats these numbers).
var counts = map[string][2]int{
	"sender": {3, 4}, "receiver": {2, 2}, "selfwait": {1, 1}, "io": {2, 1},
	"pool": {10, 10}, "conditional": {1, 2}, "select": {3, 3}, "mutex": {3, 2},
	"waitgroup": {2, 1}, "cond": {2, 2},
}

var (
	mu   sync.Mutex
	cmu  sync.Mutex
	cond = sync.NewCond(&cmu)
	addr string
)

func leakSender() {
	ch := make(chan int)
	go func() { ch <- 42 }() // P:sender
}

func leakReceiver() {
	ch := make(chan int)
	go func() { <-ch }() // P:receiver
}

func leakSelfWait() {
	ch := make(chan int)
	go func() { ch <- <-ch }() // P:selfwait
}

func leakIO() {
	go func() { c, err := net.Dial("tcp", addr); if err == nil { c.Read(make([]byte, 1)) } }() // P:io
}

func leakPool(n int) {
	jobs := make(chan int)
	for i := 0; i < n; i++ {
		go func() { for range jobs { } }() // P:pool
	}
}

func work() (int, error) { return 0, fmt.Errorf("failed") }

func conditional() int {
	resultCh := make(chan int)
	go func() { r, err := work(); if err != nil { return }; resultCh <- r }()
	return <-resultCh
}

func leakConditional() {
	go func() { conditional() }() // P:conditional
}

func leakSelect() {
	a, b := make(chan int), make(chan int)
	go func() { select { case <-a: case <-b: } }() // P:select
}

func leakMutex() {
	go func() { mu.Lock() }() // P:mutex
}

func leakWaitGroup() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { wg.Wait() }() // P:waitgroup
}

func leakCond() {
	go func() { cmu.Lock(); cond.Wait(); cmu.Unlock() }() // P:cond
}

func snapshot(dir string, n int) {
	// Let every new goroutine reach its block.
	for i := 0; i < 50; i++ {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	for debug, ext := range []string{"pb.gz", "debug1", "debug2"} {
		f, err := os.Create(fmt.Sprintf("%s/go-%d.%s", dir, n, ext))
		if err != nil {
			panic(err)
		}
		if err := pprof.Lookup("goroutine").WriteTo(f, debug); err != nil {
			panic(err)
		}
		f.Close()
	}
}

func main() {
	dir := os.Args[1]
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr = l.Addr().String()
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // accepted, never written to
		}
	}()
	mu.Lock() // held for good: every leakMutex goroutine waits
	for phase := 0; phase < 2; phase++ {
		for p, c := range counts {
			for i := 0; i < c[phase]; i++ {
				switch p {
				case "sender":
					leakSender()
				case "receiver":
					leakReceiver()
				case "selfwait":
					leakSelfWait()
				case "io":
					leakIO()
				case "conditional":
					leakConditional()
				case "select":
					leakSelect()
				case "mutex":
					leakMutex()
				case "waitgroup":
					leakWaitGroup()
				case "cond":
					leakCond()
				}
			}
			if p == "pool" {
				leakPool(c[phase])
			}
		}
		snapshot(dir, phase+1)
	}
	_ = held
}

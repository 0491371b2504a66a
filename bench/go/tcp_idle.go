// tcp_idle: Go twin of bench/bench_tcp_idle.c. 10,000 idle TCP connections,
// each held by a goroutine blocked in Read. The client ends live in a child
// process (this program run again with "client"), so the resident memory
// measured here is the server side only: resident bytes per connection =
// (RSS once every reader is parked - RSS before the first accept) / N.
// Then the child closes its ends and every reader must see EOF.
//
// usage: tcp_idle [connections]
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "ERROR tcp_idle: "+format+"\n", a...)
	os.Exit(1)
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}

// The child: n plain connections, "connected" on stdout, then wait for
// stdin to close and exit (every end closes).
func client(addr string, n int64) {
	conns := make([]net.Conn, 0, n)
	for i := int64(0); i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			os.Exit(2)
		}
		conns = append(conns, c)
	}
	os.Stdout.Write([]byte{1})
	io.ReadAll(os.Stdin)
	os.Exit(0)
}

func main() {
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	rl.Cur = rl.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	if len(os.Args) > 3 && os.Args[1] == "client" {
		n, _ := strconv.ParseInt(os.Args[3], 10, 64)
		client(os.Args[2], n)
	}
	conns := int64(10000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			conns = v
		}
	}
	if int64(rl.Cur) < conns+100 {
		fail("RLIMIT_NOFILE %d is too low for %d connections", rl.Cur, conns)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	cmd := exec.Command(os.Args[0], "client", l.Addr().String(), strconv.FormatInt(conns, 10))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		fail("cannot start the client process: %v", err)
	}
	var parked, eofs int64
	var wg sync.WaitGroup
	before := rss()
	for i := int64(0); i < conns; i++ {
		c, err := l.Accept()
		if err != nil {
			fail("accept %d: %v", i, err)
		}
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			b := make([]byte, 1)
			atomic.AddInt64(&parked, 1)
			if _, err := c.Read(b); err == io.EOF {
				atomic.AddInt64(&eofs, 1)
			}
			c.Close()
		}(c)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(stdout, b); err != nil {
		fail("the client process did not connect")
	}
	for atomic.LoadInt64(&parked) < conns {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the last ones reach their Read
	after := rss()
	live := int64(runtime.NumGoroutine() - 1)
	stdin.Close()
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		fail("the client process failed: %v", err)
	}
	l.Close()
	if live < conns {
		fail("%d goroutines alive, expected %d", live, conns)
	}
	if eofs != conns {
		fail("%d readers saw EOF, expected %d", eofs, conns)
	}
	fmt.Fprintf(os.Stderr, "tcp_idle: %d connections held by %d parked goroutines, rss_before=%d rss_after=%d\n",
		conns, live, before, after)
	fmt.Printf("RESULT name=tcp_idle procs=%d value=%.3f unit=bytes/conn\n",
		runtime.GOMAXPROCS(0), float64(after-before)/float64(conns))
}

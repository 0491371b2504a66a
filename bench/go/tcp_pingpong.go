// tcp_pingpong: Go twin of bench/bench_tcp_pingpong.c. One TCP connection
// over loopback, a 64-byte message bounced between two goroutines (Go sets
// TCP_NODELAY by default): the client writes it, the server reads it whole
// and writes it back, the client reads it whole and checks it. Prints ns
// per round trip.
//
// usage: tcp_pingpong [round_trips]
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"time"
)

const msg = 64

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "ERROR tcp_pingpong: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	iters := int64(100000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			iters = v
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		c, err := l.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		buf := make([]byte, msg)
		for i := int64(0); i < iters; i++ {
			if _, err := io.ReadFull(c, buf); err != nil {
				fail("server read: %v", err)
			}
			if _, err := c.Write(buf); err != nil {
				fail("server write: %v", err)
			}
		}
		c.Close()
		close(done)
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		fail("connect: %v", err)
	}
	out, in := make([]byte, msg), make([]byte, msg)
	t0 := time.Now()
	for i := int64(0); i < iters; i++ {
		for j := range out {
			out[j] = byte(i)
		}
		if _, err := c.Write(out); err != nil {
			fail("client write: %v", err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			fail("client read: %v", err)
		}
		if !bytes.Equal(in, out) {
			fail("round trip %d came back different", i)
		}
	}
	t1 := time.Now()
	<-done
	c.Close()
	l.Close()
	fmt.Fprintf(os.Stderr, "tcp_pingpong: %d round trips of %d bytes checked\n", iters, msg)
	fmt.Printf("RESULT name=tcp_pingpong procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(t1.Sub(t0).Nanoseconds())/float64(iters))
}

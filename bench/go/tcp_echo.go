// tcp_echo: Go twin of bench/bench_tcp_echo.c. Echo throughput over
// loopback: 100 connections, each with a server goroutine (read 1 KiB
// whole, write it back) and a client goroutine that sends its 1 KiB
// messages one after the other and checks each echo byte for byte. Prints
// ns per message over all connections (1e9 / value is messages per second).
//
// usage: tcp_echo [messages_per_connection] [connections]
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const msg = 1024

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "ERROR tcp_echo: "+format+"\n", a...)
	os.Exit(1)
}

func arg(i int, dflt int64) int64 {
	if len(os.Args) > i {
		if v, err := strconv.ParseInt(os.Args[i], 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return dflt
}

func main() {
	msgs, conns := arg(1, 2000), arg(2, 100)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	var servers, clients sync.WaitGroup
	servers.Add(1)
	go func() {
		defer servers.Done()
		for i := int64(0); i < conns; i++ {
			c, err := l.Accept()
			if err != nil {
				fail("accept: %v", err)
			}
			servers.Add(1)
			go func(c net.Conn) {
				defer servers.Done()
				buf := make([]byte, msg)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						if err != io.EOF {
							fail("server read: %v", err)
						}
						break
					}
					if _, err := c.Write(buf); err != nil {
						fail("server write: %v", err)
					}
				}
				c.Close()
			}(c)
		}
	}()
	cs := make([]net.Conn, conns)
	for i := range cs {
		if cs[i], err = net.Dial("tcp", l.Addr().String()); err != nil {
			fail("connect: %v", err)
		}
	}
	var echoed int64
	t0 := time.Now()
	for k, c := range cs {
		clients.Add(1)
		go func(c net.Conn, k int64) {
			defer clients.Done()
			out, in := make([]byte, msg), make([]byte, msg)
			for i := int64(0); i < msgs; i++ {
				for j := range out {
					out[j] = byte(i + k)
				}
				out[0] = byte(i)
				if _, err := c.Write(out); err != nil {
					fail("client write: %v", err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					fail("client read: %v", err)
				}
				if !bytes.Equal(in, out) {
					fail("message %d came back different", i)
				}
				atomic.AddInt64(&echoed, 1)
			}
			c.(*net.TCPConn).CloseWrite()
			if n, err := c.Read(in[:1]); n != 0 || err != io.EOF {
				fail("bytes after the last echo")
			}
			c.Close()
		}(c, int64(k))
	}
	clients.Wait()
	t1 := time.Now()
	servers.Wait()
	l.Close()
	total := conns * msgs
	if echoed != total {
		fail("%d messages echoed, expected %d", echoed, total)
	}
	ns := float64(t1.Sub(t0).Nanoseconds()) / float64(total)
	fmt.Fprintf(os.Stderr, "tcp_echo: %d connections x %d messages of %d bytes, all echoed: %.0f msg/s\n",
		conns, msgs, msg, 1e9/ns)
	fmt.Printf("RESULT name=tcp_echo procs=%d value=%.3f unit=ns/msg\n", runtime.GOMAXPROCS(0), ns)
}

// Seed pattern 4 in Go, the twin of examples/pattern4_leak.c: I/O without a
// deadline. The "server" is the other end of a local socket pair: it takes
// the request and never answers.
package main

import (
	"net"
	"os"
	"runtime/pprof"
	"syscall"
	"time"
)

func leak4() *os.File {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		panic(err)
	}
	client, err := net.FileConn(os.NewFile(uintptr(fds[0]), "client"))
	if err != nil {
		panic(err)
	}
	go func() {
		client.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		buf := make([]byte, 256)
		client.Read(buf) // no timeout!
	}()
	return os.NewFile(uintptr(fds[1]), "server") // it never answers
}

func main() {
	server := leak4()
	time.Sleep(100 * time.Millisecond)
	pprof.Lookup("goroutine").WriteTo(os.Stdout, 2)
	server.Close()
}

// live: a Go 1.19 program for check_url.sh that serves net/http/pprof on
// 127.0.0.1 (the port is printed on stdout) and changes while it runs:
//   - every 200 ms two more goroutines are stuck sending on a channel nobody
//     reads (the seed's abandoned sender: one site that keeps growing);
//   - a pool of 4 workers waits on one channel for good (a steady site);
//   - a site that goes up and down: 0..5 goroutines sleeping briefly.
// /hang never answers (for the analyzer's --timeout).
package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"time"
)

func leak() {
	ch := make(chan int)
	go func() {
		ch <- 1 // P:grow
	}()
}

func worker(jobs chan int) {
	for range jobs { // P:steady
	}
}

func burst(n int) {
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(150 * time.Millisecond) // P:burst
		}()
	}
}

func main() {
	jobs := make(chan int)
	for i := 0; i < 4; i++ {
		go worker(jobs)
	}
	http.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	go func() {
		for i := 0; ; i++ {
			leak()
			leak()
			burst(i % 6)
			time.Sleep(200 * time.Millisecond)
		}
	}()
	http.Serve(ln, nil)
}

// http_client: the Go twin of bench/bench_http_client.c for
// scripts/bench-http.sh, against the same tether server (bench_http_hello).
//
//	GOMAXPROCS=2 http_client http://127.0.0.1:PORT [conns] [secs] [held]
//
// 1. Throughput: conns goroutines each send keep-alive GETs of / one after
// the other for secs seconds through one http.Client whose Transport keeps
// conns idle connections per host (MaxIdleConnsPerHost; the default of 2
// would close most of them) and allows held+conns+8 per host
// (MaxConnsPerHost, as the C side's max_in_flight).
// 2. Memory per in-flight request: held goroutines each GET /hold?ms=3000;
// once the server's /held counts all of them, the resident size is read
// again: (RSS then - RSS before) / held.
//
// Prints: CLIENT requests=N rps=R p50_us=A p99_us=B inflight_bytes=M
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const hello = "Hello, World!\n"
const holdMS = 3000

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "ERROR http_client: "+format+"\n", a...)
	os.Exit(1)
}

func arg(i int, dflt int) int {
	if len(os.Args) > i {
		if v, err := strconv.Atoi(os.Args[i]); err == nil && v > 0 {
			return v
		}
	}
	return dflt
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fail("cannot read /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func get(c *http.Client, url string) (int, string) {
	resp, err := c.Get(url)
	if err != nil {
		fail("GET %s: %v", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fail("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func main() {
	if len(os.Args) < 2 || !strings.HasPrefix(os.Args[1], "http://") {
		fail("usage: http_client http://HOST:PORT [conns] [secs] [held]")
	}
	base := os.Args[1]
	conns, secs, held := arg(2, 64), arg(3, 5), arg(4, 1000)
	c := &http.Client{Transport: &http.Transport{
		MaxConnsPerHost:     held + conns + 8,
		MaxIdleConnsPerHost: conns,
		MaxIdleConns:        conns,
	}, Timeout: 30 * time.Second}
	helloURL := base + "/"
	check := func(status int, body string) {
		if status != 200 || body != hello {
			fail("GET /: status %d, %d body bytes", status, len(body))
		}
	}

	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				check(get(c, helloURL))
			}
		}()
	}
	wg.Wait()

	// 1. Throughput.
	lat := make([][]int64, conns)
	t0 := time.Now()
	until := t0.Add(time.Duration(secs) * time.Second)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for time.Now().Before(until) {
				s := time.Now()
				check(get(c, helloURL))
				lat[i] = append(lat[i], int64(time.Since(s)))
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(t0)
	var all []int64
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		fail("no requests measured")
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	rps := float64(len(all)) / elapsed.Seconds()
	p50 := float64(all[len(all)/2]) / 1e3
	p99 := float64(all[len(all)*99/100]) / 1e3
	n := len(all)
	lat, all = nil, nil

	// 2. Memory per in-flight request.
	before := rss()
	var ok int64
	holdURL := fmt.Sprintf("%s/hold?ms=%d", base, holdMS)
	for i := 0; i < held; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := get(c, holdURL)
			if status != 200 || body != "held\n" {
				fail("GET /hold: status %d", status)
			}
			atomic.AddInt64(&ok, 1)
		}()
	}
	deadline := time.Now().Add((holdMS - 500) * time.Millisecond)
	for {
		_, body := get(c, base+"/held")
		k, _ := strconv.Atoi(strings.TrimSpace(body))
		if k >= held {
			break
		}
		if time.Now().After(deadline) {
			fail("only %d of %d requests reached the server in time", k, held)
		}
		time.Sleep(5 * time.Millisecond)
	}
	during := rss()
	wg.Wait()
	if ok != int64(held) {
		fail("%d of %d held requests came back", ok, held)
	}
	fmt.Printf("CLIENT requests=%d rps=%.0f p50_us=%.1f p99_us=%.1f inflight_bytes=%.0f\n",
		n, rps, p50, p99, float64(during-before)/float64(held))
}

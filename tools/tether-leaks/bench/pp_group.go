// pp_group: panicparse's parse and aggregation of a debug=2 dump, the
// comparison for scripts/bench-analyzer.sh. Its cheapest settings: no
// argument naming, no path guessing, no source analysis; goroutines whose
// calls differ only in argument values are one bucket (stack.AnyValue), as
// tether-leaks groups by default.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run pp_group.go FILE
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/maruel/panicparse/v2/stack"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	defer f.Close()
	opts := &stack.Opts{}
	snap, _, err := stack.ScanSnapshot(f, io.Discard, opts)
	if err != nil && err != io.EOF {
		panic(err)
	}
	agg := snap.Aggregate(stack.AnyValue)
	total := 0
	for _, b := range agg.Buckets {
		total += len(b.IDs)
	}
	fmt.Printf("%d goroutines in %d buckets\n", total, len(agg.Buckets))
}

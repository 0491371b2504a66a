// context_cancel: Go twin of bench/bench_context_cancel.c. N times
// context.WithCancel(parent) and cancel(), the parent being one cancellable
// context (the child is added to the parent's children and removed again);
// every 1,024th child is checked to report context.Canceled and a closed Done
// channel. Prints ns per WithCancel+cancel (the garbage collector frees the
// contexts, within the measured time). The same loop with
// context.Background() as the parent is timed first and printed on stderr.
//
// usage: context_cancel [contexts]
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func run(parent context.Context, n int64) float64 {
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		ctx, cancel := context.WithCancel(parent)
		cancel()
		if i&1023 == 0 {
			if ctx.Err() != context.Canceled {
				fmt.Fprintf(os.Stderr, "ERROR context_cancel: the cancelled context reports %v\n", ctx.Err())
				os.Exit(1)
			}
			select {
			case <-ctx.Done():
			default:
				fmt.Fprintf(os.Stderr, "ERROR context_cancel: the done channel of a cancelled context is not closed\n")
				os.Exit(1)
			}
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func main() {
	n := int64(2000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	bg := run(context.Background(), n)
	parent, cancelParent := context.WithCancel(context.Background())
	perOp := run(parent, n)
	if parent.Err() != nil {
		fmt.Fprintf(os.Stderr, "ERROR context_cancel: the parent was cancelled\n")
		os.Exit(1)
	}
	cancelParent()
	fmt.Fprintf(os.Stderr, "context_cancel: child of background %.1f ns, child of a cancellable parent %.1f ns\n",
		bg, perOp)
	fmt.Printf("RESULT name=context_cancel procs=%d value=%.3f unit=ns/op\n", runtime.GOMAXPROCS(0), perOp)
}

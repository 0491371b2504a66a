// ticker: Go twin of bench/bench_ticker.c. A time.NewTicker whose period
// (1 ns) is shorter than the delivery path, so a tick is always due:
// receive K ticks, print the overhead per tick beyond the ideal,
// (elapsed - K * period) / K. The tick times must lie between NewTicker and
// their receipt (unlike tether's they need not increase: with two Ps, two
// firings of one ticker can run at once and send out of order). Then, for information (stderr), a 50 µs ticker
// for 1,000 ticks: the mean interval between received ticks.
//
// usage: ticker [ticks]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

const (
	period     = 1 * time.Nanosecond
	slowPeriod = 50 * time.Microsecond
	slowTicks  = 1000
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ERROR ticker: "+format+"\n", args...)
	os.Exit(1)
}

// receiveTicks receives n ticks from a new ticker and returns the time from
// NewTicker to the n-th tick received.
func receiveTicks(d time.Duration, n int64) time.Duration {
	t0 := time.Now()
	tk := time.NewTicker(d)
	for i := int64(0); i < n; i++ {
		v := <-tk.C
		if v.Before(t0) || (i&1023 == 0 && v.After(time.Now())) {
			fail("tick %d carries time %v, outside [%v, now]", i, v, t0)
		}
	}
	elapsed := time.Since(t0)
	tk.Stop()
	return elapsed
}

func main() {
	n := int64(1000000)
	if len(os.Args) > 1 {
		if v, err := strconv.ParseInt(os.Args[1], 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	elapsed := receiveTicks(period, n)
	perOp := float64(elapsed.Nanoseconds()-n*period.Nanoseconds()) / float64(n)
	slow := receiveTicks(slowPeriod, slowTicks)
	fmt.Fprintf(os.Stderr, "ticker: %d ticks of %d ns: %.1f ns each; %d ticks of %d us: mean interval %.1f us\n",
		n, period.Nanoseconds(), float64(elapsed.Nanoseconds())/float64(n), slowTicks,
		slowPeriod.Microseconds(), float64(slow.Nanoseconds())/slowTicks/1000)
	if perOp <= 0 {
		fail("%d ticks of %v took only %v", n, period, elapsed)
	}
	fmt.Printf("RESULT name=ticker procs=%d value=%.3f unit=ns/op\n", runtime.GOMAXPROCS(0), perOp)
}

// spawn_join: Go twin of bench/bench_spawn_join.c. Spawns 2,000,000
// goroutines in batches of 10,000 (wg.Add(1); go work(); wg.Done; wg.Wait per
// batch); each increments its own slot. Prints ns per spawn+join.
//
// usage: spawn_join [tasks [batch]]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func arg(i int, dflt int64) int64 {
	if len(os.Args) > i {
		if v, err := strconv.ParseInt(os.Args[i], 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return dflt
}

func work(slot *int64, wg *sync.WaitGroup) {
	*slot += 1
	wg.Done()
}

func main() {
	tasks := arg(1, 2000000)
	batch := arg(2, 10000)
	slots := make([]int64, batch)
	var wg sync.WaitGroup

	t0 := time.Now()
	for done := int64(0); done < tasks; done += batch {
		n := batch
		if tasks-done < batch {
			n = tasks - done
		}
		for i := int64(0); i < n; i++ {
			wg.Add(1)
			go work(&slots[i], &wg)
		}
		wg.Wait()
	}
	elapsed := time.Since(t0)

	total := int64(0)
	for _, v := range slots {
		total += v
	}
	if total != tasks {
		fmt.Fprintf(os.Stderr, "ERROR spawn_join: %d tasks ran, expected %d\n", total, tasks)
		os.Exit(1)
	}
	fmt.Printf("RESULT name=spawn_join procs=%d value=%.3f unit=ns/op\n",
		runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(tasks))
}

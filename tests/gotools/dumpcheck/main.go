// dumpcheck reads a goroutine dump (debug=2) with the parsers Go developers
// use, panicparse's and goleak's, and fails unless both read every goroutine
// in it the same way. It then prints one line per goroutine, in id order:
//
//	id <TAB> state <TAB> first function <TAB> file:line of the first frame
//
// for the test script to compare (tests/gotools/run.sh).
//
// goleak's parser is internal to goleak and reads only runtime.Stack, so the
// test script copies it from the installed package into a package of its own
// ("goleakstack") with a hook that hands it a buffer instead (Parse).
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/maruel/panicparse/v2/stack"

	goleakstack "goleakstack"
)

var header = regexp.MustCompile(`(?m)^goroutine (\d+) \[`)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "dumpcheck: "+format+"\n", args...)
	os.Exit(1)
}

// goleakParse runs goleak's parser, turning its panics into errors.
func goleakParse(text []byte) (stacks []goleakstack.Stack, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("goleak's parser panicked: %v", r)
		}
	}()
	return goleakstack.Parse(text), nil
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: dumpcheck DUMP")
	}
	text, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	want := len(header.FindAll(text, -1))
	if want == 0 {
		fail("%s: no goroutine in the dump", os.Args[1])
	}

	opts := &stack.Opts{} // no path guessing, no source analysis: parse only
	snap, suffix, err := stack.ScanSnapshot(bytes.NewReader(text), io.Discard, opts)
	if err != nil && err != io.EOF {
		fail("panicparse: %v", err)
	}
	if snap == nil {
		fail("panicparse found no goroutine")
	}
	if len(snap.Goroutines) != want || len(bytes.TrimSpace(suffix)) != 0 {
		fail("panicparse read %d of %d goroutines; unread: %.200q", len(snap.Goroutines), want, suffix)
	}

	leak, err := goleakParse(text)
	if err != nil {
		fail("%v", err)
	}
	if len(leak) != want {
		fail("goleak's parser read %d of %d goroutines", len(leak), want)
	}

	byID := map[int]goleakstack.Stack{}
	for _, s := range leak {
		byID[s.ID()] = s
	}
	sort.Slice(snap.Goroutines, func(i, j int) bool { return snap.Goroutines[i].ID < snap.Goroutines[j].ID })
	for _, g := range snap.Goroutines {
		l, ok := byID[g.ID]
		if !ok {
			fail("goroutine %d: panicparse has it, goleak's parser not", g.ID)
		}
		if len(g.Stack.Calls) == 0 {
			fail("goroutine %d [%s]: no frame", g.ID, g.State)
		}
		first := g.Stack.Calls[0]
		if first.Func.Complete != l.FirstFunction() {
			fail("goroutine %d: first function %q (panicparse) vs %q (goleak)", g.ID, first.Func.Complete, l.FirstFunction())
		}
		if !strings.HasPrefix(l.State(), g.State) {
			fail("goroutine %d: state %q (panicparse) vs %q (goleak)", g.ID, g.State, l.State())
		}
		fmt.Printf("%d\t%s\t%s\t%s:%d\n", g.ID, g.State, first.Func.Complete, first.RemoteSrcPath, first.Line)
	}
}

// SPDX-License-Identifier: MIT

// Command go_patterns is the Go side of bench/pattern_bench.c: the pipeline patterns of the Go
// blog ("Go Concurrency Patterns: Pipelines and cancellation") written out plainly, with the
// same command line and the same output line, impl=go.
//
// Usage:
//
//	go_patterns bare cap= batch= n=
//	go_patterns pipeline_depth k= cap= batch= n= [stage=map|map_done|or_done] [slicecap=same|elems]
//	go_patterns map_scaling workers= fn=noop|spin1us|spin100us order=unordered|ordered cap= n= [window=]
//	go_patterns merge_fanin inputs= cap= n= [batch=1]
//
// The harness matches the C one: a producer goroutine sends 1..n into a channel of the row's
// capacity, the stages under test follow, main is the sink and checks the count, the sum and
// (where the row keeps it) the order. Every goroutine is started before the clock; the
// producers wait on a gate, the clock starts when it is closed and stops when the last output
// was closed. threads= is the most OS threads of the process seen in /proc/self/status while
// the sink ran (at 1/4, 1/2 and 3/4 of the elements). GOMAXPROCS is left at its default.
//
// batch > 1 moves []uint64 slices of batch elements instead of single values: the producer
// allocates a fresh slice per batch, a stage maps every element of the slice in place and
// forwards the slice, the sink walks it. Such a channel holds cap slices (slicecap=same, the
// default: make(chan []uint64, cap), so it buffers batch times more elements than chan's
// channel of capacity cap) or ceil(cap/batch) slices (slicecap=elems: about the same number
// of elements).
//
// Exit status: 0 on a run (or n/a), 1 when a check failed, 2 on a usage error.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	bench    string
	kStages  = 1
	capacity = 64
	batch    = 1
	nElems   = uint64(100000)
	workers  = 1
	inputs   = 2
	window   = 0
	fnName   = "noop"
	order    = "unordered"
	stage    = "map"
	sliceCap = "same"
	spinDur  time.Duration
)

func usage() {
	fmt.Fprint(os.Stderr, `usage: go_patterns bare cap= batch= n=
       go_patterns pipeline_depth k= cap= batch= n= [stage=map|map_done|or_done] [slicecap=same|elems]
       go_patterns map_scaling workers= fn=noop|spin1us|spin100us order=unordered|ordered cap= n= [window=]
       go_patterns merge_fanin inputs= cap= n= [batch=1]
`)
	os.Exit(2)
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go_patterns: "+bench+": "+format+"\n", args...)
	os.Exit(1)
}

// threadsNow returns the OS threads of this process (Threads: in /proc/self/status), or -1.
func threadsNow() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "Threads:") {
			t, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "Threads:")))
			if err == nil {
				return t
			}
		}
	}
	return -1
}

// ---- the callbacks: an identity, or a spin of spinDur, called through a func value as chan
// calls its chan_map_fn through a pointer ----

func ident(v uint64) uint64 { return v }

func spin(v uint64) uint64 {
	t := time.Now()
	for time.Since(t) < spinDur {
	}
	return v
}

// ---- producers: values first .. first+count-1, after the gate opens ----

func producer(out chan<- uint64, first, count uint64, gate <-chan struct{}) {
	<-gate
	for v := first; v < first+count; v++ {
		out <- v
	}
	close(out)
}

func producerSlices(out chan<- []uint64, first, count uint64, b int, gate <-chan struct{}) {
	<-gate
	end := first + count
	for v := first; v < end; {
		m := uint64(b)
		if end-v < m {
			m = end - v
		}
		s := make([]uint64, m)
		for i := range s {
			s[i] = v + uint64(i)
		}
		out <- s
		v += m
	}
	close(out)
}

// ---- the sink ----

type sinkResult struct {
	count, sum, prev uint64
	inOrder          bool
	threads          int
}

func (r *sinkResult) take(v uint64, n uint64) {
	r.sum += v
	if v != r.prev+1 {
		r.inOrder = false
	}
	r.prev = v
	r.count++
	if r.count == n/4 || r.count == n/2 || r.count == n*3/4 {
		if t := threadsNow(); t > r.threads {
			r.threads = t
		}
	}
}

func sink(c <-chan uint64, n uint64) sinkResult {
	r := sinkResult{inOrder: true, threads: -1}
	for v := range c {
		r.take(v, n)
	}
	return r
}

func sinkSlices(c <-chan []uint64, n uint64) sinkResult {
	r := sinkResult{inOrder: true, threads: -1}
	for s := range c {
		for _, v := range s {
			r.take(v, n)
		}
	}
	return r
}

func check(r sinkResult, n uint64, wantOrder bool) {
	var want uint64
	if n%2 == 0 {
		want = n / 2 * (n + 1)
	} else {
		want = n * ((n + 1) / 2)
	}
	if r.count != n || r.sum != want {
		die("received %d values summing to %d, want %d summing to %d", r.count, r.sum, n, want)
	}
	if wantOrder && !r.inOrder {
		die("values out of order")
	}
}

// ---- pipeline stages (the blog's sq, as identity stages) ----

// sq is the blog's first sq: a goroutine that ranges over in, sends f(v), closes out.
func sq[T any](in <-chan T, f func(T) T, c int) <-chan T {
	out := make(chan T, c)
	go func() {
		for v := range in {
			out <- f(v)
		}
		close(out)
	}()
	return out
}

// sqDone is the blog's sq with explicit cancellation: every send also selects on done.
func sqDone[T any](done <-chan struct{}, in <-chan T, f func(T) T, c int) <-chan T {
	out := make(chan T, c)
	go func() {
		defer close(out)
		for v := range in {
			select {
			case out <- f(v):
			case <-done:
				return
			}
		}
	}()
	return out
}

// orDone is the or-done channel of "Concurrency in Go": receive and send both select on done.
func orDone[T any](done <-chan struct{}, in <-chan T, c int) <-chan T {
	out := make(chan T, c)
	go func() {
		defer close(out)
		for {
			select {
			case <-done:
				return
			case v, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- v:
				case <-done:
					return
				}
			}
		}
	}()
	return out
}

func chain[T any](done <-chan struct{}, in <-chan T, f func(T) T, k, c int) <-chan T {
	for i := 0; i < k; i++ {
		switch stage {
		case "map":
			in = sq(in, f, c)
		case "map_done":
			in = sqDone(done, in, f, c)
		case "or_done":
			in = orDone(done, in, c)
		}
	}
	return in
}

// pipeline runs k identity stages (k == 0: bare, the producer straight into the sink).
func pipeline(k int) (time.Duration, sinkResult) {
	gate := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	var r sinkResult
	var t0 time.Time
	f := ident
	if batch <= 1 {
		src := make(chan uint64, capacity)
		go producer(src, 1, nElems, gate)
		out := chain(done, src, f, k, capacity)
		t0 = time.Now()
		close(gate)
		r = sink(out, nElems)
	} else {
		c := capacity
		if sliceCap == "elems" {
			c = (capacity + batch - 1) / batch
		}
		src := make(chan []uint64, c)
		go producerSlices(src, 1, nElems, batch, gate)
		mapSlice := func(s []uint64) []uint64 {
			for i := range s {
				s[i] = f(s[i])
			}
			return s
		}
		out := chain(done, src, mapSlice, k, c)
		t0 = time.Now()
		close(gate)
		r = sinkSlices(out, nElems)
	}
	return time.Since(t0), r
}

// ---- map_scaling: the blog's bounded parallelism (a fixed number of digesters) ----

// digesters: workers goroutines range over in and send f(v) straight to out; a goroutine
// closes out once every worker returned (sync.WaitGroup).
func digesters(in <-chan uint64, f func(uint64) uint64, w, c int) <-chan uint64 {
	out := make(chan uint64, c)
	var wg sync.WaitGroup
	wg.Add(w)
	for i := 0; i < w; i++ {
		go func() {
			for v := range in {
				out <- f(v)
			}
			wg.Done()
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

type seqItem struct {
	seq, v uint64
}

// orderedDigesters keeps input order with a bounded window, as CHAN_STAGE_ORDERED does: a
// numbering goroutine takes a window token (a buffered channel used as a semaphore) before it
// takes each input, tags it with its sequence number and hands it to the digesters; they send
// (seq, f(v)) to one reorder goroutine that keeps out-of-turn results in a ring of window
// slots, sends the next in turn, and gives its token back. So at most win items are taken from
// in and not yet sent, and they occupy distinct slots. Tagged and results have room for win
// items each (never a wait on them beyond the window's).
func orderedDigesters(in <-chan uint64, f func(uint64) uint64, w, c, win int) <-chan uint64 {
	tokens := make(chan struct{}, win)
	tagged := make(chan seqItem, win)
	results := make(chan seqItem, win)
	out := make(chan uint64, c)
	go func() {
		for seq := uint64(0); ; seq++ {
			tokens <- struct{}{}
			v, ok := <-in
			if !ok {
				break
			}
			tagged <- seqItem{seq, v}
		}
		close(tagged)
	}()
	var wg sync.WaitGroup
	wg.Add(w)
	for i := 0; i < w; i++ {
		go func() {
			for it := range tagged {
				results <- seqItem{it.seq, f(it.v)}
			}
			wg.Done()
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	go func() {
		val := make([]uint64, win)
		have := make([]bool, win)
		next := uint64(0)
		for r := range results {
			i := r.seq % uint64(win)
			val[i], have[i] = r.v, true
			for j := next % uint64(win); have[j]; j = next % uint64(win) {
				out <- val[j]
				have[j] = false
				next++
				<-tokens
			}
		}
		close(out)
	}()
	return out
}

func mapScaling() (time.Duration, sinkResult) {
	gate := make(chan struct{})
	f := ident
	if spinDur > 0 {
		f = spin
	}
	src := make(chan uint64, capacity)
	go producer(src, 1, nElems, gate)
	var out <-chan uint64
	if order == "ordered" {
		out = orderedDigesters(src, f, workers, capacity, window)
	} else {
		out = digesters(src, f, workers, capacity)
	}
	t0 := time.Now()
	close(gate)
	r := sink(out, nElems)
	return time.Since(t0), r
}

// ---- merge_fanin: the blog's merge, one goroutine per input and a sync.WaitGroup ----

func merge(cs []chan uint64, c int) <-chan uint64 {
	var wg sync.WaitGroup
	out := make(chan uint64, c)
	output := func(c <-chan uint64) {
		for v := range c {
			out <- v
		}
		wg.Done()
	}
	wg.Add(len(cs))
	for _, c := range cs {
		go output(c)
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out
}

func mergeFanin(n uint64) (time.Duration, sinkResult) {
	gate := make(chan struct{})
	per := n / uint64(inputs)
	ins := make([]chan uint64, inputs)
	for i := range ins {
		ins[i] = make(chan uint64, capacity)
		go producer(ins[i], 1+uint64(i)*per, per, gate)
	}
	out := merge(ins, capacity)
	t0 := time.Now()
	close(gate)
	r := sink(out, n)
	return time.Since(t0), r
}

func num(key, v string, lo, hi uint64) uint64 {
	x, err := strconv.ParseUint(v, 10, 64)
	if err != nil || x < lo || x > hi {
		fmt.Fprintf(os.Stderr, "go_patterns: %s=%s: want %d..%d\n", key, v, lo, hi)
		usage()
	}
	return x
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	bench = os.Args[1]
	for _, a := range os.Args[2:] {
		key, v, ok := strings.Cut(a, "=")
		if !ok {
			usage()
		}
		switch key {
		case "k":
			kStages = int(num(key, v, 1, 64))
		case "cap":
			capacity = int(num(key, v, 0, 1<<24))
		case "batch":
			batch = int(num(key, v, 1, 4096))
		case "n":
			nElems = num(key, v, 1, 1<<40)
		case "workers":
			workers = int(num(key, v, 1, 256))
		case "inputs":
			inputs = int(num(key, v, 1, 65536))
		case "window":
			window = int(num(key, v, 0, 1<<24))
		case "fn":
			fnName = v
		case "order":
			order = v
		case "stage":
			stage = v
		case "slicecap":
			sliceCap = v
		default:
			usage()
		}
	}
	switch fnName {
	case "noop":
	case "spin1us":
		spinDur = time.Microsecond
	case "spin100us":
		spinDur = 100 * time.Microsecond
	default:
		usage()
	}
	if (order != "unordered" && order != "ordered") ||
		(stage != "map" && stage != "map_done" && stage != "or_done") ||
		(sliceCap != "same" && sliceCap != "elems") {
		usage()
	}
	if window == 0 {
		window = 2 * workers
	}

	switch bench {
	case "bare":
		d, r := pipeline(0)
		check(r, nElems, true)
		s := d.Seconds()
		fmt.Printf("impl=go bench=bare cap=%d batch=%d n=%d secs=%.6f ns_per_elem=%.2f threads=%d\n",
			capacity, batch, nElems, s, s*1e9/float64(nElems), r.threads)
	case "pipeline_depth":
		d, r := pipeline(kStages)
		check(r, nElems, true)
		s := d.Seconds()
		fmt.Printf("impl=go bench=pipeline_depth stage=%s k=%d cap=%d batch=%d n=%d secs=%.6f"+
			" ns_per_elem=%.2f ns_per_elem_stage=%.2f threads=%d\n", stage, kStages, capacity,
			batch, nElems, s, s*1e9/float64(nElems), s*1e9/float64(nElems)/float64(kStages),
			r.threads)
	case "map_scaling":
		d, r := mapScaling()
		check(r, nElems, order == "ordered")
		s := d.Seconds()
		w := 0
		if order == "ordered" {
			w = window
		}
		fmt.Printf("impl=go bench=map_scaling workers=%d fn=%s order=%s cap=%d window=%d n=%d"+
			" secs=%.6f items_per_s=%.0f ns_per_item=%.2f threads=%d\n", workers, fnName, order,
			capacity, w, nElems, s, float64(nElems)/s, s*1e9/float64(nElems), r.threads)
	case "merge_fanin":
		per := nElems / uint64(inputs)
		if per == 0 {
			per = 1
		}
		n := per * uint64(inputs)
		if batch != 1 {
			// The blog's merge moves single values; chan's batch is its own burst size.
			fmt.Printf("impl=go bench=merge_fanin inputs=%d cap=%d batch=%d n=%d secs=n/a\n",
				inputs, capacity, batch, n)
			return
		}
		d, r := mergeFanin(n)
		check(r, n, false)
		s := d.Seconds()
		fmt.Printf("impl=go bench=merge_fanin inputs=%d cap=%d batch=%d n=%d secs=%.6f"+
			" msgs_per_s=%.0f ns_per_msg=%.2f threads=%d\n", inputs, capacity, batch, n, s,
			float64(n)/s, s*1e9/float64(n), r.threads)
	default:
		usage()
	}
}

// SPDX-License-Identifier: MIT

// The Go side of bench/limiter_bench.c: the same rows, arguments and output
// lines, on golang.org/x/time/rate (v0.3.0, Debian's
// golang-golang-x-time-dev) and golang.org/x/sync/semaphore (v0.1.0,
// golang-golang-x-sync-dev).
//
//	go_limiter [-n OPS] [-d MS] [-r REPEATS] ROW MODE THREADS
//
//	allow allowed T    T goroutines call lim.Allow() (which reads time.Now())
//	                   on one limiter of 1e9/s, burst 2^40: every call admitted
//	allow half T       the same at half the throughput of a calibration run
//	                   (allowed, T goroutines, half the ops), burst 64
//	accuracy - T       T goroutines call Allow() for MS ms on a limiter of
//	                   1e5/s, burst 1000: admitted vs burst + rate * (end -
//	                   start); at T = 1 the spurious rejections against a
//	                   lower bound of the bucket (see limiter_bench.c)
//	sem uncontended 1  one goroutine: Acquire(ctx, 1) + Release(1) on a
//	                   semaphore.NewWeighted(4)
//	sem contended T    T goroutines on the same
//
// Goroutines run with GOMAXPROCS at its default (every CPU). ns_per_op is
// wall time * threads / ops, as on the C side.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

const (
	accRate  = 1e5
	accBurst = 1000
	accEps   = 1e-3
)

var (
	nOps  = flag.Int64("n", 2000000, "ops per goroutine")
	accMs = flag.Int64("d", 300, "accuracy: run time in ms")
	reps  = flag.Int("r", 1, "runs")
)

// run starts threads goroutines of fn behind a gate and returns the wall
// time from the first one's start to the last one's end, as they read them.
func run(threads int, fn func(i int)) time.Duration {
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	t0 := make([]time.Time, threads)
	t1 := make([]time.Time, threads)
	ready.Add(threads)
	done.Add(threads)
	for i := 0; i < threads; i++ {
		go func(i int) {
			defer done.Done()
			ready.Done()
			<-gate
			t0[i] = time.Now()
			fn(i)
			t1[i] = time.Now()
		}(i)
	}
	ready.Wait()
	close(gate)
	done.Wait()
	first, last := t0[0], t1[0]
	for i := 1; i < threads; i++ {
		if t0[i].Before(first) {
			first = t0[i]
		}
		if t1[i].After(last) {
			last = t1[i]
		}
	}
	return last.Sub(first)
}

func line(name, mode string, threads int, ops int64, wall time.Duration, rejected float64) {
	ns := float64(wall.Nanoseconds())
	fmt.Printf("impl=go bench=%s mode=%s threads=%d ops=%d ns_per_op=%.2f mops=%.2f rejected=%.3f\n",
		name, mode, threads, ops, ns*float64(threads)/float64(ops), float64(ops)/ns*1e3, rejected)
}

func allowRun(lim *rate.Limiter, threads int, ops int64) (time.Duration, int64) {
	admitted := make([]int64, threads)
	wall := run(threads, func(i int) {
		var a int64
		for k := int64(0); k < ops; k++ {
			if lim.Allow() {
				a++
			}
		}
		admitted[i] = a
	})
	var sum int64
	for _, a := range admitted {
		sum += a
	}
	return wall, sum
}

func allowRow(half bool, threads int) {
	lim := rate.NewLimiter(1e9, 1<<40)
	mode := "allowed"
	if half {
		cal := *nOps / 2
		if cal < 1 {
			cal = 1
		}
		wall, _ := allowRun(lim, threads, cal)
		r := float64(cal) * float64(threads) / float64(wall.Nanoseconds()) * 1e9 / 2
		lim = rate.NewLimiter(rate.Limit(r), 64)
		mode = "half"
	}
	wall, admitted := allowRun(lim, threads, *nOps)
	ops := *nOps * int64(threads)
	line("limiter_allow", mode, threads, ops, wall, 1-float64(admitted)/float64(ops))
}

type accWorker struct {
	calls, admitted, spurious int64
	maxGap                    time.Duration
}

func accuracyRow(threads int) {
	start := time.Now()
	lim := rate.NewLimiter(accRate, accBurst)
	until := time.Now().Add(time.Duration(*accMs) * time.Millisecond)
	ws := make([]accWorker, threads)
	run(threads, func(i int) {
		w := &ws[i]
		model := float64(accBurst)
		var ref, prev time.Time
		for {
			tb := time.Now()
			if !tb.Before(until) {
				break
			}
			if !prev.IsZero() && tb.Sub(prev) > w.maxGap {
				w.maxGap = tb.Sub(prev)
			}
			prev = tb
			if !ref.IsZero() && tb.After(ref) {
				model += accRate * tb.Sub(ref).Seconds()
			}
			if model > accBurst {
				model = accBurst
			}
			ref = tb
			w.calls++
			if lim.Allow() {
				w.admitted++
				if model >= 1 {
					model--
				} else {
					model = 0
				}
				ref = time.Now()
			} else if model >= 1+accEps {
				w.spurious++
			}
		}
	})
	end := time.Now()
	var calls, admitted, spurious int64
	var gap time.Duration
	for _, w := range ws {
		calls += w.calls
		admitted += w.admitted
		spurious += w.spurious
		if w.maxGap > gap {
			gap = w.maxGap
		}
	}
	bound := accBurst + accRate*end.Sub(start).Seconds()
	sp := "n/a"
	if threads == 1 {
		sp = strconv.FormatInt(spurious, 10)
	}
	fmt.Printf("impl=go bench=limiter_accuracy mode=- threads=%d ms=%d rate=%.0f burst=%d calls=%d "+
		"admitted=%d bound=%.1f ratio=%.6f max_gap_us=%.0f spurious=%s\n",
		threads, *accMs, float64(accRate), accBurst, calls, admitted, bound,
		float64(admitted)/bound, float64(gap.Microseconds()), sp)
}

func semRow(contended bool, threads int) {
	s := semaphore.NewWeighted(4)
	ctx := context.Background()
	if !contended {
		threads = 1
	}
	wall := run(threads, func(int) {
		for k := int64(0); k < *nOps; k++ {
			if err := s.Acquire(ctx, 1); err != nil {
				panic(err)
			}
			s.Release(1)
		}
	})
	mode := "uncontended"
	if contended {
		mode = "contended"
	}
	line("sem_acquire", mode, threads, *nOps*int64(threads), wall, 0)
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: go_limiter [-n ops] [-d ms] [-r runs] "+
		"allow allowed|half T | accuracy - T | sem uncontended 1 | sem contended T\n")
	os.Exit(2)
}

func main() {
	flag.Parse()
	if flag.NArg() != 3 || *nOps < 1 || *accMs < 1 || *reps < 1 {
		usage()
	}
	row, mode := flag.Arg(0), flag.Arg(1)
	threads, err := strconv.Atoi(flag.Arg(2))
	if err != nil || threads < 1 || threads > 64 {
		usage()
	}
	for i := 0; i < *reps; i++ {
		switch {
		case row == "allow" && (mode == "allowed" || mode == "half"):
			allowRow(mode == "half", threads)
		case row == "accuracy":
			accuracyRow(threads)
		case row == "sem" && (mode == "uncontended" || mode == "contended"):
			semRow(mode == "contended", threads)
		default:
			usage()
		}
	}
}

// SPDX-License-Identifier: MIT

// Command go_pool is the Go side of bench/pool_bench.c (issue 8's pool_submit): n jobs
// submitted from one goroutine, run with at most `workers` at once, in one of two ways:
//
//	impl=errgroup  golang.org/x/sync/errgroup: errgroup.WithContext + SetLimit(workers), one
//	               g.Go per job (a goroutine per job; Go blocks while `workers` run); cap is
//	               ignored (there is no queue)
//	impl=chan      the hand-written pool: `workers` goroutines ranging over a jobs channel of
//	               capacity cap, a WaitGroup
//
// Usage:
//
//	go_pool pool_submit impl=errgroup|chan [workers=4] [cap=64] [n=1000000] [fn=noop|spin1us]
//
// As in the C harness, the pool's goroutines (impl=chan) exist before the clock starts; the
// clock covers the n submits and the wait for the last job. Job i stores 2*i into out[i]
// (fn=spin1us: after a 1 us spin on time.Now()); afterwards every slot is checked. One line:
// "impl=go_<impl> bench=pool_submit workers= cap= fn= n= secs= ns_per_job= jobs_per_s=".
// GOMAXPROCS is left at its default. Exit status: 0, 1 when a check failed, 2 on a usage error.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

var (
	impl     = "errgroup"
	workers  = 4
	capacity = 64
	n        = 1000000
	fnName   = "noop"
	spinDur  time.Duration
	out      []uint32
)

func usage() {
	fmt.Fprint(os.Stderr, "usage: go_pool pool_submit impl=errgroup|chan [workers=4] [cap=64] "+
		"[n=1000000] [fn=noop|spin1us]\n")
	os.Exit(2)
}

func job(i int) {
	if spinDur > 0 {
		t := time.Now()
		for time.Since(t) < spinDur {
		}
	}
	out[i] = uint32(2 * i)
}

func runErrgroup() time.Duration {
	t0 := time.Now()
	g, _ := errgroup.WithContext(context.Background())
	g.SetLimit(workers)
	for i := 0; i < n; i++ {
		i := i
		g.Go(func() error {
			job(i)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		fmt.Fprintln(os.Stderr, "go_pool: a job failed:", err)
		os.Exit(1)
	}
	return time.Since(t0)
}

func runChan() time.Duration {
	jobs := make(chan int, capacity)
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for i := range jobs {
				job(i)
			}
		}()
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return time.Since(t0)
}

func main() {
	if len(os.Args) < 2 || os.Args[1] != "pool_submit" {
		usage()
	}
	for _, a := range os.Args[2:] {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			usage()
		}
		var err error
		switch k {
		case "impl":
			impl = v
		case "workers":
			workers, err = strconv.Atoi(v)
		case "cap":
			capacity, err = strconv.Atoi(v)
		case "n":
			n, err = strconv.Atoi(v)
		case "fn":
			fnName = v
		default:
			usage()
		}
		if err != nil {
			usage()
		}
	}
	switch fnName {
	case "noop":
	case "spin1us":
		spinDur = time.Microsecond
	default:
		usage()
	}
	if workers < 1 || n < 1 || capacity < 0 || (impl != "errgroup" && impl != "chan") {
		usage()
	}
	out = make([]uint32, n)

	var d time.Duration
	if impl == "errgroup" {
		d = runErrgroup()
	} else {
		d = runChan()
	}
	for i := range out {
		if out[i] != uint32(2*i) {
			fmt.Fprintf(os.Stderr, "go_pool: job %d did not run\n", i)
			os.Exit(1)
		}
	}
	secs := d.Seconds()
	fmt.Printf("impl=go_%s bench=pool_submit workers=%d cap=%d fn=%s n=%d secs=%.6f "+
		"ns_per_job=%.2f jobs_per_s=%.0f\n", impl, workers, capacity, fnName, n, secs,
		float64(d.Nanoseconds())/float64(n), float64(n)/secs)
}

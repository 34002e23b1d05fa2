// SPDX-License-Identifier: MIT

// Command go_sched is the Go side of bench/sched_bench.c (issue 9): what a goroutine costs,
// with the same command line and output. Every bench runs in main's goroutine.
//
// Usage:
//
//	go_sched <bench> [n=N] [procs=P]
//
//	switch          two goroutines alternate with runtime.Gosched(); ns per switch (2n)
//	spawn           n times: wg.Add(1); go func() { wg.Done() }(); wg.Wait(); ns per goroutine
//	pingpong        two goroutines, two unbuffered channels; ns per round trip
//	xworker         A sends on a capacity-1 channel to B, parked in its receive, then spins on
//	                a select with default for B's reply, never giving its P up: B runs on the
//	                other P (procs=2), stolen from A's runnext; plus p50_ns and max_ns
//	xworker_thread  n/a: Go has no code outside its scheduler (secs=n/a)
//	park            n goroutines (default 1e6) block on one channel; close() wakes them all;
//	                VmHWM and Threads from /proc/self/status while all are parked, spawn_ns
//	                per goroutine, ns_per_op from the close until the last has exited
//	procs           GOMAXPROCS (0: Go's default)
//
// One line: "impl=go bench=<b> procs=<p> n=<n> secs=<s> ns_per_op=<x> [p50_ns= max_ns=]
// [rss_kib= threads= spawn_ns=]". Exit status: 0, 1 when a check failed, 2 on a usage error.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	n        = 0
	nsPerOp  float64
	secs     time.Duration
	p50, max = -1.0, -1.0
	spawnNs  = -1.0
	rssKiB   = int64(-1)
	threads  = int64(-1)
)

func usage() {
	fmt.Fprint(os.Stderr, "usage: go_sched switch|spawn|pingpong|xworker|xworker_thread|park "+
		"[n=N] [procs=P]\n")
	os.Exit(2)
}

func procStatus() {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fs[1], 10, 64)
		switch fs[0] {
		case "VmHWM:":
			rssKiB = v
		case "Threads:":
			threads = v
		}
	}
}

func runSwitch() {
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	secs = time.Since(t0)
	nsPerOp = float64(secs.Nanoseconds()) / float64(2*n)
}

func runSpawn() {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	secs = time.Since(t0)
	nsPerOp = float64(secs.Nanoseconds()) / float64(n)
}

func ponger(a <-chan uint64, b chan<- uint64, wg *sync.WaitGroup) {
	for i := 0; i < n; i++ {
		b <- <-a
	}
	wg.Done()
}

func runPingpong() {
	a, b := make(chan uint64), make(chan uint64)
	var wg sync.WaitGroup
	wg.Add(1)
	go ponger(a, b, &wg)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		a <- uint64(i)
		if <-b != uint64(i) {
			fmt.Fprintln(os.Stderr, "go_sched: pingpong: wrong value")
			os.Exit(1)
		}
	}
	secs = time.Since(t0)
	nsPerOp = float64(secs.Nanoseconds()) / float64(n)
	wg.Wait()
}

func runXworker() {
	a, b := make(chan uint64, 1), make(chan uint64, 1)
	var wg sync.WaitGroup
	rt := make([]float64, n)
	wg.Add(1)
	go ponger(a, b, &wg)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		t := time.Now()
		a <- uint64(i)
		var v uint64
	spin:
		for {
			select {
			case v = <-b:
				break spin
			default:
			}
		}
		if v != uint64(i) {
			fmt.Fprintln(os.Stderr, "go_sched: xworker: wrong value")
			os.Exit(1)
		}
		rt[i] = float64(time.Since(t).Nanoseconds())
	}
	secs = time.Since(t0)
	nsPerOp = float64(secs.Nanoseconds()) / float64(n)
	wg.Wait()
	sort.Float64s(rt)
	p50, max = rt[n/2], rt[n-1]
}

func runPark() {
	c := make(chan uint64)
	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			if _, ok := <-c; ok {
				panic("nobody sends")
			}
			exited.Done()
		}()
	}
	started.Wait()
	spawnNs = float64(time.Since(t0).Nanoseconds()) / float64(n)
	time.Sleep(100 * time.Millisecond) // the last few reach their receive
	procStatus()
	t0 = time.Now()
	close(c)
	exited.Wait()
	secs = time.Since(t0)
	nsPerOp = float64(secs.Nanoseconds()) / float64(n)
}

func main() {
	defaults := map[string]int{"switch": 5000000, "spawn": 1000000, "pingpong": 1000000,
		"xworker": 20000, "xworker_thread": 20000, "park": 1000000}
	if len(os.Args) < 2 {
		usage()
	}
	bench := os.Args[1]
	d, ok := defaults[bench]
	if !ok {
		usage()
	}
	n = d
	procs := 0
	for _, a := range os.Args[2:] {
		kv := strings.SplitN(a, "=", 2)
		if len(kv) != 2 {
			usage()
		}
		v, err := strconv.Atoi(kv[1])
		if err != nil {
			usage()
		}
		switch kv[0] {
		case "n":
			n = v
		case "procs":
			procs = v
		default:
			usage()
		}
	}
	if n < 1 {
		usage()
	}
	if procs > 0 {
		runtime.GOMAXPROCS(procs)
	}
	procs = runtime.GOMAXPROCS(0)
	fmt.Printf("impl=go bench=%s procs=%d n=%d ", bench, procs, n)
	switch bench {
	case "switch":
		runSwitch()
	case "spawn":
		runSpawn()
	case "pingpong":
		runPingpong()
	case "xworker":
		runXworker()
	case "xworker_thread":
		fmt.Println("secs=n/a")
		return
	case "park":
		runPark()
	}
	fmt.Printf("secs=%.6f ns_per_op=%.1f", secs.Seconds(), nsPerOp)
	if p50 >= 0 {
		fmt.Printf(" p50_ns=%.0f max_ns=%.0f", p50, max)
	}
	if rssKiB >= 0 {
		fmt.Printf(" rss_kib=%d threads=%d spawn_ns=%.1f", rssKiB, threads, spawnNs)
	}
	fmt.Println()
}

// SPDX-License-Identifier: MIT

// Command go is the "go" peer: crossbeam-channel's benchmark workloads on Go channels.
//
// Usage: go <scenario> <cap> <threads> <msgs>
//
//	scenario  seq | spsc | mpsc | mpmc | select_rx | select_both | pingpong | select_shared
//	cap       0 | 1 | N | unbounded   (N means a capacity of <msgs>)
//
// Prints one line: "impl=go scenario=... cap=... threads=... msgs=... secs=<s|n/a>", plus
// " ns_per_op=<x>" for pingpong (per round trip) and select_shared (per select of one
// worker). Go has no unbounded channel, so every unbounded row is n/a. Each "thread" is a
// goroutine; GOMAXPROCS is left at its default, the number of CPUs. Every receiver has a
// quota, as in crossbeam's benchmarks, so no close is needed; senders send 1..count and the
// receivers' sums are checked. Exit status: 0 on a run or n/a, 1 when a check failed, 2 on
// a usage error.
package main

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"sync"
	"time"
)

const impl = "go"

type msg = uint64

// tri returns 1 + 2 + ... + n modulo 2^64, like the receivers' sums.
func tri(n uint64) uint64 {
	if n%2 == 0 {
		return (n / 2) * (n + 1)
	}
	return n * ((n + 1) / 2)
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go peer: "+format+"\n", args...)
	os.Exit(1)
}

// A set of T channels for the select rows. Go's select has a fixed number of cases, so for
// T <= 4 (crossbeam's own setting) and T <= 8 the sets are padded with nil channels, which
// a select never picks (and skips cheaply); beyond 8, reflect.Select does the job, slower.
type chanSet struct {
	all []chan msg
	c4  [4]chan msg
	c8  [8]chan msg
}

func newChanSet(t, capacity int) *chanSet {
	s := &chanSet{all: make([]chan msg, t)}
	for i := range s.all {
		s.all[i] = make(chan msg, capacity)
		if i < 4 {
			s.c4[i] = s.all[i]
		}
		if i < 8 {
			s.c8[i] = s.all[i]
		}
	}
	return s
}

// recvAny receives one value from whichever channel of the set is ready.
func (s *chanSet) recvAny() msg {
	switch n := len(s.all); {
	case n <= 4:
		c := &s.c4
		select {
		case v := <-c[0]:
			return v
		case v := <-c[1]:
			return v
		case v := <-c[2]:
			return v
		case v := <-c[3]:
			return v
		}
	case n <= 8:
		c := &s.c8
		select {
		case v := <-c[0]:
			return v
		case v := <-c[1]:
			return v
		case v := <-c[2]:
			return v
		case v := <-c[3]:
			return v
		case v := <-c[4]:
			return v
		case v := <-c[5]:
			return v
		case v := <-c[6]:
			return v
		case v := <-c[7]:
			return v
		}
	default:
		cases := make([]reflect.SelectCase, n)
		for i, c := range s.all {
			cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)}
		}
		_, v, _ := reflect.Select(cases)
		return v.Interface().(msg)
	}
}

// sendAny sends v on whichever channel of the set has room (or a waiting receiver).
func (s *chanSet) sendAny(v msg) {
	switch n := len(s.all); {
	case n <= 4:
		c := &s.c4
		select {
		case c[0] <- v:
		case c[1] <- v:
		case c[2] <- v:
		case c[3] <- v:
		}
	case n <= 8:
		c := &s.c8
		select {
		case c[0] <- v:
		case c[1] <- v:
		case c[2] <- v:
		case c[3] <- v:
		case c[4] <- v:
		case c[5] <- v:
		case c[6] <- v:
		case c[7] <- v:
		}
	default:
		cases := make([]reflect.SelectCase, n)
		for i, c := range s.all {
			cases[i] = reflect.SelectCase{Dir: reflect.SelectSend, Chan: reflect.ValueOf(c),
				Send: reflect.ValueOf(v)}
		}
		reflect.Select(cases)
	}
}

// group runs goroutines and waits for them all.
type group struct{ wg sync.WaitGroup }

func (g *group) spawn(f func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}

func sender(c chan msg, count uint64) {
	for i := uint64(1); i <= count; i++ {
		c <- i
	}
}

func receiver(c chan msg, count uint64, sum *uint64) {
	var s uint64
	for i := uint64(0); i < count; i++ {
		s += <-c
	}
	*sum = s
}

// run executes one scenario and returns the wall time from channel creation to the last message and the
// count ns_per_op divides by; ok is false for a row that Go cannot run.
func run(scenario string, capacity, threads int, msgs uint64) (elapsed time.Duration, ops uint64, ok bool) {
	if capacity < 0 {
		return 0, 0, false // unbounded: Go has none
	}
	per := msgs / uint64(threads)
	var g group
	var t0 time.Time
	ops = msgs

	switch scenario {
	case "seq":
		// One goroutine fills the channel, then drains it: needs room for all msgs.
		if uint64(capacity) < msgs {
			return 0, 0, false
		}
		t0 = time.Now() // creation included, as in crossbeam's suite
		c := make(chan msg, capacity)
		var sum uint64
		for i := uint64(1); i <= msgs; i++ {
			c <- i
		}
		for i := uint64(0); i < msgs; i++ {
			sum += <-c
		}
		elapsed = time.Since(t0)
		if sum != tri(msgs) {
			die("seq: wrong sum of received values")
		}

	case "spsc", "mpsc", "mpmc":
		nsend, nrecv, sendCount, recvCount := 1, 1, msgs, msgs
		if scenario == "mpsc" {
			nsend, sendCount, recvCount = threads, per, per*uint64(threads)
		} else if scenario == "mpmc" {
			nsend, nrecv, sendCount, recvCount = threads, threads, per, per
		}
		t0 = time.Now() // creation included
		c := make(chan msg, capacity)
		sums := make([]uint64, nrecv)
		for i := 0; i < nrecv; i++ {
			sum := &sums[i]
			g.spawn(func() { receiver(c, recvCount, sum) })
		}
		for i := 0; i < nsend; i++ {
			g.spawn(func() { sender(c, sendCount) })
		}
		g.wg.Wait()
		elapsed = time.Since(t0)
		checkSums(sums, tri(sendCount)*uint64(nsend))

	case "select_rx":
		// T channels, each fed by its own sender; one receiver selects over all of them.
		t0 = time.Now() // creation included
		set := newChanSet(threads, capacity)
		sums := make([]uint64, 1)
		for _, c := range set.all {
			c := c
			g.spawn(func() { sender(c, per) })
		}
		g.spawn(func() {
			var s uint64
			for i := uint64(0); i < per*uint64(threads); i++ {
				s += set.recvAny()
			}
			sums[0] = s
		})
		g.wg.Wait()
		elapsed = time.Since(t0)
		checkSums(sums, tri(per)*uint64(threads))

	case "select_both":
		// T senders select-send on any of T channels; T receivers select-receive.
		t0 = time.Now() // creation included
		set := newChanSet(threads, capacity)
		sums := make([]uint64, threads)
		for i := 0; i < threads; i++ {
			g.spawn(func() {
				for v := uint64(1); v <= per; v++ {
					set.sendAny(v)
				}
			})
		}
		for i := 0; i < threads; i++ {
			sum := &sums[i]
			g.spawn(func() {
				var s uint64
				for n := uint64(0); n < per; n++ {
					s += set.recvAny()
				}
				*sum = s
			})
		}
		g.wg.Wait()
		elapsed = time.Since(t0)
		checkSums(sums, tri(per)*uint64(threads))

	case "pingpong":
		// A sends v on ab, B answers v+1 on ba: ROUNDS = msgs/10 serial round trips.
		rounds := msgs / 10
		if rounds == 0 {
			rounds = 1
		}
		ab, ba := make(chan msg, capacity), make(chan msg, capacity)
		var last msg
		t0 = time.Now()
		g.spawn(func() {
			var v msg
			for i := uint64(0); i < rounds; i++ {
				ab <- v
				v = <-ba
			}
			last = v
		})
		g.spawn(func() {
			for i := uint64(0); i < rounds; i++ {
				ba <- (<-ab) + 1
			}
		})
		g.wg.Wait()
		elapsed = time.Since(t0)
		if last != rounds {
			die("pingpong: lost a round trip")
		}
		ops = rounds

	case "select_shared":
		// Worker i selects ITERS = msgs/T times over {send on its private capacity-1
		// channel, receive from it, receive from one shared channel (capacity <cap>) that
		// nobody sends on or closes}; so each select fires one of the first two cases.
		shared := make(chan msg, capacity)
		bad := make([]bool, threads)
		t0 = time.Now()
		for w := 0; w < threads; w++ {
			w := w
			g.spawn(func() {
				priv := make(chan msg, 1)
				var next, sent, recvd, sum uint64 = 1, 0, 0, 0
				for i := uint64(0); i < per; i++ {
					select {
					case priv <- next:
						next++
						sent++
					case v := <-priv:
						sum += v
						recvd++
					case <-shared:
						bad[w] = true
					}
				}
				bad[w] = bad[w] || sent+recvd != per || sent-recvd > 1 || sum != tri(recvd)
			})
		}
		g.wg.Wait()
		elapsed = time.Since(t0)
		for _, b := range bad {
			if b {
				die("select_shared: a select fired the wrong case")
			}
		}
		ops = per

	default:
		return 0, 0, false
	}
	return elapsed, ops, true
}

func checkSums(sums []uint64, want uint64) {
	var got uint64
	for _, s := range sums {
		got += s
	}
	if got != want {
		die("wrong sum of received values (lost, doubled or corrupted messages)")
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go <seq|spsc|mpsc|mpmc|select_rx|select_both|pingpong|select_shared> "+
		"<0|1|N|unbounded> <threads> <msgs>")
	os.Exit(2)
}

func main() {
	if len(os.Args) != 5 {
		usage()
	}
	scenario, capArg := os.Args[1], os.Args[2]
	known := map[string]bool{"seq": true, "spsc": true, "mpsc": true, "mpmc": true, "select_rx": true,
		"select_both": true, "pingpong": true, "select_shared": true}
	threads, err1 := strconv.Atoi(os.Args[3])
	msgs, err2 := strconv.ParseUint(os.Args[4], 10, 64)
	if !known[scenario] || err1 != nil || err2 != nil || threads < 1 || threads > 256 ||
		msgs < uint64(threads) || msgs > 1<<31 {
		usage()
	}
	var capacity int
	switch capArg {
	case "0":
		capacity = 0
	case "1":
		capacity = 1
	case "N":
		capacity = int(msgs)
	case "unbounded":
		capacity = -1
	default:
		usage()
	}

	elapsed, ops, ok := run(scenario, capacity, threads, msgs)
	line := fmt.Sprintf("impl=%s scenario=%s cap=%s threads=%d msgs=%d secs=", impl, scenario, capArg,
		threads, msgs)
	switch {
	case !ok:
		line += "n/a"
	case scenario == "pingpong" || scenario == "select_shared":
		line += fmt.Sprintf("%.6f ns_per_op=%.1f", elapsed.Seconds(), float64(elapsed.Nanoseconds())/float64(ops))
	default:
		line += fmt.Sprintf("%.6f", elapsed.Seconds())
	}
	fmt.Println(line)
}

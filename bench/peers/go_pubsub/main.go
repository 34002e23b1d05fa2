// SPDX-License-Identifier: MIT

// The Go side of bench/pubsub_bench.c (same arguments, same output lines):
//
//	go_pubsub                                         the whole matrix, both impls
//	go_pubsub IMPL fanout SUBS PAYLOAD BURST COPIES   one run
//	go_pubsub IMPL churn RATE MSGS                    one run
//
// IMPL go_chan: the idiomatic fan-out, a channel per subscriber (capacity
// 256) behind a sync.RWMutex; Publish sends to each in turn and blocks on a
// full one; a burst sends its messages to one subscriber, then the next (as
// chan_pubsub_publish_burst). A goroutine per subscriber receives.
// IMPL go_seed: the seed's Publish, a goroutine per message and subscriber
// (go func(ch) { ch <- msg }(ch)); it has no bursts (burst 64 rows: n/a)
// and cannot close its channels, so receivers stop at their count.
// PAYLOAD 8 (uint64), 256 ([32]uint64) or ptr (a pointer to an object whose
// atomic reference count each copy increments and each receiver decrements,
// as the C side's clone/drop do). churn: 4 subscribers, payload 8, burst 1,
// and a goroutine adding and removing RATE subscribers per second (never
// read; the publisher skips them when full, like DROP_NEWEST).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const capacity = 256

type obj struct {
	refs int64
	v    uint64
}

type payload interface {
	uint64 | [32]uint64 | *obj
}

func mk[T payload](v uint64) T {
	var t T
	switch p := any(&t).(type) {
	case *uint64:
		*p = v
	case *[32]uint64:
		p[31] = v
	case **obj:
		*p = &obj{refs: 1, v: v}
	}
	return t
}

// clone: what a copy costs beyond the channel (a reference for ptr).
func clone[T payload](t T) {
	if o, ok := any(t).(*obj); ok {
		atomic.AddInt64(&o.refs, 1)
	}
}

func val[T payload](t T) uint64 {
	switch p := any(t).(type) {
	case uint64:
		return p
	case [32]uint64:
		return p[31]
	case *obj:
		v := p.v
		atomic.AddInt64(&p.refs, -1)
		return v
	}
	return 0
}

func release[T payload](t T) { // the publisher's own reference
	if o, ok := any(t).(*obj); ok {
		atomic.AddInt64(&o.refs, -1)
	}
}

type sub[T payload] struct {
	ch   chan T
	drop bool // churn subscribers: skipped when full
}

type publisher[T payload] struct {
	mu   sync.RWMutex
	subs []*sub[T]
}

func (p *publisher[T]) subscribe(capy int, drop bool) *sub[T] {
	s := &sub[T]{ch: make(chan T, capy), drop: drop}
	p.mu.Lock()
	p.subs = append(p.subs, s)
	p.mu.Unlock()
	return s
}

func (p *publisher[T]) unsubscribe(s *sub[T]) {
	p.mu.Lock()
	for i, x := range p.subs {
		if x == s {
			p.subs = append(p.subs[:i:i], p.subs[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
}

func (p *publisher[T]) publish(msgs []T) {
	p.mu.RLock()
	for _, s := range p.subs {
		for _, m := range msgs {
			if s.drop {
				select {
				case s.ch <- m:
					clone(m)
				default:
				}
				continue
			}
			clone(m)
			s.ch <- m
		}
	}
	p.mu.RUnlock()
}

// The seed's Publish.
func (p *publisher[T]) publishSeed(m T) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, s := range p.subs {
		clone(m)
		go func(ch chan T) { ch <- m }(s.ch)
	}
}

func run[T payload](impl, bench string, nsubs, burst int, msgs uint64, rate int, pname string) bool {
	p := &publisher[T]{}
	subs := make([]*sub[T], nsubs)
	for i := range subs {
		subs[i] = p.subscribe(capacity, false)
	}
	var wg sync.WaitGroup
	var got, sum uint64
	seed := impl == "go_seed"
	for _, s := range subs {
		wg.Add(1)
		go func(s *sub[T]) {
			defer wg.Done()
			var g, su uint64
			if seed {
				for g < msgs {
					su += val(<-s.ch)
					g++
				}
			} else {
				for m := range s.ch {
					su += val(m)
					g++
				}
			}
			atomic.AddUint64(&got, g)
			atomic.AddUint64(&sum, su)
		}(s)
	}
	stop := make(chan struct{})
	churned := make(chan float64, 1)
	if rate > 0 {
		go func() {
			t0 := time.Now()
			period := time.Second / time.Duration(rate)
			n := 0
			for {
				select {
				case <-stop:
					churned <- float64(n) / time.Since(t0).Seconds()
					return
				default:
				}
				if d := time.Until(t0.Add(time.Duration(n) * period)); d > 0 {
					time.Sleep(d)
					continue
				}
				p.unsubscribe(p.subscribe(16, true))
				n++
			}
		}()
	}
	buf := make([]T, burst)
	t0 := time.Now()
	for i := uint64(0); i < msgs; {
		k := uint64(burst)
		if k > msgs-i {
			k = msgs - i
		}
		for j := uint64(0); j < k; j++ {
			buf[j] = mk[T](i + j + 1)
		}
		if seed {
			p.publishSeed(buf[0])
		} else {
			p.publish(buf[:k])
		}
		for j := uint64(0); j < k; j++ {
			release(buf[j])
		}
		i += k
	}
	ch := 0.0
	if rate > 0 {
		close(stop)
		ch = <-churned
	}
	if !seed {
		for _, s := range subs {
			close(s.ch)
		}
	}
	wg.Wait()
	el := time.Since(t0)
	ns := float64(el.Nanoseconds())
	if rate < 0 {
		fmt.Printf("bench=%s impl=%s subs=%d payload=%s burst=%d msgs=%d copies=%d secs=%.3f ns_per_publish=%.1f ns_per_copy=%.2f\n",
			bench, impl, nsubs, pname, burst, msgs, got, el.Seconds(), ns/float64(msgs), ns/(float64(msgs)*float64(nsubs)))
	} else {
		fmt.Printf("bench=%s impl=%s rate=%d subs=%d msgs=%d secs=%.3f ns_per_publish=%.1f churned=%.0f\n",
			bench, impl, rate, nsubs, msgs, el.Seconds(), ns/float64(msgs), ch)
	}
	want := msgs * uint64(nsubs)
	if got != want || sum != msgs*(msgs+1)/2*uint64(nsubs) {
		fmt.Fprintf(os.Stderr, "go_pubsub: received %d of %d copies (or a wrong sum)\n", got, want)
		return false
	}
	return true
}

func fanout(impl string, nsubs int, pname string, burst int, copies uint64) bool {
	msgs := copies / uint64(nsubs)
	if msgs < 64 {
		msgs = 64
	}
	if impl == "go_seed" && burst != 1 {
		fmt.Printf("bench=pubsub_fanout impl=%s subs=%d payload=%s burst=%d msgs=%d copies=0 secs=n/a\n",
			impl, nsubs, pname, burst, msgs)
		return true
	}
	switch pname {
	case "8":
		return run[uint64](impl, "pubsub_fanout", nsubs, burst, msgs, -1, pname)
	case "256":
		return run[[32]uint64](impl, "pubsub_fanout", nsubs, burst, msgs, -1, pname)
	default:
		return run[*obj](impl, "pubsub_fanout", nsubs, burst, msgs, -1, pname)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go_pubsub [-q] | go_chan|go_seed fanout SUBS 8|256|ptr 1|64 COPIES | go_chan|go_seed churn RATE MSGS")
	os.Exit(2)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		usage()
	}
	return n
}

func main() {
	_ = runtime.GOMAXPROCS(0)
	a := os.Args[1:]
	ok := true
	switch {
	case len(a) == 6 && a[1] == "fanout":
		b := atoi(a[4])
		if (a[0] != "go_chan" && a[0] != "go_seed") || atoi(a[2]) < 1 || (b != 1 && b != 64) ||
			(a[3] != "8" && a[3] != "256" && a[3] != "ptr") {
			usage()
		}
		ok = fanout(a[0], atoi(a[2]), a[3], b, uint64(atoi(a[5])))
	case len(a) == 4 && a[1] == "churn":
		if a[0] != "go_chan" && a[0] != "go_seed" {
			usage()
		}
		ok = run[uint64](a[0], "pubsub_churn", 4, 1, uint64(atoi(a[3])), atoi(a[2]), "8")
	case len(a) <= 1:
		copies, churnMsgs := uint64(2000000), uint64(1000000)
		if len(a) == 1 {
			if a[0] != "-q" {
				usage()
			}
			copies, churnMsgs = 200000, 100000
		}
		for _, impl := range []string{"go_chan", "go_seed"} {
			for _, n := range []int{1, 4, 16, 64, 256, 1024} {
				for _, pn := range []string{"8", "256", "ptr"} {
					for _, b := range []int{1, 64} {
						ok = fanout(impl, n, pn, b, copies) && ok
					}
				}
			}
			for _, r := range []int{0, 1000, 10000} {
				ok = run[uint64](impl, "pubsub_churn", 4, 1, churnMsgs, r, "8") && ok
			}
		}
	default:
		usage()
	}
	if !ok {
		os.Exit(1)
	}
}

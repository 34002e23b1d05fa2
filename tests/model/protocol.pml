/* SPDX-License-Identifier: MIT */
/*
 * tests/model/protocol.pml - a Promela model of chan's blocking protocol:
 * the shared part (state and steps), included by the scenario models
 * buffered.pml (a), unbuffered.pml (b), select.pml (c), close.pml (d) and
 * lock.pml (the queue lock alone). tests/model/check.sh runs them with spin.
 *
 * MEMORY MODEL. Promela is sequentially consistent: each statement is one
 * step of one interleaving. The protocol's seq_cst operations (the ring's C1
 * and C2 CASes and chan__ring_close, the nwait RMW and loads, the re-check
 * loads,
 * the closed flag) are modelled as exactly that: one total order S over
 * them, which C11 guarantees. The point of the model is the protocol's
 * logic - "publish the waiter, then re-check the state" against "change the
 * state, then check for waiters" - not the acquire/release/relaxed accesses
 * around it (TSan and the comments in core/ cover those; the model assumes
 * them right). One relaxed access matters: unlink_entry's nwait decrement.
 * Every change of nwait is made under the channel lock, so happens-before
 * orders them all; a seq_cst load may then read a decrement made after the
 * one S gives it, which is the same as the load running a little later -
 * an interleaving the model has.
 *
 * WHAT EACH STEP STANDS FOR (functions, the labels C1/C2/S1/S2 of
 * ring/mpmc.h, L1/U1 of core/lock_pvt.h, and the eventcount steps
 * "prepare", "re-check", "commit" of core/waitq_pvt.h):
 *
 * The ring (ring/mpmc.h, ring/ring.c) as a linearizable FIFO of CAP slots:
 *   ring_push   ring_try_push (ring_try_push_mpmc): one step at C1 (the tail CAS; the copy
 *               and the R1 stamp store are folded into it), at S2 (the head
 *               load: full), or at the mark test (closed). A pop that meets a
 *               claimed, unpublished slot spins in the C code (stamp == head,
 *               tail != head): it never queues, so the fold loses no
 *               parking behaviour. Likewise a push at a slot still being
 *               emptied.
 *   ring_pop    ring_try_pop (ring_try_pop_mpmc): C2 (the head CAS; A2/R2 folded in) or S1
 *               (the tail load: empty, or closed and drained).
 *   chan_close  buffered: chan__ring_close, the seq_cst fetch_or of mark_bit into
 *               tail (closed[c], changed only in steps that own tail).
 *   ready()     the waiter's re-check, chan__buf_recv_ready/_send_ready
 *               (chan__ready() in a select): chan__ring_recv_ready's two
 *               seq_cst loads (tail with its mark, then head) and
 *               chan__ring_send_ready's (head, then tail, ring_count as
 *               ring.h computes it, laps included), two steps each;
 *               unbuffered, chan__unbuf_recv_ready/_send_ready (the partner
 *               queue's nwait, then closed).
 *
 * The queue lock (core/lock_pvt.h, core/lock.c; Drepper's mutex #3), full
 * in lock.pml (LOCK_FULL): chan__lock_acquire's L1 CAS 0->1;
 * chan__lock_slow's spin loop as "one CAS 0->1 that may win", then the L1
 * exchange(2) / chan__futex_wait(word, 2) loop; chan__lock_release's U1
 * exchange(0) and chan__futex_wake(word, 1) if it was 2 (waking any one
 * sleeper). The kernel's futex_wait is one atomic compare-and-block.
 * The scenario models use the lock as the mutex lock.pml shows it is, and
 * merge lock() into the step after it and unlock() into the step before it
 * (Lipton's reduction: an acquire commutes to the right of, and a release to
 * the left of, every other thread's step): the state space shrinks by an
 * order of magnitude and no interleaving that can matter is lost.
 *
 * The wait queues (core/waitq.c, core/waitq_pvt.h): a Promela channel per
 * queue (FIFO, like the list), nwait, and e->queued (inq[]):
 *   waitq_push   chan__waitq_push = "prepare": append, nwait++ (seq_cst RMW).
 *                One step: the list is private to the lock holder, only
 *                nwait is read without the lock.
 *   waitq_claim  chan__waitq_claim: per entry from the front, unlink_entry
 *                (unlink, nwait--) and then chan__waiter_claim (the CAS on
 *                sel), two steps, in the code's order.
 *   claim_all    chan__waitq_claim_all (chan_close), e->err = -EPIPE.
 *   notify       notify(): chan__waitq_has_waiters, the changer's seq_cst
 *                nwait load; notify_slow: lock, claim one, unlock, then
 *                chan__unpark outside the lock.
 *   waitq_remove chan__waitq_remove (if e->queued, unlink) under the lock:
 *                chan__unqueue(), one step.
 *
 * The waiter (core/park_pvt.h, core/park.c); each process owns one record:
 *   waiter_init  chan__waiter_init: sel = WAITING, futex IDLE.
 *   claim/abort  chan__waiter_claim / chan__waiter_abort: the CAS of sel
 *                from WAITING to the entry's token / to ABORTED.
 *   park()       chan__park_wait: the "due already" CAS IDLE->IDLE; the CAS
 *                IDLE->SLEEPING; chan__futex_wait(SLEEPING) as an atomic
 *                compare-and-block (the kernel's timeout only for a timed
 *                wait); the NOTIFIED re-load (the "notified:" store of IDLE
 *                folded in: nobody else writes the word before the next
 *                enqueue); on a timeout the CAS SLEEPING->IDLE. The spin
 *                phase (spin_until_notified) and the zero-budget yield only
 *                poll for NOTIFIED and leave as a failed CAS IDLE->SLEEPING
 *                does: not modelled.
 *   unpark()     chan__unpark: the waker_cpu store and exchange(NOTIFIED), one
 *                step (the waiter cannot return in between); then futex_wake
 *                if the old value was SLEEPING. The wake names an address
 *                only: the model lets it land on the owner's next wait, a
 *                spurious wake-up that park must (and does) survive.
 *   deadlines    a timed wait's "chan_now() >= deadline" is a nondeterministic
 *                choice at each check; once true it stays true.
 *
 * The operations (core/chan_buffered.c, chan_unbuffered.c, chan_close.c):
 *   wait_ready   (chan__wait_spin, a poll that queues nothing, left out) the
 *                deadline check; init + lock + waitq_push ("prepare") +
 *                unlock, one step; the RE-CHECK ready() with its seq_cst
 *                loads; if ready and chan__waiter_abort wins: chan__unqueue
 *                and retry the operation; else "commit": chan__park_withdraw
 *                (park; on a timeout abort; if the abort loses,
 *                chan__park(FOREVER) for the unpark that must follow, and
 *                retry; if it wins, chan__unqueue and -ETIMEDOUT).
 *   buf_send/buf_recv  ring_push / ring_pop; on success notify() the other
 *                side; full/empty: wait_ready, then retry.
 *   unbuf_op     lock; chan__pair_locked (the closed test, waitq_claim of a
 *                partner, the copy into/out of its entry, e->err = 0); unlock;
 *                chan__unpark(peer). Nobody: the chan__due check, then init +
 *                entry + waitq_push + unlock in the same critical section;
 *                chan__park_withdraw (as above; -ETIMEDOUT: chan__unqueue);
 *                return e->err.
 *   chan_close   buffered: chan__ring_close first; then lock; unbuffered: the
 *                closed test and store; claim_all of recvq and sendq; unlock;
 *                chan__wake_list.
 *   select       core/select.c, step by step in select.pml.
 *
 * CHECKED (every scenario):
 *   - TOUCH: a claimer touches a waiter (the CAS, the entry's fields, the
 *     unpark) only while live[w] (its owner is inside the call whose stack
 *     holds the record) and sel[w] is the claimer's token (not a later
 *     incarnation of the record);
 *   - nclaim[w] == 1 when a queued waiter returns, and every winning CAS
 *     asserts that none won before: exactly one claim per wait (the owner's
 *     abort or one claimer);
 *   - when a waiter returns none of its entries is queued, and its futex word
 *     is IDLE again (park.c's invariant: the one unpark was consumed);
 *   - conservation (got[] and sent[] in the scenarios): no value taken
 *     twice, none invented, and at the end none lost;
 *   - no invalid end state: the workloads are balanced, so a process still
 *     blocked when nothing else can move is a lost wake-up;
 *   - with -DNP, no non-progress cycle, without fairness: no execution loops
 *     forever without an operation completing (nobody spins instead of
 *     parking - issue 10's defect 1 in another guise).
 *
 * DEFECT FOUND BY THIS MODEL (fixed in commit fcefc24; the old code is now
 * the mutant MUT_TORN_READY, which check.sh requires spin to fail): a
 * receiver could sleep with a value in the ring. chan__ring_recv_ready()
 * (ring/ring.c) loaded tail, then head. With capacity >= 2, one sender and two receivers R1, R2:
 *   1. R1 and R2 find the ring empty and enter wait_ready (spin budget 0).
 *   2. The sender pushes v1 (C1); notify() loads recvq.nwait == 0: no wake.
 *   3. R1 queues (nwait 1) and re-checks: ready (v1). It has not yet run
 *      chan__waiter_abort.
 *   4. R2 queues (nwait 2) and re-checks: its tail load reads 1 ...
 *   5. ... the sender pushes v2 (tail 2), loads nwait == 2, and
 *      notify_slow's chan__waitq_claim claims the FIRST entry: R1's.
 *   6. R1's abort fails (claimed); chan__park_wait returns at once; R1
 *      retries and pops v1 (head 1).
 *   7. R2's head load reads 1: tail == head, "not ready"; R2 parks.
 * v2 is in the ring and R2 sleeps until some later push or close: the one
 * wake-up v2's push made was spent on R1, which its own re-check had
 * already sent back to the ring. The re-check's two loads are not one
 * instant: the tail it read is older than the pop that emptied the ring
 * again. The fix (now the code, and the model's default): load the waiters'
 * own word first and test what the operation itself tests -
 * chan__ring_recv_ready: head, then tail, ready if (tail & ~mark) != head;
 * chan__ring_send_ready: tail, then head, ready if (tail & ~mark) != head +
 * one_lap (ring_count() assumes a consistent pair, and a stale tail behind
 * a newer head makes it answer anything) - so that "not ready" holds at the
 * second load's instant (head <= tail <= head + one_lap, both only grow),
 * and every change after that instant sees this waiter in nwait. chan__ready() for a select's buffered case is the same function.
 * With the fix, check.sh's buffered-cap2 and buffered-cap2-2x2 pass, and so
 * did one-off runs that the old code failed: capacity 2 with two
 * senders and two receivers of two values each (35.5 million states),
 * capacity 2 with all four processes timed (2.7 million), capacity 2 and 3
 * with one sender of three values and three receivers (5.2 and 2.7
 * million); and, on the send side, capacity 2 with three timed senders and
 * one receiver (7.8 million). The send side's mirror of the defect (a
 * sender asleep with room) was not found in the configurations run against
 * the code (up to four senders and one receiver, capacity 2, 88 million
 * states), but its re-check has the same two-instant flaw.
 *
 * MUTANTS (-D flags; check.sh requires spin to find an error in each):
 *   MUT_NO_RECHECK      wait_ready / queue_and_wait skip the re-check
 *   MUT_NOTIFY_EARLY    the changer loads nwait before its ring RMW
 *   MUT_UNPARK_EARLY    the claimer unparks before writing the entry
 *   MUT_UNPARK_FIRST    waitq_claim unparks the waiter before its CAS
 *   MUT_ABORT_NOCHECK   a timed-out waiter ignores its abort's CAS result
 *   MUT_CLAIM_RACY      chan__waiter_claim as a load, then a store: no CAS
 *   MUT_FUTEX_STORE     park sets SLEEPING with a store, not a CAS
 *   MUT_FUTEX_NOATOMIC  futex_wait compares and blocks in two steps
 *   MUT_LOCK_EXCH1      chan__lock_slow takes the lock with exchange(1) after
 *                       a sleep (Drepper's mutex #2 mistake; lock.pml)
 *   MUT_LOCK_NOWAKE     chan__lock_release never calls futex_wake (lock.pml)
 *   MUT_CLOSE_LATE      chan_close wakes everyone before setting the mark
 *   MUT_UNBUF_SPLIT     unbuf_op pairs and queues in two critical sections
 *   MUT_SEL_NOUNQUEUE   select returns without unqueueing its other entry
 *   MUT_SPIN_READY      the re-check always says "ready": a waiter that spins
 *                       instead of parking (found by the -DNP check only)
 *
 * COVERAGE PROBES (-DREACH=n; check.sh requires spin to reach each): 1 a
 * re-check says ready but the abort loses to a claim; 2 a timed-out waiter's
 * abort loses to a claim; 3 the same in unbuf_op (the exchange counts);
 * 4 a claimer's CAS loses (the waiter aborted, or a select was claimed
 * through its other entry); 5 a stale futex_wake lands on a later wait;
 * 6 park's timeout CAS SLEEPING->IDLE loses to an unpark; 7 close claims a
 * waiter; 8 a select's re-check abort loses; 9 a select's timeout abort
 * loses; 10 a select woken for a buffered case finds its value taken and
 * starts over.
 *
 * NOT MODELLED: weak memory beyond the remark above; the spin and yield
 * phases; bursts (notify of n > 1); unbounded (list) channels and the other
 * ring flavours (their parking code is the same); more than two select cases,
 * send cases in a select, two cases on one channel; try_all_stable's double
 * collect (it repeats pass 1 before queueing; a non-blocking guarantee, not
 * parking - issue 10's defect 1 lives there and is outside this model);
 * spurious futex returns other than a stale wake (EINTR); chan_try_*
 * (deadline 0); capacities above 2 and more than four processes per run.
 */

/* ---- coverage probes -------------------------------------------------- */

/*
 * PROBE(n, cond): with -DREACH=n, an assertion that fails where cond holds,
 * so that spin proves the path reachable (check.sh's reach-* runs: a race
 * the properties are meant to cover, actually explored). Otherwise nothing.
 */
#ifdef REACH
#define PROBE(n, cond) assert(REACH != (n) || !(cond))
#else
#define PROBE(n, cond)
#endif

/* ---- constants -------------------------------------------------------- */

#define IDLE     0      /* PARK_IDLE */
#define SLEEPING 1      /* PARK_SLEEPING */
#define NOTIFIED 2      /* PARK_NOTIFIED */

#define WAITING  0      /* CHAN__SEL_WAITING */
#define ABORTED  1      /* CHAN__SEL_ABORTED */
#define TOK(e)   ((e) + 2)  /* the entry's address as a sel value */

#define R_OK       0
#define R_EPIPE    1
#define R_EAGAIN   2
#define R_TIMEDOUT 3
#define R_NONE     4    /* not decided yet */

#define OP_RECV 0
#define OP_SEND 1

#define NONE 255

/* Waiter record w owns entries E(w,0) and E(w,1) (a select's two cases). */
#define E(w, i)   ((w) * 2 + (i))
#define OWNER(e)  ((e) / 2)
#define CASEOF(e) ((e) % 2)
#define NE        (2 * NPROC)

/* Queue of channel c for waiters of op: recvq 2c, sendq 2c+1. */
#define QOF(c, op) ((c) * 2 + (op))

#define MAXP 6  /* processes, for the lock's sleeper flags */

/* ---- state ------------------------------------------------------------ */

/* Waiter records (struct chan__waiter), one per process, on its "stack". */
byte sel[NPROC];    /* WAITING, ABORTED or TOK(entry) */
byte fut[NPROC];    /* IDLE, SLEEPING, NOTIFIED */
bit  ks[NPROC];     /* asleep in the kernel's futex_wait on fut[w] */
bit  live[NPROC];   /* the record is in scope: its owner is inside the wait */
byte nclaim[NPROC]; /* successful CASes on sel since chan__waiter_init */

/* Entries (struct chan__wentry). */
byte eelem[NE];  /* elem: the sender's value / the receiver's buffer */
byte eerr[NE];   /* err, written by the claimer */
bit  inq[NE];    /* e->queued */

/* Channels. */
typedef sleepers { bit s[MAXP] };
byte lockw[NC];          /* chan__lock.word: 0, 1, 2 */
sleepers lks[NC];        /* LOCK_FULL: the kernel's sleepers on lockw[c] */
chan wq[2 * NC] = [NE] of { byte };
byte nw[2 * NC];         /* chan__waitq.nwait */
byte head[NC];
byte tail[NC];
bit  closed[NC];         /* ring: mark_bit of tail; unbuffered: c->closed */
byte ring[NC * CAP];

/* Conservation: got[v] receipts of value v, sent[v] sends that returned 0. */
byte got[NV + 1];
bit  sent[NV + 1];

/* Every process declares these scratch locals (inlines are macros). */
#define LOCALS \
	byte lk, st, v, r, wr, pr, fr, pe, t, h, cl, i, o; short nwl; \
	bit ok, rdy, expired, timed, more

/* ---- the waiter: core/park_pvt.h, core/park.c ------------------------ */

/* chan__waiter_init (the record is private until its entry is queued) */
inline waiter_init(w) {
	d_step {
		assert(!live[w] && fut[w] == IDLE && !ks[w]);
		sel[w] = WAITING; live[w] = 1; nclaim[w] = 0
	}
}

/* The owner leaves the call that owns the record (its stack frame goes). */
inline waiter_return(w, queued) {
	d_step {
		assert(!queued || nclaim[w] == 1);          /* exactly one claim */
		assert(fut[w] == IDLE);                     /* the unpark consumed */
		assert(!inq[E(w, 0)] && !inq[E(w, 1)]);     /* nothing still queued */
		live[w] = 0; sel[w] = WAITING; nclaim[w] = 0
	}
}

/* A claimer's access to entry e of a waiter it claimed. */
#define TOUCH(e) assert(live[OWNER(e)] && sel[OWNER(e)] == TOK(e))

/* chan__waiter_claim(w, token): the CAS WAITING -> TOK(e). ok: won. */
inline claim(e, ok) {
#ifdef MUT_CLAIM_RACY
	ok = (sel[OWNER(e)] == WAITING);
	if
	:: ok -> d_step { assert(live[OWNER(e)] && nclaim[OWNER(e)] == 0);
			  sel[OWNER(e)] = TOK(e); nclaim[OWNER(e)]++ }
	:: else -> skip
	fi
#else
	d_step {
		assert(live[OWNER(e)]);
		if
		:: sel[OWNER(e)] == WAITING ->
			assert(nclaim[OWNER(e)] == 0);
			sel[OWNER(e)] = TOK(e); nclaim[OWNER(e)]++; ok = 1
		:: else -> ok = 0
		fi
	}
#endif
}

/* chan__waiter_abort(w): the CAS WAITING -> ABORTED, by the owner. */
inline abort(w, ok) {
	d_step {
		if
		:: sel[w] == WAITING -> assert(nclaim[w] == 0);
			sel[w] = ABORTED; nclaim[w]++; ok = 1
		:: else -> ok = 0
		fi
	}
}

/* The deadline check chan_now() >= deadline of a timed wait: it may pass at
 * any check (nondeterministic), and once passed it stays passed. Local. */
inline due_check() {
	if
	:: timed && !expired -> expired = 1
	:: true -> skip
	fi
}

/*
 * chan__park_wait(w, deadline): pr = R_OK (unparked, NOTIFIED consumed) or
 * R_TIMEDOUT. tmd: the deadline is finite (timed, and not the FOREVER
 * re-park after a lost abort). Local decisions are folded into the shared
 * access that follows them.
 */
inline park(w, tmd, pr) {
	atomic {
		pr = R_NONE;
		if :: tmd -> due_check() :: else -> skip fi;
		if
		:: tmd && expired ->
			/* "Due already": CAS IDLE -> IDLE; failure: NOTIFIED. */
			if :: fut[w] == IDLE -> pr = R_TIMEDOUT
			   :: else -> fut[w] = IDLE; pr = R_OK fi
		:: else ->
			/* CAS IDLE -> SLEEPING; failure: NOTIFIED came first
			 * (and at "notified:" the store of IDLE, folded in:
			 * nobody else writes the word before our next enqueue). */
#ifdef MUT_FUTEX_STORE
			fut[w] = SLEEPING
#else
			if :: fut[w] == IDLE -> fut[w] = SLEEPING
			   :: else -> fut[w] = IDLE; pr = R_OK fi
#endif
		fi
	};
	do
	:: pr != R_NONE -> break
	:: else ->
		/* chan__futex_wait(&w->futex, SLEEPING, deadline). */
#ifdef MUT_FUTEX_NOATOMIC
		if
		:: fut[w] == SLEEPING -> ks[w] = 1; fr = R_OK
		:: else -> fr = R_EAGAIN
		fi;
#else
		d_step { if :: fut[w] == SLEEPING -> ks[w] = 1; fr = R_OK
			    :: else -> fr = R_EAGAIN fi };
#endif
		if
		:: fr == R_OK ->
			if
			:: ks[w] == 0 -> skip             /* futex_wake */
			:: d_step { tmd && ks[w] == 1 -> ks[w] = 0; fr = R_TIMEDOUT;
				    expired = 1 }        /* the kernel's timeout */
			fi
		:: else -> skip
		fi;
		/* Re-read: NOTIFIED (then the store of IDLE, folded in)? Else
		 * on a timeout (chan_now() >= deadline) the CAS SLEEPING ->
		 * IDLE. Else (a stale wake): wait again. */
		d_step {
			if
			:: fut[w] == NOTIFIED -> fut[w] = IDLE; pr = R_OK
			:: else ->
				if
				:: fr == R_TIMEDOUT || (tmd && fr != R_OK) -> pr = R_TIMEDOUT
				:: else -> PROBE(5, fr == R_OK)   /* a stale wake */
				fi
			fi;
			fr = 0
		};
		if
		:: pr == R_TIMEDOUT ->
			d_step { if :: fut[w] == SLEEPING -> fut[w] = IDLE
				    :: else -> PROBE(6, true); fut[w] = IDLE; pr = R_OK fi }
		:: else -> skip
		fi
	od
}

/* chan__unpark(w), w claimed through entry e: the waker_cpu store and the
 * exchange(NOTIFIED), then futex_wake if the word was SLEEPING. */
inline unpark(e) {
	d_step { TOUCH(e); lk = fut[OWNER(e)]; fut[OWNER(e)] = NOTIFIED };
	atomic {
		if
		:: lk == SLEEPING -> ks[OWNER(e)] = 0  /* futex_wake(&w->futex, 1) */
		:: else -> skip
		fi;
		lk = 0
	}
}

/* ---- the queue lock: core/lock_pvt.h, core/lock.c -------------------- */

/*
 * The scenario models use the lock as an abstract mutex - what lock.pml
 * checks that Drepper's mutex gives: mutual exclusion, and every waiter gets
 * it once it is free - and merge lock() into the step that follows it and
 * unlock() into the step before it where that is easy. That is Lipton's
 * reduction: an acquire commutes to the right and a release to the left of
 * every other process's step, so no interleaving that can matter is lost,
 * and the state space shrinks by more than an order of magnitude. lock.pml
 * builds with LOCK_FULL: the lock word and its futex calls.
 */
#ifdef LOCK_FULL
inline futex_wake_lock(c) {
	d_step {
		if
		:: lks[c].s[0] -> lks[c].s[0] = 0
		:: lks[c].s[1] -> lks[c].s[1] = 0
		:: lks[c].s[2] -> lks[c].s[2] = 0
		:: lks[c].s[3] -> lks[c].s[3] = 0
		:: lks[c].s[4] -> lks[c].s[4] = 0
		:: lks[c].s[5] -> lks[c].s[5] = 0
		:: else -> skip
		fi
	}
}

/* chan__lock_acquire + chan__lock_slow */
inline lock(c) {
	/* L1: CAS 0 -> 1 */
	d_step { if :: lockw[c] == 0 -> lockw[c] = 1; lk = 0 :: else -> lk = 1 fi };
	if
	:: lk != 0 ->
		/* chan__lock_slow: one of the spin loop's CAS 0 -> 1 may win. */
		if
		:: d_step { lockw[c] == 0 -> lockw[c] = 1; lk = 0 }
		:: true -> skip
		fi;
		do
		:: lk == 0 -> break
		:: else ->
#ifdef MUT_LOCK_EXCH1
			/* Drepper's mutex #2 mistake: after a sleep, take it as 1 */
			d_step { lk = lockw[c]; if :: fr -> lockw[c] = 1 :: else -> lockw[c] = 2 fi };
#else
			d_step { lk = lockw[c]; lockw[c] = 2 };  /* L1: exchange(2) */
#endif
			if
			:: lk == 0 -> break
			:: else ->
				/* chan__futex_wait(&word, 2): compare-and-block. */
				d_step { if :: lockw[c] == 2 -> lks[c].s[me] = 1 :: else -> skip fi };
				lks[c].s[me] == 0;
				fr = 1
			fi
		od
	:: else -> skip
	fi;
	lk = 0; fr = 0
}

/* chan__lock_release */
inline unlock(c) {
	d_step { lk = lockw[c]; lockw[c] = 0 };  /* U1: exchange(0) */
	if
#ifndef MUT_LOCK_NOWAKE
	:: lk == 2 -> futex_wake_lock(c)
#endif
	:: else -> skip
	fi;
	lk = 0
}
#else
inline lock(c) {
	lockw[c] == 0 -> lockw[c] = 1
}

inline unlock(c) {
	lockw[c] = 0
}
#endif

/* ---- wait queues: core/waitq.c --------------------------------------- */

/* chan__waitq_push: append; nwait++ (seq_cst RMW): the eventcount's
 * "prepare". One step: the list itself is private to the lock holder. */
inline waitq_push(q, e) {
	wq[q]!e; inq[e] = 1; nw[q]++
}

/* chan__waitq_remove */
inline waitq_remove(q, e) {
	if
	:: inq[e] -> wq[q]??eval(e); inq[e] = 0; nw[q]--
	:: else -> skip
	fi
}

/* unlink_entry on the queue's first entry, if any: t, more. */
inline unlink_first(q) {
	if
	:: nempty(wq[q]) -> wq[q]?t; inq[t] = 0; nw[q]--; more = 1
	:: empty(wq[q]) -> more = 0
	fi
}

/*
 * chan__waitq_claim(q, NULL), lock held: pe = the claimed entry or NONE.
 * The caller has done the first unlink_first(q), merged with its lock().
 * Per entry, as in the code: unlink (nwait--, relaxed), then the CAS.
 */
inline waitq_claim(q, pe) {
	pe = NONE;
	do
	:: more ->
#ifdef MUT_UNPARK_FIRST
		d_step { lk = fut[OWNER(t)]; fut[OWNER(t)] = NOTIFIED };
		atomic { if :: lk == SLEEPING -> ks[OWNER(t)] = 0 :: else -> skip fi; lk = 0 };
#endif
		claim(t, ok);                                      /* the CAS on sel */
		PROBE(4, !ok);               /* aborted, or claimed through another entry */
		if
		:: ok -> atomic { pe = t; t = 0; ok = 0; more = 0; break }
		:: else -> atomic { t = 0; unlink_first(q) }       /* the next one */
		fi
	:: else -> break
	od
}

/* chan__waitq_claim_all(q, err, &wake), lock held: the claimed entries into
 * the bitmask wl (the order of the wake list does not matter). The caller
 * has done the first unlink_first(q). */
inline claim_all(q, err, wl) {
	do
	:: more ->
		atomic {
			claim(t, ok);
			if
			:: ok -> TOUCH(t); eerr[t] = err; wl = wl | (1 << t); PROBE(7, true)
			:: else -> skip
			fi;
			ok = 0
		};
		atomic { t = 0; unlink_first(q) }
	:: else -> break
	od
}

/* chan__wake_list */
inline wake_list(wl) {
	i = 0;
	do
	:: i < NE && (wl & (1 << i)) -> wl = wl & ~(1 << i); unpark(i); i++
	:: i < NE && !(wl & (1 << i)) -> i++
	:: i == NE -> break
	od;
	i = 0
}

/* ---- the ring (linearizable steps, see the header) ------------------- */

inline ring_push(c, val, st) {
	d_step {
		if
		:: closed[c] -> st = R_EPIPE                               /* mark bit */
		:: !closed[c] && tail[c] - head[c] == CAP -> st = R_EAGAIN /* S2 */
		:: else -> ring[c * CAP + tail[c] % CAP] = val; tail[c]++; st = R_OK /* C1 */
		fi
	}
}

inline ring_pop(c, st, val) {
	d_step {
		if
		:: head[c] != tail[c] -> val = ring[c * CAP + head[c] % CAP];
			ring[c * CAP + head[c] % CAP] = 0; head[c]++; st = R_OK   /* C2 */
		:: else -> if :: closed[c] -> st = R_EPIPE :: else -> st = R_EAGAIN fi /* S1 */
		fi
	}
}

/* ring_count(head, tail) of ring.h, on model positions (lap = pos / CAP). */
#define RCOUNT(h, t) \
	((h) % CAP < (t) % CAP -> (t) % CAP - (h) % CAP : \
	 ((h) % CAP > (t) % CAP -> CAP - (h) % CAP + (t) % CAP : \
	  ((t) == (h) -> 0 : CAP)))

/* The waiter's re-check, chan__ready(c, op): rdy. Two seq_cst loads. */
inline ready(c, op, rdy) {
#ifdef MUT_SPIN_READY
	rdy = 1
#else
	if
#ifdef MUT_TORN_READY
	/* The defect this model found (before commit fcefc24): the changers'
	 * word first, and a count from two loads taken apart. */
	:: BUFFERED(c) && op == OP_RECV ->      /* chan__ring_recv_ready: tail, head */
		d_step { t = tail[c]; cl = closed[c] };
		d_step { h = head[c]; rdy = cl || t != h; t = 0; h = 0; cl = 0 }
	:: BUFFERED(c) && op == OP_SEND ->      /* chan__ring_send_ready: head, tail */
		h = head[c];
		d_step { t = tail[c]; cl = closed[c];
			 rdy = cl || RCOUNT(h, t) < CAP; t = 0; h = 0; cl = 0 }
#else
	/* chan__ring_recv_ready / chan__ring_send_ready as they are: load the
	 * waiters' own side's word first, then the changers' word, and test
	 * exactly what the operation tests (pop:
	 * tail == head; push: tail == head + one_lap, not ring_count(), which
	 * assumes a consistent pair), so that "not ready" is true at the
	 * second load's instant. */
	:: BUFFERED(c) && op == OP_RECV ->      /* head, then tail */
		h = head[c];
		d_step { t = tail[c]; cl = closed[c]; rdy = cl || t != h; t = 0; h = 0; cl = 0 }
	:: BUFFERED(c) && op == OP_SEND ->      /* tail, then head */
		d_step { t = tail[c]; cl = closed[c] };
		d_step { h = head[c]; rdy = cl || t != h + CAP; t = 0; h = 0; cl = 0 }
#endif
	:: !BUFFERED(c) ->                      /* partner's nwait, then closed */
		if
		:: nw[QOF(c, 1 - op)] != 0 -> rdy = 1
		:: else -> rdy = closed[c]
		fi
	fi
#endif
}

/* ---- buffered: core/chan_buffered.c ---------------------------------- */

/* notify_slow(c, q, 1): lock; claim one; unlock; unpark outside the lock. */
inline notify_slow(c, q) {
	atomic { lock(c); unlink_first(q) };
	waitq_claim(q, pe);
	unlock(c);
	if
	:: pe != NONE -> unpark(pe); pe = 0
	:: else -> pe = 0
	fi
}

/* notify(c, q, 1): only if chan__waitq_has_waiters (the seq_cst load). */
inline notify(c, q) {
	if
	:: nw[q] == 0 -> skip
	:: else -> notify_slow(c, q)
	fi
}

/* chan__unqueue(c, q, e): lock; chan__waitq_remove; unlock. */
inline unqueue(c, q, e) {
	atomic { lock(c); waitq_remove(q, e); unlock(c) }
}

/*
 * wait_ready(c, q, ready, deadline) for process me, op on channel c:
 * wr = R_OK (retry the operation) or R_TIMEDOUT.
 */
inline wait_ready(c, op) {
	atomic {
		wr = R_OK;
		if
		:: timed -> due_check(); if :: expired -> wr = R_TIMEDOUT :: else -> skip fi
		:: else -> skip
		fi
	};
	if
	:: wr == R_OK ->
		/* init; lock; chan__waitq_push (prepare); unlock */
		atomic { waiter_init(me); lock(c); waitq_push(QOF(c, op), E(me, 0)); unlock(c) };
		rdy = 0;
#ifndef MUT_NO_RECHECK
		ready(c, op, rdy);                         /* the re-check */
#endif
		if
		:: rdy -> abort(me, ok); PROBE(1, !ok)   /* claimed meanwhile */
		:: else -> ok = 0
		fi;
		if
		:: rdy && ok -> unqueue(c, QOF(c, op), E(me, 0))
		:: else ->
			park(me, timed, pr);               /* commit */
			if
			:: pr == R_TIMEDOUT ->
				abort(me, ok);
#ifdef MUT_ABORT_NOCHECK
				ok = 1;
#endif
				PROBE(2, !ok);       /* a claim won the race */
				if
				:: ok -> unqueue(c, QOF(c, op), E(me, 0)); wr = R_TIMEDOUT
				:: else -> park(me, 0, pr)    /* the claim's unpark */
				fi
			:: else -> skip
			fi
		fi;
		atomic { waiter_return(me, 1); rdy = 0; ok = 0; pr = 0 }
	:: else -> skip
	fi
}

/* buf_send(c, val, deadline): r = R_OK, R_EPIPE or R_TIMEDOUT. */
inline buf_send(c, val) {
	r = R_NONE;
	do
	:: r != R_NONE -> break
	:: else ->
#ifdef MUT_NOTIFY_EARLY
		nwl = nw[QOF(c, OP_RECV)];
#endif
		ring_push(c, val, st);                     /* C1 */
		if
		:: st == R_OK ->
#ifdef MUT_NOTIFY_EARLY
			if :: nwl != 0 -> notify_slow(c, QOF(c, OP_RECV)) :: else -> skip fi;
			nwl = 0;
#else
			notify(c, QOF(c, OP_RECV));
#endif
			r = R_OK
		:: st == R_EPIPE -> r = R_EPIPE
		:: st == R_EAGAIN ->
			wait_ready(c, OP_SEND);
			if :: wr == R_TIMEDOUT -> r = R_TIMEDOUT :: else -> skip fi;
			wr = 0
		fi;
		st = 0
	od
}

/* buf_recv(c, elem, deadline): r as buf_send, the value in v. */
inline buf_recv(c) {
	r = R_NONE;
	do
	:: r != R_NONE -> break
	:: else ->
#ifdef MUT_NOTIFY_EARLY
		nwl = nw[QOF(c, OP_SEND)];
#endif
		ring_pop(c, st, v);                        /* C2 */
		if
		:: st == R_OK ->
#ifdef MUT_NOTIFY_EARLY
			if :: nwl != 0 -> notify_slow(c, QOF(c, OP_SEND)) :: else -> skip fi;
			nwl = 0;
#else
			notify(c, QOF(c, OP_SEND));
#endif
			r = R_OK
		:: st == R_EPIPE -> r = R_EPIPE
		:: st == R_EAGAIN ->
			wait_ready(c, OP_RECV);
			if :: wr == R_TIMEDOUT -> r = R_TIMEDOUT :: else -> skip fi;
			wr = 0
		fi;
		st = 0
	od
}

/* ---- unbuffered: core/chan_unbuffered.c ------------------------------ */

/*
 * chan__pair_locked(c, op, elem, &peer), lock held: st = R_OK (the peer in
 * pe, to unpark after the unlock), R_EPIPE or R_EAGAIN. A send copies val
 * into the receiver's entry; a receive copies the sender's value into v.
 * pair_begin is its first step (the closed test for a send, and the first
 * unlink), which callers merge with their lock().
 */
inline pair_begin(c, op) {
	if
	:: op == OP_SEND && closed[c] -> st = R_EPIPE; more = 0
	:: else -> st = R_NONE; unlink_first(QOF(c, 1 - op))
	fi
}

inline pair_rest(c, op, val) {
	if
	:: st == R_NONE ->
		waitq_claim(QOF(c, 1 - op), pe);
		if
		:: pe == NONE ->
			if
			:: op == OP_RECV && closed[c] -> st = R_EPIPE
			:: else -> st = R_EAGAIN
			fi
		:: else ->
#ifdef MUT_UNPARK_EARLY
			unpark(pe);
#endif
			d_step {
				TOUCH(pe);
				if
				:: op == OP_SEND -> eelem[pe] = val     /* copy in */
				:: else -> v = eelem[pe]                /* copy out */
				fi;
				eerr[pe] = R_OK; st = R_OK
			}
		fi
	:: else -> skip
	fi
}

/* unbuf_op's chan__park_withdraw, chan__unqueue on -ETIMEDOUT, and the
 * entry's result: r. */
inline unbuf_park(c, op) {
	park(me, timed, pr);
	r = R_NONE;
	if
	:: pr == R_TIMEDOUT ->
		abort(me, ok);
#ifdef MUT_ABORT_NOCHECK
		ok = 1;
#endif
		PROBE(3, !ok);               /* the partner won: it counts */
		if
		:: ok -> unqueue(c, QOF(c, op), E(me, 0)); r = R_TIMEDOUT
		:: else -> park(me, 0, pr)     /* the claim's unpark */
		fi
	:: else -> skip
	fi;
	atomic {
		if
		:: r == R_NONE -> r = eerr[E(me, 0)];       /* return e->err */
			if :: op == OP_RECV && r == R_OK -> v = eelem[E(me, 0)]
			   :: else -> skip fi
		:: else -> skip
		fi;
		eelem[E(me, 0)] = 0; eerr[E(me, 0)] = 0; ok = 0; pr = 0;
		waiter_return(me, 1)
	}
}

/* unbuf_op(c, op, elem, deadline): r = R_OK, R_EPIPE or R_TIMEDOUT. */
inline unbuf_op(c, op, val) {
	atomic { lock(c); pair_begin(c, op) };
	pair_rest(c, op, val);
	if
	:: st != R_EAGAIN ->
		unlock(c);
#ifndef MUT_UNPARK_EARLY
		if
		:: st == R_OK -> unpark(pe)      /* outside the lock */
		:: else -> skip
		fi;
#endif
		r = st
	:: else ->
		atomic {
			/* chan__due(deadline) */
			if :: timed -> due_check() :: else -> skip fi;
			if
			:: expired -> unlock(c); r = R_TIMEDOUT
			:: else ->
				waiter_init(me);
				eelem[E(me, 0)] = val; eerr[E(me, 0)] = R_OK;  /* wentry_init */
#ifdef MUT_UNBUF_SPLIT
				unlock(c); r = R_NONE
			fi
		};
		if
		:: r == R_NONE ->
			/* a second critical section: someone may have come */
			atomic { lock(c); waitq_push(QOF(c, op), E(me, 0)); unlock(c) };
#else
				waitq_push(QOF(c, op), E(me, 0)); unlock(c); r = R_NONE
			fi
		};
		if
		:: r == R_NONE ->
#endif
			unbuf_park(c, op)
		:: else -> skip
		fi
	fi;
	atomic { st = 0; pe = 0 }
}

/* ---- close: core/chan_close.c chan_close ----------------------------- */

inline chan_close(c) {
	r = R_OK;
#ifndef MUT_CLOSE_LATE
	if
	:: BUFFERED(c) ->   /* chan__ring_close: the seq_cst fetch_or of the mark */
		d_step { if :: closed[c] -> r = R_EPIPE :: else -> closed[c] = 1 fi }
	:: else -> skip
	fi;
#endif
	if
	:: r == R_OK ->
		atomic {
			lock(c);
			if
			:: !BUFFERED(c) && closed[c] -> r = R_EPIPE; more = 0
			:: !BUFFERED(c) && !closed[c] ->
				closed[c] = 1;           /* the seq_cst store */
				unlink_first(QOF(c, OP_RECV))
			:: else -> unlink_first(QOF(c, OP_RECV))
			fi
		};
		if
		:: r == R_OK ->
			claim_all(QOF(c, OP_RECV), R_EPIPE, nwl);
			atomic { unlink_first(QOF(c, OP_SEND)) };
			claim_all(QOF(c, OP_SEND), R_EPIPE, nwl)
		:: else -> skip
		fi;
		unlock(c);
		wake_list(nwl)
	:: else -> skip
	fi;
#ifdef MUT_CLOSE_LATE
	if
	:: BUFFERED(c) -> closed[c] = 1
	:: else -> skip
	fi;
#endif
	nwl = 0
}

/* Record a receipt of v: never twice, never a value nobody sent. */
inline receipt(val) {
	d_step { assert(val >= 1 && val <= NV && got[val] == 0); got[val] = 1 }
}

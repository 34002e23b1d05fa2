/* SPDX-License-Identifier: MIT */
/*
 * tests/model/select.pml - scenario (c): a select over two channels.
 *
 * Process 0 runs chan_select() NA+NB times over { recv ch0, recv ch1 }:
 * one waiter record, two entries E(0,0) and E(0,1), one per case. Process 1
 * sends NA values (default 2) on ch0 (buffered, capacity 1: the second send
 * may wait for room, and the select's pop must wake it), process 2 NB
 * (default 1) on ch1 (buffered, or unbuffered with -DUNBUF1). Both senders
 * are changers that may claim the select's waiter through its two entries:
 * exactly one CAS may win. TMASK bit 0 gives the select's calls, up to its
 * first timeout, a deadline (a nondeterministic timeout, racing the
 * claims); bits 1 and 2 do the same for the senders' operations. After a
 * timeout the process retries without a deadline. With -DCLOSE1 process 2
 * closes ch1 instead of sending on it: the select, parked on both channels,
 * is claimed by chan_close's claim_all, and a receive case on a closed,
 * drained channel fires with -EPIPE; the select loops until it has ch0's NA
 * values.
 *
 * select_impl / queue_and_wait (core/select.c), step by step:
 *   shuffle            a nondeterministic case order o, 1-o
 *   pass 1 (try_all)   chan__try_case per case in that order: buffered, a
 *                      pop (C2) and notify(); unbuffered, the lock-free look
 *                      (chan__unbuf_recv_ready: sendq nwait, closed), lock,
 *                      chan__pair_locked, unlock, unpark
 *                      (try_all_stable's double collect is not modelled: it
 *                      only repeats pass 1 before queueing)
 *   deadline           chan_now() >= deadline: -ETIMEDOUT
 *   init + lock_all    chan__waiter_init; lock ch0, then ch1 (address order)
 *   pair               unbuffered cases: chan__pair_locked under the locks
 *   queue + unlock_all chan__waitq_push of both entries (prepare), unlock;
 *                      one step: the two pushes touch different words, and
 *                      every other step commutes with one of them
 *   re-check           buffered cases in order: chan__ready (seq_cst loads);
 *                      if ready: abort; if it wins, unqueue_all and start
 *                      over; if it loses (claimed meanwhile), take the claim
 *   park               chan__park_withdraw: park; on timeout abort; if it
 *                      wins, unqueue_all and -ETIMEDOUT; if it loses,
 *                      chan__park(FOREVER) for the claim's unpark
 *   finish             e = chan__waiter_selected; unqueue_all; unbuffered:
 *                      e->err (the partner did the copy); buffered: retry
 *                      that one case with chan__try_case, -EAGAIN: start over
 * The waiter record counts as returned (waiter_return) when queue_and_wait
 * is done with it: the next round re-initializes it.
 *
 * Properties: protocol.pml's assertions (one claim per wait, no touch after
 * return, nothing left queued when it returns); no invalid end state; each
 * value received exactly once.
 */
#ifndef NA
#define NA 2            /* values sent on ch0 */
#endif
#ifndef NB
#define NB 1            /* values sent on ch1 */
#endif
#define NC 2
#define CAP 1
#define NPROC 3
#ifdef CLOSE1
#define NV NA           /* process 2 closes ch1 instead of sending */
#else
#define NV (NA + NB)
#endif
#ifdef UNBUF1
#define BUFFERED(c) ((c) == 0)
#else
#define BUFFERED(c) 1
#endif

#include "protocol.pml"

#ifndef TMASK
#define TMASK 1
#endif
#define TM(j) ((TMASK >> (j)) & 1)

/* chan__try_case(ch k, RECV): st (R_OK with the value in v, R_EPIPE,
 * R_EAGAIN). */
inline try_case(k) {
	if
	:: BUFFERED(k) ->
		ring_pop(k, st, v);
		if
		:: st == R_OK -> notify(k, QOF(k, OP_SEND))
		:: else -> skip
		fi
	:: else ->
		ready(k, OP_RECV, rdy);              /* look before locking */
		if
		:: !rdy -> st = R_EAGAIN
		:: else ->
			atomic { rdy = 0; lock(k); pair_begin(k, OP_RECV) };
			pair_rest(k, OP_RECV, 0);
			unlock(k);
			if
			:: st == R_OK -> unpark(pe)
			:: else -> skip
			fi;
			pe = 0
		fi
	fi
}

/* unqueue_all: per case, in order: lock; chan__waitq_remove; unlock. */
inline unqueue_all() {
	unqueue(o, QOF(o, OP_RECV), E(me, o));
	unqueue(1 - o, QOF(1 - o, OP_RECV), E(me, 1 - o))
}

/* queue_and_wait: sr = R_OK/R_EPIPE (case fired, with v), R_TIMEDOUT, or
 * R_NONE (-EAGAIN: start over). */
inline queue_and_wait() {
	atomic { waiter_init(me); lock(0); lock(1); k = o; done = 0 };
	/* unbuffered cases: pair with a waiting partner under the locks */
	do
	:: done || k == NONE -> break
	:: else ->
		if
		:: !BUFFERED(k) ->
			pair_begin(k, OP_RECV);
			pair_rest(k, OP_RECV, 0);
			if
			:: st != R_EAGAIN ->
				atomic { unlock(1); unlock(0) };
				if :: st == R_OK -> unpark(pe) :: else -> skip fi;
				atomic { sr = st; fired = k; done = 1; pe = 0;
					 waiter_return(me, 0) }
			:: else -> skip
			fi
		:: else -> skip
		fi;
		atomic { if :: k == o -> k = 1 - o :: else -> k = NONE fi }
	od;
	if
	:: !done ->
		/* queue one entry per case, in the shuffled order; unlock_all */
		atomic {
			waitq_push(QOF(o, OP_RECV), E(me, o));
			waitq_push(QOF(1 - o, OP_RECV), E(me, 1 - o));
			unlock(1); unlock(0); k = o; ok = 0
		};
		/* re-check the buffered cases */
#ifndef MUT_NO_RECHECK
		do
		:: k == NONE -> break
		:: else ->
			if
			:: BUFFERED(k) -> ready(k, OP_RECV, rdy)
			:: else -> rdy = 0
			fi;
			if
			:: rdy ->
				abort(me, ok);
				if
				:: ok -> unqueue_all();
					atomic { sr = R_NONE; done = 1; waiter_return(me, 1) }
				:: else -> PROBE(8, true)  /* claimed meanwhile: take that */
				fi;
				atomic { rdy = 0; k = NONE }
			:: else ->
				atomic { if :: k == o -> k = 1 - o :: else -> k = NONE fi }
			fi
		od;
#endif
		k = 0; ok = 0
	:: else -> skip
	fi;
	if
	:: !done ->
		park(me, timed, pr);
		if
		:: pr == R_TIMEDOUT ->
			abort(me, ok);
#ifdef MUT_ABORT_NOCHECK
			ok = 1;
#endif
			PROBE(9, !ok);           /* a claim won the race */
			if
			:: ok -> unqueue_all();
				atomic { sr = R_TIMEDOUT; done = 1; waiter_return(me, 1) }
			:: else -> park(me, 0, pr)      /* the claim's unpark */
			fi
		:: else -> skip
		fi;
		atomic { pr = 0; ok = 0 }
	:: else -> skip
	fi;
	if
	:: !done ->
		/* e = chan__waiter_selected(&s->w); i = e->index */
		atomic { assert(sel[me] >= 2); t = sel[me] - 2; k = CASEOF(t) };
#ifndef MUT_SEL_NOUNQUEUE
		unqueue_all();                    /* the claimer unlinked e */
#endif
		if
		:: !BUFFERED(k) ->
			atomic { sr = eerr[t]; v = eelem[t]; eelem[t] = 0; eerr[t] = 0;
				 fired = k; t = 0; waiter_return(me, 1) }
		:: else ->
			/* buffered: woken to retry this one case (select2 runs
			 * its chan__try_case: one copy of the code); -EAGAIN
			 * starts over */
			atomic { t = 0; sr = R_NONE; waiter_return(me, 1) }
		fi
	:: else -> atomic { k = NONE }
	fi;
	done = 0
}

/*
 * select_impl(cases, 2, deadline): sr, fired, v. k != NONE on entry to the
 * loop body: queue_and_wait was woken for case k, and retries only it.
 */
inline select2() {
	sr = R_NONE;
	k = NONE;
	do
	:: sr != R_NONE -> break
	:: else ->
		if
		:: k == NONE ->
			if :: o = 0 :: o = 1 fi;     /* shuffle */
			k = o; once = 0              /* pass 1: try_all */
		:: else -> once = 1
		fi;
		do
		:: k == NONE -> break
		:: else ->
			try_case(k);
			if
			:: st == R_OK || st == R_EPIPE -> sr = st; fired = k; k = NONE
			:: else ->
				PROBE(10, once)  /* woken for k, but its value was taken */
				if
				:: once || k != o -> k = NONE
				:: else -> k = 1 - o
				fi
			fi;
			st = 0
		od;
		if
		:: sr == R_NONE && !once ->
			atomic {
				if :: timed -> due_check() :: else -> skip fi;
				if :: expired -> sr = R_TIMEDOUT :: else -> skip fi
			};
			if
			:: sr == R_NONE -> queue_and_wait()
			:: else -> skip
			fi
		:: else -> skip
		fi;
		once = 0
	od;
	k = 0
}

proctype Selector(byte me; bit tmd0)
{
	LOCALS;
	byte sr, k, fired;
	bit done, once;
	byte n = 0;

	do
	:: n < NV ->
		timed = tmd0; expired = 0;
		do
		:: select2();
			if
			:: sr == R_TIMEDOUT -> timed = 0; expired = 0; tmd0 = 0
			:: else -> break
			fi
		od;
		if
		:: sr == R_EPIPE ->
			/* a receive from a closed, drained channel fires */
			assert(fired == 1 && closed[1] && head[1] == tail[1])
		:: else ->
			assert(sr == R_OK);
			/* the value came from the case that fired */
			assert((v <= NA) == (fired == 0));
			receipt(v);
			n++
		fi;
progress_select:
		atomic { v = 0; sr = 0; fired = 0; o = 0; timed = 0; expired = 0 }
	:: else -> break
	od
}

proctype Sender(byte me; byte c; byte first; byte nv; bit tmd0)
{
	LOCALS;
	byte n = 0;

	do
	:: n < nv ->
		timed = tmd0; expired = 0;
		do
		::
#ifdef UNBUF1
			if
			:: c == 0 -> buf_send(0, first + n)
			:: else -> unbuf_op(1, OP_SEND, first + n)
			fi;
#else
			buf_send(c, first + n);
#endif
			if
			:: r == R_TIMEDOUT -> timed = 0; expired = 0; tmd0 = 0
			:: else -> break
			fi
		od;
		assert(r == R_OK);
progress_send:
		atomic { n++; timed = 0; expired = 0 }
	:: else -> break
	od
}

proctype Closer(byte me)
{
	LOCALS;

	chan_close(1);
	assert(r == R_OK);
progress_close:
	skip
}

init
{
	byte j;

	atomic {
		run Selector(0, TM(0));
		run Sender(1, 0, 1, NA, TM(1));
#ifdef CLOSE1
		run Closer(2);
#else
		run Sender(2, 1, NA + 1, NB, TM(2))
#endif
	}
	_nr_pr == 1;
	j = 1;
	do
	:: j <= NV -> assert(got[j] == 1); j++
	:: j > NV -> break
	od;
	assert(nw[0] + nw[1] + nw[2] + nw[3] == 0)
}

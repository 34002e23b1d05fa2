/* SPDX-License-Identifier: MIT */
/*
 * tests/model/close.pml - scenario (d): close wakes everyone.
 *
 * One channel, buffered (capacity CAP, default 1) or unbuffered (-DUNBUF).
 * Process 0 sends K values (default 2: with capacity 1 the second may wait
 * for room), processes 1..NR (default 2) receive until chan_recv says
 * -EPIPE, and process NR+1 calls chan_close at any point. TMASK (bit j: process j) gives
 * the sender's or a receiver's operations, up to its first timeout, a
 * deadline (retried without one after a timeout).
 *
 * chan_close (core/chan_close.c), step by step: buffered, chan__ring_close
 * (the seq_cst fetch_or of the mark into tail; MUT_CLOSE_LATE moves it after
 * the wake); lock; unbuffered, closed = true (seq_cst store, under the
 * lock); chan__waitq_claim_all on recvq then sendq with -EPIPE (each claimed
 * entry gets e->err and joins the wake list); unlock; chan__wake_list
 * (unpark each, outside the lock). A buffered waiter woken by it retries
 * its ring operation: a receiver drains what is left, then sees the mark
 * (S1).
 *
 * Properties: protocol.pml's assertions; no invalid end state (every
 * blocked operation returns once the channel is closed); conservation: a
 * value is received iff its send returned 0 (buffered: a value in the ring
 * at close is still delivered; unbuffered: a send that -EPIPEs gave its
 * value to nobody), never twice.
 */
#ifndef CAP
#define CAP 1
#endif
#ifndef K
#define K 2
#endif
#ifndef NR
#define NR 2
#endif
#define NC 1
#define NPROC (NR + 2)
#define NV K
#ifdef UNBUF
#define BUFFERED(c) 0
#else
#define BUFFERED(c) 1
#endif

#include "protocol.pml"

#ifndef TMASK
#define TMASK 0
#endif
#define TM(j) ((TMASK >> (j)) & 1)

proctype Sender(byte me; bit tmd0)
{
	LOCALS;
	byte n = 0;

	do
	:: n < K ->
		timed = tmd0; expired = 0;
		do
		::
#ifdef UNBUF
			unbuf_op(0, OP_SEND, n + 1);
#else
			buf_send(0, n + 1);
#endif
			if
			:: r == R_TIMEDOUT -> timed = 0; expired = 0; tmd0 = 0
			:: else -> break
			fi
		od;
		if
		:: r == R_OK -> d_step { sent[n + 1] = 1; n++ }
		:: else -> assert(r == R_EPIPE && closed[0]); break
		fi;
progress_send:
		atomic { timed = 0; expired = 0 }
	:: else -> break
	od
}

proctype Receiver(byte me; bit tmd0)
{
	LOCALS;

	do
	::
		timed = tmd0; expired = 0;
		do
		::
#ifdef UNBUF
			unbuf_op(0, OP_RECV, 0);
#else
			buf_recv(0);
#endif
			if
			:: r == R_TIMEDOUT -> timed = 0; expired = 0; tmd0 = 0
			:: else -> break
			fi
		od;
		if
		:: r == R_OK -> receipt(v)
		:: else -> assert(r == R_EPIPE && closed[0]); break
		fi;
progress_recv:
		atomic { v = 0; timed = 0; expired = 0 }
	od
}

proctype Closer(byte me)
{
	LOCALS;

	chan_close(0);
	assert(r == R_OK);
progress_close:
	skip
}

init
{
	byte j;

	atomic {
		run Sender(0, TM(0));
		j = 1;
		do
		:: j <= NR -> run Receiver(j, TM(j)); j++
		:: j > NR -> break
		od;
		run Closer(NR + 1);
		j = 0
	}
	_nr_pr == 1;
	j = 1;
	do
	:: j <= NV -> assert(got[j] == sent[j]); j++
	:: j > NV -> break
	od;
	assert(nw[0] == 0 && nw[1] == 0 && head[0] == tail[0])
}

/* SPDX-License-Identifier: MIT */
/*
 * tests/model/unbuffered.pml - scenario (b): the rendezvous on one
 * unbuffered channel: NS senders with K values each, NR receivers taking M
 * each (NS*K == NR*M). Everything happens under the channel lock
 * (unbuf_op, chan__pair_locked): a newcomer pairs with a queued partner or
 * queues itself in one critical section; the claimer copies the value and
 * then unparks the partner outside the lock. TMASK (bit j: process j,
 * senders first) gives a process's operations, up to its first timeout, a
 * deadline that may pass at any check; after a timeout it retries without
 * one. A timeout races the partner's
 * claim: if the abort loses, the exchange counts (the sender's value was
 * taken), and the waiter takes the unpark that must follow.
 *
 * Properties: the assertions of protocol.pml; no invalid end state (a
 * sender and a receiver both blocked = a lost rendezvous); at the end every
 * value was received exactly once and every send returned 0; a timed-out
 * send's value is never received (sent[] and got[] must agree).
 */
#ifndef NS
#define NS 2
#endif
#ifndef NR
#define NR 2
#endif
#ifndef K
#define K 1
#endif
#ifndef M
#define M 1
#endif
#define NC 1
#define CAP 1           /* no ring: the array is unused */
#define NPROC (NS + NR)
#define NV (NS * K)
#define BUFFERED(c) 0

#include "protocol.pml"

#ifndef TMASK
#define TMASK 0
#endif
#define TM(j) ((TMASK >> (j)) & 1)

proctype Sender(byte me; byte first; bit tmd0)
{
	LOCALS;
	byte n = 0;

	do
	:: n < K ->
		timed = tmd0; expired = 0;
		do
		:: unbuf_op(0, OP_SEND, first + n);
			if
			:: r == R_TIMEDOUT -> timed = 0; expired = 0; tmd0 = 0
			:: else -> break
			fi
		od;
		assert(r == R_OK);
		d_step { assert(!sent[first + n]); sent[first + n] = 1 };
progress_send:
		n++; timed = 0; expired = 0
	:: else -> break
	od
}

proctype Receiver(byte me; bit tmd0)
{
	LOCALS;
	byte n = 0;

	do
	:: n < M ->
		timed = tmd0; expired = 0;
		do
		:: unbuf_op(0, OP_RECV, 0);
			if
			:: r == R_TIMEDOUT -> timed = 0; expired = 0; tmd0 = 0
			:: else -> break
			fi
		od;
		assert(r == R_OK);
		receipt(v);
progress_recv:
		n++; v = 0; timed = 0; expired = 0
	:: else -> break
	od
}

init
{
	byte j;

	assert(NS * K == NR * M);
	atomic {
		j = 0;
		do
		:: j < NS -> run Sender(j, 1 + j * K, TM(j)); j++
		:: j == NS -> break
		od;
		do
		:: j < NPROC -> run Receiver(j, TM(j)); j++
		:: j == NPROC -> break
		od;
		j = 0
	}
	_nr_pr == 1;
	j = 1;
	do
	:: j <= NV -> assert(got[j] == 1 && sent[j]); j++
	:: j > NV -> break
	od;
	assert(nw[0] == 0 && nw[1] == 0)
}

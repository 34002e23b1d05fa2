/* SPDX-License-Identifier: MIT */
/*
 * tests/model/buffered.pml - scenario (a): senders and receivers on one
 * buffered channel (capacity CAP, default 1): NS senders with K values each,
 * NR receivers taking M each (NS*K == NR*M, so every operation can
 * complete). TMASK (bit j: process j, senders first) gives a process's
 * operations, up to its first timeout, a deadline that may pass at any check
 * (a nondeterministic timeout); after a timeout the process retries without
 * one, as a caller's loop would, so the workload still balances. The steps
 * are explained in protocol.pml.
 *
 * Properties: the assertions of protocol.pml; no invalid end state (a
 * blocked sender or receiver at the end is a lost wake-up: the ring had room
 * or a value for it); every value received exactly once (checked by init at
 * the end). With -DNP (check.sh's progress run): every cycle passes a
 * progress label (an operation completed), i.e. nobody busy-waits.
 *
 * With CAP=2, one sender of two values and two receivers (check.sh's run
 * buffered-cap2) this model found a lost wake-up in the code: see DEFECT
 * FOUND in protocol.pml (fixed; -DMUT_TORN_READY models the old code, and
 * check.sh requires spin to fail it).
 */
#ifndef CAP
#define CAP 1
#endif
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
#define NPROC (NS + NR)
#define NV (NS * K)
#define BUFFERED(c) 1

#include "protocol.pml"

proctype Sender(byte me; byte first; bit tmd0)
{
	LOCALS;
	byte n = 0;

	do
	:: n < K ->
		timed = tmd0; expired = 0;
		do
		:: buf_send(0, first + n);
			if
			:: r == R_TIMEDOUT -> timed = 0; expired = 0; tmd0 = 0
			:: else -> break
			fi
		od;
		assert(r == R_OK);
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
		:: buf_recv(0);
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

#ifndef TMASK
#define TMASK 0
#endif
#define TM(j) ((TMASK >> (j)) & 1)

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
	/* Conservation: every value received once, nothing left behind. */
	j = 1;
	do
	:: j <= NV -> assert(got[j] == 1); j++
	:: j > NV -> break
	od;
	assert(head[0] == tail[0] && nw[0] == 0 && nw[1] == 0)
}

/* SPDX-License-Identifier: MIT */
/*
 * tests/arch/switch_test.c - the context switch (core/switch_<arch>.S) on
 * its own: no Criterion, no libchan, so that it cross-compiles statically
 * and runs under qemu-user (tests/arch/run_aarch64.sh), and builds natively
 * against the host's switch.
 *
 * Checks: @arg goes both ways (a checksum over ROUNDS ping-pongs); values
 * the compiler keeps in callee-saved registers (many live integer and
 * floating-point locals on both sides) survive switches; each context keeps
 * its own rounding mode (x86-64 MXCSR/x87, aarch64 FPCR); a new context
 * starts on its own stack, 16-byte aligned, with the first switch's arg,
 * from an unaligned [lo, lo+size); three contexts can switch in a ring.
 * Build with -O2 -fno-omit-frame-pointer (the alignment check reads the frame
 * address). Prints one line; exit status 0 on success.
 */
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/switch_pvt.h"

#ifndef ROUNDS
#define ROUNDS 1000000
#endif
#define STACK (64 * 1024)

static void *main_sp, *pong_sp, *ring_sp[3];
static char *pong_lo, *pong_hi;

static _Noreturn void fail(const char *what, unsigned long long a, unsigned long long b)
{
	printf("switch_test: FAIL: %s (%llu, %llu)\n", what, a, b);
	fflush(stdout);
	exit(1);
}

/* Division whose result depends on the rounding mode. */
static double third(void)
{
	volatile double one = 1.0, three = 3.0;

	return one / three;
}

static double third_nearest;

/* The fiber: answers each v with 3v+1, and keeps its own live state. */
static void pong(void *arg)
{
	uint64_t a = 1, b = 2, c = 3, d = 5, e = 7, f = 11, g = 13, h = 17;
	double x = 1.0, y = 2.0, z = 3.0, w = 4.0, x2 = 5.0, y2 = 6.0, z2 = 7.0, w2 = 8.0;
	char here;

	if ((uintptr_t)__builtin_frame_address(0) % 16 != 0)
		fail("new context's frame is not 16-byte aligned",
		     (uintptr_t)__builtin_frame_address(0), 16);
	if (&here < pong_lo || &here >= pong_hi)
		fail("new context does not run on its stack", (uintptr_t)&here,
		     (uintptr_t)pong_lo);
	if ((uintptr_t)arg != 12345)
		fail("entry did not get the first switch's arg", (uintptr_t)arg, 12345);
	if (fesetround(FE_UPWARD) != 0)
		fail("fesetround", 0, 0);
	arg = chan__switch(&pong_sp, main_sp, (void *)1);
	for (uint64_t i = 0;; i++) {
		uint64_t v = (uintptr_t)arg;

		a += v; b ^= v + a; c += b >> 3; d = d * 31 + c; e += d ^ i;
		f += e; g ^= f << 1; h += g + a;
		x += 1.0; y += 2.0; z += 0.5; w += x;
		x2 += 3.0; y2 += 0.25; z2 += y; w2 += 4.0;
		if (fegetround() != FE_UPWARD || third() == third_nearest)
			fail("the fiber's rounding mode was lost", i, 0);
		if (v == 0) /* the last one: hand the state back */
			break;
		arg = chan__switch(&pong_sp, main_sp, (void *)(uintptr_t)(3 * v + 1));
	}
	{
		uint64_t r = a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ (uint64_t)(x + y + z + w) ^
			     ((uint64_t)x2 << 1) ^ ((uint64_t)y2 << 2) ^ ((uint64_t)z2 << 3) ^
			     ((uint64_t)w2 << 4);

		chan__switch(&pong_sp, main_sp, (void *)(uintptr_t)r);
	}
	fail("a finished context was resumed", 0, 0);
}

/* The same state as pong() computes, without switches. */
static uint64_t pong_expected(uint64_t rounds)
{
	uint64_t a = 1, b = 2, c = 3, d = 5, e = 7, f = 11, g = 13, h = 17;
	double x = 1.0, y = 2.0, z = 3.0, w = 4.0, x2 = 5.0, y2 = 6.0, z2 = 7.0, w2 = 8.0;

	for (uint64_t i = 0; i <= rounds; i++) {
		uint64_t v = i < rounds ? i + 1 : 0;

		a += v; b ^= v + a; c += b >> 3; d = d * 31 + c; e += d ^ i;
		f += e; g ^= f << 1; h += g + a;
		x += 1.0; y += 2.0; z += 0.5; w += x;
		x2 += 3.0; y2 += 0.25; z2 += y; w2 += 4.0;
	}
	return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ (uint64_t)(x + y + z + w) ^
	       ((uint64_t)x2 << 1) ^ ((uint64_t)y2 << 2) ^ ((uint64_t)z2 << 3) ^
	       ((uint64_t)w2 << 4);
}

static void ping_pong(void)
{
	char *mem = malloc(STACK + 64);
	uint64_t p = 0x9e3779b97f4a7c15u, q = 3, s = 0, t = 7, u = 11, k = 13;
	double m = 0.0, n = 1.0, o = 0.25, m2 = 2.0, n2 = 3.0, o2 = 4.0, l = 5.0, l2 = 6.0;
	void *r;

	if (!mem)
		fail("malloc", 0, 0);
	/* An unaligned range: make() must align the top itself. */
	pong_lo = mem + 8;
	pong_hi = mem + 8 + STACK - 24;
	pong_sp = chan__switch_make(pong_lo, (size_t)(pong_hi - pong_lo), pong);
	r = chan__switch(&main_sp, pong_sp, (void *)12345);
	if ((uintptr_t)r != 1)
		fail("first answer", (uintptr_t)r, 1);
	for (uint64_t v = 1; v <= ROUNDS; v++) {
		r = chan__switch(&main_sp, pong_sp, (void *)(uintptr_t)v);
		if (v < ROUNDS && (uintptr_t)r != 3 * v + 1)
			fail("answer", (uintptr_t)r, 3 * v + 1);
		p = p * 6364136223846793005u + v; q += p >> 17; s ^= q; t += s + v;
		u = u * 7 + t; k ^= u >> 5;
		m += 1.0; n += m; o += 0.25; m2 += 2.0; n2 += 0.5; o2 += m2; l += 3.0; l2 += 5.0;
		if (fegetround() != FE_TONEAREST || third() != third_nearest)
			fail("main's rounding mode was changed by the fiber", v, 0);
	}
	r = chan__switch(&main_sp, pong_sp, (void *)0);
	if ((uintptr_t)r != pong_expected(ROUNDS))
		fail("the fiber's callee-saved state", (uintptr_t)r, pong_expected(ROUNDS));

	/* Main's live state, replayed. */
	{
		uint64_t P = 0x9e3779b97f4a7c15u, Q = 3, S = 0, T = 7, U = 11, K = 13;
		double M = 0.0, N = 1.0, O = 0.25, M2 = 2.0, N2 = 3.0, O2 = 4.0, L = 5.0, L2 = 6.0;

		for (uint64_t v = 1; v <= ROUNDS; v++) {
			P = P * 6364136223846793005u + v; Q += P >> 17; S ^= Q; T += S + v;
			U = U * 7 + T; K ^= U >> 5;
			M += 1.0; N += M; O += 0.25; M2 += 2.0; N2 += 0.5; O2 += M2; L += 3.0;
			L2 += 5.0;
		}
		if (p != P || q != Q || s != S || t != T || u != U || k != K)
			fail("main's integer callee-saved state", p ^ q ^ s ^ t ^ u ^ k,
			     P ^ Q ^ S ^ T ^ U ^ K);
		if (m != M || n != N || o != O || m2 != M2 || n2 != N2 || o2 != O2 || l != L ||
		    l2 != L2)
			fail("main's floating-point callee-saved state",
			     (uint64_t)(m + n + o + m2 + n2 + o2 + l + l2),
			     (uint64_t)(M + N + O + M2 + N2 + O2 + L + L2));
	}
	printf("switch_test: %d ping-pongs, checksum %#llx\n", ROUNDS,
	       (unsigned long long)(uintptr_t)r);
	free(mem);
}

/* Three contexts in a ring: main -> 1 -> 2 -> main, each adding its index. */
static _Noreturn void ring_loop(int me, uintptr_t v)
{
	for (;;) {
		void *next = me == 2 ? ring_sp[0] : ring_sp[me + 1];

		v = (uintptr_t)chan__switch(&ring_sp[me], next, (void *)(v + (uintptr_t)me));
	}
}

static void ring_1(void *arg)
{
	ring_loop(1, (uintptr_t)arg);
}

static void ring_2(void *arg)
{
	ring_loop(2, (uintptr_t)arg);
}

static void ring(void)
{
	static char stacks[2][STACK] __attribute__((aligned(16)));
	uintptr_t v = 100;
	void *r;

	ring_sp[1] = chan__switch_make(stacks[0], STACK, ring_1);
	ring_sp[2] = chan__switch_make(stacks[1], STACK, ring_2);
	/* The first round starts both (each entry gets the arg of the switch
	 * that first resumed it); later rounds resume them where they left. */
	for (int i = 0; i < 1000; i++) {
		r = chan__switch(&ring_sp[0], ring_sp[1], (void *)v);
		if ((uintptr_t)r != v + 3)
			fail("ring", (uintptr_t)r, v + 3);
		v = (uintptr_t)r;
	}
	printf("switch_test: ring of 3, 1000 rounds\n");
}

int main(void)
{
	third_nearest = third();
	ping_pong();
	ring();
	printf("switch_test: ok\n");
	return 0;
}

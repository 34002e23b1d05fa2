/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/stack_test.c - goroutine stacks (core/stack.c) and the overflow
 * report's handler (core/overflow.c) as far as it can be driven without a
 * context switch: a fault in the guard of the stack that
 * chan__overflow_enter() named, taken on the thread's own stack. The report
 * of a real overflow, on the fiber's stack, is tests/unit/overflow_test.c.
 *
 * Criterion runs each test in its own process, so every test starts with
 * empty global lists. Death checks fork once more and read the child's
 * status and stderr.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/stack_pvt.h"
#include "ring/compiler.h"
#include "ring/fault.h"

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Resident bytes of this process. */
static size_t rss(void)
{
	unsigned long size, res;
	FILE *f = fopen("/proc/self/statm", "r");

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%lu %lu", &size, &res), 2);
	fclose(f);
	return res * page();
}

/*
 * Run @fn(@arg) in a forked child with stderr into a pipe: the child's wait
 * status, and what it wrote (NUL-terminated) in @out.
 */
static int in_child(void (*fn)(void *), void *arg, char *out, size_t outlen)
{
	int fd[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	cr_assert_eq(pipe(fd), 0);
	fflush(NULL);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	while (n + 1 < outlen && (r = read(fd[0], out + n, outlen - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static bool killed_by(int status, int sig)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

/* ---- sizes, cache, reuse ----------------------------------------------------- */

Test(stack, sizes_are_page_rounded_and_bounded)
{
	struct chan__stack *d = chan__stack_get(NULL, 0);
	struct chan__stack *m = chan__stack_get(NULL, 1);
	struct chan__stack *r = chan__stack_get(NULL, CHAN__STACK_MIN + 1);

	cr_assert(d && m && r);
	cr_assert_eq(d->size, CHAN__STACK_DEFAULT);
	cr_assert_eq(m->size, CHAN__STACK_MIN);
	cr_assert_eq(r->size, CHAN__STACK_MIN + page());
	cr_assert_eq((uintptr_t)r->lo % page(), 0);
	cr_assert_eq(chan__stack_guard_size(), page());
	/* Usable from lo to the last byte. */
	memset(r->lo, 0xa5, r->size);
	chan__stack_put(NULL, d);
	chan__stack_put(NULL, m);
	chan__stack_put(NULL, r);
	errno = 0;
	cr_assert_null(chan__stack_get(NULL, SIZE_MAX));
	cr_assert_eq(errno, ENOMEM);
}

Test(stack, cache_reuses_the_same_stack_warm)
{
	struct chan__stack_cache cache = { 0 };
	struct chan__stack *s = chan__stack_get(&cache, 0), *t;

	cr_assert_not_null(s);
	memset((char *)s->lo + s->size - 64, 0x5a, 64);
	chan__stack_put(&cache, s);
	cr_assert_eq(cache.count, 1);
	/* Another size does not take it. */
	t = chan__stack_get(&cache, 2 * CHAN__STACK_DEFAULT);
	cr_assert_neq(t, s);
	cr_assert_eq(cache.count, 1);
	cr_assert_eq(chan__stack_get(&cache, 0), s, "the cached stack was not reused");
	cr_assert_eq(cache.count, 0);
	cr_assert_eq(((unsigned char *)s->lo)[s->size - 1], 0x5a, "a cached stack was cooled");
	chan__stack_put(&cache, s);
	chan__stack_put(&cache, t);
	chan__stack_cache_drain(&cache);
	cr_assert_eq(cache.count, 0);
	cr_assert_null(cache.head);
}

Test(stack, cache_limit_then_global_list_cold)
{
	struct chan__stack_cache cache = { 0 };
	struct chan__stack *s[CHAN__STACK_CACHE_MAX + 4], *back;
	int n = CHAN__STACK_CACHE_MAX + 4;

	for (int i = 0; i < n; i++) {
		s[i] = chan__stack_get(&cache, 0);
		cr_assert_not_null(s[i]);
		memset(s[i]->lo, 0x77, s[i]->size);
	}
	for (int i = 0; i < n; i++)
		chan__stack_put(&cache, s[i]);
	cr_assert_eq(cache.count, CHAN__STACK_CACHE_MAX);
	/* The four put beyond the cache are warm, on the global list: the
	 * last one comes back first, its bytes still there. */
	cr_assert_eq(chan__stack_warm(), 4);
	back = chan__stack_get(NULL, 0);
	cr_assert_eq(back, s[n - 1]);
	cr_assert_eq(((unsigned char *)back->lo)[0], 0x77, "a warm stack was cooled");
	chan__stack_put(NULL, back);
	/* Scavenged, they are DONTNEED'ed: zero again. */
	cr_assert_eq(chan__stack_scavenge(0, SIZE_MAX), 4);
	cr_assert_eq(chan__stack_warm(), 0);
	back = chan__stack_get(NULL, 0);
	cr_assert(back == s[n - 4] || back == s[n - 3] || back == s[n - 2] || back == s[n - 1],
		  "not one of the four cooled");
	for (size_t i = 0; i < back->size; i++)
		cr_assert_eq(((unsigned char *)back->lo)[i], 0, "byte %zu of a cold stack", i);
	chan__stack_put(NULL, back);
	chan__stack_scavenge(0, SIZE_MAX);
	chan__stack_cache_drain(&cache);
	cr_assert_eq(cache.count, 0);
	/* Everything is on the global list now: no new arena for n gets. */
	for (int i = 0; i < n; i++) {
		bool found = false;

		back = chan__stack_get(NULL, 0);
		for (int j = 0; j < n; j++)
			found |= back == s[j];
		cr_assert(found, "a drained stack was not reused");
	}
}

static int by_lo(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)(*(struct chan__stack *const *)a)->lo;
	uintptr_t y = (uintptr_t)(*(struct chan__stack *const *)b)->lo;

	return x < y ? -1 : x > y;
}

Test(stack, distinct_stacks_never_overlap)
{
	enum { N = 600 };
	static struct chan__stack *s[N];
	size_t sizes[] = { 0, CHAN__STACK_MIN, 3 * CHAN__STACK_MIN + 1, 256 * 1024 };
	size_t guard = chan__stack_guard_size();

	for (int i = 0; i < N; i++) {
		s[i] = chan__stack_get(NULL, sizes[i % 4]);
		cr_assert_not_null(s[i]);
	}
	qsort(s, N, sizeof(s[0]), by_lo);
	for (int i = 1; i < N; i++)
		cr_assert((char *)s[i - 1]->lo + s[i - 1]->size <= (char *)s[i]->lo - guard,
			  "stacks %p+%zu and %p (guard %zu) overlap", s[i - 1]->lo,
			  s[i - 1]->size, s[i]->lo, guard);
	for (int i = 0; i < N; i++)
		chan__stack_put(NULL, s[i]);
}

/* ---- guards ------------------------------------------------------------------ */

Test(stack, guard_below_lo_faults, .signal = SIGSEGV)
{
	struct chan__stack *s = chan__stack_get(NULL, 0);

	cr_assert_not_null(s);
	((volatile char *)s->lo)[-1] = 1;
}

static void write_at(void *p)
{
	*(volatile char *)p = 1;
}

Test(stack, guard_survives_cooling_and_fork)
{
	struct chan__stack *s = chan__stack_get(NULL, 0);
	char out[64];
	int st;

	cr_assert_not_null(s);
	chan__stack_put(NULL, s);
	cr_assert_eq(chan__stack_scavenge(0, SIZE_MAX), 1); /* DONTNEED'ed */
	cr_assert_eq(chan__stack_get(NULL, 0), s);
	st = in_child(write_at, (char *)s->lo - chan__stack_guard_size(), out, sizeof(out));
	cr_assert(killed_by(st, SIGSEGV), "the lowest guard byte did not fault (status %#x)", st);
	st = in_child(write_at, (char *)s->lo - 1, out, sizeof(out));
	cr_assert(killed_by(st, SIGSEGV), "the top guard byte did not fault (status %#x)", st);
	/* The child keeps the stack itself usable. */
	st = in_child(write_at, s->lo, out, sizeof(out));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
}

Test(stack, guards_survive_batched_cooling)
{
	enum { N = 8 };
	struct chan__stack *s[N];
	char out[64];
	int st;

	/* Neighbouring slots of one arena, cooled together: one madvise()
	 * over the stacks and the guards between them. */
	for (int i = 0; i < N; i++) {
		s[i] = chan__stack_get(NULL, 0);
		cr_assert_not_null(s[i]);
		memset(s[i]->lo, 0x33, s[i]->size);
	}
	for (int i = 0; i < N; i++)
		chan__stack_put(NULL, s[i]);
	cr_assert_eq(chan__stack_scavenge(0, SIZE_MAX), N);
	for (int i = 0; i < N; i++) {
		struct chan__stack *t = chan__stack_get(NULL, 0);
		size_t g = chan__stack_guard_size();

		for (size_t k = 0; k < t->size; k += 4096)
			cr_assert_eq(((unsigned char *)t->lo)[k], 0, "byte %zu not cooled", k);
		st = in_child(write_at, (char *)t->lo - g, out, sizeof(out));
		cr_assert(killed_by(st, SIGSEGV), "the lowest guard byte did not fault (%#x)", st);
		st = in_child(write_at, (char *)t->lo - 1, out, sizeof(out));
		cr_assert(killed_by(st, SIGSEGV), "the top guard byte did not fault (%#x)", st);
	}
}

Test(stack, scavenge_keeps_and_stops_where_told)
{
	enum { N = 40 };
	struct chan__stack *s[N];

	for (int i = 0; i < N; i++) {
		s[i] = chan__stack_get(NULL, 0);
		cr_assert_not_null(s[i]);
	}
	for (int i = 0; i < N; i++)
		chan__stack_put(NULL, s[i]);
	cr_assert_eq(chan__stack_warm(), N);
	cr_assert_eq(chan__stack_scavenge(30, SIZE_MAX), N - 30, "keep");
	cr_assert_eq(chan__stack_scavenge(0, 7), 7, "max");
	cr_assert_eq(chan__stack_warm(), 23);
	cr_assert_eq(chan__stack_scavenge(0, SIZE_MAX), 23);
	cr_assert_eq(chan__stack_scavenge(0, SIZE_MAX), 0);
}

/* ---- memory ------------------------------------------------------------------ */

Test(stack, ten_thousand_stacks_commit_only_what_is_touched)
{
	enum { N = 10000, TOUCH = 16 * 1024 };
	static struct chan__stack *s[N];
	size_t base, made, used, freed;

	base = rss();
	for (int i = 0; i < N; i++) {
		s[i] = chan__stack_get(NULL, 0);
		cr_assert_not_null(s[i]);
	}
	made = rss();
	/* Records and arena headers only: ~40 bytes a stack. */
	cr_assert_lt(made - base, 4u << 20, "making stacks committed %zu bytes", made - base);
	for (int i = 0; i < N; i++)
		memset((char *)s[i]->lo + s[i]->size - TOUCH, 1, TOUCH);
	used = rss();
	cr_assert_gt(used - made, (size_t)N * TOUCH / 2, "touching did not commit (%zu)", used - made);
	for (int i = 0; i < N; i++)
		chan__stack_put(NULL, s[i]);
	cr_assert_eq(chan__stack_warm(), N, "put beyond any cache: warm");
	/* Neighbours are cooled as one range: far fewer calls than stacks. */
	cr_assert_eq(chan__stack_scavenge(0, SIZE_MAX), N);
	freed = rss();
	/* TSan's shadow of the touched pages stays resident: only the two
	 * checks above mean something there. */
	if (CHAN__TSAN)
		return;
	cr_assert_lt(freed - base, 8u << 20, "freed stacks kept %zu bytes resident (used %zu)",
		     freed - base, used - base);
}

/* ---- failures ---------------------------------------------------------------- */

Test(stack, every_allocation_failure_is_enomem_and_recoverable)
{
	struct chan__stack *s;
	long k;

	for (k = 1;; k++) {
		chan__fault_arm(CHAN__FAULT_ALLOC, k);
		errno = 0;
		s = chan__stack_get(NULL, 0);
		if (!chan__fault_fired(CHAN__FAULT_ALLOC))
			break;
		cr_assert_null(s, "failure %ld: a stack anyway", k);
		cr_assert_eq(errno, ENOMEM, "failure %ld: errno %d", k, errno);
	}
	chan__fault_arm(CHAN__FAULT_ALLOC, 0);
	cr_assert_not_null(s);
	cr_assert_geq(k, 3, "fewer allocation sites than class, arena map, header");
	/* Nothing was left half-made: the arena is whole. */
	for (int i = 0; i < 200; i++)
		cr_assert_not_null(chan__stack_get(NULL, 0));
}

/* ---- threads ----------------------------------------------------------------- */

static void *churn(void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	struct chan__stack_cache cache = { 0 };
	struct chan__stack *held[32] = { 0 };
	unsigned seed = (unsigned)me;

	for (int i = 0; i < 20000; i++) {
		int j = (int)(rand_r(&seed) % 32);
		uintptr_t *top;

		if (held[j]) {
			top = (uintptr_t *)((char *)held[j]->lo + held[j]->size) - 1;
			if (*top != me + (uintptr_t)j)
				return "a stack held by this thread was written by another";
			chan__stack_put(rand_r(&seed) % 2 ? &cache : NULL, held[j]);
			held[j] = NULL;
		} else {
			held[j] = chan__stack_get(&cache, (size_t)(1 + j % 3) * CHAN__STACK_MIN);
			if (!held[j])
				return "chan__stack_get() failed";
			top = (uintptr_t *)((char *)held[j]->lo + held[j]->size) - 1;
			*top = me + (uintptr_t)j;
		}
	}
	for (int j = 0; j < 32; j++)
		if (held[j])
			chan__stack_put(&cache, held[j]);
	chan__stack_cache_drain(&cache);
	return NULL;
}

Test(stack, threads_never_share_a_stack)
{
	pthread_t t[4];
	void *r;

	for (uintptr_t i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, churn, (void *)((i + 1) << 20)), 0);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(pthread_join(t[i], &r), 0);
		cr_assert_null(r, "%s", (char *)r);
	}
}

static _Atomic bool churn_stop;

static void *churn_global(void *arg)
{
	(void)arg;
	/* Relaxed: a stop flag; nothing is published through it. */
	while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
		struct chan__stack *s = chan__stack_get(NULL, 0);

		if (!s)
			return "chan__stack_get() failed";
		chan__stack_put(NULL, s); /* the lock: onto the warm list */
		chan__stack_scavenge(0, SIZE_MAX); /* DONTNEED, the lock again */
	}
	return NULL;
}

static void child_uses_stacks(void *arg)
{
	struct chan__stack *s;

	(void)arg;
	alarm(10); /* a lock inherited held: SIGALRM, not a hang */
	s = chan__stack_get(NULL, 0);
	if (!s)
		_exit(2);
	memset(s->lo, 1, s->size);
	chan__stack_put(NULL, s);
	_exit(0);
}

Test(stack, fork_while_another_thread_uses_the_lists)
{
	pthread_t t;
	char out[64];
	void *r;

	cr_assert_not_null(chan__stack_get(NULL, 0)); /* registers the handlers */
	cr_assert_eq(pthread_create(&t, NULL, churn_global, NULL), 0);
	for (int i = 0; i < 200; i++) {
		int st = in_child(child_uses_stacks, NULL, out, sizeof(out));

		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork %d: child status %#x", i, st);
	}
	atomic_store_explicit(&churn_stop, true, memory_order_relaxed);
	cr_assert_eq(pthread_join(t, &r), 0);
	cr_assert_null(r, "%s", (char *)r);
}

/* ---- the overflow handler, driven from the thread's own stack --------------- */

static void guard_hit_reported(void *arg)
{
	struct chan__stack *s = chan__stack_get(NULL, 0);

	(void)arg;
	if (!s || chan__overflow_thread_init() != 0)
		_exit(10);
	chan__overflow_enter(42, s);
	write_at((char *)s->lo - 1);
	_exit(11);
}

Test(overflow, guard_fault_of_the_current_stack_is_reported)
{
	char out[256];
	int st = in_child(guard_hit_reported, NULL, out, sizeof(out));

	cr_assert(killed_by(st, SIGABRT), "status %#x, stderr \"%s\"", st, out);
	cr_assert(strcmp(out, "chan: goroutine 42 overflowed its 64 KiB stack\n") == 0,
		  "stderr \"%s\"", out);
}

static void other_fault_default(void *arg)
{
	struct chan__stack *s = chan__stack_get(NULL, 0), *t = chan__stack_get(NULL, 0);

	(void)arg;
	if (!s || !t || chan__overflow_thread_init() != 0)
		_exit(10);
	chan__overflow_enter(7, s);
	write_at((char *)t->lo - 1); /* another stack's guard: not ours */
	_exit(11);
}

Test(overflow, other_faults_get_the_default_action)
{
	char out[256];
	int st = in_child(other_fault_default, NULL, out, sizeof(out));

	cr_assert(killed_by(st, SIGSEGV), "status %#x, stderr \"%s\"", st, out);
	cr_assert(strcmp(out, "") == 0, "stderr \"%s\"", out);
}

static void previous(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	_exit(sig == SIGSEGV && info->si_code > 0 ? 33 : 34);
}

static void other_fault_chained(void *arg)
{
	struct sigaction sa = { .sa_sigaction = previous, .sa_flags = SA_SIGINFO };
	struct chan__stack *s = chan__stack_get(NULL, 0);

	(void)arg;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	if (!s || chan__overflow_thread_init() != 0)
		_exit(10);
	write_at((char *)s->lo - 1); /* no current fiber: not ours */
	_exit(11);
}

Test(overflow, other_faults_chain_to_the_previous_handler)
{
	char out[256];
	int st = in_child(other_fault_chained, NULL, out, sizeof(out));

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 33, "status %#x, stderr \"%s\"", st, out);
}

static void user_signal(void *arg)
{
	(void)arg;
	if (chan__overflow_thread_init() != 0)
		_exit(10);
	kill(getpid(), SIGBUS);
	_exit(11);
}

Test(overflow, kill_is_passed_on_with_its_signal)
{
	char out[256];
	int st = in_child(user_signal, NULL, out, sizeof(out));

	cr_assert(killed_by(st, SIGBUS), "status %#x", st);
}

Test(overflow, thread_init_keeps_an_existing_altstack)
{
	static char mine[64 * 1024];
	stack_t ss = { .ss_sp = mine, .ss_size = sizeof(mine) }, now;

	cr_assert_eq(sigaltstack(&ss, NULL), 0);
	cr_assert_eq(chan__overflow_thread_init(), 0);
	cr_assert_eq(sigaltstack(NULL, &now), 0);
	cr_assert_eq(now.ss_sp, (void *)mine);
	chan__overflow_thread_fini();
	cr_assert_eq(sigaltstack(NULL, &now), 0);
	cr_assert_eq(now.ss_sp, (void *)mine, "fini removed an altstack it did not make");
}

static void *init_fini_thread(void *arg)
{
	stack_t now;

	(void)arg;
	for (int i = 0; i < 100; i++) {
		if (chan__overflow_thread_init() != 0 || chan__overflow_thread_init() != 0)
			return "init failed";
		if (sigaltstack(NULL, &now) != 0 || (now.ss_flags & SS_DISABLE))
			return "no altstack after init";
		chan__overflow_thread_fini();
		if (sigaltstack(NULL, &now) != 0 || !(now.ss_flags & SS_DISABLE))
			return "an altstack after fini";
	}
	return NULL;
}

Test(overflow, thread_init_fini_repeat_on_threads)
{
	pthread_t t[2];
	void *r;

	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, init_fini_thread, NULL), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pthread_join(t[i], &r), 0);
		cr_assert_null(r, "%s", (char *)r);
	}
}

Test(overflow, thread_init_allocation_failure)
{
	stack_t now;

	chan__fault_arm(CHAN__FAULT_ALLOC, 1);
	cr_assert_eq(chan__overflow_thread_init(), -ENOMEM);
	cr_assert(chan__fault_fired(CHAN__FAULT_ALLOC));
	chan__fault_arm(CHAN__FAULT_ALLOC, 0);
	cr_assert_eq(sigaltstack(NULL, &now), 0);
	cr_assert(now.ss_flags & SS_DISABLE);
	cr_assert_eq(chan__overflow_thread_init(), 0);
	chan__overflow_thread_fini();
}

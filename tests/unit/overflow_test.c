/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/overflow_test.c - a goroutine that overflows its stack dies
 * with "chan: goroutine <id> overflowed its <N> KiB stack" and SIGABRT
 * (core/overflow.c), on the fiber's real stack: the handler must run on the
 * thread's alternate stack, since the fiber's own has no room left.
 *
 * Each case forks a child that installs overflow handling, runs a function
 * on a chan__stack through chan__switch(), and dies; the parent checks the
 * child's stderr (through a pipe) and how it died. Needs chan__switch() in
 * libchan (core/switch_<arch>.S in CHAN_SOURCES).
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/stack_pvt.h"
#include "core/switch_pvt.h"

static void *main_sp;
static volatile int depth_limit = INT_MAX;

/* Deeper until the guard: 256 bytes a frame, not a loop. */
static int recurse(int n)
{
	volatile char buf[256];

	buf[0] = (char)n;
	if (n == depth_limit)
		return 0;
	return recurse(n + 1) + buf[0];
}

static void overflow_entry(void *arg)
{
	(void)arg;
	recurse(0);
	chan__switch(&main_sp, main_sp, NULL); /* never reached */
}

static void null_entry(void *arg)
{
	/* The first page (never mapped): a fault, not an overflow. Not NULL
	 * itself, which UBSan would report before the fault happens. */
	*(volatile char *)((uintptr_t)arg + 64) = 1;
	chan__switch(&main_sp, main_sp, NULL);
}

static void back_entry(void *arg)
{
	volatile char buf[4096];

	buf[0] = 1;
	(void)buf[0];
	chan__switch(&main_sp, main_sp, arg);
}

struct fiber {
	uint64_t id;
	size_t size;
	void (*entry)(void *);
};

/* In the child: run @f on a fresh stack of its size, as goroutine @f->id. */
static void run_fiber(const struct fiber *f)
{
	struct chan__stack *s = chan__stack_get(NULL, f->size);
	void *sp, *r;

	if (!s || chan__overflow_thread_init() != 0)
		_exit(10);
	sp = chan__switch_make(s->lo, s->size, f->entry);
	chan__overflow_enter(f->id, s);
	r = chan__switch(&main_sp, sp, NULL);
	chan__overflow_enter(0, NULL);
	_exit(r == NULL ? 0 : 12);
}

static void *fiber_thread(void *arg)
{
	run_fiber(arg);
	return NULL;
}

/*
 * Fork a child that runs @f (on a second thread if @threaded) with stderr
 * into a pipe; return its wait status and stderr in @out.
 */
static int in_child(const struct fiber *f, bool threaded, char *out, size_t outlen)
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
		pthread_t t;

		close(fd[0]);
		dup2(fd[1], STDERR_FILENO);
		if (!threaded)
			run_fiber(f);
		if (pthread_create(&t, NULL, fiber_thread, (void *)f) != 0)
			_exit(13);
		pthread_join(t, NULL);
		_exit(14);
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

Test(overflow, fiber_overflow_is_reported_and_aborts)
{
	struct fiber f = { 42, CHAN__STACK_DEFAULT, overflow_entry };
	char out[256];
	int st = in_child(&f, false, out, sizeof(out));

	cr_assert(killed_by(st, SIGABRT), "status %#x, stderr \"%s\"", st, out);
	cr_assert(strcmp(out, "chan: goroutine 42 overflowed its 64 KiB stack\n") == 0,
		  "stderr \"%s\"", out);
}

Test(overflow, fiber_overflow_on_another_thread_other_size)
{
	struct fiber f = { UINT64_MAX, 32 * 1024, overflow_entry };
	char out[256];
	int st = in_child(&f, true, out, sizeof(out));

	cr_assert(killed_by(st, SIGABRT), "status %#x, stderr \"%s\"", st, out);
	cr_assert(strcmp(out, "chan: goroutine 18446744073709551615 "
			  "overflowed its 32 KiB stack\n") == 0,
		  "stderr \"%s\"", out);
}

Test(overflow, other_fault_on_a_fiber_is_a_plain_sigsegv)
{
	struct fiber f = { 7, CHAN__STACK_DEFAULT, null_entry };
	char out[256];
	int st = in_child(&f, false, out, sizeof(out));

	cr_assert(killed_by(st, SIGSEGV), "status %#x, stderr \"%s\"", st, out);
	cr_assert(strcmp(out, "") == 0, "stderr \"%s\"", out);
}

Test(overflow, a_fiber_that_fits_runs_and_returns)
{
	struct fiber f = { 9, CHAN__STACK_MIN, back_entry };
	char out[256];
	int st = in_child(&f, false, out, sizeof(out));

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x, stderr \"%s\"", st, out);
	cr_assert(strcmp(out, "") == 0, "stderr \"%s\"", out);
}

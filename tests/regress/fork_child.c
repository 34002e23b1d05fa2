/* SPDX-License-Identifier: MIT */
/*
 * tests/regress/fork_child.c - issue 10, defect 3.
 *
 * In a child forked after the chan_go pool and the timer service had
 * started, chan_go() returned 0 for tasks it handed to idle workers that do
 * not exist in the child (the tasks were silently lost), and timers never
 * fired: the timer service believed its thread was running. The
 * pthread_atfork() handlers of core/fork.c now reset both in the child.
 *
 * Each check runs in a forked child that reports through its exit status,
 * so a lost task or a timer that never fires shows up as a named failure
 * (the waits are bounded), not as a hang.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chan/chan.h>

#ifdef __has_feature
#define CHAN_TEST_HAS_FEATURE(x) __has_feature(x)
#else
#define CHAN_TEST_HAS_FEATURE(x) 0
#endif

#define MS 1000000LL
#define S  1000000000LL

static void send_index(void *arg)
{
	chan_t *c = arg;
	long v = 1;

	chan_send(c, &v);
	chan_release(c);
}

/* Start the pool and leave idle workers behind; start the timer service. */
static void warm_up(void)
{
	chan_t *c = chan_new(sizeof(long), 0);
	chan_t *t;
	long v;

	for (int i = 0; i < 4; i++)
		cr_assert_eq(chan_go(send_index, chan_retain(c)), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(chan_recv(c, &v), 0);
	chan_release(c);
	t = chan_after(1 * MS);
	cr_assert_not_null(t);
	cr_assert_eq(chan_recv(t, NULL), 0);
	chan_release(t);
	/* Let the workers finish their tasks and park as idle: the state in
	 * which the child's chan_go() used to hand tasks to ghosts. (The fix
	 * is checked whatever the state; this only makes the old bug show.) */
	struct timespec ts = { 0, 50 * 1000000L };

	nanosleep(&ts, NULL);
}

enum {
	OK = 0,
	LOST_TASK = 10,
	AFTER_NEVER_FIRED,
	OLD_DEADLINE_NEVER_FIRED,
	OLD_TICKER_STOPPED,
	NEW_DEADLINE_NEVER_FIRED,
	SETUP_FAILED,
};

static int child_checks(chan_ctx_t *old_ctx, chan_ticker_t *old_ticker)
{
	chan_t *c = chan_new(sizeof(long), 64);
	chan_t *after;
	chan_ctx_t *ctx;
	long v;

	if (!c)
		return SETUP_FAILED;
	for (int i = 0; i < 20; i++)
		if (chan_go(send_index, chan_retain(c)) != 0)
			return SETUP_FAILED;
	for (int i = 0; i < 20; i++)
		if (chan_recv_timeout(c, &v, 5 * S) != 0)
			return LOST_TASK;
	after = chan_after(10 * MS);
	if (!after)
		return SETUP_FAILED;
	if (chan_recv_timeout(after, NULL, 5 * S) != 0)
		return AFTER_NEVER_FIRED;
	if (chan_recv_timeout(chan_ctx_done(old_ctx), NULL, 5 * S) != -EPIPE ||
	    chan_ctx_err(old_ctx) != -ETIMEDOUT)
		return OLD_DEADLINE_NEVER_FIRED;
	if (chan_recv_timeout(chan_ticker_chan(old_ticker), NULL, 5 * S) != 0)
		return OLD_TICKER_STOPPED;
	ctx = chan_ctx_with_timeout(chan_ctx_background(), 10 * MS);
	if (!ctx)
		return SETUP_FAILED;
	if (chan_recv_timeout(chan_ctx_done(ctx), NULL, 5 * S) != -EPIPE)
		return NEW_DEADLINE_NEVER_FIRED;
	chan_ctx_release(ctx);
	chan_release(after);
	chan_release(c);
	return OK;
}

static int wait_child(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died (signal %d)",
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

Test(fork_child, pool_and_timers_work_in_the_child)
{
	chan_ctx_t *old_ctx;
	chan_ticker_t *old_ticker;
	pid_t pid;
	int st;

	warm_up();
	/* Armed before the fork, due after it. */
	old_ctx = chan_ctx_with_timeout(chan_ctx_background(), 100 * MS);
	old_ticker = chan_ticker_new(20 * MS);
	cr_assert(old_ctx && old_ticker);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(child_checks(old_ctx, old_ticker));
	st = wait_child(pid);
	cr_assert_neq(st, LOST_TASK, "chan_go() in the child lost its tasks");
	cr_assert_neq(st, AFTER_NEVER_FIRED, "chan_after() never fired in the child");
	cr_assert_neq(st, OLD_DEADLINE_NEVER_FIRED, "a deadline armed before fork never fired");
	cr_assert_neq(st, OLD_TICKER_STOPPED, "a ticker started before fork stopped");
	cr_assert_neq(st, NEW_DEADLINE_NEVER_FIRED, "a new deadline never fired in the child");
	cr_assert_eq(st, OK, "child status %d", st);

	/* The parent is untouched. */
	cr_assert_eq(chan_recv_timeout(chan_ctx_done(old_ctx), NULL, 5 * S), -EPIPE);
	cr_assert_eq(chan_recv_timeout(chan_ticker_chan(old_ticker), NULL, 5 * S), 0);
	chan_ticker_stop(old_ticker);
	chan_ctx_release(old_ctx);
	warm_up();
}

/*
 * Forks while other threads start tasks and arm timers: the prepare
 * handlers must leave no lock held and no half-updated list in a child.
 * The churning threads only start things (tasks, timers into channels they
 * release at once): a thread blocked in one of those channels at the fork
 * would make it an object "another thread was using", which chan.h says is
 * not safe in the child (its timer would deliver into a channel whose lock
 * the vanished thread may hold, and block the child's timer thread).
 *
 * Not under AddressSanitizer: gcc 12's ASan runtime does not hold its
 * allocator's locks across fork(), so when another thread is inside malloc
 * at that moment, the child's first new thread deadlocks in ASan's own
 * calloc (seen: both new threads of the child blocked in
 * SizeClassAllocator64::GetFromAllocator under pthread_getattr_np). That is
 * the sanitizer's limitation, not chan's; the release and TSan builds run it.
 */
#if !defined(__SANITIZE_ADDRESS__) && !CHAN_TEST_HAS_FEATURE(address_sanitizer)
static _Atomic bool stop;

static void nop(void *arg)
{
	(void)arg;
}

static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		chan_t *t = chan_after(100 * 1000);
		struct timespec ts = { 0, 50 * 1000 };

		if (chan_go(nop, NULL) != 0 || !t)
			abort();
		chan_release(t); /* the timer holds its own reference */
		nanosleep(&ts, NULL);
	}
	return NULL;
}

Test(fork_child, fork_while_other_threads_use_the_pool_and_timers)
{
	pthread_t th[2];
	int forks = 40;

	warm_up();
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, churn, NULL), 0);
	for (int i = 0; i < forks; i++) {
		pid_t pid = fork();

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			chan_t *c = chan_new(sizeof(long), 1);
			chan_t *t = chan_after(1 * MS);
			long v;

			if (!c || !t || chan_go(send_index, chan_retain(c)) != 0)
				_exit(SETUP_FAILED);
			if (chan_recv_timeout(c, &v, 5 * S) != 0)
				_exit(LOST_TASK);
			if (chan_recv_timeout(t, NULL, 5 * S) != 0)
				_exit(AFTER_NEVER_FIRED);
			_exit(OK);
		}
		int st = wait_child(pid);

		cr_assert_eq(st, OK, "fork %d: child status %d", i, st);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
}
#endif

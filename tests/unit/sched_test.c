/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/sched_test.c - goroutines on the M:N scheduler: parking in
 * user space, mixing goroutines and threads, the monitor's hand-offs,
 * timeouts, migration, chan_yield(), chan_blocking_begin()/_end() and
 * chan_go_blocking(). Every test sets fiber mode itself (the suite also
 * runs with CHAN_GO_MODE=threads, where these must pass too, or they say
 * why they do not apply).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chan/chan.h>

#include "core/sched_pvt.h"
#include "ring/compiler.h"
#include "ring/fault.h"
#include "tests/common/expect.h"

/* Tasks of the tests below end with chan_wg_done(&running); a test waits
 * for them before it releases the channels they use (a task may still be
 * inside its last operation when the test's matching one returns). */
static chan_wg_t running = CHAN_WG_INIT;

static int go_counted(void (*fn)(void *), void *arg)
{
	chan_wg_add(&running, 1);
	return chan_go(fn, arg);
}

static void fibers(unsigned workers)
{
	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .mode = CHAN_GO_FIBERS,
							  .workers = workers }),
		     0);
}

/* ---- many parked goroutines -------------------------------------------- */

#if CHAN__TSAN
#define PARKED 5000 /* TSan's shadow memory per fiber */
#else
#define PARKED 100000
#endif

struct parked {
	chan_t *go;	 /* closed to wake them all */
	chan_t *done;	 /* each sends its id once woken */
	_Atomic long parked;
	chan_wg_t wg;	 /* the channels are released after the last send returned */
};

static void wait_for_go(void *arg)
{
	struct parked *p = arg;
	long id = atomic_fetch_add(&p->parked, 1);
	long v;

	EXPECT(chan_recv(p->go, &v) == -EPIPE, "woken without the close");
	EXPECT(chan_send(p->done, &id) == 0, "send failed");
	chan_wg_done(&p->wg);
}

Test(sched, hundred_thousand_parked_then_woken, .timeout = 120)
{
	struct parked p = { .go = chan_new(sizeof(long), 0),
			    .done = chan_new(sizeof(long), PARKED) };
	unsigned char *seen = calloc(PARKED, 1);
	long id;

	fibers(0);
	chan_wg_init(&p.wg);
	chan_wg_add(&p.wg, PARKED);
	for (long i = 0; i < PARKED; i++)
		cr_assert_eq(chan_go(wait_for_go, &p), 0, "chan_go %ld", i);
	while (atomic_load(&p.parked) < PARKED)
		usleep(1000);
	chan_close(p.go);
	for (long i = 0; i < PARKED; i++) {
		cr_assert_eq(chan_recv(p.done, &id), 0);
		if (id < 0 || id >= PARKED || seen[id]++)
			cr_assert_fail("id %ld out of range or twice", id);
	}
	cr_assert_eq(chan_try_recv(p.done, &id), -EAGAIN);
	chan_wg_wait(&p.wg);
	EXPECT_REPORTED();
	chan_release(p.go);
	chan_release(p.done);
	free(seen);
}

/* ---- goroutines and threads on the same channels ------------------------ */

#define MIX_N 20000

struct mix {
	chan_t *unbuf, *buf, *out;
	chan_wg_t wg;
};

static void mix_producer(struct mix *m, long base)
{
	for (long i = 0; i < MIX_N; i++) {
		long v = base + i;

		EXPECT(chan_send(i % 2 ? m->unbuf : m->buf, &v) == 0, "producer send");
	}
}

static void mix_consumer(struct mix *m)
{
	for (long i = 0; i < MIX_N; i++) {
		long v;
		chan_case_t cs[2] = { { m->unbuf, CHAN_OP_RECV, &v, 0 }, { m->buf, CHAN_OP_RECV, &v, 0 } };
		int r = chan_select(cs, 2);

		EXPECT(r == 0 || r == 1, "select %d", r);
		EXPECT(chan_send(m->out, &v) == 0, "forward");
	}
}

static void fiber_producer(void *arg)
{
	mix_producer(arg, 0);
	chan_wg_done(&((struct mix *)arg)->wg);
}

static void fiber_consumer(void *arg)
{
	mix_consumer(arg);
	chan_wg_done(&((struct mix *)arg)->wg);
}

static void *thread_producer(void *arg)
{
	mix_producer(arg, MIX_N);
	return NULL;
}

static void *thread_consumer(void *arg)
{
	mix_consumer(arg);
	return NULL;
}

Test(sched, goroutines_and_threads_share_channels_and_selects, .timeout = 120)
{
	struct mix m = { .unbuf = chan_new(sizeof(long), 0),
			 .buf = chan_new(sizeof(long), 4),
			 .out = chan_new(sizeof(long), 4 * MIX_N) };
	pthread_t tp, tc;
	unsigned char *seen = calloc(2 * MIX_N, 1);
	long v;

	fibers(0);
	chan_wg_init(&m.wg);
	chan_wg_add(&m.wg, 2);
	cr_assert_eq(chan_go(fiber_producer, &m), 0);
	cr_assert_eq(chan_go(fiber_consumer, &m), 0);
	pthread_create(&tp, NULL, thread_producer, &m);
	pthread_create(&tc, NULL, thread_consumer, &m);
	chan_wg_wait(&m.wg);
	pthread_join(tp, NULL);
	pthread_join(tc, NULL);
	EXPECT_REPORTED();
	for (long i = 0; i < 2 * MIX_N; i++) {
		cr_assert_eq(chan_try_recv(m.out, &v), 0, "value %ld missing", i);
		if (v < 0 || v >= 2 * MIX_N || seen[v]++)
			cr_assert_fail("value %ld out of range or twice", v);
	}
	cr_assert_eq(chan_try_recv(m.out, &v), -EAGAIN);
	chan_release(m.unbuf);
	chan_release(m.buf);
	chan_release(m.out);
	free(seen);
}

/* ---- blocking calls and CPU loops do not stop the others ---------------- */

struct blocker {
	int fd[2];
	chan_t *ticks;
	_Atomic int stop;
	bool annotate;
};

static void reader(void *arg)
{
	struct blocker *b = arg;
	char c;

	if (b->annotate)
		chan_blocking_begin();
	EXPECT(read(b->fd[0], &c, 1) == 1, "read");
	if (b->annotate)
		chan_blocking_end();
	chan_wg_done(&running);
}

static void ticker(void *arg)
{
	struct blocker *b = arg;

	for (long i = 0; i < 100; i++)
		EXPECT(chan_send(b->ticks, &i) == 0, "tick");
	chan_wg_done(&running);
}

/* With one worker, a goroutine blocked in read() would stop every other
 * goroutine, were its worker not handed on (monitor, or the annotation). */
static void blocked_reader_does_not_stop_others(bool annotate)
{
	struct blocker b = { .ticks = chan_new(sizeof(long), 0), .annotate = annotate };
	long v;

	fibers(1);
	cr_assert_eq(pipe(b.fd), 0);
	cr_assert_eq(go_counted(reader, &b), 0);
	usleep(20000); /* let it block (not needed for correctness) */
	cr_assert_eq(go_counted(ticker, &b), 0);
	for (long i = 0; i < 100; i++) {
		cr_assert_eq(chan_recv_timeout(b.ticks, &v, 10 * 1000000000LL), 0, "tick %ld", i);
		cr_assert_eq(v, i);
	}
	cr_assert_eq(write(b.fd[1], "x", 1), 1);
	EXPECT_REPORTED();
	chan_wg_wait(&running);
	chan_release(b.ticks);
}

Test(sched, goroutine_blocked_in_read_does_not_stop_others, .timeout = 60)
{
	blocked_reader_does_not_stop_others(false);
}

Test(sched, blocking_begin_end_hands_the_worker_on, .timeout = 60)
{
	blocked_reader_does_not_stop_others(true);
}

static void spinner(void *arg)
{
	struct blocker *b = arg;

	while (!atomic_load_explicit(&b->stop, memory_order_acquire))
		chan__cpu_relax();
	chan_wg_done(&running);
}

Test(sched, cpu_bound_goroutine_does_not_starve_others, .timeout = 60)
{
	struct blocker b = { .ticks = chan_new(sizeof(long), 0) };
	long v;

	fibers(1);
	cr_assert_eq(go_counted(spinner, &b), 0);
	cr_assert_eq(go_counted(ticker, &b), 0);
	for (long i = 0; i < 100; i++)
		cr_assert_eq(chan_recv_timeout(b.ticks, &v, 10 * 1000000000LL), 0, "tick %ld", i);
	atomic_store_explicit(&b.stop, 1, memory_order_release);
	chan_wg_wait(&running);
	chan_release(b.ticks);
}

/* ---- timeouts ------------------------------------------------------------ */

#define TIMED 200

struct timed {
	chan_t *never;
	_Atomic int early, late;
	chan_wg_t wg;
};

static void timed_waits(void *arg)
{
	struct timed *t = arg;

	for (int i = 0; i < 5; i++) {
		int64_t d = 1000000 * (1 + i % 3);
		int64_t t0 = chan_now();
		long v;
		chan_case_t cs[1] = { { t->never, CHAN_OP_RECV, &v, 0 } };
		int r = i % 2 ? chan_recv_timeout(t->never, &v, d) : chan_select_timeout(cs, 1, d);
		int64_t el = chan_now() - t0;

		EXPECT(r == -ETIMEDOUT, "timeout: %d", r);
		if (el < d)
			atomic_fetch_add(&t->early, 1);
		if (el > d + 2000000000LL)
			atomic_fetch_add(&t->late, 1);
	}
	chan_wg_done(&t->wg);
}

Test(sched, timeouts_in_goroutines_are_never_early, .timeout = 120)
{
	struct timed t = { .never = chan_new(sizeof(long), 0) };

	fibers(0);
	chan_wg_init(&t.wg);
	chan_wg_add(&t.wg, TIMED);
	for (int i = 0; i < TIMED; i++)
		cr_assert_eq(chan_go(timed_waits, &t), 0);
	chan_wg_wait(&t.wg);
	EXPECT_REPORTED();
	cr_assert_eq(atomic_load(&t.early), 0, "%d early timeouts", atomic_load(&t.early));
	cr_assert_eq(atomic_load(&t.late), 0);
	chan_release(t.never);
}

/* A timed wait that is woken before its deadline returns 0, and its timer
 * never fires into a later wait (or a stack that is gone). */
static void woken_before_deadline(void *arg)
{
	chan_t *c = arg;
	long v;

	for (int i = 0; i < 2000; i++)
		EXPECT(chan_recv_timeout(c, &v, 1000000000LL) == 0 && v == i, "recv %d", i);
	chan_wg_done(&running);
}

Test(sched, timed_waits_woken_early_leave_no_timer, .timeout = 60)
{
	chan_t *c = chan_new(sizeof(long), 0);
	chan_wg_t wg = CHAN_WG_INIT;

	fibers(0);
	cr_assert_eq(go_counted(woken_before_deadline, c), 0);
	for (long i = 0; i < 2000; i++)
		cr_assert_eq(chan_send(c, &i), 0);
	(void)wg;
	chan_wg_wait(&running);
	EXPECT_REPORTED();
	chan_release(c);
}

/* ---- migration ----------------------------------------------------------- */

struct migrant {
	chan_t *ping, *pong;
	_Atomic int moved;
};

static void migrate(void *arg)
{
	struct migrant *mg = arg;
	unsigned char local[4096];
	double f = 1.0;

	for (int i = 0; i < 2000; i++) {
		long v;
		pthread_t before = pthread_self();

		memset(local, (unsigned char)i, sizeof(local));
		f = f * 1.000001 + 0.5;
		EXPECT(chan_recv(mg->ping, &v) == 0 && v == i, "ping %d", i);
		if (!pthread_equal(before, pthread_self()))
			atomic_fetch_add(&mg->moved, 1);
		for (size_t k = 0; k < sizeof(local); k++)
			if (local[k] != (unsigned char)i) {
				EXPECT(0, "stack byte %zu changed across a park", k);
				break;
			}
		EXPECT(chan_send(mg->pong, &v) == 0, "pong");
	}
	EXPECT(f > 1.0, "floating point state");
	chan_wg_done(&running);
}

static void *ping_from_threads(void *arg)
{
	struct migrant *mg = arg;

	for (long i = 0; i < 2000; i++) {
		long v;

		chan_send(mg->ping, &i);
		chan_recv(mg->pong, &v);
	}
	return NULL;
}

Test(sched, goroutine_that_migrates_keeps_its_values, .timeout = 60)
{
	struct migrant mg = { .ping = chan_new(sizeof(long), 0),
			      .pong = chan_new(sizeof(long), 0) };
	pthread_t t;

	static struct blocker done = { .stop = 1 };

	fibers(2);
	for (int k = 0; k < 4; k++) /* keep both workers busy: wakes land anywhere */
		cr_assert_eq(go_counted(spinner, &done), 0);
	cr_assert_eq(go_counted(migrate, &mg), 0);
	pthread_create(&t, NULL, ping_from_threads, &mg);
	pthread_join(t, NULL);
	EXPECT_REPORTED();
	/* mg.moved counts the migrations; any number is fine, the values
	 * had to stay intact either way. */
	chan_wg_wait(&running);
	chan_release(mg.ping);
	chan_release(mg.pong);
}

/* ---- chan_yield, chan_go_blocking, configuration ------------------------- */

struct yielder {
	_Atomic int turn;
	_Atomic int bad;
};

static void yield_a(void *arg)
{
	struct yielder *y = arg;

	for (int i = 0; i < 1000; i++) {
		while (atomic_load(&y->turn) != 0)
			chan_yield(); /* one worker: only a yield lets b run */
		atomic_store(&y->turn, 1);
	}
}

static void yield_b(void *arg)
{
	struct yielder *y = arg;

	for (int i = 0; i < 1000; i++) {
		while (atomic_load(&y->turn) != 1)
			chan_yield();
		atomic_store(&y->turn, 0);
	}
	atomic_store(&y->bad, -1);
}

Test(sched, yield_lets_the_other_goroutine_run, .timeout = 60)
{
	struct yielder y = { 0 };

	fibers(1);
	cr_assert_eq(chan_go(yield_a, &y), 0);
	cr_assert_eq(chan_go(yield_b, &y), 0);
	while (atomic_load(&y.bad) != -1)
		usleep(1000);
	chan_yield(); /* on a plain thread: sched_yield(), harmless */
}

static void on_blocking_pool(void *arg)
{
	chan_t *c = arg;
	long v = chan__sched_self() == NULL; /* a thread, not a goroutine */

	usleep(1000);
	chan_send(c, &v);
	chan_wg_done(&running);
}

Test(sched, go_blocking_runs_on_a_thread)
{
	chan_t *c = chan_new(sizeof(long), 0);
	long v = 0;

	fibers(0);
	cr_assert_eq(chan_go_blocking(NULL, NULL), -EINVAL);
	chan_wg_add(&running, 1);
	cr_assert_eq(chan_go_blocking(on_blocking_pool, c), 0);
	cr_assert_eq(chan_recv(c, &v), 0);
	cr_assert_eq(v, 1);
	chan_wg_wait(&running);
	chan_release(c);
}

static void report_self(void *arg)
{
	chan_t *c = arg;
	long v = chan__sched_self() != NULL;

	chan_send(c, &v);
	chan_wg_done(&running);
}

Test(sched, modes_and_workers)
{
	chan_t *c = chan_new(sizeof(long), 0);
	long v;

	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .mode = 3 }), -EINVAL);
	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .mode = CHAN_GO_THREADS }), 0);
	cr_assert_eq(go_counted(report_self, c), 0);
	cr_assert_eq(chan_recv(c, &v), 0);
	cr_assert_eq(v, 0, "thread mode ran a goroutine");
	fibers(3);
	cr_assert_eq(go_counted(report_self, c), 0);
	cr_assert_eq(chan_recv(c, &v), 0);
	cr_assert_eq(v, 1, "fiber mode ran a thread");
	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .workers = 3 }), 0);
	cr_assert_eq(chan_go_configure(&(chan_go_opts_t){ .workers = 4 }), -EBUSY);
	chan_wg_wait(&running);
	chan_release(c);
}

/* Start-up failures are reported, and leave nothing behind. */
Test(sched, start_failure_is_reported)
{
	fibers(0);
	chan__fault_arm(CHAN__FAULT_THREAD, 1); /* the monitor */
	cr_assert_eq(chan_go(report_self, NULL), -EAGAIN);
	chan__fault_arm(CHAN__FAULT_THREAD, 1); /* the first worker */
	cr_assert_eq(chan_go(report_self, NULL), -EAGAIN);
	chan__fault_arm(CHAN__FAULT_THREAD, 0);
	{
		chan_t *c = chan_new(sizeof(long), 0);
		long v;

		cr_assert_eq(go_counted(report_self, c), 0);
		cr_assert_eq(chan_recv(c, &v), 0);
		chan_wg_wait(&running);
		chan_release(c);
	}
}

/* ---- stack overflow ------------------------------------------------------- */

static _Atomic long recurse_limit = 1L << 40; /* never reached: the guard is */

static __attribute__((noinline)) long recurse(volatile char *prev, long depth)
{
	volatile char frame[512];

	frame[0] = (char)depth;
	if (prev)
		frame[1] = prev[0];
	if (depth >= atomic_load(&recurse_limit))
		return 0;
	return recurse(frame, depth + 1) + frame[0];
}

static void overflow_task(void *arg)
{
	(void)arg;
	recurse(NULL, 0);
}

/* A goroutine that overflows its stack is reported as such, then aborts. */
Test(sched, stack_overflow_is_reported, .timeout = 60)
{
	int err[2];
	pid_t pid;
	char buf[512] = { 0 };
	ssize_t n, got = 0;
	int status;

	cr_assert_eq(pipe(err), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(err[1], 2);
		/* Not the runner's descriptors: this child is not its test. */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		fibers(1);
		chan_go(overflow_task, NULL);
		for (;;)
			pause();
	}
	close(err[1]);
	while ((n = read(err[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
	cr_assert_not_null(strstr(buf, "chan: goroutine "), "stderr: %s", buf);
	cr_assert_not_null(strstr(buf, " overflowed its 64 KiB stack"), "stderr: %s", buf);
}

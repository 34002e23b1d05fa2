/* SPDX-License-Identifier: MIT */
/*
 * core/sched.c - the M:N scheduler: goroutines as fibers on worker threads,
 * with per-worker run queues, a next-to-run slot, a global queue, work
 * stealing, spinning-then-parking idle workers and a monitor (Go's sysmon).
 * Vocabulary and interface: core/sched_pvt.h. The design follows Go's
 * runtime/proc.go; the wake rule is Tokio's.
 *
 * Records.
 *   fiber  a goroutine: saved stack pointer, its stack, fn/arg. It lives at
 *          the top of its own stack, so a goroutine costs no malloc.
 *   P      run queue (a 256-slot ring: the owner pushes at tail and pops at
 *          head, thieves take half from head with a CAS), runnext, a stack
 *          cache, the owner M.
 *   M      a thread: its own stack is the scheduler context ("g0"), from
 *          which it switches to a fiber. A fiber that parks, yields or exits
 *          switches straight to the next fiber of its P if there is one
 *          (switch_direct(): that fiber finishes the park, yield or exit),
 *          else back to g0. Ms live until the process ends; idle ones sleep
 *          on their futex word.
 *
 * Locks and ownership. sched.lock guards the idle-P list, the idle-M list
 * and the global queue. A P's ring has one producer (the M that owns the P)
 * and many consumers (owner and thieves, via the CAS on head); runnext and
 * the stack cache are the owner's alone. Ownership moves only through
 * p->owner: acquirep() (a release store, after the P left the idle list
 * under the lock, or was handed over by startm()), and the monitor's
 * retake (below).
 *
 * The retake handshake (Dekker, seq_cst on both sides). An M touches its
 * P's queue or cache only between rt_enter() and rt_exit(): rt_enter stores
 * m->in_rt = 1 (seq_cst), then loads p->owner (seq_cst) and goes on only if
 * it still reads itself. The monitor CASes p->owner from m to RETAKING
 * (seq_cst), then loads m->in_rt (seq_cst): if 1 it puts m back (the M is
 * in the scheduler, not stuck), if 0 the P is taken (owner NULL) and handed
 * to another M. In the single total order of seq_cst operations either the
 * M's load sees the CAS (and the M gives up the P, or waits while it reads
 * RETAKING), or the monitor's load sees in_rt = 1: never both using the
 * queue. An M in its scheduler loop keeps in_rt = 1 throughout, so only an
 * M that runs fiber code for a long time can lose its P.
 *
 * No lost wakeup for idle workers (Go's spinning protocol). Work is made
 * visible (a ring push, or a global push under the lock) before wakep()
 * reads npidle and nmspinning (seq_cst). An M that finds nothing either
 * parks its P under the lock after checking the global queue under that
 * same lock (so a global push either is seen or happens after the P is
 * idle, and then wakep() sees npidle > 0), or, if it was spinning, first
 * drops nmspinning (seq_cst) and then checks every ring and the global
 * queue again, so that a pusher which saw nmspinning > 0 and did not wake
 * anyone has its work found. A spinning M that finds work calls wakep()
 * for a replacement if it was the last spinner and more work is visible
 * (reset_spinning() says why that is enough).
 *
 * The wake rule: a fiber readied by a fiber on this worker goes to runnext
 * and wakes nobody (a hand-off runs on the same core with no system call);
 * a new goroutine, a fiber pushed out of runnext, and anything readied from
 * outside a worker wakes an idle worker, only if none is spinning already.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <chan/clock.h>
#include <chan/task.h>

#include "clock_pvt.h"
#include "fork_pvt.h"
#include "futex_pvt.h"
#include "lock_pvt.h"
#include "sched_pvt.h"
#include "stack_pvt.h"
#include "switch_pvt.h"
#include "../ring/compiler.h"
#include "../ring/fault.h"

#if CHAN__TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif
#if defined(__SANITIZE_ADDRESS__) || CHAN__HAS_FEATURE(address_sanitizer)
#define CHAN__ASAN 1
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
				     size_t *size_old);
void __asan_unpoison_memory_region(const void *addr, size_t size);
#else
#define CHAN__ASAN 0
#endif

#define RUNQ_SIZE	 256u	   /* slots per P ring (a power of two) */
#define GLOBAL_EVERY	 61u	   /* check the global queue every n-th schedule */
#define SPIN_NS		 30000	   /* an idle M spins this long before parking */
#define MONITOR_STUCK_NS 10000000  /* a P whose fiber ran this long is retaken */
#define MONITOR_TICK_NS	 2000000   /* the monitor's period while Ps are busy */
/* Stacks freed beyond the workers' caches (core/stack.c) that the monitor
 * leaves warm, and the most it cools per tick while Ps are busy (all but
 * STACKS_WARM before it sleeps). */
#define STACKS_WARM	 64
#define STACKS_PER_TICK	 4096

struct m;

struct chan__fiber {
	void *sp;		/* saved context, while switched out */
	struct chan__stack *stack;
	void (*fn)(void *);
	void *arg;
	uint64_t id;
	uint32_t fork_gen;	/* the sched.fork_gen it was created in */
	struct chan__fiber *next; /* global queue link, under sched.lock */
#if CHAN__TSAN
	void *tsan;
#endif
};

struct p {
	/* Ring: positions in [head, tail) are queued. head: CAS by anyone
	 * (release on success publishes nothing; acquire when reading it
	 * orders the slot loads before a thief's own slot stores); tail:
	 * stored by the owner only (release: publishes the slot). */
	alignas(CHAN_CACHELINE) _Atomic uint32_t head;
	alignas(CHAN_CACHELINE) _Atomic uint32_t tail;
	_Atomic(struct chan__fiber *) ring[RUNQ_SIZE];
	/* Written by the owner (exchange); a spinning thief may take a fiber
	 * that sat there too long with a CAS (steal_runnext()). */
	_Atomic(struct chan__fiber *) runnext;
	_Atomic(struct m *) owner;  /* NULL: idle or in hand-over */
	_Atomic uint32_t schedtick; /* bumped per fiber run (relaxed: a hint for the monitor) */
	uint32_t mon_tick;	    /* monitor-private: last tick seen ... */
	int64_t mon_when;	    /* ... and when it changed */
	uint32_t ticks;		    /* owner-private schedule counter */
	struct chan__stack_cache stacks; /* owner-private */
	struct p *next_idle;	    /* under sched.lock */
	unsigned id;
};

enum act {
	ACT_NONE,
	ACT_PARK,     /* commit(arg); resume at once if it returns false */
	ACT_YIELD,    /* requeue behind the others */
	ACT_EXIT,     /* free the stack */
	ACT_GLOBAL,   /* requeue on the global queue (lost our P) */
};

struct m {
	void *g0_sp;	      /* the scheduler context, while a fiber runs */
	struct p *p;	      /* held P, or NULL */
	struct p *nextp;      /* handed over by startm(), under sched.lock */
	struct chan__fiber *cur; /* the fiber running, or NULL in g0 */
	_Atomic uint32_t in_rt;	 /* see "retake handshake" */
	_Atomic uint32_t note;	 /* futex: 1 once startm() handed us a P */
	bool spinning;
	enum act act;	      /* what g0 (or, with prev set, the next fiber) does
			       * with the fiber that switched out */
	bool (*commit)(void *);
	void *commit_arg;
	/* Set by switch_direct(): the fiber that switched straight to the one
	 * now running, whose act the latter finishes in resumed(). */
	struct chan__fiber *prev;
	struct m *next_idle;  /* under sched.lock */
	struct chan__fiber *seen_next; /* steal_runnext()'s memory ... */
	uint32_t seen_tick;
	int64_t seen_at;
#if CHAN__TSAN
	void *tsan_g0;
#endif
#if CHAN__ASAN
	const void *g0_bottom;
	size_t g0_size;
	void *fake_stack;
#endif
};

#define RETAKING ((struct m *)1)

static struct {
	struct chan__lock lock;
	struct p **ps;		/* nprocs Ps, fixed once started */
	unsigned nprocs;
	struct p *pidle;	/* under lock */
	_Atomic uint32_t npidle; /* written under lock; read anywhere (seq_cst) */
	struct m *midle;	/* under lock */
	_Atomic uint32_t nmspinning;
	struct chan__fiber *gq_head, *gq_tail; /* under lock */
	_Atomic uint32_t gq_len; /* written under lock; read anywhere */
	_Atomic uint32_t started; /* 0, 1 (starting, under start_lock), 2 */
	struct chan__lock start_lock;
	unsigned workers_cfg;	/* under start_lock */
	bool monitor_started;	/* under start_lock */
	_Atomic size_t stack_size; /* relaxed: read per chan_go */
	_Atomic uint64_t next_id;
	_Atomic uint32_t fork_gen;
	_Atomic uint32_t monitor_sleeping; /* futex: monitor parked, all Ps idle */
} sched;

static _Thread_local CHAN__TLS_IE struct m *tls_m;

/* ---- who am I --------------------------------------------------------- */

/* Not inlined: see chan__sched_self(). Every use re-reads the thread. */
static __attribute__((noinline)) struct m *cur_m(void)
{
	return tls_m;
}

struct chan__fiber *chan__sched_self(void)
{
	struct m *m = cur_m();

	return m ? m->cur : NULL;
}

void chan__set_errno(int e)
{
	errno = e;
}

uint64_t chan__sched_fiber_id(const struct chan__fiber *f)
{
	return f ? f->id : 0;
}

/* ---- the retake handshake --------------------------------------------- */

static bool rt_enter(struct m *m)
{
	struct p *p = m->p;

	if (!p)
		return false;
	/* Already inside (g0 between two uses): in_rt == 1 with a P means we
	 * own it, since the monitor takes no P whose M it sees inside, and
	 * every other way of losing it (a failed rt_enter, blocking_begin)
	 * clears m->p. Relaxed: our own word. */
	if (atomic_load_explicit(&m->in_rt, memory_order_relaxed) == 1)
		return true;
	/* seq_cst: the Dekker pair with the monitor's CAS and load. */
	atomic_store_explicit(&m->in_rt, 1, memory_order_seq_cst);
	for (;;) {
		struct m *o = atomic_load_explicit(&p->owner, memory_order_seq_cst);

		if (o == m)
			return true;
		if (o != RETAKING) {
			m->p = NULL; /* taken: the monitor handed it on */
			return false;
		}
		chan__cpu_relax(); /* the monitor decides within a few loads */
	}
}

static void rt_exit(struct m *m)
{
	/* Release: our queue updates happen-before a retake that sees 0. */
	atomic_store_explicit(&m->in_rt, 0, memory_order_release);
}

/* ---- the P ring ------------------------------------------------------- */

static struct chan__fiber *ring_slot_load(struct p *p, uint32_t pos)
{
	return atomic_load_explicit(&p->ring[pos % RUNQ_SIZE], memory_order_relaxed);
}

static void ring_slot_store(struct p *p, uint32_t pos, struct chan__fiber *f)
{
	atomic_store_explicit(&p->ring[pos % RUNQ_SIZE], f, memory_order_relaxed);
}

static uint32_t runq_len(struct p *p)
{
	/* Acquire both: a racy size, good for "anything there?". */
	uint32_t h = atomic_load_explicit(&p->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&p->tail, memory_order_acquire);

	return t - h;
}

static void globrunq_put_batch(struct chan__fiber *first, struct chan__fiber *last, uint32_t n);

/* Owner: the ring is full; move half of it and @f to the global queue. */
static bool runq_put_slow(struct p *p, struct chan__fiber *f, uint32_t h, uint32_t t)
{
	struct chan__fiber *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2;

	for (uint32_t i = 0; i < n; i++)
		batch[i] = ring_slot_load(p, h + i);
	/* Release on success: nothing to publish, but pairs with thieves'
	 * acquire loads of head like every head CAS. */
	if (!atomic_compare_exchange_strong_explicit(&p->head, &h, h + n, memory_order_release,
						     memory_order_relaxed))
		return false; /* thieves made room meanwhile: the fast path will do */
	batch[n] = f;
	for (uint32_t i = 0; i < n; i++)
		batch[i]->next = batch[i + 1];
	globrunq_put_batch(batch[0], f, n + 1);
	return true;
}

/* Owner, inside rt_enter/rt_exit. */
static void runq_put(struct p *p, struct chan__fiber *f)
{
	for (;;) {
		/* Acquire: slots below head are free once a consumer's CAS
		 * moved head past them (it loaded them before the CAS). */
		uint32_t h = atomic_load_explicit(&p->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);

		if (t - h < RUNQ_SIZE) {
			ring_slot_store(p, t, f);
			/* Release: pairs with consumers' acquire load of tail. */
			atomic_store_explicit(&p->tail, t + 1, memory_order_release);
			return;
		}
		if (runq_put_slow(p, f, h, t))
			return;
	}
}

/* Owner: runnext first, then the ring. */
static struct chan__fiber *runq_get(struct p *p)
{
	/* Relaxed load first: an empty slot costs no RMW. Acquire exchange:
	 * a thief may have taken it (then we get NULL), and what we get was
	 * published by a release exchange. */
	struct chan__fiber *f = atomic_load_explicit(&p->runnext, memory_order_relaxed);

	if (f && (f = atomic_exchange_explicit(&p->runnext, NULL, memory_order_acquire)))
		return f;
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);

		if (h == t)
			return NULL;
		f = ring_slot_load(p, h);
		/* Release: pairs with the acquire loads of head (our slot
		 * load is ordered before the owner may reuse the slot). */
		if (atomic_compare_exchange_weak_explicit(&p->head, &h, h + 1, memory_order_release,
							  memory_order_relaxed))
			return f;
	}
}

/*
 * Thief @p (whose ring is empty: we steal only when it is) takes half of
 * @victim's ring. Returns one fiber to run, the rest queued on @p.
 */
static struct chan__fiber *runq_steal(struct p *p, struct p *victim)
{
	uint32_t t0 = atomic_load_explicit(&p->tail, memory_order_relaxed);

	for (;;) {
		uint32_t h = atomic_load_explicit(&victim->head, memory_order_acquire);
		/* Acquire: pairs with the victim owner's release of tail, so
		 * the slots we copy are the ones it published. */
		uint32_t t = atomic_load_explicit(&victim->tail, memory_order_acquire);
		uint32_t n = t - h;

		n -= n / 2;
		if (n == 0)
			return NULL;
		if (n > RUNQ_SIZE / 2)
			continue; /* head and tail read at different times: again */
		for (uint32_t i = 0; i < n; i++)
			ring_slot_store(p, t0 + i, ring_slot_load(victim, h + i));
		/* Release: pairs with the acquire loads of head by the victim's
		 * owner, which may then reuse the slots we copied. */
		if (!atomic_compare_exchange_strong_explicit(&victim->head, &h, h + n,
							     memory_order_release,
							     memory_order_relaxed))
			continue;
		n--;
		{
			struct chan__fiber *f = ring_slot_load(p, t0 + n);

			if (n)
				/* Release: pairs with consumers' acquire of tail. */
				atomic_store_explicit(&p->tail, t0 + n, memory_order_release);
			return f;
		}
	}
}

/* ---- the global queue (sched.lock) ------------------------------------ */

static void gq_push_locked(struct chan__fiber *first, struct chan__fiber *last, uint32_t n)
{
	last->next = NULL;
	if (sched.gq_tail)
		sched.gq_tail->next = first;
	else
		sched.gq_head = first;
	sched.gq_tail = last;
	/* seq_cst: read by wakep()'s peers and the spinning re-check; see
	 * "No lost wakeup" in the header. */
	atomic_store_explicit(&sched.gq_len,
			      atomic_load_explicit(&sched.gq_len, memory_order_relaxed) + n,
			      memory_order_seq_cst);
}

static struct chan__fiber *gq_pop_locked(void)
{
	struct chan__fiber *f = sched.gq_head;

	if (!f)
		return NULL;
	sched.gq_head = f->next;
	if (!sched.gq_head)
		sched.gq_tail = NULL;
	atomic_store_explicit(&sched.gq_len,
			      atomic_load_explicit(&sched.gq_len, memory_order_relaxed) - 1,
			      memory_order_seq_cst);
	return f;
}

static void wakep(void);

static void globrunq_put_batch(struct chan__fiber *first, struct chan__fiber *last, uint32_t n)
{
	chan__lock_acquire(&sched.lock);
	gq_push_locked(first, last, n);
	chan__lock_release(&sched.lock);
}

static bool gq_empty(void)
{
	return atomic_load_explicit(&sched.gq_len, memory_order_seq_cst) == 0;
}

/* Take a fair share of the global queue: one to run, some to @p's ring. */
static struct chan__fiber *gq_get(struct m *m, struct p *p)
{
	struct chan__fiber *f;
	uint32_t n;

	if (gq_empty())
		return NULL;
	chan__lock_acquire(&sched.lock);
	n = atomic_load_explicit(&sched.gq_len, memory_order_relaxed);
	n = n / sched.nprocs + 1;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	/* Never more than fits: runq_put() must not spill back to the
	 * global queue, whose lock we hold. */
	if (n > RUNQ_SIZE - runq_len(p))
		n = RUNQ_SIZE - runq_len(p);
	if (n == 0)
		n = 1;
	f = gq_pop_locked();
	while (f && --n) {
		struct chan__fiber *g = gq_pop_locked();

		if (!g)
			break;
		runq_put(p, g);
	}
	chan__lock_release(&sched.lock);
	(void)m;
	return f;
}

/* ---- idle Ps and Ms (sched.lock) -------------------------------------- */

static void pidle_put_locked(struct p *p)
{
	atomic_store_explicit(&p->owner, NULL, memory_order_relaxed);
	p->next_idle = sched.pidle;
	sched.pidle = p;
	/* seq_cst: see "No lost wakeup". */
	atomic_store_explicit(&sched.npidle,
			      atomic_load_explicit(&sched.npidle, memory_order_relaxed) + 1,
			      memory_order_seq_cst);
}

static struct p *pidle_get_locked(void)
{
	struct p *p = sched.pidle;

	if (!p)
		return NULL;
	sched.pidle = p->next_idle;
	atomic_store_explicit(&sched.npidle,
			      atomic_load_explicit(&sched.npidle, memory_order_relaxed) - 1,
			      memory_order_seq_cst);
	return p;
}

/* Only the P's owner bumps its tick: a load and a store, no RMW. Relaxed:
 * a hint for the monitor, which orders nothing by it. */
static void tick(struct p *p)
{
	atomic_store_explicit(&p->schedtick,
			      atomic_load_explicit(&p->schedtick, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static void acquirep(struct m *m, struct p *p)
{
	m->p = p;
	tick(p); /* tells the monitor this is a new run */
	/* Release: pairs with rt_enter()'s and the monitor's loads; the P's
	 * previous owner's updates were ordered before us by the lock or by
	 * the hand-over. */
	atomic_store_explicit(&p->owner, m, memory_order_release);
}

static void monitor_kick(void);
static void *m_main(void *arg);

/* A new M (thread) to run @p. Return: 0, -ENOMEM or -EAGAIN. */
static int newm(struct p *p, bool spinning)
{
	struct m *m = chan__calloc(1, sizeof(*m));
	pthread_attr_t attr;
	pthread_t tid;
	int r = EAGAIN;

	if (!m)
		return -ENOMEM;
	m->nextp = p;
	m->spinning = spinning;
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (!chan__fault_hit(CHAN__FAULT_THREAD))
			r = pthread_create(&tid, &attr, m_main, m);
		pthread_attr_destroy(&attr);
	}
	if (r != 0) {
		free(m);
		return r == ENOMEM ? -ENOMEM : -EAGAIN;
	}
	monitor_kick();
	return 0;
}

/* Start (or wake) an M to run @p. spinning: it is counted in nmspinning. */
static void startm(struct p *p, bool spinning)
{
	struct m *m;

	chan__lock_acquire(&sched.lock);
	if (!p) {
		p = pidle_get_locked();
		if (!p) {
			chan__lock_release(&sched.lock);
			if (spinning)
				atomic_fetch_sub_explicit(&sched.nmspinning, 1,
							  memory_order_seq_cst);
			return;
		}
	}
	m = sched.midle;
	if (m) {
		sched.midle = m->next_idle;
		m->nextp = p;
		m->spinning = spinning;
		chan__lock_release(&sched.lock);
		/* Release: pairs with the acquire load in stopm(). */
		atomic_store_explicit(&m->note, 1, memory_order_release);
		chan__futex_wake(&m->note, 1);
		monitor_kick();
		return;
	}
	chan__lock_release(&sched.lock);
	if (newm(p, spinning) == 0)
		return;
	/* No thread: give the P back. Its work stays queued for the Ms that
	 * exist (start() made sure there is one). */
	chan__lock_acquire(&sched.lock);
	pidle_put_locked(p);
	chan__lock_release(&sched.lock);
	if (spinning)
		atomic_fetch_sub_explicit(&sched.nmspinning, 1, memory_order_seq_cst);
}

/* Wake an idle P if there is one and nobody is spinning (Tokio's rule). */
static void wakep(void)
{
	uint32_t zero = 0;

	/* seq_cst: see "No lost wakeup". */
	if (atomic_load_explicit(&sched.npidle, memory_order_seq_cst) == 0)
		return;
	if (atomic_load_explicit(&sched.nmspinning, memory_order_seq_cst) != 0 ||
	    !atomic_compare_exchange_strong_explicit(&sched.nmspinning, &zero, 1,
						     memory_order_seq_cst, memory_order_relaxed))
		return;
	startm(NULL, true);
}

/* Park the M (no P) until startm() hands it one. */
static void stopm(struct m *m)
{
	chan__lock_acquire(&sched.lock);
	atomic_store_explicit(&m->note, 0, memory_order_relaxed);
	m->next_idle = sched.midle;
	sched.midle = m;
	chan__lock_release(&sched.lock);
	/* Acquire: pairs with the release store in startm(); nextp and
	 * spinning were written before it. */
	while (atomic_load_explicit(&m->note, memory_order_acquire) == 0)
		chan__futex_wait(&m->note, 0, CHAN__FOREVER);
	acquirep(m, m->nextp);
	m->nextp = NULL;
}

/* Give @p away: to an M if there is work for it, else to the idle list. */
static void handoffp(struct p *p)
{
	if (runq_len(p) || atomic_load_explicit(&p->runnext, memory_order_relaxed) ||
	    !gq_empty()) {
		startm(p, false);
		return;
	}
	chan__lock_acquire(&sched.lock);
	if (atomic_load_explicit(&sched.gq_len, memory_order_relaxed)) {
		chan__lock_release(&sched.lock);
		startm(p, false);
		return;
	}
	pidle_put_locked(p);
	chan__lock_release(&sched.lock);
}

/* ---- finding work ----------------------------------------------------- */

static bool any_work(void)
{
	if (!gq_empty())
		return true;
	for (unsigned i = 0; i < sched.nprocs; i++)
		if (runq_len(sched.ps[i]))
			return true;
	return false;
}

static uint32_t fastrand(void)
{
	static _Thread_local uint32_t x = 0;

	if (!x)
		x = (uint32_t)(uintptr_t)&x | 1;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/*
 * A victim's runnext is left alone for a while: its owner usually runs it
 * within microseconds (that is the hand-off). One that sits there while
 * its owner keeps running something else (the fiber that readied it
 * computes on) is taken after RUNNEXT_GRACE_NS, as Go does after ~3 us:
 * the thief saw the same fiber there, with the victim's tick unchanged, on
 * an earlier round that long ago. The CAS makes sure it takes only what is
 * still there (the owner's runq_get() empties the slot with an exchange).
 */
#define RUNNEXT_GRACE_NS 5000

static struct chan__fiber *steal_runnext(struct m *m, struct p *v)
{
	/* Acquire: pairs with the release exchange that put it there. */
	struct chan__fiber *f = atomic_load_explicit(&v->runnext, memory_order_acquire);
	uint32_t tick = atomic_load_explicit(&v->schedtick, memory_order_relaxed);
	int64_t now;

	if (!f)
		return NULL;
	now = chan_now();
	if (f != m->seen_next || tick != m->seen_tick) {
		m->seen_next = f;
		m->seen_tick = tick;
		m->seen_at = now;
		return NULL;
	}
	if (now - m->seen_at < RUNNEXT_GRACE_NS)
		return NULL;
	m->seen_next = NULL;
	/* Acquire: the fiber's state, published by the exchange. */
	if (atomic_compare_exchange_strong_explicit(&v->runnext, &f, NULL, memory_order_acquire,
						    memory_order_relaxed))
		return f;
	return NULL;
}

static struct chan__fiber *steal_round(struct m *m, struct p *p)
{
	unsigned n = sched.nprocs, start = fastrand() % n;

	for (unsigned i = 0; i < n; i++) {
		struct p *v = sched.ps[(start + i) % n];
		struct chan__fiber *f;

		if (v == p)
			continue;
		f = runq_steal(p, v);
		if (!f && runq_len(v) == 0)
			f = steal_runnext(m, v);
		if (f)
			return f;
	}
	return NULL;
}

static void reset_spinning(struct m *m)
{
	m->spinning = false;
	/* seq_cst: see "No lost wakeup". The last spinner to find work starts
	 * a replacement if there is more work about: a pusher may have left
	 * some for us, seeing us spin, without waking anyone. Work pushed
	 * after our decrement sees no spinner and wakes someone itself; work
	 * pushed before it is visible to any_work() (the global queue's
	 * length is a seq_cst store, a ring's owner runs its own ring). With
	 * nothing else about, waking a worker to spin, find nothing and sleep
	 * again is two futex calls per hand-off and a CPU taken from whoever
	 * feeds us (a plain thread sending to one goroutine: 13-60 us per
	 * value before, on 2 vCPUs). */
	if (atomic_fetch_sub_explicit(&sched.nmspinning, 1, memory_order_seq_cst) == 1 &&
	    any_work())
		wakep();
}

/*
 * Returns a fiber to run, with m->p held (in_rt = 1). May park the M.
 */
static struct chan__fiber *find_runnable(struct m *m)
{
	struct chan__fiber *f;
	struct p *p;
	int64_t spin_until = 0;

top:
	if (!m->p) {
		chan__lock_acquire(&sched.lock);
		p = pidle_get_locked();
		chan__lock_release(&sched.lock);
		if (p)
			acquirep(m, p);
		else
			stopm(m);
	}
	if (!rt_enter(m))
		goto top;
	p = m->p;
	if (++p->ticks % GLOBAL_EVERY == 0 && (f = gq_get(m, p)))
		goto found;
	if ((f = runq_get(p)) || (f = gq_get(m, p)))
		goto found;
	/* Steal, spinning for a while, if not too many already do. */
	if (!m->spinning) {
		uint32_t busy = sched.nprocs -
				atomic_load_explicit(&sched.npidle, memory_order_seq_cst);

		if (2 * atomic_load_explicit(&sched.nmspinning, memory_order_seq_cst) < busy) {
			m->spinning = true;
			atomic_fetch_add_explicit(&sched.nmspinning, 1, memory_order_seq_cst);
		}
	}
	if (m->spinning) {
		if (!spin_until)
			spin_until = chan_now() + SPIN_NS;
		do {
			if ((f = steal_round(m, p)) || (f = gq_get(m, p)))
				goto found;
			/* Yield, not pause: a spinning worker must not sit on a
			 * CPU that a runnable thread needs (a plain thread about
			 * to ready our next fiber, on a machine with few CPUs);
			 * with nothing else runnable it returns at once. */
			sched_yield();
		} while (chan_now() < spin_until);
	}
	/* Nothing: give the P back, checking the global queue under the lock. */
	chan__lock_acquire(&sched.lock);
	if (atomic_load_explicit(&sched.gq_len, memory_order_relaxed)) {
		chan__lock_release(&sched.lock);
		goto top;
	}
	pidle_put_locked(p);
	chan__lock_release(&sched.lock);
	m->p = NULL;
	rt_exit(m);
	if (m->spinning) {
		m->spinning = false;
		atomic_fetch_sub_explicit(&sched.nmspinning, 1, memory_order_seq_cst);
		if (any_work()) {
			chan__lock_acquire(&sched.lock);
			p = pidle_get_locked();
			chan__lock_release(&sched.lock);
			if (p) {
				acquirep(m, p);
				m->spinning = true;
				atomic_fetch_add_explicit(&sched.nmspinning, 1,
							  memory_order_seq_cst);
				spin_until = 0;
				goto top;
			}
		}
	}
	spin_until = 0;
	stopm(m);
	goto top;
found:
	if (m->spinning)
		reset_spinning(m);
	return f;
}

/* ---- switching -------------------------------------------------------- */

#if CHAN__ASAN
static void asan_start(void **fake, struct chan__fiber *to, struct m *m)
{
	if (to)
		__sanitizer_start_switch_fiber(fake, to->stack->lo, to->stack->size);
	else
		__sanitizer_start_switch_fiber(fake, m->g0_bottom, m->g0_size);
}
#endif

/*
 * g0 -> @f, and back when a fiber switches to g0: @f, or another fiber that
 * @f (or a successor of it) switched to directly. Returns that fiber.
 */
static struct chan__fiber *run_fiber(struct m *m, struct chan__fiber *f)
{
	m->cur = f;
	m->act = ACT_NONE;
	chan__overflow_enter(f->id, f->stack);
	tick(m->p);
	rt_exit(m);
#if CHAN__TSAN
	__tsan_switch_to_fiber(f->tsan, 0);
#endif
#if CHAN__ASAN
	{
		void *fake = NULL;

		asan_start(&fake, f, m);
		chan__switch(&m->g0_sp, f->sp, f);
		__sanitizer_finish_switch_fiber(fake, NULL, NULL);
	}
#else
	chan__switch(&m->g0_sp, f->sp, f);
#endif
	f = m->cur;
	chan__overflow_enter(0, NULL);
	m->cur = NULL;
	return f;
}

#if CHAN__ASAN
/* A fiber resumed on @m: if g0 resumed it, the stack it came from is g0's. */
static void asan_finish(struct m *m, void *fake)
{
	const void *bottom;
	size_t size;

	__sanitizer_finish_switch_fiber(fake, &bottom, &size);
	if (!m->prev) {
		m->g0_bottom = bottom;
		m->g0_size = size;
	}
}
#endif

static void stack_free(struct m *m, struct chan__fiber *f)
{
	struct chan__stack *s = f->stack;

#if CHAN__TSAN
	__tsan_destroy_fiber(f->tsan);
#endif
#if CHAN__ASAN
	/* The frames it died in never returned: their redzones would poison
	 * the next goroutine's frames at the same depth. */
	__asan_unpoison_memory_region(s->lo, s->size);
#endif
	chan__stack_put(m->p ? &m->p->stacks : NULL, s);
}

/*
 * The first thing a fiber does when it runs again (or for the first time)
 * on @m. If the fiber that ran before it switched straight to it
 * (switch_direct()), that fiber's context is saved by now: finish its park,
 * yield or exit here, as g0 would have, and leave the runtime it entered.
 * The P is ours throughout (in_rt = 1 since switch_direct()'s rt_enter()).
 */
static void resumed(struct m *m)
{
	struct chan__fiber *prev = m->prev;

	if (chan__likely(!prev))
		return; /* g0 resumed us: run_fiber() did all of this */
	m->prev = NULL;
	switch (m->act) {
	case ACT_PARK:
		if (!m->commit(m->commit_arg))
			runq_put(m->p, prev); /* woken before it committed: runnable */
		break;
	case ACT_YIELD:
		runq_put(m->p, prev);
		break;
	case ACT_EXIT:
		stack_free(m, prev);
		break;
	case ACT_NONE:
	case ACT_GLOBAL:
		abort(); /* never left for a fiber to finish */
	}
	m->act = ACT_NONE;
	rt_exit(m);
}

/*
 * Fiber @f on @m -> fiber @to, or g0 if @to is NULL, with the sanitizers
 * told; m->act says what is to be done with @f. Returns when @f runs again,
 * maybe on another M, resumed by its g0 or by a fiber (resumed()).
 */
static void leave(struct m *m, struct chan__fiber *f, struct chan__fiber *to, enum act act)
{
#if CHAN__TSAN
	__tsan_switch_to_fiber(to ? to->tsan : m->tsan_g0, 0);
#endif
#if CHAN__ASAN
	void *fake = NULL;

	asan_start(act == ACT_EXIT ? NULL : &fake, to, m);
#else
	(void)act;
#endif
	chan__switch(&f->sp, to ? to->sp : m->g0_sp, to);
	m = cur_m();
#if CHAN__ASAN
	asan_finish(m, fake);
#endif
	resumed(m);
}

/* Fiber -> g0 of whichever M runs us now, with an action for it. */
static void switch_to_g0(struct m *m, struct chan__fiber *f, enum act act)
{
	m->act = act;
	leave(m, f, NULL, act);
}

/*
 * Fiber @f on @m -> the next fiber of m's P, without the stop in g0 (one
 * context switch instead of two, and no trip through find_runnable()): a
 * ping-pong between two goroutines of one worker is a switch per hand-off.
 * @act is what g0 would have done with @f; the fiber we switch to does it
 * in resumed(), after the switch saved @f's context, so a waker can never
 * resume a half-saved @f (the commit that makes @f visible to wakers runs
 * only then, exactly as on g0). Returns false, having changed nothing but
 * p->ticks, when there is no next fiber or our P is gone: switch to g0 then
 * (which finds work elsewhere, or idles). Returns after @f runs again.
 */
static bool switch_direct(struct m *m, struct chan__fiber *f, enum act act)
{
	struct chan__fiber *next = NULL;
	struct p *p;

	if (!rt_enter(m))
		return false; /* retaken: g0 finds a P or idles */
	p = m->p;
	if (++p->ticks % GLOBAL_EVERY == 0)
		next = gq_get(m, p); /* the global queue's fair turn, as in g0 */
	if (!next && !(next = runq_get(p)))
		return false; /* in_rt stays 1: g0 is inside the runtime too */
	m->prev = f;
	m->act = act;
	m->cur = next;
	chan__overflow_enter(next->id, next->stack);
	tick(p);
	leave(m, f, next, act);
	return true;
}

/* Fiber @f switches out with @act: straight to the next fiber if there is
 * one, else to g0. */
static void switch_out(struct m *m, struct chan__fiber *f, enum act act)
{
	if (!switch_direct(m, f, act))
		switch_to_g0(m, f, act);
}

/* After a fiber switched back to g0 (in_rt re-entered by the caller). */
static bool after_switch(struct m *m, struct chan__fiber *f)
{
	switch (m->act) {
	case ACT_PARK:
		return !m->commit(m->commit_arg); /* false: parked */
	case ACT_YIELD:
		if (rt_enter(m)) {
			runq_put(m->p, f);
		} else {
			chan__lock_acquire(&sched.lock);
			gq_push_locked(f, f, 1);
			chan__lock_release(&sched.lock);
		}
		return false;
	case ACT_GLOBAL:
		chan__lock_acquire(&sched.lock);
		gq_push_locked(f, f, 1);
		chan__lock_release(&sched.lock);
		wakep();
		return false;
	case ACT_EXIT:
		rt_enter(m); /* for the P's stack cache, if we still hold it */
		stack_free(m, f);
		return false;
	case ACT_NONE:
		break;
	}
	abort(); /* a fiber switched back without saying why */
}

static void schedule(struct m *m)
{
	for (;;) {
		struct chan__fiber *f = find_runnable(m);

		for (;;) {
			f = run_fiber(m, f);
			if (!after_switch(m, f))
				break; /* parked, requeued or gone: not ours now */
			/* Its commit failed: it runs on, if we still hold a P. */
			if (!rt_enter(m)) {
				chan__lock_acquire(&sched.lock);
				gq_push_locked(f, f, 1);
				chan__lock_release(&sched.lock);
				wakep();
				break;
			}
		}
	}
}

static void *m_main(void *arg)
{
	struct m *m = arg;

	tls_m = m;
	chan__overflow_thread_init(); /* best effort: no report without it */
#if CHAN__TSAN
	m->tsan_g0 = __tsan_get_current_fiber();
#endif
	atomic_store_explicit(&m->in_rt, 1, memory_order_seq_cst);
	acquirep(m, m->nextp);
	m->nextp = NULL;
	schedule(m);
	return NULL;
}

/* ---- fibers ----------------------------------------------------------- */

static void fiber_main(void *arg)
{
	struct chan__fiber *f = arg;
	struct m *m;

	m = cur_m();
#if CHAN__ASAN
	asan_finish(m, NULL);
#endif
	resumed(m);
	f->fn(f->arg);
	m = cur_m(); /* maybe not the M we started on */
	switch_out(m, f, ACT_EXIT);
	abort(); /* an exited fiber is never resumed */
}

void chan__sched_park(bool (*commit)(void *), void *arg)
{
	struct m *m = cur_m();
	struct chan__fiber *f = m->cur;

	m->commit = commit;
	m->commit_arg = arg;
	switch_out(m, f, ACT_PARK);
}

void chan__sched_ready(struct chan__fiber *f)
{
	struct m *m = cur_m();

	if (chan__unlikely(f->fork_gen != atomic_load_explicit(&sched.fork_gen,
							      memory_order_relaxed)))
		return; /* a fiber of the parent of a fork(): it does not exist here */
	if (m && m->cur && rt_enter(m)) {
		/* Acq_rel: release publishes f to a thief (steal_runnext());
		 * acquire takes the one we push out. */
		struct chan__fiber *old =
			atomic_exchange_explicit(&m->p->runnext, f, memory_order_acq_rel);

		if (old)
			runq_put(m->p, old);
		rt_exit(m);
		if (old)
			wakep();
		return;
	}
	chan__lock_acquire(&sched.lock);
	gq_push_locked(f, f, 1);
	chan__lock_release(&sched.lock);
	wakep();
}

void chan_yield(void)
{
	struct m *m = cur_m();

	if (!m || !m->cur) {
		sched_yield();
		return;
	}
	switch_out(m, m->cur, ACT_YIELD);
}

/* ---- blocking calls --------------------------------------------------- */

void chan_blocking_begin(void)
{
	struct m *m = cur_m();
	struct p *p;

	if (!m || !m->cur || !rt_enter(m))
		return; /* not on a fiber, or our P is gone already */
	p = m->p;
	m->p = NULL;
	/* Relaxed: handoffp() publishes it through the lock or startm(). */
	atomic_store_explicit(&p->owner, NULL, memory_order_relaxed);
	rt_exit(m);
	handoffp(p);
}

void chan_blocking_end(void)
{
	struct m *m = cur_m();
	struct p *p;

	if (!m || !m->cur || m->p)
		return;
	chan__lock_acquire(&sched.lock);
	p = pidle_get_locked();
	chan__lock_release(&sched.lock);
	if (p) {
		acquirep(m, p);
		return;
	}
	/* No P free: queue ourselves globally; this M goes idle. */
	switch_to_g0(m, m->cur, ACT_GLOBAL);
}

/* ---- the monitor ------------------------------------------------------ */

static void retake(struct p *p, int64_t now)
{
	struct m *o = atomic_load_explicit(&p->owner, memory_order_acquire);
	uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);

	if (!o || o == RETAKING || tick != p->mon_tick) {
		p->mon_tick = tick;
		p->mon_when = now;
		return;
	}
	if (now - p->mon_when < MONITOR_STUCK_NS)
		return;
	/* seq_cst: the Dekker pair with rt_enter() (see the header). */
	if (atomic_load_explicit(&o->in_rt, memory_order_seq_cst) ||
	    !atomic_compare_exchange_strong_explicit(&p->owner, &o, RETAKING,
						     memory_order_seq_cst, memory_order_relaxed))
		return;
	if (atomic_load_explicit(&o->in_rt, memory_order_seq_cst)) {
		/* Release: the M waits in rt_enter() for this. */
		atomic_store_explicit(&p->owner, o, memory_order_release);
		return;
	}
	/* Taken: its M runs one fiber for good; the queue goes on elsewhere. */
	atomic_store_explicit(&p->owner, NULL, memory_order_relaxed);
	p->mon_when = now;
	handoffp(p);
}

static void monitor_kick(void)
{
	/* Acquire-free fast check: the monitor re-checks after it sets 1. */
	if (atomic_load_explicit(&sched.monitor_sleeping, memory_order_seq_cst)) {
		atomic_store_explicit(&sched.monitor_sleeping, 0, memory_order_seq_cst);
		chan__futex_wake(&sched.monitor_sleeping, 1);
	}
}

static void *monitor_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = { 0, MONITOR_TICK_NS };
		int64_t now;

		/* Acquire: pairs with the release at the end of start(): the
		 * Ps are published (and never freed after). */
		if (atomic_load_explicit(&sched.started, memory_order_acquire) != 2) {
			nanosleep(&ts, NULL);
			continue;
		}
		if (atomic_load_explicit(&sched.npidle, memory_order_seq_cst) == sched.nprocs) {
			/* Nothing runs: the exited goroutines' stacks go back
			 * to the kernel before we sleep. */
			chan__stack_scavenge(STACKS_WARM, SIZE_MAX);
			/* All idle: sleep until startm() kicks us. seq_cst:
			 * pairs with monitor_kick(); an M that started after
			 * our store sees 1 and kicks. */
			atomic_store_explicit(&sched.monitor_sleeping, 1, memory_order_seq_cst);
			while (atomic_load_explicit(&sched.npidle, memory_order_seq_cst) ==
				       sched.nprocs &&
			       atomic_load_explicit(&sched.monitor_sleeping,
						    memory_order_seq_cst))
				chan__futex_wait(&sched.monitor_sleeping, 1,
						 chan__deadline(1000000000));
			atomic_store_explicit(&sched.monitor_sleeping, 0, memory_order_seq_cst);
		}
		nanosleep(&ts, NULL);
		now = chan_now();
		for (unsigned i = 0; i < sched.nprocs; i++)
			retake(sched.ps[i], now);
		chan__stack_scavenge(STACKS_WARM, STACKS_PER_TICK);
	}
	return NULL;
}

/* ---- start-up, chan_go ------------------------------------------------ */

static unsigned default_workers(void)
{
	const char *env = getenv("CHAN_PROCS");
	cpu_set_t set;

	if (env && *env) {
		char *end;
		unsigned long v = strtoul(env, &end, 10);

		if (*end == '\0' && v > 0 && v <= 1u << 16)
			return (unsigned)v;
	}
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	return 1;
}

static int start(void)
{
	unsigned n;
	struct p **ps;
	pthread_attr_t attr;
	pthread_t tid;
	int r = EAGAIN;

	chan__lock_acquire(&sched.start_lock);
	if (atomic_load_explicit(&sched.started, memory_order_relaxed) == 2) {
		chan__lock_release(&sched.start_lock);
		return 0;
	}
	chan__fork_register();
	n = sched.workers_cfg ? sched.workers_cfg : default_workers();
	ps = chan__calloc(n, sizeof(*ps));
	for (unsigned i = 0; ps && i < n; i++) {
		ps[i] = chan__aligned_alloc(CHAN_CACHELINE, sizeof(struct p));
		if (!ps[i]) {
			while (i--)
				free(ps[i]);
			free(ps);
			ps = NULL;
			break;
		}
		memset(ps[i], 0, sizeof(struct p));
		ps[i]->id = i;
	}
	if (!ps) {
		chan__lock_release(&sched.start_lock);
		return -ENOMEM;
	}
	if (sched.monitor_started) {
		r = 0;
	} else if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		if (!chan__fault_hit(CHAN__FAULT_THREAD))
			r = pthread_create(&tid, &attr, monitor_main, NULL);
		pthread_attr_destroy(&attr);
		sched.monitor_started = r == 0;
	}
	if (r != 0) {
		for (unsigned i = 0; i < n; i++)
			free(ps[i]);
		free(ps);
		chan__lock_release(&sched.start_lock);
		return r == ENOMEM ? -ENOMEM : -EAGAIN;
	}
	chan__lock_acquire(&sched.lock);
	sched.ps = ps;
	sched.nprocs = n;
	for (unsigned i = n; i-- > 1;)
		pidle_put_locked(ps[i]);
	chan__lock_release(&sched.lock);
	/* The first M, now: from here on at least one M exists (Ms never
	 * exit), so a goroutine that chan_go() queued always runs, and a later
	 * thread creation failure costs parallelism, never a lost task. */
	r = newm(ps[0], false);
	if (r < 0) {
		/* The monitor runs on; it finds no P and sleeps. Try again
		 * on the next chan_go(). */
		chan__lock_acquire(&sched.lock);
		sched.ps = NULL;
		sched.nprocs = 0;
		sched.pidle = NULL;
		atomic_store_explicit(&sched.npidle, 0, memory_order_relaxed);
		chan__lock_release(&sched.lock);
		for (unsigned i = 0; i < n; i++)
			free(ps[i]);
		free(ps);
		chan__lock_release(&sched.start_lock);
		return r;
	}
	/* Release: pairs with the acquire load in chan__sched_go(). */
	atomic_store_explicit(&sched.started, 2, memory_order_release);
	chan__lock_release(&sched.start_lock);
	return 0;
}

int chan__sched_go(void (*fn)(void *), void *arg)
{
	struct m *m;
	struct chan__fiber *f;
	struct chan__stack *s;
	size_t size;
	int r;

	/* Acquire: pairs with the release store at the end of start(). */
	if (atomic_load_explicit(&sched.started, memory_order_acquire) != 2 && (r = start()) < 0)
		return r;
	size = atomic_load_explicit(&sched.stack_size, memory_order_relaxed);
	if (!size)
		size = CHAN__STACK_DEFAULT;
	m = cur_m();
	if (m && m->cur && rt_enter(m)) {
		s = chan__stack_get(&m->p->stacks, size);
		rt_exit(m);
	} else {
		s = chan__stack_get(NULL, size);
	}
	if (!s)
		return -ENOMEM;
	/* The record sits at the top of its own stack (96 bytes of it). */
	f = (struct chan__fiber *)(((uintptr_t)s->lo + s->size - sizeof(*f)) &
				   ~(uintptr_t)(alignof(struct chan__fiber) - 1));
	f->stack = s;
	f->fn = fn;
	f->arg = arg;
	/* Relaxed: an id only needs to be unique. */
	f->id = atomic_fetch_add_explicit(&sched.next_id, 1, memory_order_relaxed) + 1;
	f->fork_gen = atomic_load_explicit(&sched.fork_gen, memory_order_relaxed);
	f->next = NULL;
	f->sp = chan__switch_make(s->lo, (size_t)((char *)f - (char *)s->lo), fiber_main);
#if CHAN__TSAN
	f->tsan = __tsan_create_fiber(0);
#endif
	m = cur_m();
	if (m && m->cur && rt_enter(m)) {
		runq_put(m->p, f);
		rt_exit(m);
	} else {
		chan__lock_acquire(&sched.lock);
		gq_push_locked(f, f, 1);
		chan__lock_release(&sched.lock);
	}
	wakep();
	return 0;
}

int chan__sched_configure(unsigned workers, size_t stack_size)
{
	int r = 0;

	if (stack_size)
		/* Relaxed: read by goroutines created after. */
		atomic_store_explicit(&sched.stack_size, stack_size, memory_order_relaxed);
	if (!workers)
		return 0;
	chan__lock_acquire(&sched.start_lock);
	if (atomic_load_explicit(&sched.started, memory_order_relaxed) == 2)
		r = workers == sched.nprocs ? 0 : -EBUSY;
	else
		sched.workers_cfg = workers;
	chan__lock_release(&sched.start_lock);
	return r;
}

/* ---- fork() ----------------------------------------------------------- */

void chan__sched_fork_prepare(void)
{
	chan__lock_acquire(&sched.start_lock);
	chan__lock_acquire(&sched.lock);
}

void chan__sched_fork_parent(void)
{
	chan__lock_release(&sched.lock);
	chan__lock_release(&sched.start_lock);
}

void chan__sched_fork_child(void)
{
	/* Only the forking thread came along: no M, no monitor. Goroutines
	 * of the parent do not exist here (as its other threads do not): a
	 * new generation makes a later chan__sched_ready() of one a no-op;
	 * their stacks stay mapped (nothing can tell which are free). The
	 * child starts a fresh scheduler on its first chan_go(). */
	atomic_store_explicit(&sched.fork_gen,
			      atomic_load_explicit(&sched.fork_gen, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&sched.started, 0, memory_order_relaxed);
	sched.ps = NULL; /* the parent's Ps leak: their queues name dead fibers */
	sched.nprocs = 0;
	sched.pidle = NULL;
	atomic_store_explicit(&sched.npidle, 0, memory_order_relaxed);
	sched.midle = NULL;
	atomic_store_explicit(&sched.nmspinning, 0, memory_order_relaxed);
	sched.gq_head = sched.gq_tail = NULL;
	atomic_store_explicit(&sched.gq_len, 0, memory_order_relaxed);
	atomic_store_explicit(&sched.monitor_sleeping, 0, memory_order_relaxed);
	sched.monitor_started = false;
	tls_m = NULL; /* the forking thread, if it was an M, is not one here */
	chan__lock_init(&sched.lock);
	chan__lock_init(&sched.start_lock);
}

/* SPDX-License-Identifier: MIT */
/*
 * core/overflow.c - reporting a goroutine's stack overflow (see stack_pvt.h).
 *
 * A fiber that overflows faults in the guard below its stack's lo. The fault
 * cannot be handled on the stack that overflowed, so every fiber-running
 * thread has an alternate signal stack, and the SIGSEGV/SIGBUS handler runs
 * on it (SA_ONSTACK). The handler reads only this thread's current fiber
 * (cur_stack, cur_id, written by chan__overflow_enter() on the same thread)
 * and calls only async-signal-safe functions: write(2), abort(), sigaction().
 *
 * Invariants: prev[] is written once, by install() under pthread_once(),
 * before our handler can run, and never after; own_altstack is set only
 * while this thread's alternate stack is the one init mapped.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stack_pvt.h"
#include "../ring/compiler.h"
#include "../ring/fault.h"

#define ALTSTACK_SIZE (64 * 1024)

/*
 * The current fiber of this thread. Atomic, not volatile, for the handler
 * that interrupts this thread (C11 7.14.1.1: a handler may read lock-free
 * atomics). O1/O2 below order id before stack; the handler's acquire (O3)
 * then sees a stack only with its own id.
 */
static _Thread_local CHAN__TLS_IE _Atomic(const struct chan__stack *) cur_stack;
static _Thread_local CHAN__TLS_IE _Atomic uint64_t cur_id;
/* Initial-exec TLS (written on every switch): a fixed offset from the
 * thread pointer, so reading them in the handler allocates nothing. */

static _Thread_local void *own_altstack; /* mapping, guard included */
static _Thread_local size_t own_altstack_bytes;

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static struct sigaction prev_segv, prev_bus;
static size_t guard_bytes; /* set by install(), before the handler exists */

/* ---- the handler ------------------------------------------------------------ */

/* Decimal @v into the end of @buf; returns the first digit. Signal-safe. */
static char *utoa(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

static void put(char **p, const char *s)
{
	size_t n = strlen(s);

	memcpy(*p, s, n);
	*p += n;
}

static _Noreturn void report(uint64_t id, const struct chan__stack *s)
{
	char msg[128], num[24], *p = msg;
	ssize_t r;
	size_t off = 0, len;

	num[sizeof(num) - 1] = '\0';
	put(&p, "chan: goroutine ");
	put(&p, utoa(num + sizeof(num) - 1, id));
	put(&p, " overflowed its ");
	put(&p, utoa(num + sizeof(num) - 1, s->size / 1024));
	put(&p, " KiB stack\n");
	len = (size_t)(p - msg);
	while (off < len) {
		r = write(STDERR_FILENO, msg + off, len - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	abort();
}

/*
 * Not ours: hand the signal on as if we had never been installed. The
 * previous handler's sa_mask and SA_NODEFER/SA_RESETHAND are not replayed
 * (we run with our own mask); its function is called with our arguments.
 */
static void chain(int sig, siginfo_t *info, void *uctx)
{
	const struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;
	bool from_kernel = info->si_code > 0; /* a real fault, not kill() */
	int saved = errno;

	if (prev->sa_flags & SA_SIGINFO) {
		prev->sa_sigaction(sig, info, uctx);
	} else if (prev->sa_handler == SIG_IGN && !from_kernel) {
		/* ignored, as before us */
	} else if (prev->sa_handler == SIG_DFL || prev->sa_handler == SIG_IGN) {
		/* The default action, with the right signal: return and let the
		 * faulting instruction fault again (a fault cannot be ignored,
		 * the kernel kills), or re-send a kill()'s signal, blocked
		 * until we return. */
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		sigemptyset(&dfl.sa_mask);
		sigaction(sig, &dfl, NULL);
		if (!from_kernel)
			raise(sig);
	} else {
		prev->sa_handler(sig);
	}
	errno = saved;
}

static void handler(int sig, siginfo_t *info, void *uctx)
{
	/* O3: acquire; pairs with O2 in chan__overflow_enter(): with a stack
	 * we see its id. The same thread wrote both; see cur_stack. */
	const struct chan__stack *s = atomic_load_explicit(&cur_stack, memory_order_acquire);
	uintptr_t a = (uintptr_t)info->si_addr, lo;

	if (s && info->si_code > 0) {
		lo = (uintptr_t)s->lo;
		if (a < lo && a >= lo - guard_bytes)
			/* Relaxed: ordered by O3 above. */
			report(atomic_load_explicit(&cur_id, memory_order_relaxed), s);
	}
	chain(sig, info, uctx);
}

static void install(void)
{
	struct sigaction sa = { .sa_sigaction = handler,
				.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };

	guard_bytes = chan__stack_guard_size();
	sigemptyset(&sa.sa_mask);
	/* Cannot fail: valid signals, a valid handler. The previous
	 * dispositions are written here, before ours can run. */
	sigaction(SIGSEGV, &sa, &prev_segv);
	sigaction(SIGBUS, &sa, &prev_bus);
}

/* ---- per thread ------------------------------------------------------------- */

int chan__overflow_thread_init(void)
{
	size_t guard = chan__stack_guard_size(), bytes = ALTSTACK_SIZE;
	stack_t old, ss;
	char *p;

#ifdef _SC_SIGSTKSZ
	long want = sysconf(_SC_SIGSTKSZ); /* the CPU's signal frame (AMX, SVE) */

	if (want > 0 && (size_t)want * 2 > bytes)
		bytes = ((size_t)want * 2 + guard - 1) & ~(guard - 1);
#endif
	if (own_altstack) /* again on this thread: nothing to do */
		goto installed;
	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
		goto installed; /* keep the thread's own: it may be in use */
	if (chan__fault_hit(CHAN__FAULT_ALLOC))
		return -ENOMEM;
	p = mmap(NULL, guard + bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	/* A guard below: a handler that overflows the altstack faults, and the
	 * kernel kills the thread with SIGSEGV, instead of writing below. */
	ss = (stack_t){ .ss_sp = p + guard, .ss_size = bytes };
	if (chan__stack_guard_install(p, guard) != 0 || sigaltstack(&ss, NULL) != 0) {
		munmap(p, guard + bytes);
		return -ENOMEM;
	}
	own_altstack = p;
	own_altstack_bytes = guard + bytes;
installed:
	pthread_once(&install_once, install);
	return 0;
}

void chan__overflow_thread_fini(void)
{
	stack_t cur, off = { .ss_flags = SS_DISABLE };

	chan__overflow_enter(0, NULL);
	if (!own_altstack)
		return;
	/* Someone else's altstack since: leave it, and our mapping with it
	 * (it may be theirs to restore). */
	if (sigaltstack(NULL, &cur) != 0 ||
	    cur.ss_sp != (char *)own_altstack + chan__stack_guard_size())
		return;
	if (sigaltstack(&off, NULL) != 0)
		return; /* EPERM: running on it; keep it mapped */
	munmap(own_altstack, own_altstack_bytes);
	own_altstack = NULL;
}

void chan__overflow_enter(uint64_t id, const struct chan__stack *s)
{
	/* Relaxed: ordered before O1 by O1's release. Between here and O2 a
	 * fault is reported as not ours, never with a torn (id, stack). */
	atomic_store_explicit(&cur_stack, NULL, memory_order_relaxed);
	/* O1: release; keeps the NULL store above before the new id. */
	atomic_store_explicit(&cur_id, id, memory_order_release);
	/* O2: release; pairs with O3 in handler(): the id is written first. */
	atomic_store_explicit(&cur_stack, s, memory_order_release);
}

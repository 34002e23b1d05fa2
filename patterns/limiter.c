/* SPDX-License-Identifier: MIT */
/*
 * patterns/limiter.c - the token bucket of chan/limiter.h as a lock-free GCRA.
 *
 * Algorithm: the generic cell rate algorithm in its "virtual scheduling"
 * form, as governor (Rust) implements it: with T = the emission interval
 * (ns per token) and tau = burst * T, the state is tat, the theoretical
 * arrival time at which the bucket is full again. At time now the bucket
 * holds burst - max(0, tat - now) / T tokens; n tokens conform iff
 * max(tat, now) + n*T - now <= tau, and taking them sets tat to that sum.
 * A reservation that does not conform may still take the tokens: it acts at
 * tat' - tau (x/time/rate's negative tokens). One CAS commits a decision.
 *
 * Invariants:
 *  - I1 (the word): state = tag << 60 | tat, tat a signed 60-bit count of
 *    the configuration's units (2^shift ns) since its base. The tag names the
 *    cfg[] slot that holds T, tau, base and shift; set_rate/set_burst write
 *    the next slot and publish it with the CAS that moves the tag (R1/A1), so
 *    a decision reads one consistent (cfg, tat) pair and commits only if the
 *    word is unchanged. A tag is reused after 16 changes: a thread would have
 *    to stall between its load and its CAS across 16 set_rate/set_burst calls
 *    that also bring tat back to the same unit for that to go unnoticed.
 *  - I2 (range): tat >= the now of the commit that wrote it (max() above);
 *    now is clamped to +-2^57 units, tau <= 2^56, waits <= 2^56, so tat stays
 *    within +-2^59 and no arithmetic can wrap.
 *  - I3 (time): last_ns only grows (up to races, where a smaller value is
 *    only more conservative); a call's time is max(now, last_ns), so a now
 *    that goes backwards counts as no time passed.
 * Window bound: after k admissions in [t, t+d], tat >= t + k*T; the last of
 * them conformed, so t + k*T - (t + d) <= tau, i.e. k <= burst + d/T.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <chan/clock.h>
#include <chan/ctx.h>
#include <chan/limiter.h>
#include <chan/select.h>

__extension__ typedef __int128 lim_i128;

enum { MODE_FINITE, MODE_ZERO, MODE_INF };

#define TAG_SHIFT 60
#define TAG_COUNT 16
#define TAT_MASK  ((UINT64_C(1) << TAG_SHIFT) - 1)
#define NOW_LIM   (INT64_C(1) << 57) /* |now| in units, after clamping */
#define TAU_MAX   (INT64_C(1) << 56) /* the largest tau (and burst) in units */
#define WAIT_MAX  (INT64_C(1) << 56) /* the longest reservation wait, in units */
#define BURST_MAX ((size_t)TAU_MAX)

/* One configuration. Written only by a setter (under l->set_lock) into the
 * slot the next tag names, before the CAS that publishes it; read with
 * relaxed loads after an acquire load of the state word (A1). */
struct lim_cfg {
	_Atomic int mode, shift;
	_Atomic int64_t base; /* ns: unit 0 of this configuration */
	_Atomic int64_t t;    /* emission interval, units (ZERO: 1) */
	_Atomic int64_t tau;  /* burst * t, units */
	_Atomic uint64_t burst;
};

/* A snapshot of one slot, as a decision uses it. */
struct cfg {
	int mode, shift;
	int64_t base, t, tau;
	uint64_t burst;
};

struct chan_limiter {
	_Atomic uint64_t state;	 /* I1 */
	_Atomic int64_t last_ns; /* I3 */
	pthread_mutex_t set_lock;
	struct lim_cfg cfg[TAG_COUNT];
};

/* ---- saturating arithmetic ---- */

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* No libm: ceil() of a non-negative double, and x / 2^s (s <= 62), exactly. */
static double pos_ceil(double x)
{
	uint64_t u;

	if (!(x < 9223372036854775808.0))
		return x; /* integral already (or inf) at this magnitude */
	u = (uint64_t)x;
	return (double)u < x ? (double)(u + 1) : (double)u;
}

static double div_pow2(double x, int s)
{
	return x / (double)(UINT64_C(1) << s);
}

/* ---- the state word ---- */

static unsigned word_tag(uint64_t w)
{
	return (unsigned)(w >> TAG_SHIFT);
}

static int64_t word_tat(uint64_t w)
{
	/* Sign-extend the 60-bit field (two's complement). */
	uint64_t v = w & TAT_MASK;

	if (v & (UINT64_C(1) << (TAG_SHIFT - 1)))
		v |= ~TAT_MASK;
	return (int64_t)v;
}

static uint64_t word_make(unsigned tag, int64_t tat)
{
	return (uint64_t)(tag % TAG_COUNT) << TAG_SHIFT | ((uint64_t)tat & TAT_MASK);
}

static void cfg_read(struct chan_limiter *l, unsigned tag, struct cfg *c)
{
	struct lim_cfg *s = &l->cfg[tag];

	/* Relaxed: ordered after the acquire load of the word that named this
	 * slot (A1), which synchronizes with the setter's publishing CAS (R1). */
	c->mode = atomic_load_explicit(&s->mode, memory_order_relaxed);
	c->shift = atomic_load_explicit(&s->shift, memory_order_relaxed);
	c->base = atomic_load_explicit(&s->base, memory_order_relaxed);
	c->t = atomic_load_explicit(&s->t, memory_order_relaxed);
	c->tau = atomic_load_explicit(&s->tau, memory_order_relaxed);
	c->burst = atomic_load_explicit(&s->burst, memory_order_relaxed);
}

static void cfg_write(struct chan_limiter *l, unsigned tag, const struct cfg *c)
{
	struct lim_cfg *s = &l->cfg[tag];

	/* Relaxed: published by the release CAS R1 that follows. */
	atomic_store_explicit(&s->mode, c->mode, memory_order_relaxed);
	atomic_store_explicit(&s->shift, c->shift, memory_order_relaxed);
	atomic_store_explicit(&s->base, c->base, memory_order_relaxed);
	atomic_store_explicit(&s->t, c->t, memory_order_relaxed);
	atomic_store_explicit(&s->tau, c->tau, memory_order_relaxed);
	atomic_store_explicit(&s->burst, c->burst, memory_order_relaxed);
}

/* A1: the word and, through it, the slot it names; pairs with R1. */
static uint64_t state_load(struct chan_limiter *l, struct cfg *c)
{
	uint64_t w = atomic_load_explicit(&l->state, memory_order_acquire);

	cfg_read(l, word_tag(w), c);
	return w;
}

/* Commit a decision made on @w. Acquire on failure: the new word may name a
 * new slot (A1 again); on success nothing is published but the word itself. */
static bool state_cas(struct chan_limiter *l, uint64_t *w, uint64_t nw, struct cfg *c)
{
	if (atomic_compare_exchange_weak_explicit(&l->state, w, nw, memory_order_acquire,
						  memory_order_acquire))
		return true;
	cfg_read(l, word_tag(*w), c);
	return false;
}

/* I3: the time a call acts at. */
static int64_t eff_now(struct chan_limiter *l, int64_t now)
{
	/* Relaxed: a hint that only makes time monotonic; it orders nothing. */
	return max64(now, atomic_load_explicit(&l->last_ns, memory_order_relaxed));
}

static void reconfigure(chan_limiter_t *l, double rate, size_t burst, bool set_rate, int64_t at,
			bool try);

/* Past half the clock's span from its base: move the base (a configuration
 * change that keeps everything, made by whoever gets the setters' lock
 * first; the others go on, clamped, in the meantime). */
static bool maybe_rebase(struct chan_limiter *l, const struct cfg *c, int64_t now)
{
	if (c->mode != MODE_FINITE || (sat_sub(now, c->base) >> c->shift) <= NOW_LIM / 2)
		return false;
	reconfigure(l, 0, (size_t)c->burst, false, now, true);
	return true;
}

static void raise_last(struct chan_limiter *l, int64_t now)
{
	/* Relaxed: see eff_now(). A racing smaller store only loses a little
	 * of the hint (I3). */
	if (now > atomic_load_explicit(&l->last_ns, memory_order_relaxed))
		atomic_store_explicit(&l->last_ns, now, memory_order_relaxed);
}

/* ---- units ---- */

/* ns -> units since base, rounded down (so never early), clamped (I2). */
static int64_t to_units(const struct cfg *c, int64_t now)
{
	if (c->mode == MODE_ZERO)
		return 0; /* rate 0: time does not matter */
	return clamp64(sat_sub(now, c->base) >> c->shift, -NOW_LIM, NOW_LIM);
}

/* units -> ns, exact for the multiples of the unit that to_units() rounds to. */
static int64_t to_ns(const struct cfg *c, int64_t u)
{
	int64_t off;

	if (u > (INT64_MAX >> c->shift))
		return INT64_MAX;
	if (u < (INT64_MIN >> c->shift))
		return INT64_MIN;
	off = (int64_t)((uint64_t)u << c->shift);
	return sat_add(c->base, off);
}

/* Tokens as units of c (n <= burst, so n*t <= tau <= 2^56: no overflow). */
static int64_t tokens_units(const struct cfg *c, size_t n)
{
	return (int64_t)n * c->t;
}

/* A finite configuration with an interval of @t_ns (>= 1) ns: the finest unit
 * (2^shift ns) in which the interval and burst * interval fit in TAU_MAX. */
static void cfg_finite(struct cfg *c, double t_ns, uint64_t b, int64_t base)
{
	c->mode = MODE_FINITE;
	c->burst = b;
	c->base = base;
	for (c->shift = 0; c->shift <= 62; c->shift++) {
		double tu = pos_ceil(div_pow2(t_ns < 1 ? 1 : t_ns, c->shift));
		int64_t t;

		if (tu > (double)TAU_MAX)
			continue;
		t = (int64_t)tu;
		if (b == 0 || (uint64_t)t <= (uint64_t)TAU_MAX / b) {
			c->t = t;
			c->tau = t * (int64_t)b;
			return;
		}
	}
	/* Units of 2^62 ns (146 years) and still too coarse: a huge burst at
	 * a glacial rate. No token comes back within the time line: rate 0. */
	*c = (struct cfg){ .mode = MODE_ZERO, .t = 1, .tau = (int64_t)b, .burst = b, .base = base };
}

/* A configuration from a rate and a burst, based at @base. */
static void cfg_make(struct cfg *c, double rate, size_t burst, int64_t base)
{
	uint64_t b = burst > BURST_MAX ? BURST_MAX : burst;
	double t_ns = rate > 0 ? pos_ceil(1e9 / rate) : INFINITY;

	*c = (struct cfg){ .mode = MODE_INF, .t = 1, .burst = b, .base = base };
	if (rate >= HUGE_VAL || rate == CHAN_LIMIT_INF)
		return;
	/* A token would take 2^64 ns or more, longer than the whole int64 time
	 * line (or the rate is 0, or so small that 1e9/rate overflows): no
	 * token ever comes back, which is rate 0. */
	if (!(t_ns < 18446744073709551616.0)) {
		c->mode = MODE_ZERO;
		c->tau = (int64_t)b;
		return;
	}
	cfg_finite(c, t_ns, b, base);
}

/* ---- decisions ---- */

struct decision {
	int64_t nu;	/* the call's time, in units */
	int64_t tat;	/* tat after taking the tokens */
	int64_t act_u;	/* when they conform, in units */
};

/* Take n tokens from tat at nu: the new tat and the time they conform. */
static void take(const struct cfg *c, int64_t tat, int64_t nu, size_t n, struct decision *d)
{
	d->nu = nu;
	d->tat = max64(tat, nu) + tokens_units(c, n);
	d->act_u = max64(d->tat - c->tau, nu);
}

bool chan_limiter_allow_n(chan_limiter_t *l, int64_t now_ns, size_t n)
{
	struct decision d;
	struct cfg c;
	uint64_t w;
	int64_t now;

	if (!l)
		return false;
	now = eff_now(l, now_ns);
	w = state_load(l, &c);
	if (maybe_rebase(l, &c, now))
		w = state_load(l, &c);
	for (;;) {
		if (c.mode == MODE_INF)
			return true;
		if (n > c.burst)
			return false;
		take(&c, word_tat(w), to_units(&c, now), n, &d);
		if (d.act_u > d.nu)
			return false; /* read-only: a rejection writes nothing */
		if (n == 0)
			return true; /* conforms, and takes nothing */
		if (state_cas(l, &w, word_make(word_tag(w), d.tat), &c))
			break;
	}
	raise_last(l, now);
	return true;
}

bool chan_limiter_allow(chan_limiter_t *l)
{
	return chan_limiter_allow_n(l, chan_now(), 1);
}

int chan_limiter_reserve(chan_limiter_t *l, int64_t now_ns, size_t n, int64_t max_wait_ns,
			 chan_reservation_t *r)
{
	struct decision d;
	struct cfg c;
	uint64_t w;
	int64_t now, act;

	if (r)
		*r = (chan_reservation_t){ .n = 0, .act_at_ns = INT64_MAX, .tat_end = INT64_MIN };
	if (!l || !r)
		return -EINVAL;
	now = eff_now(l, now_ns);
	w = state_load(l, &c);
	if (maybe_rebase(l, &c, now))
		w = state_load(l, &c);
	for (;;) {
		if (c.mode == MODE_INF) {
			/* Nothing taken: tat_end stays INT64_MIN, cancel ignores it. */
			r->n = n;
			r->act_at_ns = now;
			return 0;
		}
		if (n > c.burst)
			return -EINVAL;
		take(&c, word_tat(w), to_units(&c, now), n, &d);
		if (d.act_u == d.nu) {
			act = now;
		} else if (c.mode == MODE_ZERO || d.act_u - d.nu > WAIT_MAX) {
			return -ETIMEDOUT; /* never, or beyond the clock (act stays INT64_MAX) */
		} else {
			act = to_ns(&c, d.act_u);
			if (act == INT64_MAX || act <= now)
				return -ETIMEDOUT; /* past the end of the time line, or
						      of the limiter's clock: never */
			if (max_wait_ns < 0 || sat_sub(act, now) > max_wait_ns) {
				r->act_at_ns = act;
				return -ETIMEDOUT;
			}
		}
		if (max_wait_ns < 0) {
			r->act_at_ns = act;
			return -ETIMEDOUT;
		}
		if (state_cas(l, &w, word_make(word_tag(w), d.tat), &c))
			break;
	}
	raise_last(l, now);
	r->n = n;
	r->act_at_ns = act;
	r->tat_end = c.mode == MODE_ZERO ? INT64_MAX : to_ns(&c, d.tat);
	return 0;
}

void chan_limiter_cancel(chan_limiter_t *l, const chan_reservation_t *r, int64_t now_ns)
{
	struct cfg c;
	uint64_t w;
	int64_t now, nu, tat, restore, nt;

	if (!l || !r || r->n == 0 || r->tat_end == INT64_MIN)
		return;
	now = eff_now(l, now_ns);
	if (r->act_at_ns < now)
		return; /* its time has passed: the events may have happened */
	w = state_load(l, &c);
	if (maybe_rebase(l, &c, now))
		w = state_load(l, &c);
	for (;;) {
		if (c.mode == MODE_INF)
			return;
		nu = to_units(&c, now);
		tat = word_tat(w);
		restore = (int64_t)(r->n > c.burst ? c.burst : r->n) * c.t;
		if (c.mode == MODE_FINITE && to_ns(&c, tat) != r->tat_end) {
			/* x/time/rate: what later reservations scheduled past
			 * our act time stays theirs. */
			int64_t act_u = to_units(&c, r->act_at_ns);
			int64_t later = tat - c.tau - act_u;

			if (later > 0)
				restore -= later;
		}
		if (restore <= 0)
			return;
		nt = max64(tat - restore, nu);
		if (nt >= tat)
			return;
		if (state_cas(l, &w, word_make(word_tag(w), nt), &c))
			break;
	}
	raise_last(l, now);
}

double chan_limiter_tokens(chan_limiter_t *l, int64_t now_ns)
{
	struct cfg c;
	int64_t debt;
	uint64_t w;

	if (!l)
		return 0;
	w = state_load(l, &c);
	if (c.mode == MODE_INF)
		return INFINITY;
	debt = word_tat(w) - to_units(&c, eff_now(l, now_ns));
	if (debt < 0)
		debt = 0;
	return (double)c.burst - (double)debt / (double)c.t;
}

/* ---- waiting ---- */

/* Sleep until the latest act time of @rs, or until @ctx is done: then the
 * reservations are canceled (unless their time has come). Also canceled on
 * -ENOMEM: the first wait on @ctx makes its done channel, and without it a
 * cancel could not wake us. */
static int sleep_until(chan_limiter_t *const ls[], const chan_reservation_t *rs, size_t k,
		       chan_ctx_t *ctx)
{
	int64_t act = INT64_MIN, now;
	chan_t *done = NULL;
	int rc;

	for (size_t i = 0; i < k; i++)
		act = max64(act, rs[i].act_at_ns);
	for (;;) {
		now = chan_now();
		if (now >= act)
			return 0; /* never before the reservation's time */
		if (!done && !(done = chan_ctx_done(ctx))) {
			for (size_t i = 0; i < k; i++)
				chan_limiter_cancel(ls[i], &rs[i], now);
			return -ENOMEM;
		}

		chan_case_t cs[1] = { { .chan = done, .op = CHAN_OP_RECV } };

		rc = chan_select_timeout(cs, 1, act - now);
		if (rc == -ETIMEDOUT)
			continue; /* re-read the clock: a timeout is not a promise */
		now = chan_now();
		if (rc == 0 && now >= act)
			return 0; /* the time came with the cancel: not both */
		for (size_t i = 0; i < k; i++)
			chan_limiter_cancel(ls[i], &rs[i], now);
		return rc == 0 ? chan_ctx_err(ctx) : rc;
	}
}

/* The wait a context allows from @now: INT64_MAX without a deadline. */
static int64_t ctx_budget(chan_ctx_t *ctx, int64_t now)
{
	int64_t dl = chan_ctx_deadline(ctx);

	return dl == INT64_MAX ? INT64_MAX : sat_sub(dl, now);
}

static bool too_big(chan_limiter_t *l, size_t n)
{
	struct cfg c;

	state_load(l, &c);
	return c.mode != MODE_INF && n > c.burst;
}

int chan_limiter_wait(chan_limiter_t *l, size_t n, chan_ctx_t *ctx)
{
	chan_reservation_t r;
	int64_t now;
	int rc;

	if (!l || !ctx || too_big(l, n))
		return -EINVAL;
	rc = chan_ctx_err(ctx);
	if (rc)
		return rc; /* ctx first: nothing taken */
	now = chan_now();
	rc = chan_limiter_reserve(l, now, n, ctx_budget(ctx, now), &r);
	if (rc)
		return rc;
	return sleep_until(&l, &r, 1, ctx);
}

#define WAIT_ALL_STACK 16

int chan_limiter_wait_all(chan_limiter_t *const ls[], size_t k, size_t n, chan_ctx_t *ctx)
{
	chan_reservation_t stack[WAIT_ALL_STACK], *rs = stack;
	int64_t now, budget;
	int rc = 0;

	if (!ctx || (k && !ls))
		return -EINVAL;
	for (size_t i = 0; i < k; i++)
		if (!ls[i] || too_big(ls[i], n))
			return -EINVAL;
	rc = chan_ctx_err(ctx);
	if (rc)
		return rc;
	if (k == 0)
		return 0;
	if (k > WAIT_ALL_STACK && !(rs = malloc(k * sizeof(*rs))))
		return -ENOMEM;
	now = chan_now();
	budget = ctx_budget(ctx, now);
	for (size_t i = 0; i < k; i++) {
		rc = chan_limiter_reserve(ls[i], now, n, budget, &rs[i]);
		if (rc) {
			while (i--)
				chan_limiter_cancel(ls[i], &rs[i], now);
			break;
		}
	}
	if (rc == 0)
		rc = sleep_until(ls, rs, k, ctx);
	if (rs != stack)
		free(rs);
	return rc;
}

/* ---- configuration ---- */

/*
 * Move to a new configuration, keeping the token count at e = max(chan_now(),
 * last_ns): the new debt is (b' - k) * t' where k = b - debt/t is the old
 * count, rounded up (never more tokens than there were). The new slot is
 * written first and published by the CAS that moves the tag (R1).
 */
static void reconfigure(chan_limiter_t *l, double rate, size_t burst, bool set_rate, int64_t at,
			bool try)
{
	struct cfg c, nc;
	unsigned tag;
	uint64_t w;
	int64_t e;

	if (!try)
		pthread_mutex_lock(&l->set_lock);
	else if (pthread_mutex_trylock(&l->set_lock) != 0)
		return;
	e = eff_now(l, max64(chan_now(), at));
	w = state_load(l, &c);
	tag = (word_tag(w) + 1) % TAG_COUNT;
	/* Only setters change the tag, and they hold set_lock: the slot and
	 * the next tag stay ours while the loop below retries. */
	if (set_rate)
		cfg_make(&nc, rate, (size_t)c.burst, e);
	else if (c.mode == MODE_FINITE)
		cfg_finite(&nc, (double)c.t * (double)(UINT64_C(1) << c.shift), burst > BURST_MAX ? BURST_MAX : burst, e);
	else
		cfg_make(&nc, c.mode == MODE_INF ? HUGE_VAL : 0, burst, e);
	cfg_write(l, tag, &nc);
	for (;;) {
		int64_t debt = 0, nt = 0;

		if (c.mode != MODE_INF) {
			debt = word_tat(w) - to_units(&c, e);
			if (debt < 0)
				debt = 0;
		}
		if (nc.mode != MODE_INF) {
			/* debt' = (b' - b) t' + ceil(debt t' / t) */
			lim_i128 d = (lim_i128)debt * nc.t;
			lim_i128 nd = d / c.t + (d % c.t != 0) +
				      ((lim_i128)nc.burst - (lim_i128)c.burst) * nc.t;

			if (c.mode == MODE_INF)
				nd = 0; /* from unlimited: full */
			if (nd < 0)
				nd = 0;
			if (nd > nc.tau + WAIT_MAX)
				nd = nc.tau + WAIT_MAX;
			nt = to_units(&nc, e) + (int64_t)nd;
		}
		/* R1: publishes slot @tag; pairs with A1 in state_load(). */
		if (atomic_compare_exchange_weak_explicit(&l->state, &w, word_make(tag, nt),
							  memory_order_acq_rel,
							  memory_order_acquire))
			break;
		cfg_read(l, word_tag(w), &c);
	}
	raise_last(l, e);
	pthread_mutex_unlock(&l->set_lock);
}

void chan_limiter_set_rate(chan_limiter_t *l, double events_per_s)
{
	if (!l || isnan(events_per_s) || (events_per_s < 0 && events_per_s != CHAN_LIMIT_INF))
		return;
	reconfigure(l, events_per_s, 0, true, INT64_MIN, false);
}

void chan_limiter_set_burst(chan_limiter_t *l, size_t burst)
{
	if (l)
		reconfigure(l, 0, burst, false, INT64_MIN, false);
}

chan_limiter_t *chan_limiter_new(double events_per_s, size_t burst)
{
	chan_limiter_t *l;
	struct cfg c;

	if (isnan(events_per_s) || (events_per_s < 0 && events_per_s != CHAN_LIMIT_INF)) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		errno = ENOMEM;
		return NULL;
	}
	if (pthread_mutex_init(&l->set_lock, NULL) != 0) {
		free(l);
		errno = ENOMEM;
		return NULL;
	}
	cfg_make(&c, events_per_s, burst, chan_now());
	cfg_write(l, 0, &c);
	/* Full: tat at the very start of the clock (I2's lower bound). */
	atomic_init(&l->state, word_make(0, -NOW_LIM));
	atomic_init(&l->last_ns, INT64_MIN);
	return l;
}

void chan_limiter_destroy(chan_limiter_t *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->set_lock);
	free(l);
}

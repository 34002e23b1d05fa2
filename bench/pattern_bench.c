/* SPDX-License-Identifier: MIT */
/*
 * bench/pattern_bench.c - the pattern layer's benchmarks (issue 7), with the
 * same command line and output as the Go peer bench/peers/go_patterns/:
 *
 *   pattern_bench <bench> [key=value ...]
 *     bare            cap= batch= n=          a producer and the sink on one
 *                                             channel: the baseline hop
 *     pipeline_depth  k= cap= batch= n= [stage=map|or_done]
 *                                             k identity stages in a chain
 *     map_scaling     workers= fn=noop|spin1us|spin100us order=unordered|ordered
 *                     cap= n= [window=]       one chan_map stage
 *     merge_fanin     inputs= cap= n= [batch=]
 *                                             chan_merge of inputs channels,
 *                                             each fed by its own chan_go task
 *
 * Every run is one process and prints one line, the configuration followed
 * by the results:
 *   impl=chan bench=<b> <config> n=<n> secs=<s> <metric>=<x> ... threads=<t>
 * threads is the most OS threads of the process seen in /proc/self/status
 * while the sink ran (sampled at 1/4, 1/2 and 3/4 of the elements).
 *
 * The harness is the same for every row: a producer task (chan_go) sends
 * 1..n into a channel of the row's capacity made CHAN_SINGLE_PRODUCER (as a
 * stage's own output is), batch > 1 with chan_send_burst(); the stages under
 * test follow; the sink (chan_recv, or chan_recv_burst for batch > 1) is a
 * chan_go task, as Go's main is a goroutine (sink=thread: the main thread
 * itself, a plain thread talking to goroutines), and checks the count, the
 * sum, and the order where the row keeps it. Construction is not timed: the
 * producers wait on a gate, the clock starts when it opens and stops when
 * the last output closed.
 * Exit status: 0 ok, 1 a check failed (or the API failed), 2 usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chan/chan.h>

#define BATCH_MAX 4096
#define INPUTS_MAX 65536

static const char *bench;
static size_t k_stages = 1, cap = 64, batch = 1, n_elems = 100000, workers = 1, inputs = 2;
static size_t window;
static const char *fn_name = "noop", *order = "unordered", *stage = "map";
static const char *sink_on = "goroutine";
static int64_t spin_ns;

static void die(const char *what, int err)
{
	fprintf(stderr, "pattern_bench: %s: %s: %s\n", bench, what, strerror(err));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pattern_bench bare cap= batch= n=\n"
		"       pattern_bench pipeline_depth k= cap= batch= n= [stage=map|or_done]\n"
		"       pattern_bench map_scaling workers= fn=noop|spin1us|spin100us"
		" order=unordered|ordered cap= n= [window=]\n"
		"       pattern_bench merge_fanin inputs= cap= n= [batch=]\n"
		"every bench: [sink=goroutine|thread] (default goroutine, as Go's main)\n");
	exit(2);
}

/* OS threads of this process now (Threads: in /proc/self/status), or -1. */
static int threads_now(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int t = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &t) == 1)
			break;
	fclose(f);
	return t;
}

static chan_t *mk(size_t capacity, unsigned flags)
{
	chan_t *c = chan_new_opts(&(chan_opts_t){
		.elem_size = sizeof(uint64_t), .capacity = capacity, .flags = flags });

	if (!c)
		die("chan_new_opts", errno);
	return c;
}

/* ---- the producer: values first .. first + count - 1 ---- */

struct producer {
	chan_t *out; /* the producer's reference; closed and released at the end */
	chan_t *gate;
	chan_wg_t *wg;
	uint64_t first, count;
	size_t batch;
};

static void producer_main(void *arg)
{
	struct producer *p = arg;
	uint64_t buf[BATCH_MAX];
	char g;

	chan_recv(p->gate, &g); /* -EPIPE when the gate opens */
	if (p->batch <= 1) {
		for (uint64_t v = p->first; v < p->first + p->count; v++)
			if (chan_send(p->out, &v) != 0)
				die("chan_send", EPIPE);
	} else {
		for (uint64_t v = p->first; v < p->first + p->count;) {
			size_t m = 0;

			for (; m < p->batch && v + m < p->first + p->count; m++)
				buf[m] = v + m;
			for (size_t off = 0; off < m;) {
				size_t s = chan_send_burst(p->out, buf + off, m - off);

				if (s == 0)
					die("chan_send_burst", errno);
				off += s;
			}
			v += m;
		}
	}
	chan_close(p->out);
	chan_release(p->out);
	chan_wg_done(p->wg);
}

/* ---- the sink ---- */

struct sink_result {
	uint64_t count, sum;
	bool in_order;
	int threads;
};

static void sample_threads(struct sink_result *r, uint64_t before, uint64_t after, uint64_t n)
{
	for (int q = 1; q <= 3; q++) {
		uint64_t at = n * (uint64_t)q / 4;

		if (before < at && after >= at) {
			int t = threads_now();

			if (t > r->threads)
				r->threads = t;
		}
	}
}

/* Receive until @c is closed and drained; @b elements per burst. */
static void sink(chan_t *c, size_t b, uint64_t n, struct sink_result *r)
{
	uint64_t buf[BATCH_MAX], prev = 0;

	*r = (struct sink_result){ .in_order = true, .threads = -1 };
	for (;;) {
		size_t got;

		if (b <= 1) {
			if (chan_recv(c, buf) != 0)
				break;
			got = 1;
		} else {
			got = chan_recv_burst(c, buf, b);
			if (got == 0)
				break;
		}
		for (size_t i = 0; i < got; i++) {
			r->sum += buf[i];
			if (buf[i] != prev + 1)
				r->in_order = false;
			prev = buf[i];
		}
		sample_threads(r, r->count, r->count + got, n);
		r->count += got;
	}
}

static void check(const struct sink_result *r, uint64_t n, bool want_order)
{
	uint64_t want = n % 2 == 0 ? n / 2 * (n + 1) : n * ((n + 1) / 2);

	if (r->count != n || r->sum != want) {
		fprintf(stderr, "pattern_bench: %s: received %llu values summing to %llu, want %llu"
			" summing to %llu\n", bench, (unsigned long long)r->count,
			(unsigned long long)r->sum, (unsigned long long)n,
			(unsigned long long)want);
		exit(1);
	}
	if (want_order && !r->in_order) {
		fprintf(stderr, "pattern_bench: %s: values out of order\n", bench);
		exit(1);
	}
}

/* ---- map callbacks ---- */

static int ident(const void *in, void *out, void *arg)
{
	(void)arg;
	memcpy(out, in, sizeof(uint64_t));
	return 0;
}

static int spin(const void *in, void *out, void *arg)
{
	int64_t end = chan_now() + *(const int64_t *)arg;

	while (chan_now() < end)
		;
	memcpy(out, in, sizeof(uint64_t));
	return 0;
}

/* ---- one run ---- */

struct run {
	chan_group_t *g;
	chan_t *gate;
	chan_wg_t wg;
	struct producer *prod;
	size_t nprod;
	int64_t t0, t1;
	struct sink_result res;
};

/* @np producers of @per values each into @ins (references given to them). */
static void run_init(struct run *r, chan_t **ins, size_t np, uint64_t per, size_t b)
{
	r->g = chan_group_new(chan_ctx_background());
	if (!r->g)
		die("chan_group_new", errno);
	r->gate = chan_new(1, 0);
	if (!r->gate)
		die("chan_new", errno);
	chan_wg_init(&r->wg);
	r->nprod = np;
	r->prod = calloc(np, sizeof(*r->prod));
	if (!r->prod)
		die("calloc", ENOMEM);
	for (size_t i = 0; i < np; i++) {
		int e;

		r->prod[i] = (struct producer){ .out = chan_retain(ins[i]), .gate = r->gate,
						.wg = &r->wg, .first = 1 + i * per, .count = per,
						.batch = b };
		chan_wg_add(&r->wg, 1);
		e = chan_go(producer_main, &r->prod[i]);
		if (e != 0)
			die("chan_go", -e);
	}
}

struct sink_job {
	chan_t *out;
	size_t b;
	uint64_t n;
	struct sink_result *res;
	chan_wg_t done;
};

static void sink_task(void *arg)
{
	struct sink_job *j = arg;

	sink(j->out, j->b, j->n, j->res);
	chan_wg_done(&j->done);
}

/* Open the gate, drain @out into the sink (a goroutine, as Go's main is, or
 * this thread with sink=thread), join everything. */
static void run_go(struct run *r, chan_t *out, size_t b, uint64_t n)
{
	struct sink_job j = { .out = out, .b = b, .n = n, .res = &r->res };
	int e;

	chan_wg_init(&j.done);
	r->t0 = chan_now();
	chan_close(r->gate);
	if (!strcmp(sink_on, "goroutine")) {
		chan_wg_add(&j.done, 1);
		e = chan_go(sink_task, &j);
		if (e != 0)
			die("chan_go", -e);
		chan_wg_wait(&j.done);
	} else {
		sink(j.out, j.b, j.n, j.res);
	}
	r->t1 = chan_now();
	chan_wg_wait(&r->wg);
	e = chan_group_wait(r->g);
	if (e != 0)
		die("chan_group_wait", -e);
	chan_group_destroy(r->g);
	chan_release(r->gate);
	chan_release(out);
	free(r->prod);
}

static double secs(const struct run *r)
{
	return (double)(r->t1 - r->t0) / 1e9;
}

static void bench_pipeline(bool bare)
{
	struct run r = { 0 };
	chan_t *src = mk(cap, CHAN_SINGLE_PRODUCER), *c = src;
	size_t k = bare ? 0 : k_stages;
	double s;

	run_init(&r, &src, 1, n_elems, batch);
	chan_retain(c);
	for (size_t i = 0; i < k; i++) {
		chan_stage_opts_t o = { .out = { .capacity = cap }, .batch = batch };
		chan_t *next = strcmp(stage, "or_done") == 0 ? chan_or_done(r.g, c, &o)
							      : chan_map(r.g, c, ident, NULL, &o);

		if (!next)
			die(strcmp(stage, "or_done") == 0 ? "chan_or_done" : "chan_map", errno);
		chan_release(c); /* the stage holds its own */
		c = next;
	}
	chan_release(src);
	run_go(&r, c, batch, n_elems);
	check(&r.res, n_elems, true);
	s = secs(&r);
	if (bare)
		printf("impl=chan bench=bare cap=%zu batch=%zu n=%zu secs=%.6f ns_per_elem=%.2f"
		       " threads=%d\n", cap, batch, n_elems, s, s * 1e9 / (double)n_elems,
		       r.res.threads);
	else
		printf("impl=chan bench=pipeline_depth stage=%s k=%zu cap=%zu batch=%zu n=%zu"
		       " secs=%.6f ns_per_elem=%.2f ns_per_elem_stage=%.2f threads=%d\n", stage, k,
		       cap, batch, n_elems, s, s * 1e9 / (double)n_elems,
		       s * 1e9 / (double)n_elems / (double)k, r.res.threads);
}

static void bench_map(void)
{
	struct run r = { 0 };
	chan_t *src = mk(cap, CHAN_SINGLE_PRODUCER), *out;
	bool ordered = strcmp(order, "ordered") == 0;
	chan_stage_opts_t o = { .out = { .capacity = cap }, .workers = (unsigned)workers,
				.flags = ordered ? CHAN_STAGE_ORDERED : 0, .window = window };
	double s;

	run_init(&r, &src, 1, n_elems, 1);
	out = spin_ns > 0 ? chan_map(r.g, src, spin, &spin_ns, &o)
			  : chan_map(r.g, src, ident, NULL, &o);
	if (!out)
		die("chan_map", errno);
	chan_release(src);
	run_go(&r, out, 1, n_elems);
	check(&r.res, n_elems, ordered);
	s = secs(&r);
	printf("impl=chan bench=map_scaling workers=%zu fn=%s order=%s cap=%zu window=%zu n=%zu"
	       " secs=%.6f items_per_s=%.0f ns_per_item=%.2f threads=%d\n", workers, fn_name, order,
	       cap, ordered ? (window ? window : 2 * workers) : 0, n_elems, s,
	       (double)n_elems / s, s * 1e9 / (double)n_elems, r.res.threads);
}

static void bench_merge(void)
{
	struct run r = { 0 };
	uint64_t per = n_elems / inputs > 0 ? n_elems / inputs : 1, n = per * inputs;
	chan_t **ins = calloc(inputs, sizeof(*ins)), *out;
	chan_stage_opts_t o = { .out = { .capacity = cap }, .batch = batch };
	double s;

	if (!ins)
		die("calloc", ENOMEM);
	for (size_t i = 0; i < inputs; i++)
		ins[i] = mk(cap, CHAN_SINGLE_PRODUCER);
	run_init(&r, ins, inputs, per, 1);
	out = chan_merge(r.g, ins, inputs, &o);
	if (!out)
		die("chan_merge", errno);
	for (size_t i = 0; i < inputs; i++)
		chan_release(ins[i]);
	free(ins);
	run_go(&r, out, 1, n);
	check(&r.res, n, false);
	s = secs(&r);
	printf("impl=chan bench=merge_fanin inputs=%zu cap=%zu batch=%zu n=%llu secs=%.6f"
	       " msgs_per_s=%.0f ns_per_msg=%.2f threads=%d\n", inputs, cap, batch,
	       (unsigned long long)n, s, (double)n / s, s * 1e9 / (double)n, r.res.threads);
}

static size_t num(const char *key, const char *v, size_t lo, size_t hi)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || end == v || x < lo || x > hi) {
		fprintf(stderr, "pattern_bench: %s=%s: want %zu..%zu\n", key, v, lo, hi);
		usage();
	}
	return (size_t)x;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	bench = argv[1];
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *v;

		if (!eq)
			usage();
		*eq = '\0';
		v = eq + 1;
		if (!strcmp(argv[i], "k"))
			k_stages = num("k", v, 1, 64);
		else if (!strcmp(argv[i], "cap"))
			cap = num("cap", v, 0, (size_t)1 << 24);
		else if (!strcmp(argv[i], "batch"))
			batch = num("batch", v, 1, BATCH_MAX);
		else if (!strcmp(argv[i], "n"))
			n_elems = num("n", v, 1, (size_t)1 << 40);
		else if (!strcmp(argv[i], "workers"))
			workers = num("workers", v, 1, 256);
		else if (!strcmp(argv[i], "inputs"))
			inputs = num("inputs", v, 1, INPUTS_MAX);
		else if (!strcmp(argv[i], "window"))
			window = num("window", v, 0, (size_t)1 << 24);
		else if (!strcmp(argv[i], "fn"))
			fn_name = v;
		else if (!strcmp(argv[i], "order"))
			order = v;
		else if (!strcmp(argv[i], "stage"))
			stage = v;
		else if (!strcmp(argv[i], "sink"))
			sink_on = v;
		else
			usage();
	}
	if (!strcmp(fn_name, "noop"))
		spin_ns = 0;
	else if (!strcmp(fn_name, "spin1us"))
		spin_ns = 1000;
	else if (!strcmp(fn_name, "spin100us"))
		spin_ns = 100000;
	else
		usage();
	if (strcmp(order, "unordered") && strcmp(order, "ordered"))
		usage();
	if (strcmp(stage, "map") && strcmp(stage, "or_done"))
		usage();
	if (strcmp(sink_on, "goroutine") && strcmp(sink_on, "thread"))
		usage();

	if (!strcmp(bench, "bare"))
		bench_pipeline(true);
	else if (!strcmp(bench, "pipeline_depth"))
		bench_pipeline(false);
	else if (!strcmp(bench, "map_scaling"))
		bench_map();
	else if (!strcmp(bench, "merge_fanin"))
		bench_merge();
	else
		usage();
	return 0;
}

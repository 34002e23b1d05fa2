/* SPDX-License-Identifier: MIT */
/* bench/bench_util.h - what the small C benchmarks share: the median of runs. */
#ifndef CHAN_BENCH_UTIL_H
#define CHAN_BENCH_UTIL_H

#include <stddef.h>
#include <stdlib.h>

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts @v (n > 0 values) and returns its median. */
static inline double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(v[0]), bench_cmp_double);
	return v[n / 2];
}

#endif /* CHAN_BENCH_UTIL_H */

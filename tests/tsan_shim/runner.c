/* SPDX-License-Identifier: MIT */
/*
 * tests/tsan_shim/runner.c - runs the tests registered through the shim
 * criterion.h (see there for why), each in a forked child with a time limit,
 * and prints a Criterion-like synthesis. Accepts and ignores Criterion's
 * --jobs; honours --timeout=SECONDS as the default limit.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "criterion/criterion.h"

struct crs_test {
	const char *suite, *name;
	void (*fn)(void);
	const struct crs_params *params;
};

static struct crs_test tests[512];
static size_t ntests;

void crs_register(const char *suite, const char *name, void (*fn)(void),
		  const struct crs_params *params)
{
	if (ntests == sizeof(tests) / sizeof(tests[0])) {
		fprintf(stderr, "tsan shim: too many tests\n");
		abort();
	}
	tests[ntests++] = (struct crs_test){ suite, name, fn, params };
}

_Noreturn void crs_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: Assertion failed: %s", file, line, expr);
	if (fmt && *fmt) {
		fputs(": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

int main(int argc, char **argv)
{
	double default_timeout = 600;
	size_t failed = 0;

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--timeout=", 10) == 0)
			default_timeout = atof(argv[i] + 10);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < ntests; i++) {
		struct crs_test *t = &tests[i];
		double limit = t->params->timeout > 0 ? t->params->timeout : default_timeout;
		struct timespec t0, t1;
		int status = 0;
		pid_t pid;

		printf("[RUN ] %s::%s\n", t->suite, t->name);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			alarm((unsigned)limit); /* SIGALRM kills a hung test */
			t->fn();
			fflush(NULL);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		bool ok = t->params->signal ? WIFSIGNALED(status) && WTERMSIG(status) == t->params->signal
					    : WIFEXITED(status) && WEXITSTATUS(status) == 0;

		if (ok) {
			printf("[PASS] %s::%s: (%.2fs)\n", t->suite, t->name, secs);
		} else {
			failed++;
			if (WIFSIGNALED(status))
				printf("[FAIL] %s::%s: killed by signal %d%s (%.2fs)\n", t->suite,
				       t->name, WTERMSIG(status),
				       WTERMSIG(status) == SIGALRM ? " (timed out)" : "", secs);
			else
				printf("[FAIL] %s::%s: exit %d (%.2fs)\n", t->suite, t->name,
				       WEXITSTATUS(status), secs);
		}
	}
	printf("[====] Synthesis: Tested: %zu | Passing: %zu | Failing: %zu\n", ntests,
	       ntests - failed, failed);
	return failed ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * tests/tsan_shim/criterion/criterion.h - the subset of Criterion's API that
 * our tests use, for the ThreadSanitizer build only.
 *
 * Why: Criterion 2.4 cannot start under TSan. Its runner (BoxFort) maps an
 * "inheritable arena" at a random address between 0x2000'0000'0000 and
 * 0x7f00'0000'0000, and TSan reserves all of that range for its shadow and
 * metadata, so every attempt fails and Criterion aborts with "Could not
 * initialize inheritable arena" (Snaipe/Criterion issue 274, open). The same
 * test sources compile against this header under TSan: each Test() is
 * registered by a constructor and run by runner.c in a forked child, as
 * Criterion does; a failed assertion prints file:line and fails the test.
 */
#ifndef CHAN_TSAN_SHIM_CRITERION_H
#define CHAN_TSAN_SHIM_CRITERION_H

#include <stddef.h>
#include <string.h>

struct crs_params {
	int unused;
	double timeout; /* seconds; 0: the runner's default */
	int signal;	/* the test passes only if it dies of this signal */
};

void crs_register(const char *suite, const char *name, void (*fn)(void),
		  const struct crs_params *params);
_Noreturn void crs_fail(const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define Test(suite, name, ...)                                                          \
	static void crs_fn_##suite##_##name(void);                                      \
	static const struct crs_params crs_p_##suite##_##name = { .unused = 0, __VA_ARGS__ }; \
	__attribute__((constructor)) static void crs_reg_##suite##_##name(void)         \
	{                                                                               \
		crs_register(#suite, #name, crs_fn_##suite##_##name,                    \
			     &crs_p_##suite##_##name);                                  \
	}                                                                               \
	static void crs_fn_##suite##_##name(void)

/* The message arguments are optional and start with a string literal. */
#define cr_assert(cond, ...)                                                \
	do {                                                                \
		if (!(cond))                                                \
			crs_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__); \
	} while (0)

#define crs_assert_op(op, a, b, ...)                                                    \
	do {                                                                            \
		if (!((a)op(b)))                                                        \
			crs_fail(__FILE__, __LINE__, #a " " #op " " #b, "" __VA_ARGS__); \
	} while (0)

/* Criterion's unconditional failure, for a check made by hand inside a long
 * loop (an assert per iteration is reported per iteration by Criterion). */
#define cr_assert_fail(...) crs_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)

#define cr_assert_eq(a, b, ...)	 crs_assert_op(==, a, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) crs_assert_op(!=, a, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)	 crs_assert_op(<, a, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) crs_assert_op(<=, a, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)	 crs_assert_op(>, a, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) crs_assert_op(>=, a, b, __VA_ARGS__)
#define cr_assert_null(p, ...)	 crs_assert_op(==, (const void *)(p), NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) crs_assert_op(!=, (const void *)(p), NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) crs_assert_op(==, strcmp((a), (b)), 0, __VA_ARGS__)

#endif /* CHAN_TSAN_SHIM_CRITERION_H */

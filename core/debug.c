/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "debug_pvt.h"

void (*chan__debug_hook)(const char *where);

_Noreturn void chan__die(const char *file, int line, const char *what)
{
	fprintf(stderr, "chan: %s:%d: %s\n", file, line, what);
	fflush(stderr);
	abort();
}

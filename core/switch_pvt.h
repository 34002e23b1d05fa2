/* SPDX-License-Identifier: MIT */
/*
 * core/switch_pvt.h - the user-space context switch (private), written by
 * hand per architecture (core/switch_<arch>.S): never swapcontext(), which
 * saves and restores the signal mask with a system call on every switch.
 *
 * A context is a saved stack pointer. The callee-saved registers of the
 * ABI, and the floating-point control state (x86-64: MXCSR and the x87
 * control word; aarch64: d8-d15), are pushed on the stack being left, so a
 * switch costs a handful of stores and loads and no system call.
 */
#ifndef CHAN_CORE_SWITCH_PVT_H
#define CHAN_CORE_SWITCH_PVT_H

#include <stddef.h>

/*
 * chan__switch() - save the current context into *@from_sp and resume the
 * one saved at @to_sp. Returns, in the resumed context, the @arg that the
 * switch which resumed it passed (for a context made by
 * chan__switch_make(), that arg is its entry's argument instead).
 */
void *chan__switch(void **from_sp, void *to_sp, void *arg);

/*
 * chan__switch_make() - lay out a new context on the stack [@lo, @lo+@size):
 * the first switch to the returned stack pointer calls @entry(arg of that
 * switch) on that stack, 16-byte aligned as the ABI wants. @entry must
 * never return (it switches away for good instead).
 */
void *chan__switch_make(void *lo, size_t size, void (*entry)(void *));

#endif /* CHAN_CORE_SWITCH_PVT_H */

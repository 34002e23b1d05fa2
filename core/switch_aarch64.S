/* SPDX-License-Identifier: MIT */
/*
 * core/switch_aarch64.S - chan__switch() and chan__switch_make() for the
 * AAPCS64 (see core/switch_pvt.h).
 *
 * A saved context is FRAME (176) bytes, from its stack pointer up:
 *   +0   x19 x20  +16  x21 x22  +32  x23 x24  +48  x25 x26  +64  x27 x28
 *   +80  x29 (fp) x30 (lr: where chan__switch() returns to)
 *   +96  d8 d9   +112 d10 d11  +128 d12 d13  +144 d14 d15
 *   +160 FPCR (rounding mode, flush-to-zero: per context, as MXCSR on x86-64)
 *   +168 unused (sp stays 16-byte aligned)
 * Everything else, the upper halves of v8-v15 included, is caller-saved, so
 * the C caller of chan__switch() has already spilled what it needs.
 * No BTI/PAC: the return to chan__switch_start is a ret, which BTI allows,
 * and nothing here signs x30.
 */
#define FRAME 176

	.text

	.globl	chan__switch
	.hidden	chan__switch
	.type	chan__switch, %function
	.p2align 4
chan__switch:				/* x0: from_sp, x1: to_sp, x2: arg */
	.cfi_startproc
	sub	sp, sp, #FRAME
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x3, fpcr
	str	x3, [sp, #160]
	mov	x4, sp
	str	x4, [x0]
	mov	sp, x1
	ldr	x3, [sp, #160]
	msr	fpcr, x3
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #FRAME
	mov	x0, x2
	ret
	.cfi_endproc
	.size	chan__switch, .-chan__switch

/* The first return of a new context lands here: x19 holds the entry, x0 the
 * arg of the switch, sp is the 16-aligned top of the stack. */
	.type	chan__switch_start, %function
	.p2align 4
chan__switch_start:
	.cfi_startproc
	.cfi_undefined x30		/* the outermost frame: backtraces stop */
	mov	x29, #0
	blr	x19
	brk	#0			/* entry never returns */
	.cfi_endproc
	.size	chan__switch_start, .-chan__switch_start

	.globl	chan__switch_make
	.hidden	chan__switch_make
	.type	chan__switch_make, %function
	.p2align 4
chan__switch_make:			/* x0: lo, x1: size, x2: entry */
	.cfi_startproc
	add	x0, x0, x1
	and	x0, x0, #~15
	sub	x0, x0, #FRAME
	stp	x2, xzr, [x0, #0]	/* x19: the entry */
	stp	xzr, xzr, [x0, #16]
	stp	xzr, xzr, [x0, #32]
	stp	xzr, xzr, [x0, #48]
	stp	xzr, xzr, [x0, #64]
	adr	x3, chan__switch_start
	stp	xzr, x3, [x0, #80]	/* x29: no frame; x30: the trampoline */
	stp	xzr, xzr, [x0, #96]
	stp	xzr, xzr, [x0, #112]
	stp	xzr, xzr, [x0, #128]
	stp	xzr, xzr, [x0, #144]
	stp	xzr, xzr, [x0, #160]	/* FPCR 0: Linux's default */
	ret
	.cfi_endproc
	.size	chan__switch_make, .-chan__switch_make

	.section .note.GNU-stack,"",%progbits

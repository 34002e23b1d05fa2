/* SPDX-License-Identifier: MIT */
/*
 * core/switch_x86_64.S - chan__switch() and chan__switch_make() for the
 * System V x86-64 ABI (see core/switch_pvt.h).
 *
 * A saved context, from its stack pointer up:
 *   +0  x87 control word (2 bytes)   +8  MXCSR (4 bytes)
 *   +16 r15  +24 r14  +32 r13  +40 r12  +48 rbx  +56 rbp
 *   +64 return address (for a new context: chan__switch_start)
 * Everything else is caller-saved, so the C caller of chan__switch() has
 * already spilled what it needs.
 */
	.text

	.globl	chan__switch
	.hidden	chan__switch
	.type	chan__switch, @function
	.p2align 4
chan__switch:				/* rdi: from_sp, rsi: to_sp, rdx: arg */
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$16, %rsp
	stmxcsr	8(%rsp)
	fnstcw	(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	fldcw	(%rsp)
	ldmxcsr	8(%rsp)
	addq	$16, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	movq	%rdx, %rax
	ret
	.cfi_endproc
	.size	chan__switch, .-chan__switch

/* The first return of a new context lands here: r12 holds the entry. */
	.type	chan__switch_start, @function
	.p2align 4
chan__switch_start:
	.cfi_startproc
	.cfi_undefined rip		/* the outermost frame: backtraces stop */
	movq	%rax, %rdi
	callq	*%r12
	ud2				/* entry never returns */
	.cfi_endproc
	.size	chan__switch_start, .-chan__switch_start

	.globl	chan__switch_make
	.hidden	chan__switch_make
	.type	chan__switch_make, @function
	.p2align 4
chan__switch_make:			/* rdi: lo, rsi: size, rdx: entry */
	.cfi_startproc
	leaq	(%rdi,%rsi), %rax
	andq	$-16, %rax
	subq	$88, %rax		/* +72 is 16-aligned: rsp at the call */
	movq	$0x037f, (%rax)		/* the x87 default control word */
	movq	$0x1f80, 8(%rax)	/* the MXCSR default */
	movq	$0, 16(%rax)
	movq	$0, 24(%rax)
	movq	$0, 32(%rax)
	movq	%rdx, 40(%rax)		/* r12: the entry */
	movq	$0, 48(%rax)
	movq	$0, 56(%rax)		/* rbp: no frame */
	leaq	chan__switch_start(%rip), %rcx
	movq	%rcx, 64(%rax)
	movq	$0, 72(%rax)
	movq	$0, 80(%rax)
	ret
	.cfi_endproc
	.size	chan__switch_make, .-chan__switch_make

	.section .note.GNU-stack,"",@progbits

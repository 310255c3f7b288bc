/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entry of the tiny test guests. mini-vmm starts an ELF64 without a PVH note
 * through the Linux 64-bit boot protocol: long mode, paging on with the first
 * 4 GiB identity-mapped, CS 0x10 / DS 0x18, %rsi = the zero page, a boot
 * stack below 1 MiB. We take our own stack, install an IDT that turns any
 * exception into a FAIL line plus an exit-port write (instead of a silent
 * triple fault), and call tiny_entry(zero_page).
 */
#define BOOT_CS 0x10

	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	cli
	lea	tiny_stack_top(%rip), %rsp
	xor	%ebp, %ebp
	push	%rsi			/* keep the zero page across the IDT setup */

	/* Fill the IDT: one 16-byte interrupt gate per vector 0..31. */
	lea	tiny_idt(%rip), %rdi
	lea	exc_stubs(%rip), %rdx
	xor	%ecx, %ecx
1:	mov	%rdx, %rax
	mov	%ax, (%rdi)		/* offset 15:0 */
	movw	$BOOT_CS, 2(%rdi)	/* selector */
	movw	$0x8e00, 4(%rdi)	/* present, DPL 0, 64-bit interrupt gate, IST 0 */
	shr	$16, %rax
	mov	%ax, 6(%rdi)		/* offset 31:16 */
	shr	$16, %rax
	mov	%eax, 8(%rdi)		/* offset 63:32 */
	movl	$0, 12(%rdi)
	add	$16, %rdi
	add	$16, %rdx		/* every stub is padded to 16 bytes */
	inc	%ecx
	cmp	$32, %ecx
	jne	1b
	lidt	tiny_idtr(%rip)

	pop	%rdi			/* tiny_entry(zero page) */
	call	tiny_entry
	/* tiny_entry does not return; if it did, report failure. */
2:	mov	$0xfe, %al
	out	%al, $0xf4
	jmp	2b

/*
 * Exception stubs, 16 bytes each. Vectors 8, 10-14, 17, 21, 29 and 30 push
 * an error code; the others push a 0 in its place, so the common code sees
 * one frame layout: vector, error code, rip, cs, rflags, rsp, ss.
 */
	.balign 16
exc_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.balign 16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$\vec
	jmp	exc_common
	.endr

exc_common:
	mov	%rsp, %rdi		/* struct tiny_exc_frame * */
	and	$-16, %rsp
	call	tiny_exception		/* does not return */
3:	mov	$0xfd, %al
	out	%al, $0xf4
	jmp	3b

	.section .rodata
	.balign 8
tiny_idtr:
	.word	32 * 16 - 1
	.quad	tiny_idt

	.section .bss
	.balign 16
tiny_idt:
	.skip	32 * 16
	.balign 16
tiny_stack:
	.skip	32768
tiny_stack_top:

	.section .note.GNU-stack, "", @progbits

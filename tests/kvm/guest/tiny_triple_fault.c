// SPDX-License-Identifier: GPL-2.0
/*
 * A guest that dies: it loads an empty IDT and executes ud2. The #UD cannot
 * be delivered, nor the #DF after it, so the CPU shuts down (triple fault).
 * mini-vmm must report it with the guest's RIP and exit with status 4.
 */
#include "tiny.h"

const char tiny_name[] = "tiny_triple_fault";

int tiny_main(const struct tiny_boot *boot)
{
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} empty_idt = {0, 0};

	(void)boot;
	tiny_printf("%s: loading an empty IDT, then ud2\n", tiny_name);
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
	tiny_printf("FAIL %s: still running after the triple fault\n", tiny_name);
	return 1;
}

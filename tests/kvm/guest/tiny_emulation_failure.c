// SPDX-License-Identifier: GPL-2.0
/*
 * A guest that executes an instruction KVM's emulator lacks (popcnt, see
 * docs/host-quirks.md). On an emulating host mini-vmm must stop with status
 * 5 and name the instruction bytes at RIP (f3 48 0f b8 c0).
 */
#include "tiny.h"

const char tiny_name[] = "tiny_emulation_failure";

int tiny_main(const struct tiny_boot *boot)
{
	uint64_t v = 0xff;

	(void)boot;
	tiny_printf("%s: executing popcnt\n", tiny_name);
	__asm__ volatile(".byte 0xf3, 0x48, 0x0f, 0xb8, 0xc0" : "+a"(v)); /* popcnt %rax, %rax */
	tiny_printf("FAIL %s: popcnt ran (%llu): this host does not emulate guest code\n",
		    tiny_name, (unsigned long long)v);
	return 1;
}

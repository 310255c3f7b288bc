// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the kernel loaders (vmm/loader.c: ELF64 vmlinux with or
 * without the PVH note, bzImage) and what consumes their result: the initrd
 * placement, the command line, the zero page / PVH start info and the boot
 * registers (vmm/boot_setup.c). The kernel file is given by the user, so it
 * is untrusted in the sense that a corrupt or hostile file must be refused
 * with a message, never crash mini-vmm or write outside guest RAM.
 *
 * Input: u8 flags, then the kernel image (the rest of the input).
 *   flags bit 0: also load an initrd (the image's first up-to-64 KiB bytes)
 *   flags bits 1-2: command line none / short / 300 bytes / the longest allowed
 *
 * Checked: a successful load describes an entry inside the kernel's range,
 * that range inside guest RAM above 1 MiB, an initrd inside RAM above the
 * kernel; a refused load leaves boot_info BOOT_NONE or refuses cleanly.
 */
#include "fuzz_common.h"

#include "vmm/boot_setup.h"
#include "base/layout.h"
#include "vmm/loader.h"

#include <errno.h>
#include <string.h>

#define RAM_SIZE (32ULL << 20) /* low RAM [0, 32 MiB): room for a small kernel */

static struct fuzz_ram ram;
static char long_cmdline[LAYOUT_CMDLINE_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	fuzz_ram__add(&ram, 0, RAM_SIZE);
	memset(long_cmdline, 'a', sizeof(long_cmdline) - 1);
	return 0;
}

static void check_loaded(const struct boot_info *bi)
{
	FUZZ_ASSERT(bi->mode == BOOT_PVH || bi->mode == BOOT_LINUX64);
	FUZZ_ASSERT(bi->kernel_start >= LAYOUT_HIMEM_START);
	FUZZ_ASSERT(bi->kernel_start < bi->kernel_end);
	FUZZ_ASSERT(guest_mem__find(&ram.mem, bi->kernel_start, bi->kernel_end - bi->kernel_start));
	FUZZ_ASSERT(bi->entry >= bi->kernel_start && bi->entry < bi->kernel_end);
	FUZZ_ASSERT(bi->setup_header_len <= SETUP_HEADER_MAX);
	FUZZ_ASSERT(bi->cmdline_max <= LAYOUT_CMDLINE_MAX - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t flags = fin_u8(&in);
	const uint8_t *image = in.p;
	size_t image_size = in.n;
	struct boot_info bi;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	const char *cmdline = NULL;
	int ret;

	fuzz_ram__reset(&ram);
	ret = loader__load_kernel(&ram.mem, image, image_size, &bi);
	if (ret < 0) {
		FUZZ_ASSERT(ret == -ENOEXEC || ret == -ENOMEM || ret == -EFAULT);
		return 0;
	}
	check_loaded(&bi);

	if (flags & 1) {
		size_t n = image_size < 65536 ? image_size : 65536;

		if (n && loader__load_initrd(&ram.mem, image, n, &bi) == 0) {
			FUZZ_ASSERT(bi.initrd_gpa >= bi.kernel_end);
			FUZZ_ASSERT(bi.initrd_gpa % 4096 == 0);
			FUZZ_ASSERT(bi.initrd_gpa + bi.initrd_size - 1 <= bi.initrd_addr_max);
			FUZZ_ASSERT(guest_mem__find(&ram.mem, bi.initrd_gpa, bi.initrd_size));
		}
	}
	switch ((flags >> 1) & 3) {
	case 1:
		cmdline = "console=ttyS0 panic=-1";
		break;
	case 2:
		long_cmdline[300] = '\0';
		cmdline = long_cmdline;
		break;
	case 3:
		long_cmdline[300] = 'a';
		cmdline = long_cmdline;
		break;
	default:
		break;
	}
	ret = loader__set_cmdline(&ram.mem, cmdline, &bi);
	if (ret == 0)
		FUZZ_ASSERT(bi.cmdline_len <= bi.cmdline_max);
	else
		FUZZ_ASSERT(ret == -E2BIG);

	FUZZ_ASSERT(boot_setup__write_boot_params(&ram.mem, &bi) == 0);
	memset(&regs, 0, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	FUZZ_ASSERT(boot_setup__cpu_regs(&ram.mem, &bi, &regs, &sregs) == 0);
	FUZZ_ASSERT(regs.rip == bi.entry);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel, initrd and command line loading: pure functions over a byte buffer
 * and guest memory. Every guest write goes through guest_mem__write, every
 * read of the image is bounds- and overflow-checked, so a crafted or
 * truncated file gets -ENOEXEC and a message, never a crash or a stray write.
 *
 * Formats:
 *  - ELF64 vmlinux. With the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) it
 *    is started through PVH (BOOT_PVH), else through the Linux 64-bit boot
 *    protocol at its physical entry point (BOOT_LINUX64).
 *  - bzImage, boot protocol >= 2.12 with XLF_KERNEL_64: the protected-mode
 *    part is loaded at code32_start, entered at load address + 0x200
 *    (BOOT_LINUX64); the setup header is kept for the zero page.
 *
 * Order of use: loader__load_kernel first (it resets the whole boot_info),
 * then loader__load_initrd and loader__set_cmdline (either order), then
 * boot_setup__write_boot_params and boot_setup__cpu_regs (boot_setup.h).
 */
#ifndef MINI_VMM_LOADER_H
#define MINI_VMM_LOADER_H

#include "base/guest_mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum boot_mode {
	BOOT_NONE = 0, /* nothing loaded yet */
	BOOT_PVH,      /* 32-bit protected mode, paging off, %ebx = hvm_start_info */
	BOOT_LINUX64,  /* 64-bit mode, identity paging, %rsi = zero page */
};

/* Offsets of the Linux setup header inside a bzImage / the zero page (boot.rst). */
#define SETUP_HEADER_OFFSET 0x1f1
#define SETUP_HEADER_END    0x290 /* where boot_params' hdr slot ends */
#define SETUP_HEADER_MAX    (SETUP_HEADER_END - SETUP_HEADER_OFFSET)

/* Default for initrd_addr_max when the kernel does not say (boot.rst). */
#define LOADER_INITRD_ADDR_MAX_DEFAULT 0x37ffffffULL

struct boot_info {
	enum boot_mode mode;
	uint64_t entry; /* guest-physical entry point */

	/* Guest-physical range the kernel needs, including bss and init_size. */
	uint64_t kernel_start;
	uint64_t kernel_end;

	/* bzImage only: bytes 0x1f1.. of the image, to seed the zero page. */
	bool has_setup_header;
	uint8_t setup_header[SETUP_HEADER_MAX];
	uint32_t setup_header_len;

	uint64_t initrd_addr_max; /* highest byte the initrd may occupy (inclusive) */
	uint64_t cmdline_max;	  /* longest command line, without the NUL */

	/* Filled by loader__load_initrd / loader__set_cmdline; 0 when absent. */
	uint64_t initrd_gpa;
	uint64_t initrd_size;
	uint64_t cmdline_gpa;
	uint64_t cmdline_len; /* without the NUL */
};

/*
 * Detect the format of `image` (ELF64 vmlinux or bzImage), load it into
 * guest RAM and describe how to enter it in `*out` (fully reset first).
 * Returns 0, -ENOEXEC for an unknown or malformed image, -ENOMEM/-EFAULT if
 * guest RAM cannot hold it; each failure is logged with the reason.
 */
int loader__load_kernel(const struct guest_mem *mem, const void *image, size_t size,
			struct boot_info *out);

/*
 * Place an initrd page-aligned as high as possible below the end of low RAM
 * and initrd_addr_max, above the kernel. Records bi->initrd_gpa/size.
 */
int loader__load_initrd(const struct guest_mem *mem, const void *data, size_t size,
			struct boot_info *bi);

/*
 * Copy the NUL-terminated command line to LAYOUT_CMDLINE_GPA. Longer than
 * LAYOUT_CMDLINE_MAX - 1 or than the kernel's cmdline_size: -E2BIG.
 * NULL means an empty command line.
 */
int loader__set_cmdline(const struct guest_mem *mem, const char *cmdline, struct boot_info *bi);

/* The same, reading the file at `path`; errors name the path. */
int loader__load_kernel_file(const struct guest_mem *mem, const char *path, struct boot_info *out);
int loader__load_initrd_file(const struct guest_mem *mem, const char *path, struct boot_info *bi);

#endif

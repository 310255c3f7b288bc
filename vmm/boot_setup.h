/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the kernel finds at its entry: the boot parameters (Linux zero page or
 * Xen PVH hvm_start_info, each with the e820 memory map) and the boot vCPU's
 * registers (segments, GDT, identity page tables for the 64-bit protocol).
 *
 * The structures are defined here from their public ABIs (Linux
 * Documentation/x86/boot.rst + zero-page.rst; Xen
 * public/arch-x86/hvm/start_info.h), not taken from kernel headers.
 */
#ifndef MINI_VMM_BOOT_SETUP_H
#define MINI_VMM_BOOT_SETUP_H

#include "base/guest_mem.h"
#include "base/layout.h"
#include "vmm/loader.h"

#include <linux/kvm.h>
#include <stdint.h>

/* ---- e820 (shared by the zero page and the PVH memmap) ---- */

#define E820_TYPE_RAM		  1
#define E820_TYPE_RESERVED	  2
#define E820_MAX_ENTRIES_ZEROPAGE 128

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* ---- Linux zero page (struct boot_params), only the fields we fill ---- */

#define BOOT_LOADFLAGS_LOADED_HIGH  (1 << 0)
#define BOOT_LOADFLAGS_CAN_USE_HEAP (1 << 7)
#define BOOT_TYPE_OF_LOADER_UNKNOWN 0xff /* boot.rst: "undefined" boot loader */

struct setup_header {
	uint8_t setup_sects;		/* 0x1f1 */
	uint16_t root_flags;		/* 0x1f2 */
	uint32_t syssize;		/* 0x1f4 */
	uint16_t ram_size;		/* 0x1f8 */
	uint16_t vid_mode;		/* 0x1fa */
	uint16_t root_dev;		/* 0x1fc */
	uint16_t boot_flag;		/* 0x1fe */
	uint16_t jump;			/* 0x200 */
	uint32_t header;		/* 0x202 */
	uint16_t version;		/* 0x206 */
	uint32_t realmode_swtch;	/* 0x208 */
	uint16_t start_sys_seg;		/* 0x20c */
	uint16_t kernel_version;	/* 0x20e */
	uint8_t type_of_loader;		/* 0x210 */
	uint8_t loadflags;		/* 0x211 */
	uint16_t setup_move_size;	/* 0x212 */
	uint32_t code32_start;		/* 0x214 */
	uint32_t ramdisk_image;		/* 0x218 */
	uint32_t ramdisk_size;		/* 0x21c */
	uint32_t bootsect_kludge;	/* 0x220 */
	uint16_t heap_end_ptr;		/* 0x224 */
	uint8_t ext_loader_ver;		/* 0x226 */
	uint8_t ext_loader_type;	/* 0x227 */
	uint32_t cmd_line_ptr;		/* 0x228 */
	uint32_t initrd_addr_max;	/* 0x22c */
	uint32_t kernel_alignment;	/* 0x230 */
	uint8_t relocatable_kernel;	/* 0x234 */
	uint8_t min_alignment;		/* 0x235 */
	uint16_t xloadflags;		/* 0x236 */
	uint32_t cmdline_size;		/* 0x238 */
	uint32_t hardware_subarch;	/* 0x23c */
	uint64_t hardware_subarch_data; /* 0x240 */
	uint32_t payload_offset;	/* 0x248 */
	uint32_t payload_length;	/* 0x24c */
	uint64_t setup_data;		/* 0x250 */
	uint64_t pref_address;		/* 0x258 */
	uint32_t init_size;		/* 0x260 */
	uint32_t handover_offset;	/* 0x264 */
	uint32_t kernel_info_offset;	/* 0x268 */
} __attribute__((packed));

struct boot_params {
	uint8_t _pad0[0x0c0];
	uint32_t ext_ramdisk_image; /* 0x0c0: bits 32-63 of hdr.ramdisk_image */
	uint32_t ext_ramdisk_size;  /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;  /* 0x0c8 */
	uint8_t _pad1[0x1e8 - 0x0cc];
	uint8_t e820_entries; /* 0x1e8 */
	uint8_t _pad2[0x1f1 - 0x1e9];
	struct setup_header hdr; /* 0x1f1 */
	uint8_t _pad3[0x2d0 - 0x1f1 - sizeof(struct setup_header)];
	struct e820_entry e820_table[E820_MAX_ENTRIES_ZEROPAGE]; /* 0x2d0 */
	uint8_t _pad4[0x1000 - 0xcd0];
} __attribute__((packed));

/* ---- Xen PVH start info, version 1 ---- */

#define HVM_START_MAGIC_VALUE  0x336ec578
#define HVM_START_INFO_VERSION 1
/* The module list follows hvm_start_info in its page (layout.h). */
#define BOOT_PVH_MODLIST_GPA (LAYOUT_PVH_START_INFO_GPA + 0x40)

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* e820 type values */
	uint32_t reserved;
};

/* ---- boot GDT at LAYOUT_GDT_GPA (selectors per boot.rst: __BOOT_CS, __BOOT_DS) ---- */

#define BOOT_GDT_CODE_SEL 0x10
#define BOOT_GDT_DATA_SEL 0x18
#define BOOT_GDT_TSS_SEL  0x20 /* 16-byte system descriptor in long mode */
#define BOOT_GDT_ENTRIES  6

/*
 * The guest's e820 map, derived from the guest_mem regions:
 *   [0, EBDA)            usable
 *   [EBDA, 1 MiB)        reserved (EBDA with the MP table, VGA hole, BIOS area)
 *   [1 MiB, hole start)  usable
 *   [4 GiB, ...)         usable
 * The MMIO hole [LAYOUT_MMIO_HOLE_START, 4 GiB) is left out of the map, as
 * Firecracker and QEMU microvm do: Linux takes the gap for MMIO, and finds
 * the IOAPIC and LAPIC through the MP table, not through e820.
 * Returns the number of entries, or -E2BIG if more than `max` were needed.
 */
int boot_setup__e820(const struct guest_mem *mem, struct e820_entry *out, unsigned int max);

/*
 * BOOT_PVH: hvm_start_info at LAYOUT_PVH_START_INFO_GPA, the initrd as module
 * 0, the memmap at LAYOUT_MEMMAP_GPA. BOOT_LINUX64: the zero page at
 * LAYOUT_ZERO_PAGE_GPA, seeded from the bzImage's setup header if any.
 */
int boot_setup__write_boot_params(const struct guest_mem *mem, const struct boot_info *bi);

/*
 * Registers of the boot vCPU for bi->mode. `sregs` comes filled by
 * KVM_GET_SREGS and is modified; `regs` is overwritten. Writes the boot GDT
 * and, for BOOT_LINUX64, the identity page tables into guest memory.
 */
int boot_setup__cpu_regs(const struct guest_mem *mem, const struct boot_info *bi,
			 struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif

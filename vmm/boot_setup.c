// SPDX-License-Identifier: GPL-2.0
/*
 * Boot parameters and boot vCPU state (see boot_setup.h).
 *
 * References: Linux Documentation/x86/boot.rst ("64-bit Boot Protocol"),
 * Documentation/x86/zero-page.rst, Xen docs/misc/pvh.pandoc and
 * public/arch-x86/hvm/start_info.h, Intel SDM vol. 3 ch. 3.4.5 (segment
 * descriptors) and 4.5 (4-level paging).
 */
#include "vmm/boot_setup.h"

#include "base/log.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry is 20 bytes");
_Static_assert(sizeof(struct setup_header) == 0x26c - 0x1f1, "setup header through 2.15");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "zero page layout");
_Static_assert(offsetof(struct boot_params, hdr) == 0x1f1, "zero page layout");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "zero page layout");
_Static_assert(sizeof(struct boot_params) == 4096, "zero page is one page");
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info v1");
_Static_assert(sizeof(struct hvm_start_info) <= BOOT_PVH_MODLIST_GPA - LAYOUT_PVH_START_INFO_GPA,
	       "module list must follow hvm_start_info");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm memmap entry");
_Static_assert(LAYOUT_CMDLINE_GPA + LAYOUT_CMDLINE_MAX <= LAYOUT_MEMMAP_GPA,
	       "command line runs into the PVH memmap");

/* Control register and EFER bits (Intel SDM vol. 3, 2.5 and 2.2.1). */
#define CR0_PE	     (1ULL << 0)
#define CR0_ET	     (1ULL << 4)
#define CR0_PG	     (1ULL << 31)
#define CR4_PAE	     (1ULL << 5)
#define EFER_LME     (1ULL << 8)
#define EFER_LMA     (1ULL << 10)
#define RFLAGS_RSVD1 (1ULL << 1) /* bit 1 always reads as 1 */

/* Page table entry bits (SDM vol. 3, 4.5). */
#define PTE_PRESENT (1ULL << 0)
#define PTE_RW	    (1ULL << 1)
#define PTE_PS	    (1ULL << 7) /* 2 MiB page in a PD entry */

#define PAGE_4K	      4096ULL
#define PAGE_2M	      (2ULL << 20)
#define BOOT_PD_PAGES 4 /* 4 x 1 GiB: identity map of [0, 4 GiB) */
#define PT_ENTRIES    512

#define BOOT_HEAP_END_PTR	    0xfe00 /* boot.rst: the usual heap_end_ptr of a boot loader */
#define BOOT_SYNTH_VERSION	    0x020f
#define BOOT_SYNTH_KERNEL_ALIGNMENT 0x200000
#define BOOT_SETUP_HDR_MAGIC	    0x53726448 /* "HdrS" */
#define BOOT_FLAG_MAGIC		    0xaa55
#define XLF_KERNEL_64		    (1 << 0)

/* Segment types (SDM vol. 3, 3.4.5.1 and 3.5). */
#define SEG_TYPE_CODE_XRA 0xb /* execute/read, accessed */
#define SEG_TYPE_DATA_RWA 0x3 /* read/write, accessed */
#define SEG_TYPE_TSS_BUSY 0xb /* busy 32/64-bit TSS */
#define TSS_LIMIT	  0x67

/* ---- e820 ---- */

/* What each part of the guest-physical space is, where there is RAM. */
static const struct {
	uint64_t start, end;
	uint32_t type;
} e820_classes[] = {
	{0, LAYOUT_EBDA_GPA, E820_TYPE_RAM},
	{LAYOUT_EBDA_GPA, LAYOUT_HIMEM_START, E820_TYPE_RESERVED},
	{LAYOUT_HIMEM_START, LAYOUT_MMIO_HOLE_START, E820_TYPE_RAM},
	{LAYOUT_MMIO_HOLE_END, UINT64_MAX, E820_TYPE_RAM},
};

int boot_setup__e820(const struct guest_mem *mem, struct e820_entry *out, unsigned int max)
{
	const struct guest_region *sorted[GUEST_MEM_MAX_REGIONS];
	unsigned int nr = mem->nr_regions, n = 0;

	/* Regions in address order, so the map comes out sorted. */
	for (unsigned int i = 0; i < nr; i++) {
		unsigned int j = i;

		while (j > 0 && sorted[j - 1]->gpa > mem->regions[i].gpa) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = &mem->regions[i];
	}

	for (unsigned int i = 0; i < nr; i++) {
		uint64_t rs = sorted[i]->gpa, re = sorted[i]->gpa + sorted[i]->size;

		for (unsigned int c = 0; c < sizeof(e820_classes) / sizeof(e820_classes[0]); c++) {
			uint64_t s = rs > e820_classes[c].start ? rs : e820_classes[c].start;
			uint64_t e = re < e820_classes[c].end ? re : e820_classes[c].end;
			uint32_t type = e820_classes[c].type;

			if (s >= e)
				continue;
			if (n && out[n - 1].type == type &&
			    out[n - 1].addr + out[n - 1].size == s) {
				out[n - 1].size += e - s;
				continue;
			}
			if (n == max) {
				log_error("e820: more than %u entries for %u RAM regions", max, nr);
				return -E2BIG;
			}
			out[n].addr = s;
			out[n].size = e - s;
			out[n].type = type;
			n++;
		}
	}
	return (int)n;
}

/* ---- boot parameters ---- */

static int write_zero_page(const struct guest_mem *mem, const struct boot_info *bi)
{
	struct boot_params bp;
	struct setup_header *hdr = &bp.hdr;
	int n;

	memset(&bp, 0, sizeof(bp));
	if (bi->has_setup_header) {
		/* boot.rst: copy the kernel's header as is, then fill the loader's fields. */
		memcpy((uint8_t *)&bp + SETUP_HEADER_OFFSET, bi->setup_header,
		       bi->setup_header_len < SETUP_HEADER_MAX ? bi->setup_header_len
							       : SETUP_HEADER_MAX);
	} else {
		/* A vmlinux has no header: synthesize what a 2.15 bzImage would carry. */
		hdr->boot_flag = BOOT_FLAG_MAGIC;
		hdr->header = BOOT_SETUP_HDR_MAGIC;
		hdr->version = BOOT_SYNTH_VERSION;
		hdr->kernel_alignment = BOOT_SYNTH_KERNEL_ALIGNMENT;
		hdr->xloadflags = XLF_KERNEL_64;
		hdr->initrd_addr_max = (uint32_t)bi->initrd_addr_max;
		hdr->cmdline_size = (uint32_t)bi->cmdline_max;
		hdr->code32_start = (uint32_t)bi->kernel_start;
	}
	hdr->type_of_loader = BOOT_TYPE_OF_LOADER_UNKNOWN;
	hdr->loadflags |= BOOT_LOADFLAGS_LOADED_HIGH | BOOT_LOADFLAGS_CAN_USE_HEAP;
	hdr->heap_end_ptr = BOOT_HEAP_END_PTR;
	hdr->cmd_line_ptr = (uint32_t)bi->cmdline_gpa;
	bp.ext_cmd_line_ptr = (uint32_t)(bi->cmdline_gpa >> 32);
	hdr->ramdisk_image = (uint32_t)bi->initrd_gpa;
	bp.ext_ramdisk_image = (uint32_t)(bi->initrd_gpa >> 32);
	hdr->ramdisk_size = (uint32_t)bi->initrd_size;
	bp.ext_ramdisk_size = (uint32_t)(bi->initrd_size >> 32);

	n = boot_setup__e820(mem, bp.e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	if (n < 0)
		return n;
	bp.e820_entries = (uint8_t)n;

	if (guest_mem__write(mem, LAYOUT_ZERO_PAGE_GPA, &bp, sizeof(bp)) < 0) {
		log_error("zero page: guest RAM does not cover %#llx", LAYOUT_ZERO_PAGE_GPA);
		return -EFAULT;
	}
	return 0;
}

static int write_pvh_start_info(const struct guest_mem *mem, const struct boot_info *bi)
{
	struct e820_entry e820[E820_MAX_ENTRIES_ZEROPAGE];
	struct hvm_memmap_table_entry memmap[E820_MAX_ENTRIES_ZEROPAGE];
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC_VALUE,
		.version = HVM_START_INFO_VERSION,
		.cmdline_paddr = bi->cmdline_gpa,
		.rsdp_paddr = 0, /* no ACPI: Linux falls back to the MP table */
		.memmap_paddr = LAYOUT_MEMMAP_GPA,
	};
	int n;

	n = boot_setup__e820(mem, e820, E820_MAX_ENTRIES_ZEROPAGE);
	if (n < 0)
		return n;
	memset(memmap, 0, sizeof(memmap));
	for (int i = 0; i < n; i++) {
		memmap[i].addr = e820[i].addr;
		memmap[i].size = e820[i].size;
		memmap[i].type = e820[i].type;
	}
	si.memmap_entries = (uint32_t)n;

	if (bi->initrd_size) {
		/* Linux's PVH entry takes module 0 as the initrd. */
		struct hvm_modlist_entry mod = {
			.paddr = bi->initrd_gpa,
			.size = bi->initrd_size,
		};

		if (guest_mem__write(mem, BOOT_PVH_MODLIST_GPA, &mod, sizeof(mod)) < 0)
			goto err_fault;
		si.nr_modules = 1;
		si.modlist_paddr = BOOT_PVH_MODLIST_GPA;
	}
	if (guest_mem__write(mem, LAYOUT_MEMMAP_GPA, memmap, (uint64_t)n * sizeof(memmap[0])) < 0 ||
	    guest_mem__write(mem, LAYOUT_PVH_START_INFO_GPA, &si, sizeof(si)) < 0)
		goto err_fault;
	return 0;

err_fault:
	log_error("PVH start info: guest RAM does not cover the boot area below %#llx",
		  LAYOUT_HIMEM_START);
	return -EFAULT;
}

int boot_setup__write_boot_params(const struct guest_mem *mem, const struct boot_info *bi)
{
	switch (bi->mode) {
	case BOOT_PVH:
		return write_pvh_start_info(mem, bi);
	case BOOT_LINUX64:
		return write_zero_page(mem, bi);
	case BOOT_NONE:
		break;
	}
	log_error("boot parameters: no kernel loaded");
	return -EINVAL;
}

/* ---- boot vCPU ---- */

/* A flat segment: base 0, 4 GiB limit, ring 0, present. */
static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code64 ? 0 : 1, /* D must be 0 when L is 1 */
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

/* The 8-byte GDT descriptor for a segment (SDM vol. 3, figure 3-8). */
static uint64_t gdt_entry(const struct kvm_segment *seg)
{
	uint64_t limit = seg->g ? seg->limit >> 12 : seg->limit;
	uint64_t base = seg->base;

	return (limit & 0xffff) | (base & 0xffffff) << 16 | (uint64_t)(seg->type & 0xf) << 40 |
	       (uint64_t)seg->s << 44 | (uint64_t)(seg->dpl & 3) << 45 |
	       (uint64_t)seg->present << 47 | ((limit >> 16) & 0xf) << 48 |
	       (uint64_t)seg->avl << 52 | (uint64_t)seg->l << 53 | (uint64_t)seg->db << 54 |
	       (uint64_t)seg->g << 55 | ((base >> 24) & 0xff) << 56;
}

/*
 * Load segment registers, GDTR and TR from one table, and write that table
 * to LAYOUT_GDT_GPA, so the hidden descriptor caches match what the guest
 * would load from its GDT (the kernel reloads CS/DS from the GDT early on).
 */
static int setup_segments(const struct guest_mem *mem, struct kvm_sregs *sregs, bool long_mode)
{
	struct kvm_segment code = flat_segment(BOOT_GDT_CODE_SEL, SEG_TYPE_CODE_XRA, long_mode);
	struct kvm_segment data = flat_segment(BOOT_GDT_DATA_SEL, SEG_TYPE_DATA_RWA, false);
	struct kvm_segment tss = {
		.base = 0,
		.limit = TSS_LIMIT,
		.selector = BOOT_GDT_TSS_SEL,
		.type = SEG_TYPE_TSS_BUSY,
		.present = 1,
		.s = 0,
	};
	uint64_t gdt[BOOT_GDT_ENTRIES] = {0};

	/* 0x00 null, 0x08 unused, 0x10 __BOOT_CS, 0x18 __BOOT_DS, 0x20 TSS (16 bytes). */
	gdt[BOOT_GDT_CODE_SEL / 8] = gdt_entry(&code);
	gdt[BOOT_GDT_DATA_SEL / 8] = gdt_entry(&data);
	gdt[BOOT_GDT_TSS_SEL / 8] = gdt_entry(&tss);
	/* gdt[5]: bits 32-63 of the TSS base in long mode, 0 here. */
	if (guest_mem__write(mem, LAYOUT_GDT_GPA, gdt, sizeof(gdt)) < 0) {
		log_error("boot GDT: guest RAM does not cover %#llx", LAYOUT_GDT_GPA);
		return -EFAULT;
	}

	sregs->gdt.base = LAYOUT_GDT_GPA;
	sregs->gdt.limit = sizeof(gdt) - 1;
	/* No IDT: a fault before the kernel installs its own is a triple fault (shutdown). */
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cs = code;
	sregs->ds = data;
	sregs->es = data;
	sregs->fs = data;
	sregs->gs = data;
	sregs->ss = data;
	sregs->tr = tss;
	return 0;
}

/* Identity map of [0, 4 GiB) with 2 MiB pages: PML4[0] -> PDPT[0..3] -> 4 PDs. */
static int setup_identity_paging(const struct guest_mem *mem)
{
	uint64_t table[PT_ENTRIES];
	int ret;

	memset(table, 0, sizeof(table));
	table[0] = LAYOUT_PDPT_GPA | PTE_PRESENT | PTE_RW;
	ret = guest_mem__write(mem, LAYOUT_PML4_GPA, table, sizeof(table));

	memset(table, 0, sizeof(table));
	for (unsigned int i = 0; i < BOOT_PD_PAGES; i++)
		table[i] = (LAYOUT_PD_GPA + i * PAGE_4K) | PTE_PRESENT | PTE_RW;
	ret = ret ?: guest_mem__write(mem, LAYOUT_PDPT_GPA, table, sizeof(table));

	for (unsigned int pd = 0; pd < BOOT_PD_PAGES; pd++) {
		for (unsigned int i = 0; i < PT_ENTRIES; i++)
			table[i] = ((uint64_t)pd * PT_ENTRIES + i) * PAGE_2M | PTE_PRESENT |
				   PTE_RW | PTE_PS;
		ret = ret
			      ?: guest_mem__write(mem, LAYOUT_PD_GPA + pd * PAGE_4K, table,
						  sizeof(table));
	}
	if (ret < 0) {
		log_error("boot page tables: guest RAM does not cover [%#llx, %#llx)",
			  LAYOUT_PML4_GPA, LAYOUT_PD_GPA + BOOT_PD_PAGES * PAGE_4K);
		return -EFAULT;
	}
	return 0;
}

int boot_setup__cpu_regs(const struct guest_mem *mem, const struct boot_info *bi,
			 struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	bool long_mode;
	int ret;

	if (bi->mode != BOOT_PVH && bi->mode != BOOT_LINUX64) {
		log_error("boot vCPU: no kernel loaded");
		return -EINVAL;
	}
	long_mode = bi->mode == BOOT_LINUX64;
	ret = setup_segments(mem, sregs, long_mode);
	if (ret < 0)
		return ret;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = RFLAGS_RSVD1; /* interrupts off */
	regs->rip = bi->entry;

	if (long_mode) {
		/* boot.rst, 64-bit boot protocol: paging on, identity map, %rsi = zero page. */
		ret = setup_identity_paging(mem);
		if (ret < 0)
			return ret;
		sregs->cr3 = LAYOUT_PML4_GPA;
		sregs->cr4 = CR4_PAE;
		sregs->cr0 = CR0_PE | CR0_PG | CR0_ET;
		sregs->efer = EFER_LME | EFER_LMA;
		regs->rsi = LAYOUT_ZERO_PAGE_GPA;
		regs->rsp = LAYOUT_BOOT_STACK_GPA;
		regs->rbp = LAYOUT_BOOT_STACK_GPA;
	} else {
		/* Xen pvh.pandoc: 32-bit protected mode, paging off, %ebx = start info. */
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->cr0 = CR0_PE | CR0_ET;
		sregs->efer = 0;
		regs->rbx = LAYOUT_PVH_START_INFO_GPA;
	}
	return 0;
}

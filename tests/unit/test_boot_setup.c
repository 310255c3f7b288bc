// SPDX-License-Identifier: GPL-2.0
/*
 * Boot setup: the e820 map, the zero page, the PVH start info, and the boot
 * vCPU's registers, GDT and page tables, read back from guest memory at the
 * raw offsets the ABIs define.
 */
#include "testlib.h"
#include "vmm/boot_setup.h"
#include "base/guest_mem.h"
#include "base/layout.h"
#include "vmm/loader.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void ram(struct guest_mem *mem, uint64_t size)
{
	CHECK_EQ(guest_mem__init(mem, size, GUEST_MEM_ANON), 0);
}

static uint8_t *gp(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem__translate(mem, gpa, len);

	CHECK(p != NULL);
	return p;
}

static uint64_t rd(struct guest_mem *mem, uint64_t gpa, unsigned int bytes)
{
	uint64_t v = 0;

	memcpy(&v, gp(mem, gpa, bytes), bytes);
	return v;
}

static void check_e820(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	CHECK_EQ(e->addr, addr);
	CHECK_EQ(e->size, size);
	CHECK_EQ(e->type, type);
}

/* ---- e820 ---- */

static void test_e820(void)
{
	struct e820_entry e[E820_MAX_ENTRIES_ZEROPAGE];
	struct guest_mem mem;
	int n;

	ram(&mem, 256 * MiB);
	n = boot_setup__e820(&mem, e, E820_MAX_ENTRIES_ZEROPAGE);
	CHECK_EQ(n, 3);
	check_e820(&e[0], 0, 0x9fc00, E820_TYPE_RAM);
	check_e820(&e[1], 0x9fc00, 0x100000 - 0x9fc00, E820_TYPE_RESERVED);
	check_e820(&e[2], 0x100000, 256 * MiB - 0x100000, E820_TYPE_RAM);
	CHECK_EQ(boot_setup__e820(&mem, e, 2), -E2BIG);
	guest_mem__exit(&mem);

	/* 5 GiB: [0, 3 GiB) + [4 GiB, 6 GiB); the MMIO hole is not in the map. */
	ram(&mem, 5 * GiB);
	CHECK_EQ(mem.nr_regions, 2);
	n = boot_setup__e820(&mem, e, E820_MAX_ENTRIES_ZEROPAGE);
	CHECK_EQ(n, 4);
	check_e820(&e[0], 0, 0x9fc00, E820_TYPE_RAM);
	check_e820(&e[1], 0x9fc00, 0x100000 - 0x9fc00, E820_TYPE_RESERVED);
	check_e820(&e[2], 0x100000, LAYOUT_MMIO_HOLE_START - 0x100000, E820_TYPE_RAM);
	check_e820(&e[3], LAYOUT_MMIO_HOLE_END, 2 * GiB, E820_TYPE_RAM);
	for (int i = 0; i < n; i++)
		CHECK(e[i].addr + e[i].size <= LAYOUT_MMIO_HOLE_START ||
		      e[i].addr >= LAYOUT_MMIO_HOLE_END);
	guest_mem__exit(&mem);

	/* Regions registered out of order still give a sorted map. */
	void *lo = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *hi = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(lo != MAP_FAILED && hi != MAP_FAILED);
	guest_mem__init_empty(&mem, 4096);
	CHECK_EQ(guest_mem__add_region(&mem, LAYOUT_MMIO_HOLE_END, hi, 2 * MiB, -1, 0), 0);
	CHECK_EQ(guest_mem__add_region(&mem, 0, lo, 2 * MiB, -1, 0), 0);
	n = boot_setup__e820(&mem, e, E820_MAX_ENTRIES_ZEROPAGE);
	CHECK_EQ(n, 4);
	check_e820(&e[0], 0, 0x9fc00, E820_TYPE_RAM);
	check_e820(&e[1], 0x9fc00, 0x100000 - 0x9fc00, E820_TYPE_RESERVED);
	check_e820(&e[2], 0x100000, 1 * MiB, E820_TYPE_RAM);
	check_e820(&e[3], LAYOUT_MMIO_HOLE_END, 2 * MiB, E820_TYPE_RAM);
	guest_mem__exit(&mem);
	munmap(lo, 2 * MiB);
	munmap(hi, 2 * MiB);
}

/* ---- zero page ---- */

static void test_zero_page_vmlinux(void)
{
	struct boot_info bi = {
		.mode = BOOT_LINUX64,
		.entry = 0x1000000,
		.kernel_start = 0x1000000,
		.kernel_end = 0x2000000,
		.initrd_addr_max = LOADER_INITRD_ADDR_MAX_DEFAULT,
		.cmdline_max = LAYOUT_CMDLINE_MAX - 1,
		.initrd_gpa = 0x8000000,
		.initrd_size = 0x123456,
	};
	const uint64_t zp = LAYOUT_ZERO_PAGE_GPA;
	struct guest_mem mem;

	ram(&mem, 256 * MiB);
	memset(gp(&mem, zp, 4096), 0xcc, 4096); /* the zero page must come out clean */
	CHECK_EQ(loader__set_cmdline(&mem, "console=ttyS0", &bi), 0);
	CHECK_EQ(boot_setup__write_boot_params(&mem, &bi), 0);

	/* Raw offsets from boot.rst / zero-page.rst. */
	CHECK_EQ(rd(&mem, zp + 0x1fe, 2), 0xaa55);		   /* boot_flag */
	CHECK_EQ(rd(&mem, zp + 0x202, 4), 0x53726448);		   /* "HdrS" */
	CHECK(rd(&mem, zp + 0x206, 2) >= 0x020c);		   /* version */
	CHECK_EQ(rd(&mem, zp + 0x210, 1), 0xff);		   /* type_of_loader */
	CHECK_EQ(rd(&mem, zp + 0x211, 1) & 0x81, 0x81);		   /* LOADED_HIGH|CAN_USE_HEAP */
	CHECK_EQ(rd(&mem, zp + 0x218, 4), 0x8000000);		   /* ramdisk_image */
	CHECK_EQ(rd(&mem, zp + 0x21c, 4), 0x123456);		   /* ramdisk_size */
	CHECK(rd(&mem, zp + 0x224, 2) != 0);			   /* heap_end_ptr */
	CHECK_EQ(rd(&mem, zp + 0x228, 4), LAYOUT_CMDLINE_GPA);	   /* cmd_line_ptr */
	CHECK_EQ(rd(&mem, zp + 0x22c, 4), 0x37ffffff);		   /* initrd_addr_max */
	CHECK(rd(&mem, zp + 0x230, 4) != 0);			   /* kernel_alignment */
	CHECK_EQ(rd(&mem, zp + 0x236, 2) & 1, 1);		   /* XLF_KERNEL_64 */
	CHECK_EQ(rd(&mem, zp + 0x238, 4), LAYOUT_CMDLINE_MAX - 1); /* cmdline_size */
	CHECK_EQ(rd(&mem, zp + 0xc0, 4), 0);			   /* ext_ramdisk_image */
	CHECK_EQ(rd(&mem, zp + 0xc8, 4), 0);			   /* ext_cmd_line_ptr */
	CHECK_EQ(rd(&mem, zp + 0x1ef, 1), 0);			   /* sentinel */
	CHECK_EQ(rd(&mem, zp + 0x0, 8), 0);			   /* screen_info: zeroed */
	CHECK_EQ(rd(&mem, zp + 0x1e8, 1), 3);			   /* e820_entries */
	CHECK_EQ(rd(&mem, zp + 0x2d0, 8), 0);			   /* e820_table[0].addr */
	CHECK_EQ(rd(&mem, zp + 0x2d8, 8), 0x9fc00);		   /* .size */
	CHECK_EQ(rd(&mem, zp + 0x2e0, 4), E820_TYPE_RAM);	   /* .type */
	CHECK_EQ(rd(&mem, zp + 0x2d0 + 2 * 20, 8), 0x100000);	   /* e820_table[2].addr */
	CHECK_EQ(rd(&mem, zp + 0x2d0 + 2 * 20 + 8, 8), 255 * MiB);
	CHECK_EQ(rd(&mem, zp + 0x2d0 + 3 * 20, 8), 0); /* no entry 3 */
	CHECK(strcmp((char *)gp(&mem, LAYOUT_CMDLINE_GPA, 14), "console=ttyS0") == 0);

	/* Nothing to boot: refused. */
	bi.mode = BOOT_NONE;
	CHECK_EQ(boot_setup__write_boot_params(&mem, &bi), -EINVAL);
	guest_mem__exit(&mem);
}

static void test_zero_page_bzimage(void)
{
	struct boot_info bi = {
		.mode = BOOT_LINUX64,
		.entry = 0x100200,
		.kernel_start = 0x100000,
		.kernel_end = 0x1800000,
		.has_setup_header = true,
		.setup_header_len = 0x268 - 0x1f1,
		.initrd_addr_max = 0x7fffffff,
		.cmdline_max = 2047,
		.initrd_gpa = 0x5000000ULL,
		.initrd_size = 4096,
	};
	struct setup_header *h = (struct setup_header *)bi.setup_header;
	const uint64_t zp = LAYOUT_ZERO_PAGE_GPA;
	struct guest_mem mem;

	h->setup_sects = 27;
	h->boot_flag = 0xaa55;
	h->header = 0x53726448;
	h->version = 0x020f;
	h->loadflags = 0x01;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->xloadflags = 0x3;
	h->cmdline_size = 2047;
	h->pref_address = 0x1000000;
	h->init_size = 0x700000;

	ram(&mem, 256 * MiB);
	CHECK_EQ(loader__set_cmdline(&mem, "quiet", &bi), 0);
	CHECK_EQ(boot_setup__write_boot_params(&mem, &bi), 0);
	/* The kernel's own fields survive... */
	CHECK_EQ(rd(&mem, zp + 0x1f1, 1), 27);
	CHECK_EQ(rd(&mem, zp + 0x206, 2), 0x020f);
	CHECK_EQ(rd(&mem, zp + 0x214, 4), 0x100000);
	CHECK_EQ(rd(&mem, zp + 0x238, 4), 2047);
	CHECK_EQ(rd(&mem, zp + 0x258, 8), 0x1000000);
	CHECK_EQ(rd(&mem, zp + 0x260, 4), 0x700000);
	/* ...and the loader's are filled in. */
	CHECK_EQ(rd(&mem, zp + 0x210, 1), 0xff);
	CHECK_EQ(rd(&mem, zp + 0x211, 1), 0x81);
	CHECK_EQ(rd(&mem, zp + 0x228, 4), LAYOUT_CMDLINE_GPA);
	CHECK_EQ(rd(&mem, zp + 0x218, 4), 0x5000000);
	CHECK_EQ(rd(&mem, zp + 0x21c, 4), 4096);
	CHECK_EQ(rd(&mem, zp + 0x1e8, 1), 3);
	guest_mem__exit(&mem);
}

/* ---- PVH ---- */

static void test_pvh_start_info(void)
{
	struct boot_info bi = {
		.mode = BOOT_PVH,
		.entry = 0x10004a0,
		.kernel_start = 0x1000000,
		.kernel_end = 0x1a00000,
		.initrd_addr_max = LOADER_INITRD_ADDR_MAX_DEFAULT,
		.cmdline_max = LAYOUT_CMDLINE_MAX - 1,
		.initrd_gpa = 0x7000000,
		.initrd_size = 0x2345,
	};
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;
	struct hvm_memmap_table_entry mm[4];
	struct e820_entry e[4];
	struct guest_mem mem;

	ram(&mem, 5 * GiB);
	CHECK_EQ(loader__set_cmdline(&mem, "console=ttyS0", &bi), 0);
	CHECK_EQ(boot_setup__write_boot_params(&mem, &bi), 0);

	memcpy(&si, gp(&mem, LAYOUT_PVH_START_INFO_GPA, sizeof(si)), sizeof(si));
	CHECK_EQ(si.magic, 0x336ec578);
	CHECK_EQ(rd(&mem, LAYOUT_PVH_START_INFO_GPA, 4), 0x336ec578);
	CHECK_EQ(si.version, 1);
	CHECK_EQ(si.flags, 0);
	CHECK_EQ(si.cmdline_paddr, LAYOUT_CMDLINE_GPA);
	CHECK_EQ(rd(&mem, LAYOUT_PVH_START_INFO_GPA + 24, 8), LAYOUT_CMDLINE_GPA);
	CHECK_EQ(si.rsdp_paddr, 0);
	CHECK_EQ(si.nr_modules, 1);
	CHECK(si.modlist_paddr >= LAYOUT_PVH_START_INFO_GPA + sizeof(si));
	memcpy(&mod, gp(&mem, si.modlist_paddr, sizeof(mod)), sizeof(mod));
	CHECK_EQ(mod.paddr, 0x7000000);
	CHECK_EQ(mod.size, 0x2345);
	CHECK_EQ(mod.cmdline_paddr, 0);

	CHECK_EQ(si.memmap_paddr, LAYOUT_MEMMAP_GPA);
	CHECK_EQ(rd(&mem, LAYOUT_PVH_START_INFO_GPA + 40, 8), LAYOUT_MEMMAP_GPA);
	CHECK_EQ(si.memmap_entries, 4);
	CHECK_EQ(rd(&mem, LAYOUT_PVH_START_INFO_GPA + 48, 4), 4);
	CHECK_EQ(boot_setup__e820(&mem, e, 4), 4);
	memcpy(mm, gp(&mem, LAYOUT_MEMMAP_GPA, sizeof(mm)), sizeof(mm));
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(mm[i].addr, e[i].addr);
		CHECK_EQ(mm[i].size, e[i].size);
		CHECK_EQ(mm[i].type, e[i].type);
		CHECK_EQ(mm[i].reserved, 0);
	}
	CHECK_EQ(mm[3].addr, 4 * GiB);
	CHECK_EQ(mm[3].size, 2 * GiB);

	/* No initrd: no module list. */
	bi.initrd_gpa = 0;
	bi.initrd_size = 0;
	CHECK_EQ(boot_setup__write_boot_params(&mem, &bi), 0);
	memcpy(&si, gp(&mem, LAYOUT_PVH_START_INFO_GPA, sizeof(si)), sizeof(si));
	CHECK_EQ(si.nr_modules, 0);
	CHECK_EQ(si.modlist_paddr, 0);
	guest_mem__exit(&mem);
}

/* ---- boot vCPU ---- */

/* What KVM_GET_SREGS might hand over: anything. */
static void dirty_sregs(struct kvm_sregs *s)
{
	memset(s, 0xa5, sizeof(*s));
}

static void check_flat(const struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	CHECK_EQ(s->selector, sel);
	CHECK_EQ(s->base, 0);
	CHECK_EQ(s->limit, 0xffffffff);
	CHECK_EQ(s->type, type);
	CHECK_EQ(s->present, 1);
	CHECK_EQ(s->dpl, 0);
	CHECK_EQ(s->s, 1);
	CHECK_EQ(s->g, 1);
}

static void test_cpu_regs_linux64(void)
{
	struct boot_info bi = {.mode = BOOT_LINUX64, .entry = 0x1000000};
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct guest_mem mem;
	uint64_t gdt[6];

	ram(&mem, 256 * MiB);
	dirty_sregs(&sregs);
	memset(&regs, 0xa5, sizeof(regs));
	CHECK_EQ(boot_setup__cpu_regs(&mem, &bi, &regs, &sregs), 0);

	CHECK_EQ(sregs.cr0, 0x80000011); /* PG | ET | PE */
	CHECK_EQ(sregs.cr4, 0x20);	 /* PAE */
	CHECK_EQ(sregs.efer, 0x500);	 /* LMA | LME */
	CHECK_EQ(sregs.cr3, LAYOUT_PML4_GPA);

	/* boot.rst: CS = __BOOT_CS (0x10), DS/ES/SS = __BOOT_DS (0x18), flat. */
	check_flat(&sregs.cs, 0x10, 0xb);
	CHECK_EQ(sregs.cs.l, 1);
	CHECK_EQ(sregs.cs.db, 0);
	check_flat(&sregs.ds, 0x18, 0x3);
	check_flat(&sregs.es, 0x18, 0x3);
	check_flat(&sregs.ss, 0x18, 0x3);
	CHECK_EQ(sregs.ss.db, 1);
	CHECK_EQ(sregs.tr.type, 0xb);
	CHECK_EQ(sregs.tr.present, 1);
	CHECK_EQ(sregs.tr.s, 0);

	/* The GDT in guest memory says the same as the descriptor caches. */
	CHECK_EQ(sregs.gdt.base, LAYOUT_GDT_GPA);
	CHECK_EQ(sregs.gdt.limit, sizeof(gdt) - 1);
	memcpy(gdt, gp(&mem, LAYOUT_GDT_GPA, sizeof(gdt)), sizeof(gdt));
	CHECK_EQ(gdt[0], 0);
	CHECK_EQ(gdt[2], 0x00af9b000000ffffULL); /* 64-bit code, G, P, execute/read */
	CHECK_EQ(gdt[3], 0x00cf93000000ffffULL); /* data, G, D/B, P, read/write */
	CHECK_EQ(gdt[4], 0x00008b0000000067ULL); /* busy TSS, limit 0x67 */
	CHECK_EQ(gdt[5], 0);
	CHECK_EQ(sregs.tr.selector, 0x20);

	/* Identity map of 4 GiB with 2 MiB pages. */
	CHECK_EQ(rd(&mem, LAYOUT_PML4_GPA, 8), LAYOUT_PDPT_GPA | 0x3);
	CHECK_EQ(rd(&mem, LAYOUT_PML4_GPA + 8, 8), 0);
	for (unsigned int i = 0; i < 4; i++)
		CHECK_EQ(rd(&mem, LAYOUT_PDPT_GPA + 8 * i, 8), (LAYOUT_PD_GPA + 0x1000 * i) | 0x3);
	CHECK_EQ(rd(&mem, LAYOUT_PDPT_GPA + 8 * 4, 8), 0);
	CHECK_EQ(rd(&mem, LAYOUT_PD_GPA, 8), 0x83);
	CHECK_EQ(rd(&mem, LAYOUT_PD_GPA + 8, 8), 0x200083);
	CHECK_EQ(rd(&mem, LAYOUT_PD_GPA + 0x1000, 8), 0x40000083); /* 1 GiB */
	CHECK_EQ(rd(&mem, LAYOUT_PD_GPA + 0x4000 - 8, 8), 0xffe00083);

	CHECK_EQ(regs.rip, 0x1000000);
	CHECK_EQ(regs.rsi, LAYOUT_ZERO_PAGE_GPA);
	CHECK_EQ(regs.rsp, LAYOUT_BOOT_STACK_GPA);
	CHECK_EQ(regs.rflags, 2);
	CHECK_EQ(regs.rax, 0);
	guest_mem__exit(&mem);
}

static void test_cpu_regs_pvh(void)
{
	struct boot_info bi = {.mode = BOOT_PVH, .entry = 0x10004a0};
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct guest_mem mem;
	uint64_t gdt[6];

	ram(&mem, 256 * MiB);
	dirty_sregs(&sregs);
	CHECK_EQ(boot_setup__cpu_regs(&mem, &bi, &regs, &sregs), 0);

	/* Xen PVH ABI: 32-bit protected mode, paging off, flat 4 GiB segments. */
	CHECK_EQ(sregs.cr0, 0x11); /* ET | PE */
	CHECK_EQ(sregs.cr4, 0);
	CHECK_EQ(sregs.efer, 0);
	check_flat(&sregs.cs, 0x10, 0xb);
	CHECK_EQ(sregs.cs.l, 0);
	CHECK_EQ(sregs.cs.db, 1);
	check_flat(&sregs.ds, 0x18, 0x3);
	check_flat(&sregs.ss, 0x18, 0x3);
	CHECK_EQ(sregs.tr.type, 0xb);
	CHECK_EQ(sregs.tr.limit, 0x67);
	memcpy(gdt, gp(&mem, LAYOUT_GDT_GPA, sizeof(gdt)), sizeof(gdt));
	CHECK_EQ(gdt[2], 0x00cf9b000000ffffULL); /* 32-bit code */
	CHECK_EQ(gdt[3], 0x00cf93000000ffffULL);

	CHECK_EQ(regs.rbx, LAYOUT_PVH_START_INFO_GPA);
	CHECK_EQ(regs.rip, 0x10004a0);
	CHECK_EQ(regs.rflags, 2);

	bi.mode = BOOT_NONE;
	CHECK_EQ(boot_setup__cpu_regs(&mem, &bi, &regs, &sregs), -EINVAL);
	guest_mem__exit(&mem);
}

int main(void)
{
	test_e820();
	test_zero_page_vmlinux();
	test_zero_page_bzimage();
	test_pvh_start_info();
	test_cpu_regs_linux64();
	test_cpu_regs_pvh();
	return testlib_done("test_boot_setup");
}

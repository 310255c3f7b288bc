// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel loader: crafted ELF64 and bzImage images, valid and hostile, the
 * initrd placement and the command line bounds. A real vmlinux is loaded too
 * when $MINI_VMM_TEST_VMLINUX names one.
 */
#include "testlib.h"
#include "base/guest_mem.h"
#include "base/layout.h"
#include "vmm/loader.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MiB (1ULL << 20)

/* ---- crafted ELF images ---- */

#define ELF_IMG_SIZE	 0x4000
#define ELF_PHOFF	 sizeof(Elf64_Ehdr)
#define ELF_NOTE_OFF	 0x800
#define ELF_TEXT_OFF	 0x1000
#define ELF_TEXT_FILESZ	 0x2000
#define ELF_TEXT_MEMSZ	 0x3000
#define ELF_TEXT_PADDR	 0x1000000ULL
#define ELF_TEXT_VADDR	 0xffffffff81000000ULL
#define ELF_ENTRY_OFF	 0x40
#define ELF_PVH_ENTRY	 0x1000100ULL
#define XEN_PHYS32_ENTRY 18

static uint8_t elf_img[ELF_IMG_SIZE] __attribute__((aligned(8)));

static Elf64_Ehdr *ehdr(void)
{
	return (Elf64_Ehdr *)elf_img;
}

static Elf64_Phdr *phdr(unsigned int i)
{
	return (Elf64_Phdr *)(elf_img + ELF_PHOFF) + i;
}

/* Append one note (4-byte aligned, as Linux's ELFNOTE emits) at *off. */
static void put_note(size_t *off, const char *name, uint32_t type, const void *desc,
		     uint32_t descsz)
{
	Elf64_Nhdr nh = {
		.n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = descsz, .n_type = type};

	memcpy(elf_img + *off, &nh, sizeof(nh));
	*off += sizeof(nh);
	memcpy(elf_img + *off, name, nh.n_namesz);
	*off += (nh.n_namesz + 3) & ~3u;
	memcpy(elf_img + *off, desc, descsz);
	*off += (descsz + 3) & ~3u;
}

/*
 * A vmlinux-like image: one PT_LOAD (text + bss) linked at ELF_TEXT_VADDR and
 * loaded at ELF_TEXT_PADDR, and a PT_NOTE holding a GNU note and, if
 * pvh_descsz is 4 or 8, the Xen PVH entry note after it.
 */
static size_t build_elf(unsigned int pvh_descsz)
{
	size_t note = ELF_NOTE_OFF;
	uint64_t pvh = ELF_PVH_ENTRY;
	uint32_t gnu = 0x12345678;
	Elf64_Ehdr *eh = ehdr();

	memset(elf_img, 0, sizeof(elf_img));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = ELF_TEXT_VADDR + ELF_ENTRY_OFF;
	eh->e_phoff = ELF_PHOFF;
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;

	*phdr(0) = (Elf64_Phdr){
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_X,
		.p_offset = ELF_TEXT_OFF,
		.p_vaddr = ELF_TEXT_VADDR,
		.p_paddr = ELF_TEXT_PADDR,
		.p_filesz = ELF_TEXT_FILESZ,
		.p_memsz = ELF_TEXT_MEMSZ,
		.p_align = 0x200000,
	};
	put_note(&note, "GNU", 3, &gnu, sizeof(gnu));
	if (pvh_descsz)
		put_note(&note, "Xen", XEN_PHYS32_ENTRY, &pvh, pvh_descsz);
	*phdr(1) = (Elf64_Phdr){
		.p_type = PT_NOTE,
		.p_offset = ELF_NOTE_OFF,
		.p_filesz = note - ELF_NOTE_OFF,
		.p_align = 4,
	};
	for (unsigned int i = 0; i < ELF_TEXT_FILESZ; i++)
		elf_img[ELF_TEXT_OFF + i] = (uint8_t)(i * 7 + 1);
	return ELF_TEXT_OFF + ELF_TEXT_FILESZ;
}

/* ---- crafted bzImages ---- */

#define BZ_SETUP_SECTS	3
#define BZ_PM_SIZE	0x4000
#define BZ_LOAD		0x100000ULL
#define BZ_PREF		0x1000000ULL
#define BZ_INIT_SIZE	0x800000U
#define BZ_CMDLINE_SIZE 2047U
#define BZ_MAX_SIZE	(0x1000 + BZ_PM_SIZE)

static uint8_t bz_img[BZ_MAX_SIZE] __attribute__((aligned(8)));

static void put16(uint8_t *img, size_t off, uint16_t v)
{
	memcpy(img + off, &v, sizeof(v));
}

static void put32(uint8_t *img, size_t off, uint32_t v)
{
	memcpy(img + off, &v, sizeof(v));
}

static void put64(uint8_t *img, size_t off, uint64_t v)
{
	memcpy(img + off, &v, sizeof(v));
}

/* Setup header fields at their boot.rst offsets; returns the image size. */
static size_t build_bzimage(uint8_t setup_sects_field, uint16_t version, uint16_t xloadflags)
{
	unsigned int sects = setup_sects_field ? setup_sects_field : 4;
	size_t pm_off = (sects + 1) * 512;

	memset(bz_img, 0, sizeof(bz_img));
	bz_img[0x1f1] = setup_sects_field;
	put16(bz_img, 0x1fe, 0xaa55);
	bz_img[0x200] = 0xeb; /* jmp: the header ends at 0x202 + 0x66 = 0x268 */
	bz_img[0x201] = 0x66;
	memcpy(bz_img + 0x202, "HdrS", 4);
	put16(bz_img, 0x206, version);
	bz_img[0x211] = 0x01; /* LOADED_HIGH */
	put32(bz_img, 0x214, (uint32_t)BZ_LOAD);
	put32(bz_img, 0x22c, 0x7fffffff);
	put32(bz_img, 0x230, 0x200000);
	bz_img[0x234] = 1;
	put16(bz_img, 0x236, xloadflags);
	put32(bz_img, 0x238, BZ_CMDLINE_SIZE);
	put64(bz_img, 0x258, BZ_PREF);
	put32(bz_img, 0x260, BZ_INIT_SIZE);
	for (size_t i = 0; i < BZ_PM_SIZE; i++)
		bz_img[pm_off + i] = (uint8_t)(i * 13 + 5);
	return pm_off + BZ_PM_SIZE;
}

/* ---- helpers ---- */

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

static int load(struct guest_mem *mem, size_t size, struct boot_info *bi)
{
	return loader__load_kernel(mem, elf_img, size, bi);
}

/* ---- ELF tests ---- */

static void test_elf_pvh(void)
{
	struct guest_mem mem;
	struct boot_info bi;
	size_t size;

	ram(&mem, 256 * MiB);
	/* bss must be cleared, whatever was there. */
	memset(gp(&mem, ELF_TEXT_PADDR, ELF_TEXT_MEMSZ), 0xee, ELF_TEXT_MEMSZ);

	size = build_elf(4);
	CHECK_EQ(load(&mem, size, &bi), 0);
	CHECK_EQ(bi.mode, BOOT_PVH);
	CHECK_EQ(bi.entry, ELF_PVH_ENTRY);
	CHECK_EQ(bi.kernel_start, ELF_TEXT_PADDR);
	CHECK_EQ(bi.kernel_end, ELF_TEXT_PADDR + ELF_TEXT_MEMSZ);
	CHECK(!bi.has_setup_header);
	CHECK_EQ(bi.initrd_addr_max, 0x37ffffff);
	CHECK_EQ(bi.cmdline_max, LAYOUT_CMDLINE_MAX - 1);
	CHECK(memcmp(gp(&mem, ELF_TEXT_PADDR, ELF_TEXT_FILESZ), elf_img + ELF_TEXT_OFF,
		     ELF_TEXT_FILESZ) == 0);
	for (uint64_t a = ELF_TEXT_PADDR + ELF_TEXT_FILESZ; a < ELF_TEXT_PADDR + ELF_TEXT_MEMSZ;
	     a++)
		CHECK_EQ(*gp(&mem, a, 1), 0);

	/* Linux 6.1 emits the note value with _ASM_PTR: 8 bytes. */
	size = build_elf(8);
	CHECK_EQ(load(&mem, size, &bi), 0);
	CHECK_EQ(bi.mode, BOOT_PVH);
	CHECK_EQ(bi.entry, ELF_PVH_ENTRY);

	/* A malformed PVH note (3-byte value) is refused, not guessed at. */
	size = build_elf(4);
	put32(elf_img, ELF_NOTE_OFF + 12 + 4 + 4 + 4, 3); /* Xen note's n_descsz */
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);

	/* The PVH entry must lie inside the loaded kernel. */
	size = build_elf(4);
	put32(elf_img, ELF_NOTE_OFF + 12 + 4 + 4 + 12 + 4, 0x5000000);
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);

	/* A note whose namesz runs past the segment is ignored: no PVH, 64-bit entry. */
	size = build_elf(4);
	put32(elf_img, ELF_NOTE_OFF, 0x7ffffff0);
	CHECK_EQ(load(&mem, size, &bi), 0);
	CHECK_EQ(bi.mode, BOOT_LINUX64);

	/* A PT_NOTE past the end of the file. */
	size = build_elf(4);
	phdr(1)->p_offset = size - 4;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	guest_mem__exit(&mem);
}

static void test_elf_linux64(void)
{
	struct guest_mem mem;
	struct boot_info bi;
	size_t size;

	ram(&mem, 256 * MiB);
	size = build_elf(0);
	CHECK_EQ(load(&mem, size, &bi), 0);
	CHECK_EQ(bi.mode, BOOT_LINUX64);
	/* e_entry is virtual: converted through the segment holding it. */
	CHECK_EQ(bi.entry, ELF_TEXT_PADDR + ELF_ENTRY_OFF);

	/* A vmlinux links ENTRY(phys_startup_64): an already physical e_entry. */
	ehdr()->e_entry = ELF_TEXT_PADDR + ELF_ENTRY_OFF;
	CHECK_EQ(load(&mem, size, &bi), 0);
	CHECK_EQ(bi.mode, BOOT_LINUX64);
	CHECK_EQ(bi.entry, ELF_TEXT_PADDR + ELF_ENTRY_OFF);

	/* An entry in no segment. */
	ehdr()->e_entry = 0x5000000;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	CHECK_EQ(bi.mode, BOOT_NONE);
	guest_mem__exit(&mem);
}

static void test_elf_hostile(void)
{
	struct guest_mem mem;
	struct boot_info bi;
	size_t size;

	ram(&mem, 64 * MiB);

	/* Segment outside RAM, in the MMIO hole, below 1 MiB (the boot area). */
	size = build_elf(4);
	phdr(0)->p_paddr = 128 * MiB;
	CHECK(load(&mem, size, &bi) < 0);
	phdr(0)->p_paddr = LAYOUT_MMIO_HOLE_START;
	CHECK(load(&mem, size, &bi) < 0);
	phdr(0)->p_paddr = 64 * MiB - ELF_TEXT_MEMSZ + 1; /* straddles the end of RAM */
	CHECK(load(&mem, size, &bi) < 0);
	memset(gp(&mem, LAYOUT_ZERO_PAGE_GPA, 4096), 0x5a, 4096);
	phdr(0)->p_paddr = LAYOUT_ZERO_PAGE_GPA;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	CHECK_EQ(*gp(&mem, LAYOUT_ZERO_PAGE_GPA, 1), 0x5a);

	/* p_offset + p_filesz past the end of the file, and wrapping around. */
	size = build_elf(4);
	CHECK_EQ(load(&mem, size - 1, &bi), -ENOEXEC);
	phdr(0)->p_offset = UINT64_MAX - 0xfff;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);

	/* p_paddr + p_memsz overflows. */
	size = build_elf(4);
	phdr(0)->p_paddr = UINT64_MAX - 0xfff;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	size = build_elf(4);
	phdr(0)->p_memsz = UINT64_MAX;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);

	/* p_filesz > p_memsz. */
	size = build_elf(4);
	phdr(0)->p_memsz = ELF_TEXT_FILESZ - 1;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);

	/* Nothing is written unless the whole image is valid: a good segment, then a bad one. */
	size = build_elf(4);
	memset(gp(&mem, ELF_TEXT_PADDR, 16), 0x77, 16);
	phdr(1)->p_type = PT_LOAD;
	phdr(1)->p_paddr = 2 * ELF_TEXT_PADDR;
	phdr(1)->p_memsz = phdr(1)->p_filesz + 1;
	phdr(1)->p_offset = size; /* past the end */
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	CHECK_EQ(*gp(&mem, ELF_TEXT_PADDR, 1), 0x77);

	/* Truncated headers. */
	size = build_elf(4);
	CHECK_EQ(load(&mem, 0, &bi), -ENOEXEC);
	CHECK_EQ(load(&mem, 4, &bi), -ENOEXEC);
	CHECK_EQ(load(&mem, sizeof(Elf64_Ehdr) - 1, &bi), -ENOEXEC);
	CHECK_EQ(load(&mem, ELF_PHOFF + sizeof(Elf64_Phdr) + 10, &bi), -ENOEXEC);

	/* Bad magic, wrong class, machine, type, phentsize. */
	elf_img[1] = 'X';
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	size = build_elf(4);
	ehdr()->e_ident[EI_CLASS] = ELFCLASS32;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	size = build_elf(4);
	ehdr()->e_machine = EM_386;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	size = build_elf(4);
	ehdr()->e_type = ET_DYN;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	size = build_elf(4);
	ehdr()->e_phentsize = sizeof(Elf64_Phdr) + 8;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);

	/* Huge phnum, program headers off the end, no loadable segment. */
	size = build_elf(4);
	ehdr()->e_phnum = 0xffff;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	size = build_elf(4);
	ehdr()->e_phnum = 60; /* allowed count, but they run past the file */
	CHECK_EQ(load(&mem, 0x400, &bi), -ENOEXEC);
	size = build_elf(4);
	ehdr()->e_phoff = UINT64_MAX - 8;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	size = build_elf(4);
	ehdr()->e_phnum = 0;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);
	size = build_elf(4);
	phdr(0)->p_type = PT_NULL;
	CHECK_EQ(load(&mem, size, &bi), -ENOEXEC);

	/* Neither ELF nor bzImage. */
	memset(elf_img, 0x41, sizeof(elf_img));
	CHECK_EQ(load(&mem, sizeof(elf_img), &bi), -ENOEXEC);
	guest_mem__exit(&mem);
}

/* ---- bzImage tests ---- */

static void test_bzimage(void)
{
	struct guest_mem mem;
	struct boot_info bi;
	size_t size;

	ram(&mem, 256 * MiB);
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x3);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), 0);
	CHECK_EQ(bi.mode, BOOT_LINUX64);
	CHECK_EQ(bi.entry, BZ_LOAD + 0x200);
	CHECK_EQ(bi.kernel_start, BZ_LOAD);
	/* The decompressor runs at pref_address and needs init_size there. */
	CHECK_EQ(bi.kernel_end, BZ_PREF + BZ_INIT_SIZE);
	CHECK(memcmp(gp(&mem, BZ_LOAD, BZ_PM_SIZE), bz_img + (BZ_SETUP_SECTS + 1) * 512,
		     BZ_PM_SIZE) == 0);
	CHECK(bi.has_setup_header);
	CHECK_EQ(bi.setup_header_len, 0x268 - 0x1f1);
	CHECK_EQ(bi.setup_header[0], BZ_SETUP_SECTS);
	CHECK(memcmp(bi.setup_header + (0x202 - 0x1f1), "HdrS", 4) == 0);
	CHECK_EQ(bi.cmdline_max, BZ_CMDLINE_SIZE);
	CHECK_EQ(bi.initrd_addr_max, 0x7fffffff);

	/* setup_sects 0 means 4: the kernel starts at 5 * 512. */
	size = build_bzimage(0, 0x020c, 0x1);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), 0);
	CHECK(memcmp(gp(&mem, BZ_LOAD, BZ_PM_SIZE), bz_img + 5 * 512, BZ_PM_SIZE) == 0);

	/* The header ends at 0x202 + the jump byte, bounded by boot_params' slot. */
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x1);
	bz_img[0x201] = 0xff;
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), 0);
	CHECK_EQ(bi.setup_header_len, SETUP_HEADER_MAX);

	/* Protocol too old for the 64-bit entry. */
	size = build_bzimage(BZ_SETUP_SECTS, 0x020b, 0x1);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), -ENOEXEC);
	/* Not 64-bit capable. */
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x2);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), -ENOEXEC);
	/* Truncated: inside the header, inside the setup code, no kernel at all. */
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x1);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, 0x210, &bi), -ENOEXEC);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, 0x300, &bi), -ENOEXEC);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, (BZ_SETUP_SECTS + 1) * 512, &bi), -ENOEXEC);
	/*
	 * A protected-mode part that ends before its own 64-bit entry (+0x200):
	 * found by fuzz_loader, the entry pointed past the loaded kernel.
	 */
	CHECK_EQ(loader__load_kernel(&mem, bz_img, (BZ_SETUP_SECTS + 1) * 512 + 0x200, &bi),
		 -ENOEXEC);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, (BZ_SETUP_SECTS + 1) * 512 + 0x10, &bi),
		 -ENOEXEC);
	/* setup_sects 255: the setup code alone is larger than the file. */
	bz_img[0x1f1] = 255;
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), -ENOEXEC);
	/* code32_start below 1 MiB. */
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x1);
	put32(bz_img, 0x214, 0x7000);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), -ENOEXEC);
	/* pref_address + init_size wrapping, and more than guest RAM. */
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x1);
	put64(bz_img, 0x258, UINT64_MAX - 0x1000);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), -ENOEXEC);
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x1);
	put32(bz_img, 0x260, 0x20000000);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), -ENOMEM);
	/* Only the boot flag, no "HdrS": unknown format. */
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x1);
	bz_img[0x202] = 'X';
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), -ENOEXEC);
	guest_mem__exit(&mem);
}

/* ---- initrd ---- */

static void test_initrd(void)
{
	static uint8_t initrd[10000];
	struct guest_mem mem;
	struct boot_info bi;
	size_t size;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);

	ram(&mem, 256 * MiB);
	memset(&bi, 0, sizeof(bi));
	CHECK_EQ(loader__load_initrd(&mem, initrd, sizeof(initrd), &bi), -EINVAL); /* no kernel */

	/* Highest page-aligned spot below the end of RAM. */
	size = build_elf(4);
	CHECK_EQ(load(&mem, size, &bi), 0);
	CHECK_EQ(loader__load_initrd(&mem, initrd, 0, &bi), -EINVAL);
	CHECK_EQ(loader__load_initrd(&mem, initrd, sizeof(initrd), &bi), 0);
	CHECK_EQ(bi.initrd_gpa, (256 * MiB - sizeof(initrd)) & ~4095ULL);
	CHECK_EQ(bi.initrd_size, sizeof(initrd));
	CHECK(bi.initrd_gpa >= bi.kernel_end);
	CHECK(memcmp(gp(&mem, bi.initrd_gpa, sizeof(initrd)), initrd, sizeof(initrd)) == 0);

	/* Bounded by the bzImage's initrd_addr_max (inclusive) and above its init_size. */
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x1);
	put32(bz_img, 0x22c, 0x1ffffff);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), 0);
	CHECK_EQ(loader__load_initrd(&mem, initrd, sizeof(initrd), &bi), 0);
	CHECK_EQ(bi.initrd_gpa, (0x2000000 - sizeof(initrd)) & ~4095ULL);
	CHECK(bi.initrd_gpa >= BZ_PREF + BZ_INIT_SIZE);
	/* No room between the kernel's init_size and initrd_addr_max. */
	put32(bz_img, 0x22c, BZ_PREF + BZ_INIT_SIZE + 4096);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), 0);
	CHECK_EQ(loader__load_initrd(&mem, initrd, sizeof(initrd), &bi), -ENOMEM);
	CHECK_EQ(bi.initrd_size, 0);
	guest_mem__exit(&mem);

	/* Default initrd_addr_max 0x37ffffff when RAM goes higher. */
	ram(&mem, 2048 * MiB);
	size = build_elf(0);
	CHECK_EQ(load(&mem, size, &bi), 0);
	CHECK_EQ(loader__load_initrd(&mem, initrd, sizeof(initrd), &bi), 0);
	CHECK_EQ(bi.initrd_gpa, (0x38000000 - sizeof(initrd)) & ~4095ULL);
	guest_mem__exit(&mem);

	/* Larger than the RAM above the kernel: refused before reading a byte. */
	ram(&mem, 64 * MiB);
	size = build_elf(0);
	CHECK_EQ(load(&mem, size, &bi), 0);
	size_t big = 48 * MiB;
	void *data = mmap(NULL, big, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(data != MAP_FAILED);
	CHECK_EQ(loader__load_initrd(&mem, data, big, &bi), -ENOMEM);
	CHECK_EQ(loader__load_initrd(&mem, data, SIZE_MAX, &bi), -ENOMEM);
	CHECK_EQ(loader__load_initrd(&mem, data, 32 * MiB, &bi), 0);
	CHECK_EQ(bi.initrd_gpa, 32 * MiB);
	munmap(data, big);
	guest_mem__exit(&mem);
}

/* ---- command line ---- */

static void test_cmdline(void)
{
	static char line[LAYOUT_CMDLINE_MAX + 1];
	struct guest_mem mem;
	struct boot_info bi;
	size_t size;

	ram(&mem, 64 * MiB);
	size = build_elf(4);
	CHECK_EQ(load(&mem, size, &bi), 0);
	memset(gp(&mem, LAYOUT_CMDLINE_GPA, 32), 0xff, 32);
	CHECK_EQ(loader__set_cmdline(&mem, "console=ttyS0 panic=-1", &bi), 0);
	CHECK_EQ(bi.cmdline_gpa, LAYOUT_CMDLINE_GPA);
	CHECK_EQ(bi.cmdline_len, 22);
	CHECK(strcmp((char *)gp(&mem, LAYOUT_CMDLINE_GPA, 23), "console=ttyS0 panic=-1") == 0);
	CHECK_EQ(loader__set_cmdline(&mem, NULL, &bi), 0);
	CHECK_EQ(bi.cmdline_len, 0);
	CHECK_EQ(*gp(&mem, LAYOUT_CMDLINE_GPA, 1), 0);

	/* The layout's bound, NUL included. */
	memset(line, 'a', LAYOUT_CMDLINE_MAX - 1);
	line[LAYOUT_CMDLINE_MAX - 1] = '\0';
	CHECK_EQ(loader__set_cmdline(&mem, line, &bi), 0);
	CHECK_EQ(bi.cmdline_len, LAYOUT_CMDLINE_MAX - 1);
	line[LAYOUT_CMDLINE_MAX - 1] = 'a';
	line[LAYOUT_CMDLINE_MAX] = '\0';
	CHECK_EQ(loader__set_cmdline(&mem, line, &bi), -E2BIG);

	/* The bzImage's cmdline_size, NUL excluded. */
	size = build_bzimage(BZ_SETUP_SECTS, 0x020f, 0x1);
	CHECK_EQ(loader__load_kernel(&mem, bz_img, size, &bi), 0);
	line[BZ_CMDLINE_SIZE] = '\0';
	CHECK_EQ(loader__set_cmdline(&mem, line, &bi), 0);
	line[BZ_CMDLINE_SIZE] = 'a';
	line[BZ_CMDLINE_SIZE + 1] = '\0';
	CHECK_EQ(loader__set_cmdline(&mem, line, &bi), -E2BIG);
	guest_mem__exit(&mem);
}

/* ---- files ---- */

static void test_files(void)
{
	char path[] = "/tmp/mini-vmm-test-loader-XXXXXX";
	struct guest_mem mem, mem2;
	struct boot_info bi, bi2;
	size_t size;
	int fd;

	ram(&mem, 64 * MiB);
	CHECK_EQ(loader__load_kernel_file(&mem, "/nonexistent/vmlinux", &bi), -ENOENT);
	CHECK(loader__load_kernel_file(&mem, "/tmp", &bi) < 0);

	size = build_elf(4);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, elf_img, size), (long long)size);
	close(fd);
	CHECK_EQ(loader__load_kernel_file(&mem, path, &bi), 0);
	CHECK_EQ(bi.mode, BOOT_PVH);
	/* Read from the file (pread into guest RAM): the same guest RAM as from the buffer. */
	ram(&mem2, 64 * MiB);
	CHECK_EQ(loader__load_kernel(&mem2, elf_img, size, &bi2), 0);
	CHECK_EQ(bi2.entry, bi.entry);
	CHECK(memcmp(gp(&mem, 0, 64 * MiB - 1), gp(&mem2, 0, 64 * MiB - 1), 64 * MiB - 1) == 0);
	CHECK_EQ(loader__load_initrd_file(&mem, path, &bi), 0);
	CHECK_EQ(bi.initrd_size, size);
	CHECK(memcmp(gp(&mem, bi.initrd_gpa, size), elf_img, size) == 0);
	unlink(path);
	guest_mem__exit(&mem);
	guest_mem__exit(&mem2);
}

/* A real kernel, when the environment points at one (tests/boot builds it). */
static void test_real_vmlinux(void)
{
	const char *path = getenv("MINI_VMM_TEST_VMLINUX");
	struct guest_mem mem;
	struct boot_info bi;

	if (!path || access(path, R_OK) != 0) {
		printf("test_loader: MINI_VMM_TEST_VMLINUX unset or unreadable: real vmlinux "
		       "check skipped\n");
		return;
	}
	ram(&mem, 512 * MiB);
	CHECK_EQ(loader__load_kernel_file(&mem, path, &bi), 0);
	CHECK_EQ(bi.mode, BOOT_PVH);
	CHECK(bi.kernel_start >= LAYOUT_HIMEM_START);
	CHECK(bi.entry >= bi.kernel_start && bi.entry < bi.kernel_end);
	guest_mem__exit(&mem);
}

int main(void)
{
	test_elf_pvh();
	test_elf_linux64();
	test_elf_hostile();
	test_bzimage();
	test_initrd();
	test_cmdline();
	test_files();
	test_real_vmlinux();
	return testlib_done("test_loader");
}

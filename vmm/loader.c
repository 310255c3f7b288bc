// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel, initrd and command line loading (see loader.h).
 *
 * References: Linux Documentation/x86/boot.rst (bzImage, setup header, 64-bit
 * boot protocol), the ELF-64 object file format, and Xen's
 * public/elfnote.h + arch-x86/hvm/start_info.h for the PVH entry note.
 *
 * The image is untrusted input: every field read from it is checked against
 * the buffer size with overflow-safe arithmetic before use, and everything is
 * validated before the first byte goes into guest RAM.
 */
#include "vmm/loader.h"

#include "base/layout.h"
#include "base/log.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_SIZE_4K 4096ULL

/* Xen public/elfnote.h: the 32-bit physical entry point of a PVH kernel. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* More program headers than any kernel has; bounds the work on a crafted file. */
#define LOADER_MAX_PHDRS 64

/* bzImage setup header fields, as offsets into the image (boot.rst). */
#define BZ_SETUP_SECTS	    0x1f1
#define BZ_BOOT_FLAG	    0x1fe
#define BZ_JUMP		    0x200
#define BZ_HEADER	    0x202
#define BZ_VERSION	    0x206
#define BZ_CODE32_START	    0x214
#define BZ_INITRD_ADDR_MAX  0x22c
#define BZ_KERNEL_ALIGNMENT 0x230
#define BZ_RELOCATABLE	    0x234
#define BZ_XLOADFLAGS	    0x236
#define BZ_CMDLINE_SIZE	    0x238
#define BZ_PREF_ADDRESS	    0x258
#define BZ_INIT_SIZE	    0x260
#define BZ_HEADER_END_2_12  0x268 /* every field up to handover_offset (2.11) */

#define BZ_BOOT_FLAG_MAGIC 0xaa55
#define BZ_HEADER_MAGIC	   0x53726448 /* "HdrS" */
#define BZ_MIN_VERSION	   0x020c     /* 2.12: xloadflags, hence XLF_KERNEL_64 */
#define XLF_KERNEL_64	   (1 << 0)
#define BZ_ENTRY_64_OFFSET 0x200 /* 64-bit entry = load address + 0x200 */

static uint16_t get_le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Is [off, off + len) inside a buffer of `size` bytes? Overflow-safe. */
static bool in_file(uint64_t off, uint64_t len, size_t size)
{
	uint64_t end;

	return !__builtin_add_overflow(off, len, &end) && end <= size;
}

/* ---- ELF64 vmlinux ---- */

static int elf_check_load(const struct guest_mem *mem, const Elf64_Phdr *ph, unsigned int i,
			  size_t size)
{
	uint64_t end;

	if (ph->p_filesz > ph->p_memsz) {
		log_error("kernel ELF: segment %u has p_filesz %#llx > p_memsz %#llx", i,
			  (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
		return -ENOEXEC;
	}
	if (!in_file(ph->p_offset, ph->p_filesz, size)) {
		log_error("kernel ELF: segment %u (offset %#llx, %#llx bytes) lies past the end of "
			  "the %zu-byte file (truncated?)",
			  i, (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz,
			  size);
		return -ENOEXEC;
	}
	if (__builtin_add_overflow(ph->p_paddr, ph->p_memsz, &end)) {
		log_error("kernel ELF: segment %u: p_paddr %#llx + p_memsz %#llx overflows", i,
			  (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz);
		return -ENOEXEC;
	}
	/* Below 1 MiB live the boot structures (layout.h): a kernel never goes there. */
	if (ph->p_paddr < LAYOUT_HIMEM_START) {
		log_error("kernel ELF: segment %u at %#llx is below %#llx, where the boot "
			  "structures live",
			  i, (unsigned long long)ph->p_paddr, LAYOUT_HIMEM_START);
		return -ENOEXEC;
	}
	if (!guest_mem__find(mem, ph->p_paddr, ph->p_memsz)) {
		log_error("kernel ELF: segment %u [%#llx, %#llx) is not inside guest RAM "
			  "(more --memory?)",
			  i, (unsigned long long)ph->p_paddr, (unsigned long long)end);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Walk one PT_NOTE segment for Xen's PHYS32_ENTRY note. Returns 1 and sets
 * *entry if found, 0 if not, -ENOEXEC if the note is there but malformed.
 * Note header and name/desc padding: ELF gABI, "Note Section".
 */
static int elf_find_pvh_note(const uint8_t *img, const Elf64_Phdr *ph, uint64_t *entry)
{
	const uint8_t *p = img + ph->p_offset;
	uint64_t left = ph->p_filesz;
	/* Linux's ELFNOTE() pads to 4 bytes; honour 8 only if the segment asks for it. */
	uint64_t align = ph->p_align == 8 ? 8 : 4;

	while (left >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_len, desc_len, total;

		memcpy(&nh, p, sizeof(nh));
		/* 32-bit sizes: these sums cannot overflow 64 bits. */
		name_len = align_up(nh.n_namesz, align);
		desc_len = align_up(nh.n_descsz, align);
		total = sizeof(nh) + name_len + desc_len;
		if (sizeof(nh) + name_len + nh.n_descsz > left) {
			log_warn("kernel ELF: truncated note in PT_NOTE at offset %#llx; ignoring "
				 "the "
				 "rest",
				 (unsigned long long)ph->p_offset);
			return 0;
		}
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(p + sizeof(nh), "Xen", 4) == 0) {
			const uint8_t *desc = p + sizeof(nh) + name_len;

			/* The ABI says 32 bits; Linux 6.1 emits it with _ASM_PTR (8 bytes). */
			if (nh.n_descsz == 4) {
				*entry = get_le32(desc);
			} else if (nh.n_descsz == 8 && get_le64(desc) <= UINT32_MAX) {
				*entry = get_le64(desc);
			} else {
				log_error("kernel ELF: malformed PVH entry note (%u-byte value)",
					  nh.n_descsz);
				return -ENOEXEC;
			}
			return 1;
		}
		if (total >= left)
			break;
		p += total;
		left -= total;
	}
	return 0;
}

/* The segment whose [start, start + memsz) holds addr, using p_vaddr or p_paddr. */
static const Elf64_Phdr *elf_segment_at(const Elf64_Phdr *phdrs, unsigned int n, uint64_t addr,
					bool virt)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t start = virt ? phdrs[i].p_vaddr : phdrs[i].p_paddr;

		if (phdrs[i].p_type == PT_LOAD && addr >= start && addr - start < phdrs[i].p_memsz)
			return &phdrs[i];
	}
	return NULL;
}

/*
 * Copy [off, off + len) of the image into guest RAM at gpa (checked by the
 * caller to lie in one RAM region). From a file (fd >= 0) with pread()
 * straight into guest RAM: the file's pages are then never mapped into
 * mini-vmm, so loading does not add the kernel's size to the VMM's own RSS
 * (mapped, a vmlinux showed as up to 7 MiB of overhead for the first ~15 ms,
 * tools/bench-reclaim at 10 ms sampling). From the buffer otherwise.
 */
static int copy_to_guest(const struct guest_mem *mem, uint64_t gpa, const uint8_t *img, int fd,
			 uint64_t off, uint64_t len)
{
	uint8_t *dst;

	if (fd < 0)
		return guest_mem__write(mem, gpa, img + off, len);
	if (len == 0)
		return 0; /* a segment with nothing in the file (all bss) */
	dst = guest_mem__translate(mem, gpa, len);
	if (!dst)
		return -EFAULT;
	while (len) {
		size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t n = pread(fd, dst, chunk, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank since it was measured */
		dst += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int load_elf(const struct guest_mem *mem, const uint8_t *img, size_t size, int fd,
		    struct boot_info *out)
{
	Elf64_Phdr phdrs[LOADER_MAX_PHDRS];
	uint64_t kstart = UINT64_MAX, kend = 0, pvh_entry = 0;
	const Elf64_Phdr *seg;
	bool has_pvh = false;
	Elf64_Ehdr eh;
	unsigned int n, nr_load = 0;
	int ret;

	if (size < sizeof(eh)) {
		log_error("kernel ELF: truncated header (%zu bytes)", size);
		return -ENOEXEC;
	}
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64) {
		log_error("kernel ELF: not a little-endian ELF64 x86-64 file (class %u, data %u, "
			  "machine %u)",
			  eh.e_ident[EI_CLASS], eh.e_ident[EI_DATA], eh.e_machine);
		return -ENOEXEC;
	}
	if (eh.e_type != ET_EXEC) {
		log_error("kernel ELF: e_type %u is not ET_EXEC (a vmlinux is)", eh.e_type);
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > LOADER_MAX_PHDRS) {
		log_error("kernel ELF: %u program headers of %u bytes; supported: 1 to %u of %zu "
			  "bytes",
			  eh.e_phnum, eh.e_phentsize, LOADER_MAX_PHDRS, sizeof(Elf64_Phdr));
		return -ENOEXEC;
	}
	n = eh.e_phnum;
	if (!in_file(eh.e_phoff, (uint64_t)n * sizeof(Elf64_Phdr), size)) {
		log_error("kernel ELF: program headers at %#llx lie past the end of the %zu-byte "
			  "file",
			  (unsigned long long)eh.e_phoff, size);
		return -ENOEXEC;
	}
	memcpy(phdrs, img + eh.e_phoff, n * sizeof(Elf64_Phdr));

	/* Validate everything first: a bad file leaves guest RAM untouched. */
	for (unsigned int i = 0; i < n; i++) {
		const Elf64_Phdr *ph = &phdrs[i];

		if (ph->p_type == PT_NOTE) {
			if (!in_file(ph->p_offset, ph->p_filesz, size)) {
				log_error("kernel ELF: PT_NOTE %u lies past the end of the file",
					  i);
				return -ENOEXEC;
			}
			if (!has_pvh) {
				ret = elf_find_pvh_note(img, ph, &pvh_entry);
				if (ret < 0)
					return ret;
				has_pvh = ret == 1;
			}
			continue;
		}
		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		ret = elf_check_load(mem, ph, i, size);
		if (ret < 0)
			return ret;
		nr_load++;
		if (ph->p_paddr < kstart)
			kstart = ph->p_paddr;
		if (ph->p_paddr + ph->p_memsz > kend)
			kend = ph->p_paddr + ph->p_memsz;
	}
	if (nr_load == 0) {
		log_error("kernel ELF: no loadable segment");
		return -ENOEXEC;
	}

	if (has_pvh) {
		out->mode = BOOT_PVH;
		out->entry = pvh_entry;
	} else {
		/*
		 * e_entry is virtual per the ELF spec; convert it through the segment
		 * holding it. A vmlinux links ENTRY(phys_startup_64), i.e. an address
		 * that is already physical: accept that too.
		 */
		seg = elf_segment_at(phdrs, n, eh.e_entry, true);
		if (seg) {
			out->entry = eh.e_entry - seg->p_vaddr + seg->p_paddr;
		} else if (elf_segment_at(phdrs, n, eh.e_entry, false)) {
			out->entry = eh.e_entry;
		} else {
			log_error("kernel ELF: entry point %#llx is in no loadable segment",
				  (unsigned long long)eh.e_entry);
			return -ENOEXEC;
		}
		out->mode = BOOT_LINUX64;
	}
	if (!elf_segment_at(phdrs, n, out->entry, false)) {
		log_error("kernel ELF: %s entry %#llx is outside the loaded kernel",
			  has_pvh ? "PVH" : "64-bit", (unsigned long long)out->entry);
		return -ENOEXEC;
	}

	for (unsigned int i = 0; i < n; i++) {
		const Elf64_Phdr *ph = &phdrs[i];
		uint8_t *bss;

		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		ret = copy_to_guest(mem, ph->p_paddr, img, fd, ph->p_offset, ph->p_filesz);
		bss = guest_mem__translate(mem, ph->p_paddr + ph->p_filesz,
					   ph->p_memsz - ph->p_filesz);
		if (ret < 0 || !bss)
			return -EFAULT; /* cannot happen: checked above */
		memset(bss, 0, ph->p_memsz - ph->p_filesz);
	}
	out->kernel_start = kstart;
	out->kernel_end = kend;
	log_info("kernel: ELF vmlinux at [%#llx, %#llx), %s entry %#llx",
		 (unsigned long long)kstart, (unsigned long long)kend,
		 has_pvh ? "PVH" : "64-bit boot protocol", (unsigned long long)out->entry);
	return 0;
}

/* ---- bzImage ---- */

static int load_bzimage(const struct guest_mem *mem, const uint8_t *img, size_t size, int fd,
			struct boot_info *out)
{
	uint64_t setup_size, load, pm_size, align, run_base, pref, kend, run_end;
	unsigned int setup_sects, version, hdr_end;

	if (size < BZ_HEADER_END_2_12) {
		log_error("kernel bzImage: truncated setup header (%zu bytes)", size);
		return -ENOEXEC;
	}
	version = get_le16(img + BZ_VERSION);
	if (version < BZ_MIN_VERSION) {
		log_error(
			"kernel bzImage: boot protocol %u.%02u is too old; the 64-bit entry needs "
			"2.12 or later",
			version >> 8, version & 0xff);
		return -ENOEXEC;
	}
	if (!(get_le16(img + BZ_XLOADFLAGS) & XLF_KERNEL_64)) {
		log_error("kernel bzImage: no 64-bit entry point (XLF_KERNEL_64 clear): a 32-bit "
			  "kernel?");
		return -ENOEXEC;
	}
	setup_sects = img[BZ_SETUP_SECTS];
	if (setup_sects == 0)
		setup_sects = 4; /* boot.rst: 0 means 4 */
	setup_size = (uint64_t)(setup_sects + 1) * 512;
	if (setup_size >= size) {
		log_error("kernel bzImage: truncated: %zu bytes, but the setup code alone is %llu",
			  size, (unsigned long long)setup_size);
		return -ENOEXEC;
	}
	pm_size = size - setup_size;
	/* The 64-bit entry is 0x200 into the protected-mode code: it must be in the image. */
	if (pm_size <= BZ_ENTRY_64_OFFSET) {
		log_error("kernel bzImage: protected-mode part is %zu bytes, too short to hold the "
			  "64-bit entry at +%#x",
			  pm_size, BZ_ENTRY_64_OFFSET);
		return -ENOEXEC;
	}
	load = get_le32(img + BZ_CODE32_START);
	if (load < LAYOUT_HIMEM_START) {
		log_error("kernel bzImage: code32_start %#llx is below 1 MiB",
			  (unsigned long long)load);
		return -ENOEXEC;
	}

	/*
	 * The decompressor runs the kernel at ALIGN(load, kernel_alignment) if
	 * relocatable, raised to LOAD_PHYSICAL_ADDR (= pref_address), and needs
	 * init_size bytes there (boot.rst, "init_size"). Reserve all of it.
	 */
	align = get_le32(img + BZ_KERNEL_ALIGNMENT);
	if (align == 0 || (align & (align - 1)) || !img[BZ_RELOCATABLE])
		align = 1;
	pref = get_le64(img + BZ_PREF_ADDRESS);
	run_base = align_up(load, align);
	if (pref > run_base)
		run_base = pref;
	if (__builtin_add_overflow(run_base, (uint64_t)get_le32(img + BZ_INIT_SIZE), &run_end)) {
		log_error("kernel bzImage: pref_address %#llx + init_size overflows",
			  (unsigned long long)pref);
		return -ENOEXEC;
	}
	kend = load + pm_size; /* load < 4 GiB, pm_size < SIZE_MAX: no overflow */
	if (run_end > kend)
		kend = run_end;
	if (!guest_mem__find(mem, load, kend - load)) {
		log_error("kernel bzImage: needs guest RAM [%#llx, %#llx) (init_size included); "
			  "more --memory?",
			  (unsigned long long)load, (unsigned long long)kend);
		return -ENOMEM;
	}
	if (copy_to_guest(mem, load, img, fd, setup_size, pm_size) < 0)
		return -EFAULT; /* checked above; or the file shrank */

	/* boot.rst, 64-bit boot protocol: the header ends at 0x202 + the byte at 0x201. */
	hdr_end = BZ_HEADER + img[BZ_JUMP + 1];
	if (hdr_end < BZ_HEADER_END_2_12)
		hdr_end = BZ_HEADER_END_2_12;
	if (hdr_end > SETUP_HEADER_END)
		hdr_end = SETUP_HEADER_END;
	out->has_setup_header = true;
	out->setup_header_len = hdr_end - SETUP_HEADER_OFFSET;
	memcpy(out->setup_header, img + SETUP_HEADER_OFFSET, out->setup_header_len);

	if (get_le32(img + BZ_INITRD_ADDR_MAX))
		out->initrd_addr_max = get_le32(img + BZ_INITRD_ADDR_MAX);
	if (get_le32(img + BZ_CMDLINE_SIZE) && get_le32(img + BZ_CMDLINE_SIZE) < out->cmdline_max)
		out->cmdline_max = get_le32(img + BZ_CMDLINE_SIZE);
	out->mode = BOOT_LINUX64;
	out->entry = load + BZ_ENTRY_64_OFFSET;
	out->kernel_start = load;
	out->kernel_end = kend;
	log_info("kernel: bzImage protocol %u.%02u at %#llx, needs up to %#llx, 64-bit entry %#llx",
		 version >> 8, version & 0xff, (unsigned long long)load, (unsigned long long)kend,
		 (unsigned long long)out->entry);
	return 0;
}

/* fd: the image's file, read for the bulk copies (-1: the buffer holds everything). */
static int load_kernel(const struct guest_mem *mem, const void *image, size_t size, int fd,
		       struct boot_info *out)
{
	const uint8_t *img = image;

	memset(out, 0, sizeof(*out));
	out->initrd_addr_max = LOADER_INITRD_ADDR_MAX_DEFAULT;
	out->cmdline_max = LAYOUT_CMDLINE_MAX - 1;

	if (size >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0)
		return load_elf(mem, img, size, fd, out);
	if (size >= BZ_HEADER + 4 && get_le16(img + BZ_BOOT_FLAG) == BZ_BOOT_FLAG_MAGIC &&
	    get_le32(img + BZ_HEADER) == BZ_HEADER_MAGIC)
		return load_bzimage(mem, img, size, fd, out);
	log_error("kernel: unknown format (%zu bytes): neither an ELF64 vmlinux nor a bzImage",
		  size);
	return -ENOEXEC;
}

int loader__load_kernel(const struct guest_mem *mem, const void *image, size_t size,
			struct boot_info *out)
{
	return load_kernel(mem, image, size, -1, out);
}

static int load_initrd(const struct guest_mem *mem, const void *data, size_t size, int fd,
		       struct boot_info *bi)
{
	const struct guest_region *low;
	uint64_t top, floor, gpa;

	if (bi->mode == BOOT_NONE) {
		log_error("initrd: load the kernel first (its end and initrd_addr_max bound it)");
		return -EINVAL;
	}
	if (size == 0) {
		log_error("initrd: empty");
		return -EINVAL;
	}
	/* The low region: the one holding 1 MiB, below the MMIO hole. */
	low = guest_mem__find(mem, LAYOUT_HIMEM_START, 0);
	if (!low)
		return -ENOMEM;
	top = low->gpa + low->size;
	if (top > bi->initrd_addr_max + 1)
		top = bi->initrd_addr_max + 1;
	floor = align_up(bi->kernel_end, PAGE_SIZE_4K);
	if (size > top || ((top - size) & ~(PAGE_SIZE_4K - 1)) < floor) {
		log_error("initrd: %zu bytes do not fit between the kernel end %#llx and %#llx "
			  "(more --memory?)",
			  size, (unsigned long long)floor, (unsigned long long)top);
		return -ENOMEM;
	}
	gpa = (top - size) & ~(PAGE_SIZE_4K - 1);
	if (copy_to_guest(mem, gpa, data, fd, 0, size) < 0)
		return -EFAULT; /* [gpa, top) is in the low region; or the file shrank */
	bi->initrd_gpa = gpa;
	bi->initrd_size = size;
	log_info("initrd: %zu bytes at %#llx", size, (unsigned long long)gpa);
	return 0;
}

int loader__set_cmdline(const struct guest_mem *mem, const char *cmdline, struct boot_info *bi)
{
	uint64_t max = LAYOUT_CMDLINE_MAX - 1, len;

	if (!cmdline)
		cmdline = "";
	if (bi->cmdline_max && bi->cmdline_max < max)
		max = bi->cmdline_max;
	len = strnlen(cmdline, LAYOUT_CMDLINE_MAX);
	if (len > max) {
		log_error("command line too long: %llu bytes, the limit is %llu%s",
			  (unsigned long long)len, (unsigned long long)max,
			  max < LAYOUT_CMDLINE_MAX - 1 ? " (the kernel's cmdline_size)" : "");
		return -E2BIG;
	}
	if (guest_mem__write(mem, LAYOUT_CMDLINE_GPA, cmdline, len + 1) < 0) {
		log_error("command line: guest RAM does not cover %#llx", LAYOUT_CMDLINE_GPA);
		return -EFAULT;
	}
	bi->cmdline_gpa = LAYOUT_CMDLINE_GPA;
	bi->cmdline_len = len;
	return 0;
}

int loader__load_initrd(const struct guest_mem *mem, const void *data, size_t size,
			struct boot_info *bi)
{
	return load_initrd(mem, data, size, -1, bi);
}

/*
 * Map a whole file read-only, for its headers; *fd stays open for the bulk
 * copies (copy_to_guest). Errors name the path and what it is for.
 */
static int map_file(const char *path, const char *what, void **data, size_t *size, int *fdp)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_error("%s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		log_error("%s %s: fstat: %s", what, path, strerror(-ret));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		log_error("%s %s: not a regular, non-empty file", what, path);
		ret = -EINVAL;
		goto err_close;
	}
	*size = (size_t)st.st_size;
	*data = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*data == MAP_FAILED) {
		ret = -errno;
		log_error("%s %s: mmap: %s", what, path, strerror(-ret));
		goto err_close;
	}
	*fdp = fd;
	return 0;

err_close:
	close(fd);
	return ret;
}

int loader__load_kernel_file(const struct guest_mem *mem, const char *path, struct boot_info *out)
{
	size_t size;
	void *data;
	int fd, ret;

	memset(out, 0, sizeof(*out)); /* BOOT_NONE even if the file cannot be read */
	ret = map_file(path, "kernel", &data, &size, &fd);
	if (ret < 0)
		return ret;
	ret = load_kernel(mem, data, size, fd, out);
	if (ret < 0)
		log_error("kernel %s: cannot load (see above)", path);
	munmap(data, size);
	close(fd);
	return ret;
}

int loader__load_initrd_file(const struct guest_mem *mem, const char *path, struct boot_info *bi)
{
	size_t size;
	void *data;
	int fd, ret;

	ret = map_file(path, "initrd", &data, &size, &fd);
	if (ret < 0)
		return ret;
	ret = load_initrd(mem, data, size, fd, bi);
	if (ret < 0)
		log_error("initrd %s: cannot load (see above)", path);
	munmap(data, size);
	close(fd);
	return ret;
}

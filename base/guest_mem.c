// SPDX-License-Identifier: GPL-2.0
/*
 * Guest RAM: its backends (anon, memfd, hugetlbfs, thp), its regions, and
 * guest_mem__translate(), the one checked guest-physical -> host
 * translation. The contract is guest_mem.h.
 */
#define _GNU_SOURCE
#include "base/guest_mem.h"

#include "base/layout.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HUGE_PAGE_2M (2ULL << 20)

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

static const char *const backend_names[] = {
	[GUEST_MEM_ANON] = "anon",
	[GUEST_MEM_MEMFD] = "memfd",
	[GUEST_MEM_HUGETLBFS] = "hugetlbfs",
	[GUEST_MEM_THP] = "thp",
};

const char *guest_mem__backend_name(enum guest_mem_backend backend)
{
	if ((unsigned int)backend >= sizeof(backend_names) / sizeof(backend_names[0]))
		return "unknown";
	return backend_names[backend];
}

int guest_mem__parse_backend(const char *s, enum guest_mem_backend *out)
{
	for (unsigned int i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
		if (strcmp(s, backend_names[i]) == 0) {
			*out = (enum guest_mem_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

void guest_mem__init_empty(struct guest_mem *mem, uint64_t page_size)
{
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	mem->page_size = page_size;
}

int guest_mem__add_region(struct guest_mem *mem, uint64_t gpa, void *hva, uint64_t size, int fd,
			  uint64_t fd_offset)
{
	struct guest_region *r;

	if (mem->nr_regions >= GUEST_MEM_MAX_REGIONS || size == 0 || gpa + size < gpa)
		return -EINVAL;
	/* Regions must not overlap: the translation assumes one owner per byte. */
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *o = &mem->regions[i];

		if (gpa < o->gpa + o->size && o->gpa < gpa + size)
			return -EEXIST;
	}
	r = &mem->regions[mem->nr_regions++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->fd = fd;
	r->fd_offset = fd_offset;
	mem->ram_size += size;
	return 0;
}

const struct guest_region *guest_mem__find(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		/* r->gpa + r->size cannot overflow: checked in guest_mem__add_region. */
		if (gpa >= r->gpa && end <= r->gpa + r->size)
			return r;
	}
	return NULL;
}

void *guest_mem__translate(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r = guest_mem__find(mem, gpa, len);

	if (!r)
		return NULL;
	return r->hva + (gpa - r->gpa);
}

int guest_mem__read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	void *src = guest_mem__translate(mem, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_mem__write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *dst = guest_mem__translate(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_mem__prefault(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r;
	uint64_t ps = mem->page_size, start, end;

	if (!mem->prefault_reads || len == 0)
		return 0;
	r = guest_mem__find(mem, gpa, len);
	if (!r)
		return -EFAULT;
	/* Whole backing pages (madvise wants an aligned start), inside the region. */
	start = (gpa - r->gpa) & ~(ps - 1);
	end = (gpa - r->gpa + len + ps - 1) & ~(ps - 1); /* offsets < r->size: no overflow */
	if (end > r->size)
		end = r->size;
	if (madvise(r->hva + start, end - start, MADV_POPULATE_READ) < 0) {
		int err = errno;

		log_ratelimited(LOG_WARN,
				"guest RAM: cannot populate %llu KiB at 0x%llx to read a guest "
				"buffer: %s%s",
				(unsigned long long)((end - start) >> 10),
				(unsigned long long)(r->gpa + start), strerror(err),
				err == EFAULT && mem->backend == GUEST_MEM_HUGETLBFS
					? " (the host's huge page pool is empty)"
					: "");
		return -err;
	}
	return 0;
}

/*
 * hugetlbfs: whether this kernel has MADV_POPULATE_READ (5.14+). A zero
 * length costs nothing and is refused (EINVAL) only for an unknown advice.
 */
static void check_prefault(struct guest_mem *mem)
{
	if (madvise(mem->regions[0].hva, 0, MADV_POPULATE_READ) == 0) {
		mem->prefault_reads = true;
		return;
	}
	log_warn("guest RAM: this kernel has no MADV_POPULATE_READ (%s; Linux 5.14+): a guest "
		 "can make mini-vmm read a huge page it discarded, and die of SIGBUS if the "
		 "host's huge page pool is empty then (docs/threat-model.md)",
		 strerror(errno));
}

static int create_backing_fd(enum guest_mem_backend backend, uint64_t size, uint64_t *page_size)
{
	unsigned int flags = MFD_CLOEXEC;
	struct stat st;
	int fd;

	if (backend == GUEST_MEM_HUGETLBFS)
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
	fd = memfd_create("mini-vmm-guest-ram", flags);
	if (fd < 0) {
		int err = errno;

		if (backend == GUEST_MEM_HUGETLBFS)
			log_error("memfd_create(MFD_HUGETLB): %s: the host needs 2 MiB huge pages "
				  "(echo N > /proc/sys/vm/nr_hugepages)",
				  strerror(err));
		else
			log_error("memfd_create: %s", strerror(err));
		return -err;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		int err = errno;

		log_error("guest RAM: ftruncate(%llu bytes) on %s backing: %s",
			  (unsigned long long)size, guest_mem__backend_name(backend),
			  strerror(err));
		close(fd);
		return -err;
	}
	if (fstat(fd, &st) == 0 && backend == GUEST_MEM_HUGETLBFS)
		*page_size = (uint64_t)st.st_blksize;
	return fd;
}

/*
 * Maps size bytes starting on a 2 MiB boundary of the VMM's address space, as
 * QEMU does for guest RAM: KVM can back a guest huge page with a host huge
 * page only where guest-physical and host-virtual addresses agree modulo
 * 2 MiB, and a plain mmap() of guest RAM may land 4 KiB past a boundary (seen
 * in the nested SVM host: the guest touched 128 MiB in 9.4 s against 1.6 s
 * for QEMU's aligned RAM). A PROT_NONE reservation 2 MiB larger is placed
 * first; the mapping replaces its aligned middle, and the slack is returned.
 */
static void *map_aligned(uint64_t size, int prot, int flags, int fd, off_t offset)
{
	uint64_t span = size + HUGE_PAGE_2M;
	uint8_t *reserved, *start;
	int err;

	reserved = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (reserved == MAP_FAILED)
		return MAP_FAILED;
	start = (uint8_t *)(((uintptr_t)reserved + HUGE_PAGE_2M - 1) &
			    ~(uintptr_t)(HUGE_PAGE_2M - 1));
	if (mmap(start, size, prot, flags | MAP_FIXED, fd, offset) == MAP_FAILED) {
		err = errno;
		munmap(reserved, span);
		errno = err;
		return MAP_FAILED;
	}
	if (start > reserved)
		munmap(reserved, (size_t)(start - reserved));
	if (reserved + span > start + size)
		munmap(start + size, (size_t)(reserved + span - (start + size)));
	return start;
}

static int map_region(struct guest_mem *mem, uint64_t gpa, uint64_t size, uint64_t fd_offset)
{
	int prot = PROT_READ | PROT_WRITE;
	void *hva;
	int ret;

	if (mem->fd >= 0)
		hva = map_aligned(size, prot, MAP_SHARED | MAP_NORESERVE, mem->fd,
				  (off_t)fd_offset);
	else
		hva = map_aligned(size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED) {
		ret = -errno;
		log_error("guest RAM: mmap of %llu MiB (%s): %s", (unsigned long long)(size >> 20),
			  guest_mem__backend_name(mem->backend), strerror(-ret));
		return ret;
	}
	if (mem->backend == GUEST_MEM_THP && madvise(hva, size, MADV_HUGEPAGE) < 0)
		log_warn("guest RAM: MADV_HUGEPAGE refused (%s); continuing with small pages",
			 strerror(errno));
	/* Guest RAM has no business in a core dump of the VMM. */
	madvise(hva, size, MADV_DONTDUMP);
	ret = guest_mem__add_region(mem, gpa, hva, size, mem->fd, fd_offset);
	if (ret < 0)
		munmap(hva, size);
	return ret;
}

int guest_mem__init(struct guest_mem *mem, uint64_t size, enum guest_mem_backend backend)
{
	uint64_t low_size, high_size;
	int ret;

	guest_mem__init_empty(mem, 4096);
	mem->backend = backend;
	mem->owned = true;
	if (backend == GUEST_MEM_HUGETLBFS)
		mem->page_size = HUGE_PAGE_2M;
	if (size == 0 || size % mem->page_size) {
		log_error("--memory %llu bytes: must be a non-zero multiple of the backing page "
			  "size (%llu bytes for %s)",
			  (unsigned long long)size, (unsigned long long)mem->page_size,
			  guest_mem__backend_name(backend));
		return -EINVAL;
	}
	if (backend == GUEST_MEM_MEMFD || backend == GUEST_MEM_HUGETLBFS) {
		mem->fd = create_backing_fd(backend, size, &mem->page_size);
		if (mem->fd < 0)
			return mem->fd;
	}

	low_size = size < LAYOUT_MMIO_HOLE_START ? size : LAYOUT_MMIO_HOLE_START;
	high_size = size - low_size;
	ret = map_region(mem, 0, low_size, 0);
	if (ret == 0 && high_size)
		ret = map_region(mem, LAYOUT_MMIO_HOLE_END, high_size, low_size);
	if (ret < 0) {
		guest_mem__exit(mem);
		return ret;
	}
	if (backend == GUEST_MEM_HUGETLBFS)
		check_prefault(mem);
	return 0;
}

void guest_mem__exit(struct guest_mem *mem)
{
	if (mem->owned) {
		for (unsigned int i = 0; i < mem->nr_regions; i++)
			munmap(mem->regions[i].hva, mem->regions[i].size);
		if (mem->fd >= 0)
			close(mem->fd);
	}
	guest_mem__init_empty(mem, mem->page_size);
}

uint64_t guest_mem__resident_bytes(const struct guest_mem *mem)
{
	const uint64_t chunk_pages = 1 << 16;
	uint64_t resident = 0;
	long psz = sysconf(_SC_PAGESIZE);
	unsigned char *vec = malloc(chunk_pages);

	if (!vec)
		return 0;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		for (uint64_t off = 0; off < r->size; off += chunk_pages * (uint64_t)psz) {
			uint64_t len = r->size - off;

			if (len > chunk_pages * (uint64_t)psz)
				len = chunk_pages * (uint64_t)psz;
			if (mincore(r->hva + off, len, vec) < 0)
				continue;
			for (uint64_t p = 0; p < len / (uint64_t)psz; p++)
				resident += (vec[p] & 1) ? (uint64_t)psz : 0;
		}
	}
	free(vec);
	return resident;
}

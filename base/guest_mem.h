/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest RAM: a table of regions, each a contiguous guest-physical range backed
 * by one host mapping, and ONE checked translation from guest-physical to
 * host-virtual that every device and loader uses (guest_mem__translate).
 */
#ifndef MINI_VMM_GUEST_MEM_H
#define MINI_VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 8

enum guest_mem_backend {
	GUEST_MEM_ANON = 0,  /* private anonymous (default) */
	GUEST_MEM_MEMFD,     /* shared memfd */
	GUEST_MEM_HUGETLBFS, /* memfd on hugetlbfs (MFD_HUGETLB), 2 MiB pages */
	GUEST_MEM_THP,	     /* private anonymous with MADV_HUGEPAGE */
};

struct guest_region {
	uint64_t gpa;	    /* first guest-physical address */
	uint64_t size;	    /* bytes */
	uint8_t *hva;	    /* host mapping of the whole region */
	int fd;		    /* backing file (memfd/hugetlbfs) or -1 */
	uint64_t fd_offset; /* offset of gpa in fd */
};

struct guest_mem {
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr_regions;
	enum guest_mem_backend backend;
	uint64_t page_size; /* backing page size: 4 KiB, or the huge page size */
	uint64_t ram_size;  /* total bytes of RAM over all regions */
	int fd;		    /* shared backing fd (memfd/hugetlbfs) or -1 */
	bool owned;	    /* mappings created (and to be unmapped) by guest_mem__init */
	/*
	 * hugetlbfs: a huge page the guest had discarded comes back on first
	 * touch from the host's pool, and from an empty pool as SIGBUS. Set,
	 * guest_mem__prefault() populates a buffer's pages before the device
	 * reads it; unset (every other backend), it makes no system call.
	 */
	bool prefault_reads;
};

/*
 * Allocate `size` bytes of guest RAM with `backend`, laid out around the MMIO
 * hole (layout.h): [0, min(size, hole start)) and the rest from 4 GiB up.
 * Returns 0 or -errno, with a log line naming what failed.
 */
int guest_mem__init(struct guest_mem *mem, uint64_t size, enum guest_mem_backend backend);
void guest_mem__exit(struct guest_mem *mem);

/*
 * For tests and fuzzers: an empty table, then caller-owned buffers added as
 * regions. Nothing is unmapped by guest_mem__exit for these.
 */
void guest_mem__init_empty(struct guest_mem *mem, uint64_t page_size);
int guest_mem__add_region(struct guest_mem *mem, uint64_t gpa, void *hva, uint64_t size, int fd,
			  uint64_t fd_offset);

/*
 * THE translation. Returns the host address of [gpa, gpa + len) if that whole
 * range lies inside one region, else NULL. Checks gpa + len for overflow.
 * len == 0 is accepted for any gpa inside a region (or at its very end).
 */
void *guest_mem__translate(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* The region holding [gpa, gpa + len), or NULL. Same checks as translate. */
const struct guest_region *guest_mem__find(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy helpers built on translate: 0 on success, -EFAULT if out of range. */
int guest_mem__read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);
int guest_mem__write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);

/*
 * Before the device reads [gpa, gpa + len), a guest buffer: with
 * mem->prefault_reads, MADV_POPULATE_READ (Linux 5.14) over the backing
 * pages under it, so a page the guest had discarded is faulted in here,
 * where an empty hugetlb pool fails with -EFAULT, not later as SIGBUS.
 * 0, or -errno (logged, rate limited). Without prefault_reads: 0 and no
 * system call. Only where the device touches a buffer's contents, never
 * for buffers it only discards or translates.
 */
int guest_mem__prefault(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Bytes of guest RAM currently resident on the host (mincore over every region). */
uint64_t guest_mem__resident_bytes(const struct guest_mem *mem);

const char *guest_mem__backend_name(enum guest_mem_backend backend);
int guest_mem__parse_backend(const char *s, enum guest_mem_backend *out);

#endif

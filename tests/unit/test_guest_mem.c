// SPDX-License-Identifier: GPL-2.0
/* The one checked translation: bounds, overflow, region edges, backends. */
#include "testlib.h"
#include "base/guest_mem.h"
#include "base/layout.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static void test_translate_bounds(void)
{
	static uint8_t low[8192], high[4096];
	struct guest_mem mem;

	guest_mem__init_empty(&mem, 4096);
	CHECK_EQ(guest_mem__add_region(&mem, 0, low, sizeof(low), -1, 0), 0);
	CHECK_EQ(guest_mem__add_region(&mem, 0x100000, high, sizeof(high), -1, 0), 0);
	/* Overlap is refused. */
	CHECK(guest_mem__add_region(&mem, 4096, high, 8192, -1, 0) < 0);

	CHECK(guest_mem__translate(&mem, 0, 8192) == low);
	CHECK(guest_mem__translate(&mem, 100, 1) == low + 100);
	CHECK(guest_mem__translate(&mem, 8191, 1) == low + 8191);
	CHECK(guest_mem__translate(&mem, 8191, 2) == NULL); /* crosses the region end */
	CHECK(guest_mem__translate(&mem, 8192, 1) == NULL); /* in the gap */
	CHECK(guest_mem__translate(&mem, 0x100000, 4096) == high);
	CHECK(guest_mem__translate(&mem, 0x100fff, 2) == NULL);
	/* gpa + len overflowing 64 bits must not wrap into a region. */
	CHECK(guest_mem__translate(&mem, UINT64_MAX, 2) == NULL);
	CHECK(guest_mem__translate(&mem, 16, UINT64_MAX) == NULL);
	CHECK(guest_mem__translate(&mem, UINT64_MAX - 4095, 4096) == NULL);
	/* A range spanning two regions is refused even where both exist. */
	CHECK(guest_mem__translate(&mem, 0, 0x101000) == NULL);

	uint32_t v = 0xdeadbeef, r = 0;
	CHECK_EQ(guest_mem__write(&mem, 0x100010, &v, sizeof(v)), 0);
	CHECK_EQ(guest_mem__read(&mem, 0x100010, &r, sizeof(r)), 0);
	CHECK_EQ(r, v);
	CHECK(guest_mem__write(&mem, 0x100ffe, &v, sizeof(v)) < 0);
}

static void test_layout_and_backends(void)
{
	static const enum guest_mem_backend backends[] = {GUEST_MEM_ANON, GUEST_MEM_MEMFD,
							  GUEST_MEM_THP};
	for (unsigned int i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		struct guest_mem mem;
		uint64_t size = 64ULL << 20;

		CHECK_EQ(guest_mem__init(&mem, size, backends[i]), 0);
		CHECK_EQ(mem.nr_regions, 1);
		CHECK_EQ(mem.ram_size, size);
		CHECK(guest_mem__resident_bytes(&mem) < (1ULL << 20));
		uint8_t *p = guest_mem__translate(&mem, 0, size);
		CHECK(p != NULL);
		/* 2 MiB-aligned, so KVM can map guest huge pages with host ones. */
		CHECK_EQ((uintptr_t)p % (2ULL << 20), 0);
		for (uint64_t off = 0; off < (16ULL << 20); off += 4096)
			p[off] = 1;
		CHECK(guest_mem__resident_bytes(&mem) >= (16ULL << 20));
		guest_mem__exit(&mem);
	}
}

static void test_hole(void)
{
	struct guest_mem mem;
	uint64_t size = LAYOUT_MMIO_HOLE_START + (64ULL << 20);

	/* MAP_NORESERVE: nothing is touched, so this costs no host memory. */
	CHECK_EQ(guest_mem__init(&mem, size, GUEST_MEM_ANON), 0);
	CHECK_EQ(mem.nr_regions, 2);
	CHECK(guest_mem__translate(&mem, LAYOUT_MMIO_HOLE_START - 4096, 4096) != NULL);
	CHECK(guest_mem__translate(&mem, LAYOUT_MMIO_HOLE_START, 1) == NULL);
	CHECK(guest_mem__translate(&mem, LAYOUT_VIRTIO_MMIO_BASE, 4) == NULL);
	CHECK(guest_mem__translate(&mem, LAYOUT_MMIO_HOLE_END, 64ULL << 20) != NULL);
	CHECK(guest_mem__translate(&mem, LAYOUT_MMIO_HOLE_END + (64ULL << 20), 1) == NULL);
	guest_mem__exit(&mem);
	CHECK(guest_mem__init(&mem, 12345, GUEST_MEM_ANON) < 0);
}

/*
 * guest_mem__prefault() makes its system call only with prefault_reads, over
 * whole backing pages inside the region: a PROT_NONE region cannot be
 * populated, so an answer of 0 there means no madvise was made.
 */
static void test_prefault_gating_and_span(void)
{
	const uint64_t ps = 2ULL << 20;
	struct guest_mem mem;
	uint8_t *none, *ram;

	none = mmap(NULL, 2 * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(none != MAP_FAILED);
	guest_mem__init_empty(&mem, ps);
	CHECK_EQ(guest_mem__add_region(&mem, 0, none, 2 * ps, -1, 0), 0);
	CHECK(!mem.prefault_reads);
	CHECK_EQ(guest_mem__prefault(&mem, 4096, 16), 0);
	mem.prefault_reads = true;
	CHECK(guest_mem__prefault(&mem, 4096, 16) < 0);		 /* the call was made */
	CHECK_EQ(guest_mem__prefault(&mem, 4096, 0), 0);	 /* nothing to read */
	CHECK_EQ(guest_mem__prefault(&mem, 2 * ps, 1), -EFAULT); /* outside RAM */
	munmap(none, 2 * ps);

	/* A buffer across a 2 MiB boundary populates both pages, and only those. */
	ram = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ram != MAP_FAILED);
	guest_mem__init_empty(&mem, ps);
	CHECK_EQ(guest_mem__add_region(&mem, 0x40000000, ram, 4 * ps, -1, 0), 0);
	mem.prefault_reads = true;
	CHECK_EQ(guest_mem__resident_bytes(&mem), 0);
	CHECK_EQ(guest_mem__prefault(&mem, 0x40000000 + 2 * ps - 8, 16), 0);
	CHECK_EQ(guest_mem__resident_bytes(&mem), 2 * ps);
	CHECK_EQ(guest_mem__prefault(&mem, 0x40000000 + 4 * ps - 4, 4), 0); /* the last page */
	CHECK_EQ(guest_mem__resident_bytes(&mem), 3 * ps);
	munmap(ram, 4 * ps);
}

static uint64_t free_huge_pages(void)
{
	char line[128];
	unsigned long long n = ~0ULL;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return ~0ULL;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %llu", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * The real backend: prefault_reads is set for hugetlbfs alone, and a
 * page that cannot come from the pool is an error, not SIGBUS. The guest
 * RAM is MAP_NORESERVE: with no free huge page, the population fails with
 * EFAULT (a plain read of that page would kill this test).
 */
static void test_prefault_backends(void)
{
	static const enum guest_mem_backend others[] = {GUEST_MEM_ANON, GUEST_MEM_MEMFD,
							GUEST_MEM_THP};
	struct guest_mem mem;
	uint64_t before;
	int ret;

	for (unsigned int i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		CHECK_EQ(guest_mem__init(&mem, 8ULL << 20, others[i]), 0);
		CHECK(!mem.prefault_reads);
		guest_mem__exit(&mem);
	}
	if (guest_mem__init(&mem, 8ULL << 20, GUEST_MEM_HUGETLBFS) < 0) {
		printf("note: no hugetlbfs memfd here (kvm/tiny_huge_refault has one)\n");
		return;
	}
	CHECK(mem.prefault_reads); /* Linux 5.14+ */
	before = guest_mem__resident_bytes(&mem);
	ret = guest_mem__prefault(&mem, (4ULL << 20) + 100, 16);
	if (free_huge_pages() == 0 && ret < 0) {
		CHECK_EQ(ret, -EFAULT);
		printf("hugetlbfs, empty pool: prefault refused with EFAULT, no SIGBUS\n");
	} else {
		CHECK_EQ(ret, 0);
		CHECK_EQ(guest_mem__resident_bytes(&mem), before + (2ULL << 20));
		CHECK_EQ(*(volatile uint8_t *)guest_mem__translate(&mem, 4ULL << 20, 1), 0);
		printf("hugetlbfs: prefault populated one huge page\n");
	}
	guest_mem__exit(&mem);
}

int main(void)
{
	test_translate_bounds();
	test_layout_and_backends();
	test_hole();
	test_prefault_gating_and_span();
	test_prefault_backends();
	return testlib_done("test_guest_mem");
}

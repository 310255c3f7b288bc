// SPDX-License-Identifier: GPL-2.0
/* The one checked translation: bounds, overflow, region edges, backends. */
#include "testlib.h"
#include "base/guest_mem.h"
#include "base/layout.h"

#include <stdint.h>
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

int main(void)
{
	test_translate_bounds();
	test_layout_and_backends();
	test_hole();
	return testlib_done("test_guest_mem");
}

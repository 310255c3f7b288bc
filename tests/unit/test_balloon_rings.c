// SPDX-License-Identifier: GPL-2.0
/*
 * Discards never take the device's own ring pages (devices/balloon_rings.c),
 * issue 12 item 4:
 *  - balloon_rings__exclude cuts ranges around the granules holding an
 *    active queue's rings: before, after, inside, straddling, a full array;
 *  - through the balloon with fake queues (4 KiB granule): a report and an
 *    inflate naming the pages of the queues' own rings complete, those pages
 *    keep their contents, the rest is discarded, and the overlap is counted;
 *  - the 2 MiB granule of hugetlbfs: the whole huge page holding a ring is
 *    kept (above), which is what keeps the device's used-ring write from
 *    faulting a huge page in from an empty pool (SIGBUS).
 */
#define _GNU_SOURCE
#include "devices/balloon_rings.h"
#include "devices/virtio_balloon.h"
#include "balloon_rig.h"
#include "fake_virtq.h"
#include "testlib.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KiB 1024ULL
#define MiB (1ULL << 20)

static void test_exclude(void)
{
	struct virtio_device vdev;
	struct discard_range r[8];
	uint64_t kept = 0;
	unsigned int n;

	memset(&vdev, 0, sizeof(vdev));
	/* One queue of 64: desc 1 KiB at 0x10000, avail at 0x10400, used at 0x11000. */
	vdev.queues[2] = (struct virtqueue){.size = 64,
					    .desc_gpa = 0x10000,
					    .avail_gpa = 0x10400,
					    .used_gpa = 0x11000,
					    .active = true};
	/* 4 KiB granule: pages 0x10000 and 0x11000 are the rings. */
	r[0] = (struct discard_range){0x0, 0x10000};	/* before */
	r[1] = (struct discard_range){0xf000, 0x4000};	/* straddles both ring pages */
	r[2] = (struct discard_range){0x11000, 0x1000}; /* exactly the used ring */
	r[3] = (struct discard_range){0x20000, 0x1000}; /* after */
	n = balloon_rings__exclude(&vdev, 4 * KiB, r, 4, 8, &kept);
	CHECK_EQ(kept, 0x2000 + 0x1000);
	CHECK_EQ(n, 4);
	CHECK(r[0].gpa == 0x0 && r[0].len == 0x10000);
	CHECK(r[1].gpa == 0xf000 && r[1].len == 0x1000);
	CHECK(r[2].gpa == 0x20000 && r[2].len == 0x1000);
	CHECK(r[3].gpa == 0x12000 && r[3].len == 0x1000); /* the straddler's tail, appended */

	/* 2 MiB granule: the whole first huge page goes, whatever part a range names. */
	kept = 0;
	r[0] = (struct discard_range){0x0, 4 * MiB};
	n = balloon_rings__exclude(&vdev, 2 * MiB, r, 1, 8, &kept);
	CHECK_EQ(kept, 2 * MiB);
	CHECK_EQ(n, 1);
	CHECK(r[0].gpa == 2 * MiB && r[0].len == 2 * MiB);

	/* No room to split: the tail is kept too, never lost or overrun. */
	kept = 0;
	r[0] = (struct discard_range){0x0, 0x20000};
	n = balloon_rings__exclude(&vdev, 4 * KiB, r, 1, 1, &kept);
	CHECK_EQ(n, 1);
	CHECK(r[0].gpa == 0 && r[0].len == 0x10000);
	CHECK_EQ(kept, 0x10000);

	/* Inactive queues protect nothing. */
	vdev.queues[2].active = false;
	kept = 0;
	r[0] = (struct discard_range){0x0, 0x20000};
	CHECK_EQ(balloon_rings__exclude(&vdev, 4 * KiB, r, 1, 8, &kept), 1);
	CHECK_EQ(kept, 0);
}

/* ---- through the balloon ---- */

static void pump(struct virtio_balloon *b)
{
	balloon_rig__discards_turn(b, 20);
}

static void wait_used(struct virtio_balloon *b, struct fake_virtq *fq, const char *what)
{
	uint32_t id, len;

	for (int i = 0; i < 500; i++) {
		if (fake_virtq__get_used(fq, &id, &len))
			return;
		pump(b);
	}
	fprintf(stderr, "%s: no used element\n", what);
	CHECK(0);
}

static void init_balloon(struct virtio_balloon *b, struct fake_ram *ram, struct fake_virtq *fq,
			 enum discard_engine engine)
{
	struct balloon_config cfg;
	struct virtio_device *vdev = &b->vdev;

	balloon_config__default(&cfg);
	cfg.discard_engine = engine;
	CHECK_EQ(virtio_balloon__init(b, &cfg, &ram->mem), 0);
	CHECK_EQ(pthread_mutex_init(&vdev->lock, NULL), 0);
	vdev->features_acked = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_BALLOON_F_REPORTING);
	for (unsigned int i = 0; i < 3; i++) {
		CHECK_EQ(fake_virtq__init(&fq[i], ram, 16), 0);
		CHECK_EQ(fake_virtq__activate(&fq[i], &vdev->queues[i], false, false), 0);
	}
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_lock(&vdev->lock);
	CHECK_EQ(vdev->ops->activate(vdev), 0);
	pthread_mutex_unlock(&vdev->lock);
}

static void notify(struct virtio_balloon *b, unsigned int q)
{
	pthread_mutex_lock(&b->vdev.lock);
	b->vdev.ops->queue_notify(&b->vdev, q);
	pthread_mutex_unlock(&b->vdev.lock);
}

static void test_balloon_keeps_rings(void)
{
	static struct fake_ram ram;
	static struct virtio_balloon b;
	static struct fake_virtq fq[3];
	uint64_t rings_gpa, rings_end, pool, arr;
	uint8_t *rings, *copy;
	uint32_t *pfn;

	CHECK_EQ(fake_ram__init(&ram, FAKE_RAM_GPA, 16 * MiB), 0);
	rings_gpa = ram.next;
	init_balloon(&b, &ram, fq, DISCARD_ENGINE_URING);
	rings_end = (ram.next + 4095) & ~4095ULL;
	pool = fake_ram__alloc(&ram, 1 * MiB, 4096);
	arr = fake_ram__alloc(&ram, 4096, 4096);
	memset(fake_ram__hva(&ram, pool, 1 * MiB), 0x5a, 1 * MiB);
	rings = fake_ram__hva(&ram, rings_gpa, rings_end - rings_gpa);
	copy = malloc(rings_end - rings_gpa);
	CHECK(copy != NULL);

	/* A report of every ring page at once, plus 1 MiB that is free. */
	{
		struct fake_buf buf[] = {{rings_gpa, (uint32_t)(rings_end - rings_gpa), true},
					 {pool, 1 * MiB, true}};

		fake_virtq__add_chain(&fq[2], buf, 2);
		memcpy(copy, rings, rings_end - rings_gpa);
		notify(&b, 2);
		wait_used(&b, &fq[2], "report of the ring pages");
	}
	/* The rings kept their contents (up to the used rings, which moved on). */
	CHECK_EQ(memcmp(copy, rings, fq[2].used_gpa - rings_gpa), 0);
	CHECK(*(uint64_t *)fake_ram__hva(&ram, pool, 8) == 0); /* the free part: discarded */
	CHECK_EQ(b.stats.ring_overlaps, 1);
	CHECK_EQ(b.stats.bytes_ring_kept, rings_end - rings_gpa);

	/* An inflate naming only ring pages: acknowledged, nothing discarded. */
	pfn = fake_ram__hva(&ram, arr, 4096);
	for (unsigned int i = 0; i < (rings_end - rings_gpa) / 4096; i++)
		pfn[i] = htole32((uint32_t)((rings_gpa >> 12) + i));
	{
		struct fake_buf buf[] = {
			{arr, (uint32_t)((rings_end - rings_gpa) / 4096 * 4), false}};

		fake_virtq__add_chain(&fq[0], buf, 1);
		memcpy(copy, rings, rings_end - rings_gpa);
		notify(&b, 0);
		wait_used(&b, &fq[0], "inflate of the ring pages");
	}
	CHECK_EQ(b.stats.ring_overlaps, 2);
	CHECK_EQ(memcmp(copy, rings, fq[0].used_gpa - rings_gpa), 0);
	fprintf(stderr, "ring pages kept: %llu bytes over %llu chains\n",
		(unsigned long long)b.stats.bytes_ring_kept,
		(unsigned long long)b.stats.ring_overlaps);
	virtio_balloon__exit(&b);
	free(copy);
	fake_ram__exit(&ram);
}

int main(void)
{
	test_exclude();
	test_balloon_keeps_rings();

	return testlib_done("test_balloon_rings");
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The buffers the balloon reads (a stats buffer, inflate and deflate PFN
 * arrays, an indirect table) on RAM whose pages must be made present first
 * (guest_mem prefault_reads: hugetlbfs, where a discarded huge page comes
 * back from the host's pool, or SIGBUS when it is empty). Here the
 * buffers lie in a PROT_NONE region, which no population can make
 * readable: each chain is refused (host_memory), acknowledged with len 0,
 * nothing read (a read would end the test with SIGSEGV, as it did before
 * the device populated first) and nothing discarded; the device serves
 * well-formed chains afterwards. A report's buffers are discarded, never
 * read: one in that region is not refused.
 */
#include "devices/virtio_balloon.h"
#include "balloon_rig.h"
#include "fake_virtq.h"
#include "testlib.h"

#include <endian.h>
#include <string.h>
#include <sys/mman.h>

#define MiB	  (1ULL << 20)
#define RAM_SIZE  (16 * MiB)
#define HOLE_GPA  (FAKE_RAM_GPA + 64 * MiB) /* the unreadable region */
#define HOLE_SIZE (2 * MiB)
#define F(bit)	  (1ULL << (bit))

struct rig {
	struct fake_ram ram;
	struct virtio_balloon b;
	struct fake_virtq fq[4]; /* inflate, deflate, stats, reporting */
	uint8_t *hole;
};

static void rig_init(struct rig *r)
{
	struct virtio_device *vdev = &r->b.vdev;
	const uint64_t features = F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_INDIRECT_DESC) |
				  F(VIRTIO_BALLOON_F_STATS_VQ) | F(VIRTIO_BALLOON_F_REPORTING);
	struct balloon_config cfg;

	memset(r, 0, sizeof(*r));
	CHECK_EQ(fake_ram__init(&r->ram, FAKE_RAM_GPA, RAM_SIZE), 0);
	r->hole = mmap(NULL, HOLE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(r->hole != MAP_FAILED);
	CHECK_EQ(guest_mem__add_region(&r->ram.mem, HOLE_GPA, r->hole, HOLE_SIZE, -1, 0), 0);
	r->ram.mem.prefault_reads = true; /* as guest_mem__init sets it for hugetlbfs */
	balloon_config__default(&cfg);
	cfg.stats_interval_s = 60;
	CHECK_EQ(virtio_balloon__init(&r->b, &cfg, &r->ram.mem), 0);
	CHECK_EQ(pthread_mutex_init(&vdev->lock, NULL), 0);
	CHECK_EQ(features & ~vdev->ops->get_features(vdev), 0);
	vdev->features_acked = features;
	CHECK_EQ(vdev->ops->num_queues(vdev), 4);
	for (unsigned int i = 0; i < 4; i++) {
		CHECK_EQ(fake_virtq__init(&r->fq[i], &r->ram, BALLOON_QUEUE_SIZE), 0);
		CHECK_EQ(fake_virtq__activate(&r->fq[i], &vdev->queues[i], false, true), 0);
	}
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	CHECK_EQ(vdev->ops->activate(vdev), 0);
}

static void rig_exit(struct rig *r)
{
	virtio_balloon__exit(&r->b);
	pthread_mutex_destroy(&r->b.vdev.lock);
	fake_ram__exit(&r->ram);
	munmap(r->hole, HOLE_SIZE);
}

static void notify(struct rig *r, unsigned int q)
{
	pthread_mutex_lock(&r->b.vdev.lock);
	r->b.vdev.ops->queue_notify(&r->b.vdev, q);
	pthread_mutex_unlock(&r->b.vdev.lock);
}

/* The next used element of queue q, pumping discard completions. */
static void wait_used(struct rig *r, unsigned int q, int head, uint32_t want_len)
{
	uint32_t id, len;

	for (int i = 0; i < 400; i++) {
		if (fake_virtq__get_used(&r->fq[q], &id, &len)) {
			CHECK_EQ(id, head);
			CHECK_EQ(len, want_len);
			return;
		}
		balloon_rig__discards_turn(&r->b, 50);
	}
	fprintf(stderr, "no used element on queue %u\n", q);
	CHECK(0);
}

static uint64_t refused(struct rig *r)
{
	return r->b.stats.rejected[BALLOON_REJ_HOST_MEMORY];
}

int main(void)
{
	struct rig r;
	uint64_t page, pfn_arr, sbuf;
	uint32_t pfn;
	int head;

	rig_init(&r);
	page = fake_ram__alloc(&r.ram, 4096, 4096);
	*(uint64_t *)fake_ram__hva(&r.ram, page, 8) = 0x5a5a;
	pfn = htole32((uint32_t)(page >> 12));
	pfn_arr = fake_ram__put_le32(&r.ram, &pfn, 1);

	/* Stats (queue 2): refused and held; the next buffer gives it back with len 0. */
	struct fake_buf bad_stats[] = {{HOLE_GPA + 4096, 10, false}};
	int stats_head = fake_virtq__add_chain(&r.fq[2], bad_stats, 1);

	notify(&r, 2);
	CHECK_EQ(refused(&r), 1);
	CHECK_EQ(r.b.stats.stats_buffers, 0);
	sbuf = fake_ram__alloc(&r.ram, BALLOON_STAT_ENTRY_SIZE, 8);
	struct fake_buf good_stats[] = {{sbuf, BALLOON_STAT_ENTRY_SIZE, false}};

	head = fake_virtq__add_chain(&r.fq[2], good_stats, 1);
	notify(&r, 2);
	wait_used(&r, 2, stats_head, 0);
	CHECK_EQ(r.b.stats.stats_buffers, 1);
	(void)head;

	/* Inflate and deflate PFN arrays (queues 0 and 1): refused, nothing discarded. */
	struct fake_buf bad_pfns[] = {{pfn_arr, 4, false}, {HOLE_GPA + 8192, 4, false}};

	head = fake_virtq__add_chain(&r.fq[0], bad_pfns, 2);
	notify(&r, 0);
	wait_used(&r, 0, head, 0);
	CHECK_EQ(refused(&r), 2);
	CHECK_EQ(r.b.stats.inflate_chains, 0);
	CHECK_EQ(r.b.dq.stats.reports, 0);
	CHECK_EQ(*(uint64_t *)fake_ram__hva(&r.ram, page, 8), 0x5a5a);
	head = fake_virtq__add_chain(&r.fq[1], bad_pfns, 2);
	notify(&r, 1);
	wait_used(&r, 1, head, 0);
	CHECK_EQ(refused(&r), 3);
	CHECK_EQ(r.b.stats.deflate_chains, 0);

	/* An indirect table there (reporting, queue 3): refused before its first descriptor. */
	head = r.fq[3].next_desc;
	r.fq[3].next_desc = (uint16_t)((head + 1) & (r.fq[3].size - 1));
	fake_virtq__set_desc(&r.fq[3], (uint16_t)head, HOLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	fake_virtq__publish(&r.fq[3], (uint16_t)head);
	notify(&r, 3);
	wait_used(&r, 3, head, 0);
	CHECK_EQ(refused(&r), 4);
	CHECK_EQ(r.b.vdev.queues[3].stats.errors[VQ_ERR_HOST_MEMORY], 1);
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_VQ], 0);
	CHECK_EQ(r.b.dq.stats.reports, 0);

	/* A report of that region is discarded, never read: taken, not refused. */
	struct fake_buf hole_report[] = {{HOLE_GPA, HOLE_SIZE, true}};

	head = fake_virtq__add_chain(&r.fq[3], hole_report, 1);
	notify(&r, 3);
	wait_used(&r, 3, head, 0);
	CHECK_EQ(refused(&r), 4);
	CHECK_EQ(r.b.stats.reports_done, 1);

	/* The device carries on: a well-formed inflate discards its page. */
	struct fake_buf good_pfns[] = {{pfn_arr, 4, false}};

	head = fake_virtq__add_chain(&r.fq[0], good_pfns, 1);
	notify(&r, 0);
	wait_used(&r, 0, head, 0);
	CHECK_EQ(r.b.stats.inflate_chains, 1);
	CHECK_EQ(*(uint64_t *)fake_ram__hva(&r.ram, page, 8), 0);
	CHECK_EQ(refused(&r), 4);
	CHECK(!(r.b.vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));

	rig_exit(&r);
	return testlib_done("test_balloon_prefault");
}

// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-balloon device model on fake virtqueues and real (heap) memory:
 * queue numbering per feature set, free page reports of every shape,
 * hostile chains refused and acknowledged without a discard, PAGE_POISON,
 * inflate/deflate PFN arrays, the stats queue and its timer, config space,
 * reset with discards in flight, and the option string.
 */
#define _GNU_SOURCE
#include "devices/virtio_balloon.h"
#include "balloon_rig.h"
#include "fake_virtq.h"
#include "testlib.h"
#include "base/event_loop.h"
#include "vmm/vm_devices.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MiB	 (1ULL << 20)
#define RAM_SIZE (96 * MiB)
#define POOL	 (80 * MiB) /* "guest free memory" the tests report and inflate */
#define F(bit)	 (1ULL << (bit))

struct rig {
	struct fake_ram ram;
	struct virtio_balloon b;
	struct fake_virtq fq[VIRTIO_MAX_QUEUES];
	unsigned int nq;
	uint64_t pool; /* gpa of POOL bytes, 2 MiB aligned */
	unsigned int irqs;
	struct discard_faults faults; /* the discard queue's, injected by the tests */
	struct fake_renotify rn;      /* the device asked to be notified again */
};

static void count_irq(struct virtio_device *vdev, void *opaque)
{
	struct rig *r = opaque;

	(void)vdev;
	r->irqs++;
}

/* A device as the transport leaves it at DRIVER_OK with `features` accepted. */
static void rig_init(struct rig *r, const struct balloon_config *cfg, uint64_t features)
{
	struct virtio_device *vdev = &r->b.vdev;

	memset(r, 0, sizeof(*r));
	CHECK_EQ(fake_ram__init(&r->ram, FAKE_RAM_GPA, RAM_SIZE), 0);
	CHECK_EQ(virtio_balloon__init(&r->b, cfg, &r->ram.mem), 0);
	r->b.dq.faults = &r->faults;
	CHECK_EQ(pthread_mutex_init(&vdev->lock, NULL), 0);
	vdev->raise_irq = count_irq;
	vdev->irq_opaque = r;
	fake_renotify__attach(&r->rn, vdev);
	features |= F(VIRTIO_F_VERSION_1);
	CHECK_EQ(features & ~vdev->ops->get_features(vdev), 0);
	CHECK_EQ(vdev->ops->set_features(vdev, features), 0);
	vdev->features_acked = features;
	r->nq = vdev->ops->num_queues(vdev);
	for (unsigned int i = 0; i < r->nq; i++) {
		CHECK_EQ(fake_virtq__init(&r->fq[i], &r->ram, BALLOON_QUEUE_SIZE), 0);
		CHECK_EQ(fake_virtq__activate(&r->fq[i], &vdev->queues[i],
					      features & F(VIRTIO_F_EVENT_IDX),
					      features & F(VIRTIO_F_INDIRECT_DESC)),
			 0);
	}
	r->pool = fake_ram__alloc(&r->ram, POOL, 2 * MiB);
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	CHECK_EQ(vdev->ops->activate(vdev), 0);
	fake_renotify__run(&r->rn);
}

static void rig_exit(struct rig *r)
{
	virtio_balloon__exit(&r->b);
	pthread_mutex_destroy(&r->b.vdev.lock);
	fake_ram__exit(&r->ram);
}

static struct fake_virtq *q(struct rig *r, enum balloon_queue role)
{
	int idx = r->b.qidx[role];

	CHECK(idx >= 0);
	return &r->fq[idx];
}

/* The driver kicks: the transport calls queue_notify with the lock held. */
static void kick(struct rig *r, enum balloon_queue role)
{
	fake_renotify__kick(&r->rn, (unsigned int)r->b.qidx[role]);
}

/* What the device thread does when the discard queue's eventfd fires. */
static void pump(struct rig *r)
{
	balloon_rig__discards_turn(&r->b, 50);
	fake_renotify__run_locked(&r->rn);
}

/* Wait for the next used element of `role`'s queue, pumping completions. */
static void wait_used(struct rig *r, enum balloon_queue role, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < 400; i++) {
		if (fake_virtq__get_used(q(r, role), id, len))
			return;
		pump(r);
	}
	fprintf(stderr, "no used element on %d\n", role);
	CHECK(0);
}

static void fill_pool(struct rig *r)
{
	fake_ram__fill_pattern(&r->ram, r->pool, POOL);
}

/* Pages of [gpa, gpa+len) hold their pattern (intact) or zero (discarded). */
static void expect(struct rig *r, uint64_t gpa, uint64_t len, bool intact)
{
	CHECK(fake_ram__pages_are(&r->ram, gpa, len, intact));
}

static void expect_pool_intact(struct rig *r)
{
	expect(r, r->pool, POOL, true);
}

static uint64_t resident(struct rig *r, uint64_t gpa, uint64_t len)
{
	unsigned char vec[1024];
	uint64_t n = 0;

	CHECK(len / 4096 <= sizeof(vec));
	CHECK_EQ(mincore(fake_ram__hva(&r->ram, gpa, len), len, vec), 0);
	for (uint64_t i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n * 4096;
}

static struct balloon_config cfg_default(void)
{
	struct balloon_config cfg;

	balloon_config__default(&cfg);
	return cfg;
}

/* ---- queue numbering ---- */

static void test_queue_numbering(void)
{
	const uint64_t S = F(VIRTIO_BALLOON_F_STATS_VQ), H = F(VIRTIO_BALLOON_F_FREE_PAGE_HINT),
		       R = F(VIRTIO_BALLOON_F_REPORTING);

	/* Every combination of the queue-creating features (and irrelevant ones). */
	for (unsigned int m = 0; m < 8; m++) {
		uint64_t f = (m & 1 ? S : 0) | (m & 2 ? H : 0) | (m & 4 ? R : 0) |
			     F(VIRTIO_BALLOON_F_PAGE_POISON) | F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
		int next = 2;

		CHECK_EQ(virtio_balloon__queue_index(f, BALLOON_Q_INFLATE), 0);
		CHECK_EQ(virtio_balloon__queue_index(f, BALLOON_Q_DEFLATE), 1);
		CHECK_EQ(virtio_balloon__queue_index(f, BALLOON_Q_STATS), m & 1 ? next++ : -1);
		CHECK_EQ(virtio_balloon__queue_index(f, BALLOON_Q_FREE_PAGE), m & 2 ? next++ : -1);
		CHECK_EQ(virtio_balloon__queue_index(f, BALLOON_Q_REPORTING), m & 4 ? next++ : -1);
		CHECK_EQ(virtio_balloon__num_queues(f), next);
	}
	/* The cases Linux meets, spelled out. */
	CHECK_EQ(virtio_balloon__queue_index(R, BALLOON_Q_REPORTING), 2);
	CHECK_EQ(virtio_balloon__queue_index(S | R, BALLOON_Q_REPORTING), 3);
	CHECK_EQ(virtio_balloon__queue_index(S | H | R, BALLOON_Q_REPORTING), 4);
	CHECK_EQ(virtio_balloon__num_queues(0), 2);
	CHECK_EQ(virtio_balloon__queue_index(0, BALLOON_Q__COUNT), -1);

	/* What the device offers follows its config. */
	struct balloon_config cfg = cfg_default();
	struct fake_ram ram;
	struct virtio_balloon b;
	uint64_t f;

	CHECK_EQ(fake_ram__init(&ram, FAKE_RAM_GPA, 4 * MiB), 0);
	cfg.stats_interval_s = 5;
	CHECK_EQ(virtio_balloon__init(&b, &cfg, &ram.mem), 0);
	f = b.vdev.ops->get_features(&b.vdev);
	CHECK(f & F(VIRTIO_F_VERSION_1));
	CHECK(f & F(VIRTIO_BALLOON_F_REPORTING));
	CHECK(f & F(VIRTIO_BALLOON_F_STATS_VQ));
	CHECK(f & F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	CHECK(f & F(VIRTIO_BALLOON_F_PAGE_POISON));
	CHECK(!(f & F(VIRTIO_BALLOON_F_FREE_PAGE_HINT)));
	CHECK(!(f & F(VIRTIO_BALLOON_F_MUST_TELL_HOST)));
	CHECK_EQ(b.vdev.ops->device_id, 5);
	CHECK(b.vdev.ops->max_queue_size >= 32);
	CHECK_EQ(b.vdev.ops->config_size, 16);
	b.vdev.features_acked = f;
	CHECK_EQ(b.vdev.ops->num_queues(&b.vdev), 4);
	b.vdev.features_acked = f & ~F(VIRTIO_BALLOON_F_STATS_VQ);
	CHECK_EQ(b.vdev.ops->num_queues(&b.vdev), 3);
	virtio_balloon__exit(&b);

	cfg = cfg_default();
	cfg.reporting = false;
	cfg.deflate_on_oom = false;
	CHECK_EQ(virtio_balloon__init(&b, &cfg, &ram.mem), 0);
	f = b.vdev.ops->get_features(&b.vdev);
	CHECK(!(f & (F(VIRTIO_BALLOON_F_REPORTING) | F(VIRTIO_BALLOON_F_STATS_VQ) |
		     F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM))));
	CHECK_EQ(virtio_balloon__set_stats_interval(&b, 1), -EOPNOTSUPP);
	virtio_balloon__exit(&b);

	/* A target bigger than RAM is a setup error. */
	cfg = cfg_default();
	cfg.initial_target_bytes = 8 * MiB;
	CHECK(virtio_balloon__init(&b, &cfg, &ram.mem) < 0);
	fake_ram__exit(&ram);
}

/* ---- free page reporting ---- */

/* Report `bufs` as one chain (direct `nd`, then indirect `ni`) and check the outcome. */
static void report_ok(struct rig *r, const struct fake_buf *direct, unsigned int nd,
		      const struct fake_buf *indirect, unsigned int ni)
{
	struct fake_virtq *fq = q(r, BALLOON_Q_REPORTING);
	uint64_t bytes = 0, reports = r->b.stats.reports;
	uint32_t id, len;
	int head;

	fill_pool(r);
	head = fake_virtq__add_mixed(fq, direct, nd, indirect, ni);
	kick(r, BALLOON_Q_REPORTING);
	wait_used(r, BALLOON_Q_REPORTING, &id, &len);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	CHECK(!fake_virtq__get_used(fq, &id, &len)); /* exactly one */
	CHECK_EQ(r->b.stats.reports, reports + 1);
	for (unsigned int i = 0; i < nd + ni; i++) {
		const struct fake_buf *fb = i < nd ? &direct[i] : &indirect[i - nd];

		CHECK_EQ(resident(r, fb->addr, fb->len > 4 * MiB ? 4 * MiB : fb->len), 0);
		expect(r, fb->addr, fb->len, false);
		bytes += fb->len;
		/* Refill: the next check of the pool wants everything intact again. */
		fake_ram__fill_pattern(&r->ram, fb->addr, fb->len);
	}
	expect_pool_intact(r);
	CHECK(r->b.stats.bytes_reported >= bytes);
}

static void test_report_shapes(void)
{
	struct balloon_config cfg = cfg_default();
	struct fake_buf bufs[32];
	struct rig r;

	rig_init(&r, &cfg, F(VIRTIO_BALLOON_F_REPORTING) | F(VIRTIO_F_INDIRECT_DESC));
	CHECK_EQ(r.b.qidx[BALLOON_Q_REPORTING], 2);

	/* One 4 MiB buffer (order 10, Linux 6.1's default report size). */
	bufs[0] = (struct fake_buf){r.pool + 4 * MiB, 4 * MiB, true};
	report_ok(&r, bufs, 1, NULL, 0);

	/* 32 buffers of 2 MiB (PAGE_REPORTING_CAPACITY of pageblock-sized pages). */
	for (unsigned int i = 0; i < 32; i++)
		bufs[i] = (struct fake_buf){r.pool + (uint64_t)i * 2 * MiB, 2 * MiB, true};
	report_ok(&r, bufs, 32, NULL, 0);
	CHECK_EQ(r.b.dq.stats.ops, 1 + 1); /* 32 adjacent buffers coalesce into one op */

	/* Mixed sizes, not adjacent, out of order. */
	bufs[0] = (struct fake_buf){r.pool + 40 * MiB, 4 * MiB, true};
	bufs[1] = (struct fake_buf){r.pool + 10 * MiB, 2 * MiB, true};
	bufs[2] = (struct fake_buf){r.pool + 30 * MiB + 4096, 4096, true};
	bufs[3] = (struct fake_buf){r.pool + 50 * MiB, 64 * 4096, true};
	report_ok(&r, bufs, 4, NULL, 0);

	/* Indirect: Linux uses it for multi-entry reports when negotiated. */
	struct fake_buf ind[8];

	for (unsigned int i = 0; i < 8; i++)
		ind[i] =
			(struct fake_buf){r.pool + 60 * MiB - (uint64_t)i * 2 * MiB, 2 * MiB, true};
	report_ok(&r, NULL, 0, ind, 8);

	/* Direct and indirect in one chain. */
	bufs[0] = (struct fake_buf){r.pool + 70 * MiB, 2 * MiB, true};
	report_ok(&r, bufs, 1, ind, 4);

	CHECK_EQ(r.b.stats.reports, 5);
	CHECK_EQ(r.b.stats.reports_done, 5);
	CHECK_EQ(r.b.stats.report_buffers, 1 + 32 + 4 + 8 + 5);
	for (unsigned int i = 0; i < BALLOON_REJ__COUNT; i++)
		CHECK_EQ(r.b.stats.rejected[i], 0);
	CHECK_EQ(r.b.dq.stats.reports_completed, 5);
	CHECK_EQ(r.b.dq.stats.invalid_ranges, 0);
	rig_exit(&r);
}

/* A hostile chain comes back at once with len 0; nothing is discarded. */
static void report_refused(struct rig *r, int head, enum balloon_reject why)
{
	uint64_t before = r->b.stats.rejected[why], reports = r->b.stats.reports;
	uint32_t id, len;

	kick(r, BALLOON_Q_REPORTING);
	CHECK(fake_virtq__get_used(q(r, BALLOON_Q_REPORTING), &id, &len)); /* no pumping */
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	CHECK_EQ(r->b.stats.rejected[why], before + 1);
	CHECK_EQ(r->b.stats.reports, reports);
	for (int i = 0; i < 3; i++)
		pump(r);
	CHECK(!fake_virtq__get_used(q(r, BALLOON_Q_REPORTING), &id, &len));
	expect_pool_intact(r);
}

static void test_report_hostile(void)
{
	struct balloon_config cfg = cfg_default();
	struct fake_virtq *fq;
	struct rig r;
	uint64_t end;
	int head;

	cfg.stats_interval_s = 60; /* offers STATS_VQ: reporting becomes queue 3 */
	rig_init(&r, &cfg, F(VIRTIO_BALLOON_F_REPORTING) | F(VIRTIO_BALLOON_F_STATS_VQ));
	fq = q(&r, BALLOON_Q_REPORTING);
	CHECK_EQ(r.b.qidx[BALLOON_Q_REPORTING], 3);
	fill_pool(&r);
	end = FAKE_RAM_GPA + RAM_SIZE;

	struct fake_buf outside[] = {{end, 2 * MiB, true}};
	head = fake_virtq__add_chain(fq, outside, 1);
	report_refused(&r, head, BALLOON_REJ_VQ);

	struct fake_buf straddle[] = {{end - MiB, 2 * MiB, true}};
	head = fake_virtq__add_chain(fq, straddle, 1);
	report_refused(&r, head, BALLOON_REJ_VQ);

	struct fake_buf overflow[] = {{UINT64_MAX - 4095, 8192, true}};
	head = fake_virtq__add_chain(fq, overflow, 1);
	report_refused(&r, head, BALLOON_REJ_VQ);

	struct fake_buf below[] = {{0, 4096, true}}; /* gpa 0 is not fake RAM */
	head = fake_virtq__add_chain(fq, below, 1);
	report_refused(&r, head, BALLOON_REJ_VQ);

	struct fake_buf unaligned_addr[] = {{r.pool + 100, 2 * MiB, true}};
	head = fake_virtq__add_chain(fq, unaligned_addr, 1);
	report_refused(&r, head, BALLOON_REJ_UNALIGNED);

	struct fake_buf unaligned_len[] = {{r.pool, 2 * MiB + 12, true}};
	head = fake_virtq__add_chain(fq, unaligned_len, 1);
	report_refused(&r, head, BALLOON_REJ_UNALIGNED);

	struct fake_buf readable[] = {{r.pool, 2 * MiB, false}};
	head = fake_virtq__add_chain(fq, readable, 1);
	report_refused(&r, head, BALLOON_REJ_NOT_WRITABLE);

	/* One bad buffer spoils the chain: its good neighbours are not discarded. */
	struct fake_buf mixed[] = {{r.pool, 2 * MiB, true},
				   {r.pool + 4 * MiB, 2 * MiB, true},
				   {r.pool + 8 * MiB + 512, 4096, true}};
	head = fake_virtq__add_chain(fq, mixed, 3);
	report_refused(&r, head, BALLOON_REJ_UNALIGNED);

	struct fake_buf order[] = {{r.pool, 2 * MiB, true}, {r.pool + 4 * MiB, 4096, false}};
	head = fake_virtq__add_chain(fq, order, 2);
	report_refused(&r, head, BALLOON_REJ_VQ); /* readable after writable */

	/* A descriptor loop: the chain is longer than the queue. */
	uint16_t d0 = fq->next_desc, d1 = (uint16_t)((d0 + 1) % fq->size);

	fq->next_desc = (uint16_t)((d0 + 2) % fq->size);
	fake_virtq__set_desc(fq, d0, r.pool, 4096, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, d1);
	fake_virtq__set_desc(fq, d1, r.pool + 4096, 4096, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
			     d0);
	fake_virtq__publish(fq, d0);
	report_refused(&r, d0, BALLOON_REJ_VQ);
	CHECK(r.b.vdev.queues[3].stats.errors[VQ_ERR_CHAIN_TOO_LONG] >= 1);

	/* Indirect without VIRTIO_F_INDIRECT_DESC negotiated. */
	struct fake_buf ind[] = {{r.pool, 2 * MiB, true}};
	head = fake_virtq__add_indirect(fq, ind, 1);
	report_refused(&r, head, BALLOON_REJ_VQ);

	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_VQ], 7);
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_UNALIGNED], 3);
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_NOT_WRITABLE], 1);
	CHECK_EQ(r.b.dq.stats.reports, 0);
	CHECK_EQ(r.b.stats.bytes_reported, 0);
	CHECK(!(r.b.vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));

	/* The device still works after all that. */
	struct fake_buf good[] = {{r.pool + 2 * MiB, 2 * MiB, true}};
	report_ok(&r, good, 1, NULL, 0);

	/* A ring whose avail index jumps beyond the queue: broken -> NEEDS_RESET. */
	fake_virtq__set_avail_idx(fq, (uint16_t)(fq->avail_idx + BALLOON_QUEUE_SIZE + 1));
	kick(&r, BALLOON_Q_REPORTING);
	CHECK_EQ(r.b.stats.broken_rings, 1);
	CHECK(r.b.vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	rig_exit(&r);
}

static void write_cfg32(struct rig *r, uint32_t off, uint32_t v)
{
	uint32_t le = htole32(v);

	pthread_mutex_lock(&r->b.vdev.lock);
	r->b.vdev.ops->write_config(&r->b.vdev, off, &le, 4);
	pthread_mutex_unlock(&r->b.vdev.lock);
}

static uint32_t read_cfg32(struct rig *r, uint32_t off)
{
	uint32_t le = 0;

	r->b.vdev.ops->read_config(&r->b.vdev, off, &le, 4);
	return le32toh(le);
}

/* PAGE_POISON with a non-zero value: acknowledge, never discard. */
static void test_poison(void)
{
	struct balloon_config cfg = cfg_default();
	struct fake_buf buf[] = {{0, 2 * MiB, true}};
	struct rig r;
	uint32_t id, len;
	int head;

	rig_init(&r, &cfg, F(VIRTIO_BALLOON_F_REPORTING) | F(VIRTIO_BALLOON_F_PAGE_POISON));
	fill_pool(&r);
	buf[0].addr = r.pool;
	write_cfg32(&r, 12, 0xaaaaaaaa); /* what Linux writes with page poisoning on */
	CHECK_EQ(read_cfg32(&r, 12), 0xaaaaaaaa);
	CHECK_EQ(r.b.stats.config_ro_writes, 0);
	head = fake_virtq__add_chain(q(&r, BALLOON_Q_REPORTING), buf, 1);
	kick(&r, BALLOON_Q_REPORTING);
	CHECK(fake_virtq__get_used(q(&r, BALLOON_Q_REPORTING), &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(r.b.stats.poison_skipped, 1);
	CHECK_EQ(r.b.stats.bytes_poison_skipped, 2 * MiB);
	CHECK_EQ(r.b.dq.stats.reports, 0);
	expect_pool_intact(&r);

	/* init_on_free guests report poison_val 0: zeroes are what they expect. */
	write_cfg32(&r, 12, 0);
	report_ok(&r, buf, 1, NULL, 0);
	rig_exit(&r);

	/* Without the feature, poison_val is read-only and discards happen. */
	rig_init(&r, &cfg, F(VIRTIO_BALLOON_F_REPORTING));
	write_cfg32(&r, 12, 0xaaaaaaaa);
	CHECK_EQ(read_cfg32(&r, 12), 0);
	CHECK_EQ(r.b.stats.config_ro_writes, 1);
	buf[0].addr = r.pool;
	report_ok(&r, buf, 1, NULL, 0);
	rig_exit(&r);
}

/* ---- inflate / deflate ---- */

/* A le32 PFN array in guest RAM. */
static uint64_t put_pfns(struct rig *r, const uint32_t *pfns, unsigned int n)
{
	return fake_ram__put_le32(&r->ram, pfns, n);
}

static void test_inflate_deflate(void)
{
	struct balloon_config cfg = cfg_default();
	struct rig r;
	uint32_t id, len, a, b, c;
	uint64_t arr;
	int head;

	cfg.initial_target_bytes = 16 * MiB;
	rig_init(&r, &cfg, F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	CHECK_EQ(read_cfg32(&r, 0), 16 * MiB / 4096);
	fill_pool(&r);
	a = (uint32_t)(r.pool >> 12);
	b = a + 100;
	c = a + 300;
	/* Three runs: a..a+2, b..b+1, c; plus one PFN outside RAM and a repeat. */
	const uint32_t pfns[] = {a, a + 1, a + 2, b, b + 1, 0x7fffffff, c, a + 1};

	arr = put_pfns(&r, pfns, 8);
	struct fake_buf inflate[] = {{arr, 8 * 4, false}};
	r.faults.hold_completions = true;
	head = fake_virtq__add_chain(q(&r, BALLOON_Q_INFLATE), inflate, 1);
	kick(&r, BALLOON_Q_INFLATE);
	pump(&r);
	CHECK(!fake_virtq__get_used(q(&r, BALLOON_Q_INFLATE), &id, &len)); /* not before */
	r.faults.hold_completions = false;
	wait_used(&r, BALLOON_Q_INFLATE, &id, &len);
	CHECK_EQ(id, head);
	CHECK_EQ(r.b.stats.inflate_pages, 6);
	CHECK_EQ(r.b.stats.inflate_invalid_pfns, 1);
	CHECK_EQ(r.b.stats.inflate_duplicate_pfns, 1);
	CHECK_EQ(r.b.dq.stats.ranges, 3); /* a..a+2, b..b+1, c: the repeat of a+1 merged */
	expect(&r, (uint64_t)a << 12, 3 * 4096, false);
	expect(&r, (uint64_t)b << 12, 2 * 4096, false);
	expect(&r, (uint64_t)c << 12, 4096, false);
	expect(&r, ((uint64_t)a + 3) << 12, ((uint64_t)b - a - 3) << 12, true);
	expect(&r, ((uint64_t)b + 2) << 12, ((uint64_t)c - b - 2) << 12, true);
	expect(&r, ((uint64_t)c + 1) << 12, r.pool + POOL - (((uint64_t)c + 1) << 12), true);
	write_cfg32(&r, 4, 6); /* the driver updates actual */
	CHECK_EQ(read_cfg32(&r, 4), 6);

	/* Deflate: acknowledged at once, nothing discarded. */
	uint64_t reports = r.b.dq.stats.reports;
	const uint32_t back[] = {a, a + 1};

	arr = put_pfns(&r, back, 2);
	struct fake_buf deflate[] = {{arr, 8, false}};
	head = fake_virtq__add_chain(q(&r, BALLOON_Q_DEFLATE), deflate, 1);
	kick(&r, BALLOON_Q_DEFLATE);
	CHECK(fake_virtq__get_used(q(&r, BALLOON_Q_DEFLATE), &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(r.b.stats.deflate_pages, 2);
	/* actual (6) <= num_pages (4096): the host did not ask; an OOM deflate. */
	CHECK_EQ(r.b.stats.deflate_unrequested_pages, 2);
	CHECK_EQ(r.b.dq.stats.reports, reports);

	/* Hostile PFN chains. */
	struct fake_buf wr[] = {{arr, 8, true}};
	head = fake_virtq__add_chain(q(&r, BALLOON_Q_INFLATE), wr, 1);
	kick(&r, BALLOON_Q_INFLATE);
	CHECK(fake_virtq__get_used(q(&r, BALLOON_Q_INFLATE), &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_NOT_READABLE], 1);

	struct fake_buf odd[] = {{arr, 7, false}};
	head = fake_virtq__add_chain(q(&r, BALLOON_Q_DEFLATE), odd, 1);
	kick(&r, BALLOON_Q_DEFLATE);
	CHECK(fake_virtq__get_used(q(&r, BALLOON_Q_DEFLATE), &id, &len));
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_BAD_LENGTH], 1);

	uint64_t big = fake_ram__alloc(&r.ram, (BALLOON_MAX_PFNS_PER_CHAIN + 1) * 4, 4);
	struct fake_buf huge[] = {{big, (BALLOON_MAX_PFNS_PER_CHAIN + 1) * 4, false}};
	head = fake_virtq__add_chain(q(&r, BALLOON_Q_INFLATE), huge, 1);
	kick(&r, BALLOON_Q_INFLATE);
	CHECK(fake_virtq__get_used(q(&r, BALLOON_Q_INFLATE), &id, &len));
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_TOO_LARGE], 1);

	/* All PFNs invalid: acknowledged without a discard. */
	const uint32_t junk[] = {0, 1, 0xffffffff};

	arr = put_pfns(&r, junk, 3);
	struct fake_buf j[] = {{arr, 12, false}};
	reports = r.b.dq.stats.reports;
	head = fake_virtq__add_chain(q(&r, BALLOON_Q_INFLATE), j, 1);
	kick(&r, BALLOON_Q_INFLATE);
	CHECK(fake_virtq__get_used(q(&r, BALLOON_Q_INFLATE), &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(r.b.dq.stats.reports, reports);
	CHECK_EQ(r.b.stats.inflate_invalid_pfns, 4);
	rig_exit(&r);
}

/* ---- config space and target ---- */

static void test_config_space(void)
{
	struct balloon_config cfg = cfg_default();
	struct rig r;
	uint8_t bytes[16];
	uint32_t gen;

	cfg.initial_target_bytes = 8 * MiB;
	rig_init(&r, &cfg, F(VIRTIO_BALLOON_F_PAGE_POISON));
	CHECK_EQ(read_cfg32(&r, 0), 2048);
	CHECK_EQ(read_cfg32(&r, 4), 0);
	CHECK_EQ(read_cfg32(&r, 8), 0);

	/* num_pages and the hint command id are the device's. */
	write_cfg32(&r, 0, 1);
	write_cfg32(&r, 8, 1);
	CHECK_EQ(read_cfg32(&r, 0), 2048);
	CHECK_EQ(read_cfg32(&r, 8), 0);
	CHECK_EQ(r.b.stats.config_ro_writes, 2);

	/* Byte and straddling accesses: only the writable bytes change. */
	uint8_t two[2] = {0x78, 0x56}, four[4] = {0xaa, 0xbb, 0x34, 0x12};

	pthread_mutex_lock(&r.b.vdev.lock);
	r.b.vdev.ops->write_config(&r.b.vdev, 6, two, 2);  /* actual's high half */
	r.b.vdev.ops->write_config(&r.b.vdev, 2, four, 4); /* bytes 2,3 ro; 4,5 actual */
	pthread_mutex_unlock(&r.b.vdev.lock);
	CHECK_EQ(read_cfg32(&r, 4), 0x56781234);
	CHECK_EQ(read_cfg32(&r, 0), 2048);
	CHECK_EQ(r.b.stats.config_ro_writes, 3);
	r.b.vdev.ops->read_config(&r.b.vdev, 0, bytes, 16);
	CHECK_EQ(bytes[0], 0x00);
	CHECK_EQ(bytes[1], 0x08);
	CHECK_EQ(bytes[4], 0x34);

	/* A new target: num_pages, generation, a config interrupt. */
	gen = r.b.vdev.config_generation;
	r.irqs = 0;
	CHECK_EQ(virtio_balloon__set_target(&r.b, 32 * MiB), 0);
	CHECK_EQ(read_cfg32(&r, 0), 32 * MiB / 4096);
	CHECK_EQ(r.b.vdev.config_generation, gen + 1);
	CHECK_EQ(r.irqs, 1);
	CHECK(r.b.vdev.interrupt_status & VIRTIO_INT_CONFIG);
	CHECK_EQ(r.b.stats.target_changes, 1);
	CHECK_EQ(virtio_balloon__set_target(&r.b, 32 * MiB), 0); /* unchanged: no interrupt */
	CHECK_EQ(r.irqs, 1);
	CHECK_EQ(virtio_balloon__set_target(&r.b, RAM_SIZE + 4096), -ERANGE);
	CHECK_EQ(virtio_balloon__set_target(&r.b, 0), 0);
	CHECK_EQ(read_cfg32(&r, 0), 0);
	rig_exit(&r);
}

/* ---- reset with discards in flight ---- */

static void test_reset_drains(void)
{
	struct balloon_config cfg = cfg_default();
	struct rig r;
	uint32_t id, len;

	rig_init(&r, &cfg, F(VIRTIO_BALLOON_F_REPORTING));
	fill_pool(&r);
	struct fake_buf buf[] = {{r.pool, 4 * MiB, true}};

	r.faults.hold_completions = true;
	fake_virtq__add_chain(q(&r, BALLOON_Q_REPORTING), buf, 1);
	kick(&r, BALLOON_Q_REPORTING);
	CHECK_EQ(r.b.dq.stats.reports_in_flight, 1);
	pthread_mutex_lock(&r.b.vdev.lock);
	r.b.vdev.ops->reset(&r.b.vdev);
	pthread_mutex_unlock(&r.b.vdev.lock);
	CHECK_EQ(r.b.dq.stats.reports_in_flight, 0); /* drained */
	CHECK(r.faults.hold_completions);	     /* the test's setting survives */
	CHECK_EQ(r.b.stats.completions_after_reset, 1);
	CHECK(!r.b.active);
	CHECK_EQ(r.b.qidx[BALLOON_Q_REPORTING], -1);
	CHECK(!fake_virtq__get_used(&r.fq[2], &id, &len)); /* nothing pushed */
	expect(&r, r.pool, 4 * MiB, false);		   /* the discard itself did complete */
	CHECK_EQ(read_cfg32(&r, 4), 0);

	/* Re-activation with the same queues works again. */
	r.faults.hold_completions = false;
	r.b.vdev.features_acked = F(VIRTIO_F_VERSION_1) | F(VIRTIO_BALLOON_F_REPORTING);
	for (unsigned int i = 0; i < r.nq; i++) {
		CHECK_EQ(fake_virtq__init(&r.fq[i], &r.ram, BALLOON_QUEUE_SIZE), 0);
		CHECK_EQ(fake_virtq__activate(&r.fq[i], &r.b.vdev.queues[i], false, false), 0);
	}
	CHECK_EQ(r.b.vdev.ops->activate(&r.b.vdev), 0);
	buf[0].addr = r.pool + 8 * MiB;
	report_ok(&r, buf, 1, NULL, 0);
	rig_exit(&r);
}

/* ---- stats queue, through a real event loop thread ---- */

struct loop_thread {
	struct event_loop loop;
	pthread_t tid;
};

static void *loop_main(void *arg)
{
	struct loop_thread *lt = arg;

	event_loop__run(&lt->loop);
	return NULL;
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	uint16_t t = htole16(tag);
	uint64_t v = htole64(val);

	memcpy(p, &t, 2);
	memcpy(p + 2, &v, 8);
}

/* Wait (up to ms) for a used element on `role`, taking the lock like the driver's irq would. */
static bool wait_used_locked(struct rig *r, enum balloon_queue role, int ms, uint32_t *id)
{
	uint32_t len;

	for (int i = 0; i < ms / 10; i++) {
		bool got;

		pthread_mutex_lock(&r->b.vdev.lock);
		got = fake_virtq__get_used(q(r, role), id, &len);
		pthread_mutex_unlock(&r->b.vdev.lock);
		if (got)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

static void test_stats_and_loop(void)
{
	struct balloon_config cfg = cfg_default();
	struct balloon_wiring wiring;
	struct loop_thread lt;
	struct rig r;
	uint32_t id;
	int head;

	CHECK_EQ(event_loop__init(&lt.loop), 0);
	cfg.stats_interval_s = 1;
	/* rig_init activates without a loop: wire it as the VMM does, then re-activate. */
	rig_init(&r, &cfg, F(VIRTIO_BALLOON_F_STATS_VQ) | F(VIRTIO_BALLOON_F_REPORTING));
	pthread_mutex_lock(&r.b.vdev.lock);
	r.b.vdev.ops->reset(&r.b.vdev);
	CHECK_EQ(vm_devices__wire_balloon(&wiring, &r.b, &lt.loop), 0);
	r.b.vdev.features_acked = F(VIRTIO_F_VERSION_1) | F(VIRTIO_BALLOON_F_STATS_VQ) |
				  F(VIRTIO_BALLOON_F_REPORTING);
	for (unsigned int i = 0; i < r.nq; i++)
		CHECK_EQ(fake_virtq__activate(&r.fq[i], &r.b.vdev.queues[i], false, false), 0);

	/* Linux adds its first stats buffer before DRIVER_OK. */
	uint64_t sbuf = fake_ram__alloc(&r.ram, 4 * BALLOON_STAT_ENTRY_SIZE, 8);
	uint8_t *s = fake_ram__hva(&r.ram, sbuf, 4 * BALLOON_STAT_ENTRY_SIZE);

	put_stat(s, 4, 123456789);	/* free memory */
	put_stat(s + 10, 5, 987654321); /* total memory */
	put_stat(s + 20, 15, 7);	/* direct reclaims (newest tag) */
	put_stat(s + 30, 999, 1);	/* unknown: ignored */
	struct fake_buf sb[] = {{sbuf, 4 * BALLOON_STAT_ENTRY_SIZE, false}};
	head = fake_virtq__add_chain(&r.fq[2], sb, 1);
	CHECK_EQ(r.b.vdev.ops->activate(&r.b.vdev), 0);
	fake_renotify__run(&r.rn); /* the device thread's first look at the queues */
	CHECK(r.b.host_attached);
	pthread_mutex_unlock(&r.b.vdev.lock);
	CHECK_EQ(pthread_create(&lt.tid, NULL, loop_main, &lt), 0);

	/* Parsed at activation, held until the timer fires. */
	CHECK_EQ(r.b.stats.stats_buffers, 1);
	CHECK_EQ(r.b.stats.guest.val[4], 123456789);
	CHECK_EQ(r.b.stats.guest.val[5], 987654321);
	CHECK_EQ(r.b.stats.guest.val[15], 7);
	CHECK_EQ(r.b.stats.guest.valid, (1u << 4) | (1u << 5) | (1u << 15));
	CHECK_EQ(r.b.stats.stats_unknown_tags, 1);
	CHECK(strcmp(balloon_stat__name(4), "free_memory") == 0);
	CHECK(balloon_stat__name(16) == NULL);
	CHECK(!wait_used_locked(&r, BALLOON_Q_STATS, 300, &id));
	CHECK(wait_used_locked(&r, BALLOON_Q_STATS, 3000, &id)); /* the 1 s tick */
	CHECK_EQ(id, head);

	/* A report completes through the loop thread (eventfd -> lock -> push). */
	struct fake_buf rb[] = {{r.pool, 2 * MiB, true}};

	fill_pool(&r);
	pthread_mutex_lock(&r.b.vdev.lock);
	head = fake_virtq__add_chain(q(&r, BALLOON_Q_REPORTING), rb, 1);
	r.b.vdev.ops->queue_notify(&r.b.vdev, 3);
	pthread_mutex_unlock(&r.b.vdev.lock);
	CHECK(wait_used_locked(&r, BALLOON_Q_REPORTING, 5000, &id));
	CHECK_EQ(id, head);
	expect(&r, r.pool, 2 * MiB, false);

	/* A bad stats buffer (not a multiple of 10) is counted and held the same way. */
	pthread_mutex_lock(&r.b.vdev.lock);
	struct fake_buf bad[] = {{sbuf, 15, false}};
	head = fake_virtq__add_chain(&r.fq[2], bad, 1);
	r.b.vdev.ops->queue_notify(&r.b.vdev, 2);
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_BAD_LENGTH], 1);
	CHECK_EQ(r.b.stats.stats_buffers, 1);
	pthread_mutex_unlock(&r.b.vdev.lock);
	CHECK(wait_used_locked(&r, BALLOON_Q_STATS, 3000, &id));
	CHECK_EQ(id, head);

	/* Interval 0: polling stops. */
	CHECK_EQ(virtio_balloon__set_stats_interval(&r.b, 0), 0);
	pthread_mutex_lock(&r.b.vdev.lock);
	head = fake_virtq__add_chain(&r.fq[2], sb, 1);
	r.b.vdev.ops->queue_notify(&r.b.vdev, 2);
	pthread_mutex_unlock(&r.b.vdev.lock);
	CHECK(!wait_used_locked(&r, BALLOON_Q_STATS, 1500, &id));
	CHECK_EQ(virtio_balloon__set_stats_interval(&r.b, 1), 0);
	CHECK(wait_used_locked(&r, BALLOON_Q_STATS, 3000, &id));
	CHECK_EQ(id, head);

	/* Reset unwires the loop. */
	pthread_mutex_lock(&r.b.vdev.lock);
	r.b.vdev.ops->reset(&r.b.vdev);
	CHECK(!r.b.host_attached);
	CHECK_EQ(event_loop__del(&lt.loop, r.b.dq.eventfd), -ENOENT);
	pthread_mutex_unlock(&r.b.vdev.lock);

	event_loop__stop(&lt.loop);
	pthread_join(lt.tid, NULL);
	rig_exit(&r);
	vm_devices__unwire_balloon(&wiring);
	event_loop__exit(&lt.loop);
}

/* ---- the option string ---- */

static void expect_parse_error(const char *opts, const char *needle)
{
	struct balloon_config cfg = cfg_default();
	char err[256] = "";

	CHECK_EQ(balloon_config__parse(opts, &cfg, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle)) {
		fprintf(stderr, "'%s': error '%s' does not mention '%s'\n", opts, err, needle);
		CHECK(0);
	}
}

static void test_parse(void)
{
	struct balloon_config cfg;
	char err[256];

	balloon_config__default(&cfg);
	CHECK(cfg.reporting);
	CHECK(cfg.deflate_on_oom);
	CHECK_EQ(cfg.stats_interval_s, 0);
	CHECK_EQ(cfg.initial_target_bytes, 0);
	CHECK_EQ(cfg.discard, DISCARD_METHOD_AUTO);
	CHECK_EQ(balloon_config__parse("", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(balloon_config__parse(NULL, &cfg, err, sizeof(err)), 0);

	CHECK_EQ(balloon_config__parse("size=256M,deflate-on-oom=off,stats-interval=5s,"
				       "reporting=off,discard=punch-hole",
				       &cfg, err, sizeof(err)),
		 0);
	CHECK_EQ(cfg.initial_target_bytes, 256 * MiB);
	CHECK(!cfg.deflate_on_oom);
	CHECK_EQ(cfg.stats_interval_s, 5);
	CHECK(!cfg.reporting);
	CHECK_EQ(cfg.discard, DISCARD_METHOD_PUNCH_HOLE);
	CHECK_EQ(cfg.discard_engine, DISCARD_ENGINE_URING);

	balloon_config__default(&cfg);
	CHECK_EQ(balloon_config__parse("stats-interval=10,discard=sync,size=1G", &cfg, err,
				       sizeof(err)),
		 0);
	CHECK_EQ(cfg.stats_interval_s, 10);
	CHECK_EQ(cfg.discard, DISCARD_METHOD_AUTO);
	CHECK_EQ(cfg.discard_engine, DISCARD_ENGINE_SYNC);
	CHECK_EQ(cfg.initial_target_bytes, 1ULL << 30);
	CHECK(cfg.reporting); /* untouched keys keep their defaults */
	CHECK_EQ(balloon_config__parse("stats-interval=0", &cfg, err, sizeof(err)), 0);
	CHECK_EQ(cfg.stats_interval_s, 0);

	expect_parse_error("colour=blue", "unknown option 'colour'");
	expect_parse_error("size", "'size' needs the form key=value");
	expect_parse_error("size=", "needs the form key=value");
	expect_parse_error("=1", "key=value");
	expect_parse_error("size=lots", "bad size 'lots'");
	expect_parse_error("size=1000", "not a multiple of 4 KiB");
	expect_parse_error("size=99999999999999999999G", "bad size");
	expect_parse_error("reporting=maybe", "'maybe' for reporting");
	expect_parse_error("deflate-on-oom=1", "'1' for deflate-on-oom");
	expect_parse_error("stats-interval=5m", "'5m' for stats-interval");
	expect_parse_error("stats-interval=-1", "stats-interval");
	expect_parse_error("stats-interval=99999999999", "stats-interval");
	expect_parse_error("discard=trim", "'trim' for discard");
	expect_parse_error("reporting=on,,size=1M", "key=value");
	expect_parse_error("reporting=on,bogus=1", "unknown option 'bogus'");
}

int main(void)
{
	test_parse();
	test_queue_numbering();
	test_report_shapes();
	test_report_hostile();
	test_poison();
	test_inflate_deflate();
	test_config_space();
	test_reset_drains();
	test_stats_and_loop();
	return testlib_done("test_virtio_balloon");
}

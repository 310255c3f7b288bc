// SPDX-License-Identifier: GPL-2.0
/*
 * Free page hinting (devices/balloon_hinting.c) on fake virtqueues and real
 * memory: the free_page_vq's index per feature set, the command-id state
 * machine (start, the driver's id and STOP, DONE, ids never reused), hints
 * outside the current run kept, hostile hint and command chains refused,
 * and the ordering rules: a hint is discarded before the kick that brought
 * it returns to the driver (the direct path: Linux's shrinker may free the
 * block right after its kick), its used entry and DONE only after that.
 */
#define _GNU_SOURCE
#include "devices/virtio_balloon.h"
#include "balloon_rig.h"
#include "fake_virtq.h"
#include "testlib.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MiB	 (1ULL << 20)
#define RAM_SIZE (64 * MiB)
#define POOL	 (40 * MiB)
#define F(bit)	 (1ULL << (bit))
#define CFG_CMD	 8 /* free_page_hint_cmd_id in config space */

struct rig {
	struct fake_ram ram;
	struct virtio_balloon b;
	struct fake_virtq fq[VIRTIO_MAX_QUEUES];
	unsigned int nq;
	uint64_t pool;
	struct discard_faults faults;
	struct fake_renotify rn; /* the device asked to be notified again */
};

/* A device at DRIVER_OK with `features` accepted, its pool patterned. */
static void rig_init(struct rig *r, bool hinting, uint64_t features)
{
	struct virtio_device *vdev = &r->b.vdev;
	struct balloon_config cfg;

	memset(r, 0, sizeof(*r));
	balloon_config__default(&cfg);
	cfg.free_page_hinting = hinting;
	CHECK_EQ(fake_ram__init(&r->ram, FAKE_RAM_GPA, RAM_SIZE), 0);
	CHECK_EQ(virtio_balloon__init(&r->b, &cfg, &r->ram.mem), 0);
	r->b.dq.faults = &r->faults;
	CHECK_EQ(pthread_mutex_init(&vdev->lock, NULL), 0);
	fake_renotify__attach(&r->rn, vdev);
	features |= F(VIRTIO_F_VERSION_1);
	CHECK_EQ(features & ~vdev->ops->get_features(vdev), 0);
	vdev->features_acked = features;
	r->nq = vdev->ops->num_queues(vdev);
	for (unsigned int i = 0; i < r->nq; i++) {
		CHECK_EQ(fake_virtq__init(&r->fq[i], &r->ram, BALLOON_QUEUE_SIZE), 0);
		CHECK_EQ(fake_virtq__activate(&r->fq[i], &vdev->queues[i], false, true), 0);
	}
	r->pool = fake_ram__alloc(&r->ram, POOL, 2 * MiB);
	fake_ram__fill_pattern(&r->ram, r->pool, POOL);
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_lock(&vdev->lock);
	CHECK_EQ(vdev->ops->activate(vdev), 0);
	fake_renotify__run(&r->rn);
	pthread_mutex_unlock(&vdev->lock);
}

static void rig_exit(struct rig *r)
{
	r->faults.hold_completions = false;
	virtio_balloon__exit(&r->b);
	pthread_mutex_destroy(&r->b.vdev.lock);
	fake_ram__exit(&r->ram);
}

static struct fake_virtq *hq(struct rig *r)
{
	CHECK(r->b.qidx[BALLOON_Q_FREE_PAGE] >= 0);
	return &r->fq[r->b.qidx[BALLOON_Q_FREE_PAGE]];
}

/*
 * The driver's kick, as the wiring delivers it for the free_page_vq: no
 * ioeventfd, so the vCPU thread serves it (queue_notify_direct) before the
 * guest runs on.
 */
static void kick(struct rig *r)
{
	struct virtio_device *vdev = &r->b.vdev;

	CHECK(vdev->ops->direct_queues(vdev) & (1u << r->b.qidx[BALLOON_Q_FREE_PAGE]));
	pthread_mutex_lock(&vdev->lock);
	CHECK(vdev->ops->queue_notify_direct(vdev, (unsigned int)r->b.qidx[BALLOON_Q_FREE_PAGE]));
	pthread_mutex_unlock(&vdev->lock);
}

static void pump(struct rig *r)
{
	balloon_rig__discards_turn(&r->b, 50);
	fake_renotify__run_locked(&r->rn);
}

static uint32_t cfg_cmd(struct rig *r)
{
	uint32_t le = 0;

	pthread_mutex_lock(&r->b.vdev.lock);
	r->b.vdev.ops->read_config(&r->b.vdev, CFG_CMD, &le, 4);
	pthread_mutex_unlock(&r->b.vdev.lock);
	return le32toh(le);
}

/* Whether a config interrupt was raised since the last call. */
static bool config_irq(struct rig *r)
{
	bool raised = r->b.vdev.interrupt_status & VIRTIO_INT_CONFIG;

	r->b.vdev.interrupt_status &= ~VIRTIO_INT_CONFIG;
	return raised;
}

/* The driver sends a command id: one 4-byte device-readable buffer. */
static int send_cmd(struct rig *r, uint32_t cmd)
{
	struct fake_buf buf = {fake_ram__put_le32(&r->ram, &cmd, 1), 4, false};
	int head = fake_virtq__add_chain(hq(r), &buf, 1);

	kick(r);
	return head;
}

/* The driver hints [gpa, gpa + len): one device-writable buffer. */
static int send_hint(struct rig *r, uint64_t gpa, uint32_t len)
{
	struct fake_buf buf = {gpa, len, true};
	int head = fake_virtq__add_chain(hq(r), &buf, 1);

	kick(r);
	return head;
}

/* The next used element is `head`, with len 0. */
static void expect_used(struct rig *r, int head)
{
	uint32_t id, len;

	CHECK(fake_virtq__get_used(hq(r), &id, &len));
	CHECK_EQ(id, (uint32_t)head);
	CHECK_EQ(len, 0);
}

static void expect_no_used(struct rig *r)
{
	uint32_t id, len;

	CHECK(!fake_virtq__get_used(hq(r), &id, &len));
}

static void wait_used(struct rig *r, int head)
{
	uint32_t id, len;

	for (int i = 0; i < 400; i++) {
		if (fake_virtq__get_used(hq(r), &id, &len)) {
			CHECK_EQ(id, (uint32_t)head);
			return;
		}
		pump(r);
	}
	CHECK(0);
}

/* Pages of [gpa, gpa+len) hold their pattern (intact) or zero (discarded). */
static void expect_pages(struct rig *r, uint64_t gpa, uint64_t len, bool intact)
{
	CHECK(fake_ram__pages_are(&r->ram, gpa, len, intact));
}

/* 5.5.2: free_page_vq after statsq, before reporting_vq; absent queues take no index. */
static void test_queue_index_and_offer(void)
{
	const uint64_t h = F(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	const uint64_t st = F(VIRTIO_BALLOON_F_STATS_VQ), rep = F(VIRTIO_BALLOON_F_REPORTING);
	struct balloon_config cfg;
	char err[160];
	struct rig r;

	CHECK_EQ(virtio_balloon__queue_index(h, BALLOON_Q_FREE_PAGE), 2);
	CHECK_EQ(virtio_balloon__queue_index(h | st, BALLOON_Q_FREE_PAGE), 3);
	CHECK_EQ(virtio_balloon__queue_index(h | st | rep, BALLOON_Q_FREE_PAGE), 3);
	CHECK_EQ(virtio_balloon__queue_index(h | st | rep, BALLOON_Q_REPORTING), 4);
	CHECK_EQ(virtio_balloon__queue_index(h | rep, BALLOON_Q_REPORTING), 3);
	CHECK_EQ(virtio_balloon__queue_index(rep, BALLOON_Q_FREE_PAGE), -1);
	CHECK_EQ(virtio_balloon__num_queues(h | st | rep), 5);

	/* Off by default, as in Firecracker; the option turns it on. */
	balloon_config__default(&cfg);
	CHECK(!cfg.free_page_hinting);
	CHECK_EQ(balloon_config__parse("free-page-hinting=on", &cfg, err, sizeof(err)), 0);
	CHECK(cfg.free_page_hinting);
	CHECK_EQ(balloon_config__parse("free-page-hinting=maybe", &cfg, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "free-page-hinting") != NULL);

	rig_init(&r, false, rep);
	CHECK_EQ(r.b.vdev.ops->get_features(&r.b.vdev) & h, 0);
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), -EOPNOTSUPP);
	CHECK_EQ(virtio_balloon__hinting_stop(&r.b), -EOPNOTSUPP);
	rig_exit(&r);

	/* Offered, but the driver did not take it: no run can start. */
	rig_init(&r, true, rep);
	CHECK(r.b.vdev.ops->get_features(&r.b.vdev) & h);
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), -ENODEV);
	rig_exit(&r);
}

/*
 * A run as Linux makes it, with the discards held: the hint's used entry
 * and DONE wait for them; the guest's data outside the hint stays.
 */
static void test_run_done_after_discard(void)
{
	struct balloon_status st;
	struct rig r;
	int head, hint;

	rig_init(&r, true, F(VIRTIO_BALLOON_F_FREE_PAGE_HINT) | F(VIRTIO_BALLOON_F_REPORTING));
	CHECK_EQ(r.b.qidx[BALLOON_Q_FREE_PAGE], 2);
	CHECK_EQ(cfg_cmd(&r), VIRTIO_BALLOON_CMD_ID_STOP);
	config_irq(&r);

	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), 0);
	CHECK_EQ(cfg_cmd(&r), 2);
	CHECK(config_irq(&r));
	CHECK_EQ(r.b.stats.hint_runs, 1);

	head = send_cmd(&r, 2);
	expect_used(&r, head);
	virtio_balloon__get_status(&r.b, &st);
	CHECK_EQ(st.hinting.host_cmd, 2);
	CHECK(st.hinting.guest_cmd_seen);
	CHECK_EQ(st.hinting.guest_cmd, 2);

	/*
	 * Held completions hold the discard queue's ring, not a hint: the hint
	 * is discarded on the kicking thread and acknowledged before the kick
	 * returns.
	 */
	r.faults.hold_completions = true;
	hint = send_hint(&r, r.pool + 4 * MiB, 4 * MiB);
	expect_pages(&r, r.pool + 4 * MiB, 4 * MiB, false);
	expect_used(&r, hint);
	CHECK_EQ(r.b.stats.hint_chains, 1);
	CHECK_EQ(r.b.stats.hint_kicks_direct, 2);

	/* The driver's STOP: nothing in flight, so DONE at once. */
	head = send_cmd(&r, VIRTIO_BALLOON_CMD_ID_STOP);
	expect_used(&r, head);
	CHECK_EQ(cfg_cmd(&r), VIRTIO_BALLOON_CMD_ID_DONE);
	CHECK(config_irq(&r));
	CHECK_EQ(r.b.stats.hint_done_deferred, 0);
	virtio_balloon__get_status(&r.b, &st);
	CHECK_EQ(st.hinting.host_cmd, VIRTIO_BALLOON_CMD_ID_DONE);
	CHECK_EQ(st.hinting.guest_cmd, VIRTIO_BALLOON_CMD_ID_STOP);
	CHECK_EQ(r.b.stats.hints_done, 1);
	CHECK_EQ(r.b.stats.bytes_hint_discarded, 4 * MiB);
	CHECK_EQ(r.b.stats.bytes_hinted, 4 * MiB);
	expect_pages(&r, r.pool, 4 * MiB, true);
	expect_pages(&r, r.pool + 8 * MiB, POOL - 8 * MiB, true);
	rig_exit(&r);
}

/*
 * Linux 6.1's order (virtio_balloon.c get_free_page_and_send): add the hint,
 * kick, and only then put the block on the list its shrinker frees from.
 * Under memory pressure the shrinker frees it before DONE and the guest
 * writes to it at once. That write must survive whatever the device thread
 * does afterwards: no discard of the hint may land after the kick returned.
 */
static void test_shrinker_takes_block_back(void)
{
	struct rig r;
	int hint;

	rig_init(&r, true, F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), 0);
	expect_used(&r, send_cmd(&r, 2));
	r.faults.hold_completions = true;
	hint = send_hint(&r, r.pool, 4 * MiB);
	/* The shrinker's free, and the new owner's writes. */
	fake_ram__fill_pattern(&r.ram, r.pool, 4 * MiB);
	r.faults.hold_completions = false;
	for (int i = 0; i < 20; i++)
		pump(&r);
	expect_pages(&r, r.pool, 4 * MiB, true);
	expect_used(&r, hint);
	expect_no_used(&r);
	rig_exit(&r);
}

/* 5.5.6.4.2: pages sent under another id than the current one are ignored. */
static void test_stale_hints_kept(void)
{
	struct rig r;
	int head;

	rig_init(&r, true, F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	/* No run yet. */
	head = send_hint(&r, r.pool, 4 * MiB);
	expect_used(&r, head);
	CHECK_EQ(r.b.stats.hints_ignored, 1);

	/* A run, a wrong id, its hints. */
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, false), 0);
	expect_used(&r, send_cmd(&r, 7));
	head = send_hint(&r, r.pool, 4 * MiB);
	expect_used(&r, head);
	CHECK_EQ(r.b.stats.hints_ignored, 2);
	CHECK_EQ(r.b.stats.hint_chains, 0);

	/* The right id: discarded. The driver's STOP without acknowledge_on_stop: no DONE. */
	expect_used(&r, send_cmd(&r, 2));
	wait_used(&r, send_hint(&r, r.pool + 4 * MiB, 4 * MiB));
	expect_used(&r, send_cmd(&r, VIRTIO_BALLOON_CMD_ID_STOP));
	CHECK_EQ(cfg_cmd(&r), 2);

	/* The host's stop: nothing in flight, DONE at once; later hints kept. */
	config_irq(&r);
	CHECK_EQ(virtio_balloon__hinting_stop(&r.b), 0);
	CHECK_EQ(cfg_cmd(&r), VIRTIO_BALLOON_CMD_ID_DONE);
	CHECK(config_irq(&r));
	expect_used(&r, send_cmd(&r, 2));
	expect_used(&r, send_hint(&r, r.pool + 8 * MiB, 4 * MiB));
	CHECK_EQ(r.b.stats.hints_ignored, 3);
	expect_pages(&r, r.pool, 4 * MiB, true);
	expect_pages(&r, r.pool + 4 * MiB, 4 * MiB, false);
	expect_pages(&r, r.pool + 8 * MiB, POOL - 8 * MiB, true);

	/* The next run has a new id. */
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), 0);
	CHECK_EQ(cfg_cmd(&r), 3);
	rig_exit(&r);
}

/* The STOP that ends an earlier run does not end the run started after it. */
static void test_stale_stop(void)
{
	struct rig r;

	rig_init(&r, true, F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), 0);
	expect_used(&r, send_cmd(&r, 2));
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), 0);
	CHECK_EQ(cfg_cmd(&r), 3);
	expect_used(&r, send_cmd(&r, VIRTIO_BALLOON_CMD_ID_STOP)); /* run 2's end */
	CHECK_EQ(cfg_cmd(&r), 3);
	expect_used(&r, send_cmd(&r, 3));
	wait_used(&r, send_hint(&r, r.pool, 2 * MiB));
	expect_used(&r, send_cmd(&r, VIRTIO_BALLOON_CMD_ID_STOP));
	CHECK_EQ(cfg_cmd(&r), VIRTIO_BALLOON_CMD_ID_DONE);
	expect_pages(&r, r.pool, 2 * MiB, false);
	expect_pages(&r, r.pool + 2 * MiB, POOL - 2 * MiB, true);
	rig_exit(&r);
}

/* Hostile chains: refused with len 0, counted, nothing discarded, state unchanged. */
static void test_hostile(void)
{
	struct rig r;
	uint32_t two[2] = {2, 2};
	int head;

	rig_init(&r, true, F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), 0);
	expect_used(&r, send_cmd(&r, 2));

	/* Unaligned address, unaligned length. */
	expect_used(&r, send_hint(&r, r.pool + 512, 4096));
	expect_used(&r, send_hint(&r, r.pool, 4096 + 1));
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_UNALIGNED], 2);

	/* Outside RAM (the translation refuses it), and past its end. */
	expect_used(&r, send_hint(&r, FAKE_RAM_GPA + RAM_SIZE, 4096));
	expect_used(&r, send_hint(&r, FAKE_RAM_GPA + RAM_SIZE - 4096, 8192));
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_VQ], 2);

	/* A command of 8 bytes; one of two buffers; a command and a hint in one chain. */
	struct fake_buf eight = {fake_ram__put_le32(&r.ram, two, 2), 8, false};
	struct fake_buf split[] = {{eight.addr, 4, false}, {eight.addr + 4, 4, false}};
	struct fake_buf mixed[] = {{eight.addr, 4, false}, {r.pool, 4096, true}};

	head = fake_virtq__add_chain(hq(&r), &eight, 1);
	kick(&r);
	expect_used(&r, head);
	head = fake_virtq__add_chain(hq(&r), split, 2);
	kick(&r);
	expect_used(&r, head);
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_BAD_LENGTH], 2);
	head = fake_virtq__add_chain(hq(&r), mixed, 2);
	kick(&r);
	expect_used(&r, head);
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_NOT_WRITABLE], 1);
	/* A command as a device-writable buffer is a hint, and unaligned. */
	struct fake_buf wcmd = {eight.addr, 4, true};

	head = fake_virtq__add_chain(hq(&r), &wcmd, 1);
	kick(&r);
	expect_used(&r, head);
	CHECK_EQ(r.b.stats.rejected[BALLOON_REJ_UNALIGNED], 3);
	CHECK_EQ(r.b.stats.hint_chains, 0);
	CHECK_EQ(r.b.dq.stats.ops, 0);
	expect_pages(&r, r.pool, POOL, true);

	/* The run still works; DONE from the driver counts as its STOP. */
	wait_used(&r, send_hint(&r, r.pool, 4096));
	expect_used(&r, send_cmd(&r, VIRTIO_BALLOON_CMD_ID_DONE));
	CHECK_EQ(cfg_cmd(&r), VIRTIO_BALLOON_CMD_ID_DONE);
	expect_pages(&r, r.pool, 4096, false);
	expect_pages(&r, r.pool + 4096, POOL - 4096, true);
	rig_exit(&r);
}

/*
 * A stop while a hint chain waits at the discard queue's limits: it goes
 * back undiscarded. A reset with hints in flight: drained, back to STOP.
 */
/* A reset in the middle of a run: back to STOP, the run's id never reused. */
static void test_reset_in_run(void)
{
	struct balloon_status st;
	struct rig r;

	rig_init(&r, true, F(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), 0);
	expect_used(&r, send_cmd(&r, 2));
	expect_used(&r, send_hint(&r, r.pool, 4 * MiB));
	CHECK_EQ(r.b.hint.inflight, 0);

	pthread_mutex_lock(&r.b.vdev.lock);
	r.b.vdev.ops->reset(&r.b.vdev);
	pthread_mutex_unlock(&r.b.vdev.lock);
	CHECK_EQ(r.b.hint.inflight, 0);
	CHECK_EQ(cfg_cmd(&r), VIRTIO_BALLOON_CMD_ID_STOP);
	virtio_balloon__get_status(&r.b, &st);
	CHECK_EQ(st.hinting.host_cmd, VIRTIO_BALLOON_CMD_ID_STOP);
	CHECK(!st.hinting.guest_cmd_seen);
	CHECK_EQ(virtio_balloon__hinting_start(&r.b, true), -ENODEV);
	expect_pages(&r, r.pool, 4 * MiB, false);
	expect_pages(&r, r.pool + 4 * MiB, POOL - 4 * MiB, true);
	rig_exit(&r);
}

int main(void)
{
	test_queue_index_and_offer();
	test_run_done_after_discard();
	test_stale_hints_kept();
	test_stale_stop();
	test_hostile();
	test_shrinker_takes_block_back();
	test_reset_in_run();
	return testlib_done("test_balloon_hinting");
}

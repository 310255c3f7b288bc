// SPDX-License-Identifier: GPL-2.0
/* The balloon test rig (balloon_rig.h). */
#include "balloon_rig.h"
#include "testlib.h"

#include <poll.h>
#include <pthread.h>
#include <string.h>

/* Re-arming runs nothing by itself: the rig's turns do (kick, pump). */
static void note_renotify(struct virtio_device *vdev, unsigned int qidx, void *opaque)
{
	struct balloon_rig *r = opaque;

	(void)vdev;
	CHECK(qidx < 3);
	r->renotified[qidx]++;
	r->renotify_calls++;
}

void balloon_rig__init(struct balloon_rig *r, const struct balloon_config *cfg, uint64_t ram_size,
		       uint64_t pool_size)
{
	struct virtio_device *vdev = &r->b.vdev;

	memset(r, 0, sizeof(*r));
	CHECK_EQ(fake_ram__init(&r->ram, FAKE_RAM_GPA, ram_size), 0);
	CHECK_EQ(virtio_balloon__init(&r->b, cfg, &r->ram.mem), 0);
	r->b.dq.faults = &r->faults;
	CHECK_EQ(pthread_mutex_init(&vdev->lock, NULL), 0);
	vdev->renotify = note_renotify;
	vdev->renotify_opaque = r;
	vdev->features_acked = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) |
			       (1ULL << VIRTIO_BALLOON_F_REPORTING);
	CHECK_EQ(vdev->ops->num_queues(vdev), 3);
	for (unsigned int i = 0; i < 3; i++) {
		CHECK_EQ(fake_virtq__init(&r->fq[i], &r->ram, BALLOON_QUEUE_SIZE), 0);
		CHECK_EQ(fake_virtq__activate(&r->fq[i], &vdev->queues[i], false, true), 0);
	}
	r->pool = fake_ram__alloc(&r->ram, pool_size, 2ULL << 20);
	for (uint64_t a = r->pool; a < r->pool + pool_size; a += 4096)
		*(uint64_t *)fake_ram__hva(&r->ram, a, 8) = a | 1;
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
}

unsigned int balloon_rig__run_renotified(struct balloon_rig *r, unsigned int max)
{
	unsigned int turns = 0;

	for (bool again = true; again && turns < max;) {
		again = false;
		for (unsigned int i = 0; i < 3 && turns < max; i++) {
			if (!r->renotified[i])
				continue;
			r->renotified[i] = 0;
			again = true;
			turns++;
			r->b.vdev.ops->queue_notify(&r->b.vdev, i);
		}
	}
	return turns;
}

void balloon_rig__activate(struct balloon_rig *r)
{
	pthread_mutex_lock(&r->b.vdev.lock);
	CHECK_EQ(r->b.vdev.ops->activate(&r->b.vdev), 0);
	balloon_rig__run_renotified(r, ~0U);
	pthread_mutex_unlock(&r->b.vdev.lock);
}

void balloon_rig__notify_once(struct balloon_rig *r, unsigned int qidx)
{
	pthread_mutex_lock(&r->b.vdev.lock);
	r->b.vdev.ops->queue_notify(&r->b.vdev, qidx);
	pthread_mutex_unlock(&r->b.vdev.lock);
}

void balloon_rig__kick(struct balloon_rig *r, unsigned int qidx)
{
	pthread_mutex_lock(&r->b.vdev.lock);
	r->b.vdev.ops->queue_notify(&r->b.vdev, qidx);
	balloon_rig__run_renotified(r, ~0U);
	pthread_mutex_unlock(&r->b.vdev.lock);
}

void balloon_rig__discards_turn(struct virtio_balloon *b, int timeout_ms)
{
	struct pollfd pfd = {.fd = virtio_balloon__discard_eventfd(b), .events = POLLIN};

	poll(&pfd, 1, timeout_ms);
	virtio_balloon__discards_ready(b);
}

void balloon_rig__pump(struct balloon_rig *r, int timeout_ms)
{
	balloon_rig__discards_turn(&r->b, timeout_ms);
	pthread_mutex_lock(&r->b.vdev.lock);
	balloon_rig__run_renotified(r, ~0U);
	pthread_mutex_unlock(&r->b.vdev.lock);
}

void balloon_rig__exit(struct balloon_rig *r)
{
	r->faults.hold_completions = false;
	virtio_balloon__exit(&r->b);
	pthread_mutex_destroy(&r->b.vdev.lock);
	fake_ram__exit(&r->ram);
}

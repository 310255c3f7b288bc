/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A virtio-balloon over fake rings, as the device thread drives it, for
 * unit tests: fake guest RAM with a patterned pool, the three queues
 * (inflate, deflate, reporting) laid out, the discard queue's fault
 * injection wired, and vdev->renotify recorded instead of written to an
 * eventfd, so a test decides when the device's re-armed turns run.
 *
 *	struct balloon_rig r;
 *	struct balloon_config cfg;
 *
 *	balloon_config__default(&cfg);
 *	balloon_rig__init(&r, &cfg, 48 << 20, 40 << 20);
 *	balloon_rig__activate(&r);
 *	... fake_virtq__add_chain(&r.fq[2], ...); balloon_rig__kick(&r, 2);
 *	... balloon_rig__pump(&r, 10) until the used entry is there ...
 *	balloon_rig__exit(&r);
 */
#ifndef MINI_VMM_BALLOON_RIG_H
#define MINI_VMM_BALLOON_RIG_H

#include "devices/virtio_balloon.h"
#include "fake_virtq.h"

#include <stdint.h>

struct balloon_rig {
	struct fake_ram ram;
	struct virtio_balloon b;
	struct fake_virtq fq[3];      /* inflate, deflate, reporting */
	uint64_t pool;		      /* pool_size bytes, each 4 KiB page's first word = gpa | 1 */
	struct discard_faults faults; /* the discard queue's, injected by the tests */
	unsigned int renotified[3];   /* renotify calls per queue, not yet run */
	unsigned int renotify_calls;  /* all of them */
};

/*
 * Up to DRIVER_OK with VERSION_1, INDIRECT_DESC and REPORTING acked and
 * rings of BALLOON_QUEUE_SIZE laid out; activation is the caller's.
 */
void balloon_rig__init(struct balloon_rig *r, const struct balloon_config *cfg, uint64_t ram_size,
		       uint64_t pool_size);
/* activate(), then the re-armed turns it asked for. */
void balloon_rig__activate(struct balloon_rig *r);
/* The device thread's turns on re-armed queues, max at most. Lock held. */
unsigned int balloon_rig__run_renotified(struct balloon_rig *r, unsigned int max);
/* One queue_notify, as the device thread makes it: no re-armed turns. */
void balloon_rig__notify_once(struct balloon_rig *r, unsigned int qidx);
/* A kick and every re-armed turn after it. */
void balloon_rig__kick(struct balloon_rig *r, unsigned int qidx);
/*
 * What a device thread does when the balloon's discard queue signals: wait
 * up to timeout_ms for its eventfd, then virtio_balloon__discards_ready()
 * (completions, chains held at the limits). Re-armed queues are the
 * caller's; balloon_rig__pump() runs them for a rig.
 */
void balloon_rig__discards_turn(struct virtio_balloon *b, int timeout_ms);
/* A turn on the discard queue's eventfd, then the re-armed queues. */
void balloon_rig__pump(struct balloon_rig *r, int timeout_ms);
void balloon_rig__exit(struct balloon_rig *r);

#endif

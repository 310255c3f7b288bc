/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest's memory statistics (virtio 1.2 section 5.5.6.3): the one table
 * of the tags a balloon keeps, with every name each tag goes by outside
 * (the API's JSON field, the Prometheus metric). devices/balloon_stats.c.
 */
#ifndef MINI_VMM_BALLOON_STATS_H
#define MINI_VMM_BALLOON_STATS_H

#include <stdbool.h>

/* The tags, as Linux's include/uapi/linux/virtio_balloon.h numbers them. */
enum balloon_stat_tag {
	VIRTIO_BALLOON_S_SWAP_IN = 0,
	VIRTIO_BALLOON_S_SWAP_OUT = 1,
	VIRTIO_BALLOON_S_MAJFLT = 2,
	VIRTIO_BALLOON_S_MINFLT = 3,
	VIRTIO_BALLOON_S_MEMFREE = 4,
	VIRTIO_BALLOON_S_MEMTOT = 5,
	VIRTIO_BALLOON_S_AVAIL = 6,
	VIRTIO_BALLOON_S_CACHES = 7,
	VIRTIO_BALLOON_S_HTLB_PGALLOC = 8,
	VIRTIO_BALLOON_S_HTLB_PGFAIL = 9,
	VIRTIO_BALLOON_S_OOM_KILL = 10,
	VIRTIO_BALLOON_S_ALLOC_STALL = 11,
	VIRTIO_BALLOON_S_ASYNC_SCAN = 12,
	VIRTIO_BALLOON_S_DIRECT_SCAN = 13,
	VIRTIO_BALLOON_S_ASYNC_RECLAIM = 14,
	VIRTIO_BALLOON_S_DIRECT_RECLAIM = 15,
};

/* Tags we keep (0..15: virtio 1.4 / Linux 6.12 numbering); others are counted and dropped. */
#define BALLOON_STATS_TAGS 16

struct balloon_stat_info {
	enum balloon_stat_tag tag;
	/* GET /balloon/statistics key: Firecracker's name (docs/api.md), so singular "oom_kill". */
	const char *api_name;
	/* Prometheus family after "mini_vmm_guest_", with its unit and _total (docs/api.md). */
	const char *metric;
	const char *help;
	/* Counts since the guest booted (a counter), or a level now (a gauge). */
	bool cumulative;
	/*
	 * The guest sends a count of its pages: the metric is in bytes, the
	 * count times 4096 (x86's page; the API keeps the guest's count).
	 */
	bool pages;
};

/* The entry of `tag`, NULL if we do not keep it. */
const struct balloon_stat_info *balloon_stat__info(unsigned int tag);
/* Its API name ("free_memory", "oom_kill", ...), NULL if we do not keep it. */
const char *balloon_stat__name(unsigned int tag);

#endif

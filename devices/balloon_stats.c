// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's memory statistics (virtio 1.2 section 5.5.6.3): the names of
 * their tags. Pure; the stats queue itself is in virtio_balloon.c.
 */
#include "devices/balloon_stats.h"

#include <stddef.h>

/* Linux include/uapi/linux/virtio_balloon.h, VIRTIO_BALLOON_S_*. */
static const char *const stat_names[BALLOON_STATS_TAGS] = {
	"swap_in",	    "swap_out",	    "major_faults",
	"minor_faults",	    "free_memory",  "total_memory",
	"available_memory", "disk_caches",  "hugetlb_allocations",
	"hugetlb_failures", "oom_kills",    "alloc_stalls",
	"async_scans",	    "direct_scans", "async_reclaims",
	"direct_reclaims",
};

const char *balloon_stat__name(unsigned int tag)
{
	return tag < BALLOON_STATS_TAGS ? stat_names[tag] : NULL;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's memory statistics (virtio 1.2 section 5.5.6.3): the one table
 * of their tags and the names each goes by, which the control API and the
 * Prometheus exposition both read. Pure; the stats queue itself is in
 * virtio_balloon.c.
 *
 * Linux sends swap in/out and the memory sizes in bytes, the scan and
 * reclaim counts in pages, the rest as event counts; the vmstat ones are
 * cumulative since the guest booted.
 */
#include "devices/balloon_stats.h"

#include <stddef.h>

#define STAT(t, api, m, c, h)                                                                      \
	[t] = {.tag = t, .api_name = api, .metric = m, .cumulative = c, .help = h}
#define STAT_PAGES(t, api, m, h)                                                                   \
	[t] = {.tag = t, .api_name = api, .metric = m, .cumulative = true, .pages = true, .help = h}

static const struct balloon_stat_info stat_table[BALLOON_STATS_TAGS] = {
	STAT(VIRTIO_BALLOON_S_SWAP_IN, "swap_in", "swap_in_bytes_total", true,
	     "Bytes the guest swapped in since it booted."),
	STAT(VIRTIO_BALLOON_S_SWAP_OUT, "swap_out", "swap_out_bytes_total", true,
	     "Bytes the guest swapped out since it booted."),
	STAT(VIRTIO_BALLOON_S_MAJFLT, "major_faults", "major_faults_total", true,
	     "Major page faults in the guest."),
	STAT(VIRTIO_BALLOON_S_MINFLT, "minor_faults", "minor_faults_total", true,
	     "Minor page faults in the guest."),
	STAT(VIRTIO_BALLOON_S_MEMFREE, "free_memory", "free_memory_bytes", false,
	     "Memory the guest reports as free (MemFree)."),
	STAT(VIRTIO_BALLOON_S_MEMTOT, "total_memory", "total_memory_bytes", false,
	     "Memory the guest reports as total (MemTotal)."),
	STAT(VIRTIO_BALLOON_S_AVAIL, "available_memory", "available_memory_bytes", false,
	     "Memory the guest reports as available (MemAvailable)."),
	STAT(VIRTIO_BALLOON_S_CACHES, "disk_caches", "disk_caches_bytes", false,
	     "Guest page cache that can be freed quickly."),
	STAT(VIRTIO_BALLOON_S_HTLB_PGALLOC, "hugetlb_allocations", "hugetlb_allocations_total",
	     true, "Successful hugetlb page allocations."),
	STAT(VIRTIO_BALLOON_S_HTLB_PGFAIL, "hugetlb_failures", "hugetlb_failures_total", true,
	     "Failed hugetlb page allocations."),
	STAT(VIRTIO_BALLOON_S_OOM_KILL, "oom_kill", "oom_kills_total", true,
	     "OOM killer invocations in the guest."),
	STAT(VIRTIO_BALLOON_S_ALLOC_STALL, "alloc_stall", "alloc_stalls_total", true,
	     "Allocation stalls in the guest."),
	STAT_PAGES(VIRTIO_BALLOON_S_ASYNC_SCAN, "async_scan", "async_scanned_bytes_total",
		   "Bytes (4 KiB pages) scanned by the guest's kswapd."),
	STAT_PAGES(VIRTIO_BALLOON_S_DIRECT_SCAN, "direct_scan", "direct_scanned_bytes_total",
		   "Bytes (4 KiB pages) scanned by direct reclaim."),
	STAT_PAGES(VIRTIO_BALLOON_S_ASYNC_RECLAIM, "async_reclaim", "async_reclaimed_bytes_total",
		   "Bytes (4 KiB pages) reclaimed by the guest's kswapd."),
	STAT_PAGES(VIRTIO_BALLOON_S_DIRECT_RECLAIM, "direct_reclaim",
		   "direct_reclaimed_bytes_total",
		   "Bytes (4 KiB pages) reclaimed by direct reclaim."),
};

const struct balloon_stat_info *balloon_stat__info(unsigned int tag)
{
	/* A hole in the table (no api_name) is a tag we do not keep. */
	if (tag >= BALLOON_STATS_TAGS || !stat_table[tag].api_name)
		return NULL;
	return &stat_table[tag];
}

const char *balloon_stat__name(unsigned int tag)
{
	const struct balloon_stat_info *s = balloon_stat__info(tag);

	return s ? s->api_name : NULL;
}

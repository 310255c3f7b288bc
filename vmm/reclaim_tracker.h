/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Follows one reclaim cycle of the guest workload from its progress markers
 * (testdev port 0xf5) and samples of host RSS of guest RAM, and computes what
 * the demo and the boot tests print:
 *   reclaim: freed=<MiB> returned=<MiB> (<pct>%) corrupted=<n> time_to_90pct=<s>
 * "returned" is the measured drop in resident guest RAM from the TOUCHED
 * marker (the guest starts freeing right after it) to the SETTLED marker;
 * the time to 90% counts from TOUCHED too. Pure: time and RSS are passed in.
 */
#ifndef MINI_VMM_RECLAIM_TRACKER_H
#define MINI_VMM_RECLAIM_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reclaim_tracker {
	unsigned int cycle;
	bool active;	       /* between TOUCHED and SETTLED: sample RSS */
	uint64_t freed_bytes;  /* from the FREED marker (TOUCHED's until then) */
	uint64_t rss_at_freed; /* resident guest RAM when freeing started (TOUCHED) */
	uint64_t rss_min;      /* lowest sample since then */
	uint64_t t_freed_ns;   /* when freeing started */
	uint64_t t_90pct_ns;   /* 0 until 90% of freed came back */
	uint64_t returned_bytes;
	uint64_t reported_bytes; /* guest's own count, from the SETTLED marker */
	uint64_t corrupted;
	bool have_result;
};

void reclaim_tracker__init(struct reclaim_tracker *t);
/* Feed a marker. Returns true when a summary line is ready (VERIFIED). */
bool reclaim_tracker__marker(struct reclaim_tracker *t, unsigned int phase, uint32_t arg,
			     uint64_t now_ns, uint64_t rss_bytes);
/* Feed an RSS sample (only matters while active). */
void reclaim_tracker__sample(struct reclaim_tracker *t, uint64_t now_ns, uint64_t rss_bytes);
/* Whether samples are wanted now. */
bool reclaim_tracker__active(const struct reclaim_tracker *t);
/* The summary line of the last completed cycle (no trailing newline). */
int reclaim_tracker__format(const struct reclaim_tracker *t, char *buf, size_t len);

#endif

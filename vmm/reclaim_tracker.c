// SPDX-License-Identifier: GPL-2.0
/*
 * The reclaim: summary, from the guest's progress markers and RSS samples.
 * Pure (reclaim_tracker.h has the definitions).
 */
#include "vmm/reclaim_tracker.h"

#include "base/layout.h"

#include <stdio.h>
#include <string.h>

void reclaim_tracker__init(struct reclaim_tracker *t)
{
	memset(t, 0, sizeof(*t));
}

static void note_rss(struct reclaim_tracker *t, uint64_t now_ns, uint64_t rss)
{
	if (rss < t->rss_min)
		t->rss_min = rss;
	t->returned_bytes = t->rss_at_freed > t->rss_min ? t->rss_at_freed - t->rss_min : 0;
	/* 90% of what the guest freed, in integer arithmetic: returned * 10 >= freed * 9. */
	if (!t->t_90pct_ns && t->freed_bytes && t->returned_bytes * 10 >= t->freed_bytes * 9)
		t->t_90pct_ns = now_ns > t->t_freed_ns ? now_ns - t->t_freed_ns : 1;
}

bool reclaim_tracker__marker(struct reclaim_tracker *t, unsigned int phase, uint32_t arg,
			     uint64_t now_ns, uint64_t rss_bytes)
{
	switch (phase) {
	case TESTDEV_PHASE_TOUCHED:
		/*
		 * Freeing starts right after this marker, and page reporting
		 * runs while the guest is still freeing: the baseline is here,
		 * not at FREED. The touched amount stands in for the freed one
		 * until FREED says exactly.
		 */
		t->cycle++;
		t->active = true;
		t->have_result = false;
		t->freed_bytes = (uint64_t)arg << 20;
		t->rss_at_freed = rss_bytes;
		t->rss_min = rss_bytes;
		t->t_freed_ns = now_ns;
		t->t_90pct_ns = 0;
		t->returned_bytes = 0;
		t->corrupted = 0;
		return false;
	case TESTDEV_PHASE_FREED:
		if (!t->active)
			return false;
		t->freed_bytes = (uint64_t)arg << 20;
		note_rss(t, now_ns, rss_bytes);
		return false;
	case TESTDEV_PHASE_SETTLED:
		if (t->active)
			note_rss(t, now_ns, rss_bytes);
		t->active = false;
		t->reported_bytes = (uint64_t)arg << 20;
		return false;
	case TESTDEV_PHASE_VERIFIED:
		if (!t->cycle)
			return false; /* VERIFIED without FREED: nothing to summarise */
		t->corrupted = arg;
		t->have_result = true;
		return true;
	default:
		return false;
	}
}

void reclaim_tracker__sample(struct reclaim_tracker *t, uint64_t now_ns, uint64_t rss_bytes)
{
	if (t->active)
		note_rss(t, now_ns, rss_bytes);
}

bool reclaim_tracker__active(const struct reclaim_tracker *t)
{
	return t->active;
}

int reclaim_tracker__format(const struct reclaim_tracker *t, char *buf, size_t len)
{
	unsigned long long pct = t->freed_bytes ? t->returned_bytes * 100 / t->freed_bytes : 0;
	char t90[32];

	if (t->t_90pct_ns)
		snprintf(t90, sizeof(t90), "%.2f", (double)t->t_90pct_ns / 1e9);
	else
		snprintf(t90, sizeof(t90), "never");
	return snprintf(buf, len,
			"reclaim: freed=%llu returned=%llu (%llu%%) corrupted=%llu "
			"time_to_90pct=%s",
			(unsigned long long)(t->freed_bytes >> 20),
			(unsigned long long)(t->returned_bytes >> 20), pct,
			(unsigned long long)t->corrupted, t90);
}

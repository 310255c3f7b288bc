// SPDX-License-Identifier: GPL-2.0
/* The reclaim summary the demo prints: freed, returned, percentage, time to 90%. */
#include "testlib.h"
#include "base/layout.h"
#include "vmm/reclaim_tracker.h"

#include <string.h>

#define MiB (1ULL << 20)
#define MS  1000000ULL

int main(void)
{
	struct reclaim_tracker t;
	char line[160];

	reclaim_tracker__init(&t);
	CHECK(!reclaim_tracker__marker(&t, TESTDEV_PHASE_VERIFIED, 0, 0, 0)); /* no cycle yet */
	CHECK(!reclaim_tracker__marker(&t, TESTDEV_PHASE_FREED, 100, 0, 200 * MiB)); /* no cycle */
	CHECK(!reclaim_tracker__active(&t));
	CHECK(!reclaim_tracker__marker(&t, TESTDEV_PHASE_TOUCHED, 100, 1000 * MS, 200 * MiB));
	CHECK(reclaim_tracker__active(&t));
	reclaim_tracker__sample(&t, 1100 * MS, 180 * MiB);
	CHECK_EQ(t.t_90pct_ns, 0);
	reclaim_tracker__sample(&t, 1500 * MS, 109 * MiB); /* 91 MiB back: past 90% */
	CHECK_EQ(t.t_90pct_ns, 500 * MS);
	/* FREED may come after reporting already gave memory back: the baseline stays. */
	CHECK(!reclaim_tracker__marker(&t, TESTDEV_PHASE_FREED, 100, 1550 * MS, 120 * MiB));
	CHECK(reclaim_tracker__active(&t));
	reclaim_tracker__sample(&t, 1600 * MS, 150 * MiB); /* guest reuses: min is kept */
	CHECK(!reclaim_tracker__marker(&t, TESTDEV_PHASE_SETTLED, 98, 2000 * MS, 102 * MiB));
	CHECK(!reclaim_tracker__active(&t));
	reclaim_tracker__sample(&t, 2100 * MS, 10 * MiB); /* ignored when inactive */
	CHECK(reclaim_tracker__marker(&t, TESTDEV_PHASE_VERIFIED, 0, 2500 * MS, 200 * MiB));
	reclaim_tracker__format(&t, line, sizeof(line));
	CHECK(strcmp(line, "reclaim: freed=100 returned=98 (98%) corrupted=0 "
			   "time_to_90pct=0.50") == 0);

	/* A second cycle where the host gives nothing back. */
	CHECK(!reclaim_tracker__marker(&t, TESTDEV_PHASE_TOUCHED, 64, 3000 * MS, 200 * MiB));
	CHECK(!reclaim_tracker__marker(&t, TESTDEV_PHASE_FREED, 64, 3050 * MS, 200 * MiB));
	reclaim_tracker__sample(&t, 3100 * MS, 201 * MiB);
	CHECK(!reclaim_tracker__marker(&t, TESTDEV_PHASE_SETTLED, 64, 4000 * MS, 200 * MiB));
	CHECK(reclaim_tracker__marker(&t, TESTDEV_PHASE_VERIFIED, 3, 4100 * MS, 200 * MiB));
	reclaim_tracker__format(&t, line, sizeof(line));
	CHECK(strcmp(line, "reclaim: freed=64 returned=0 (0%) corrupted=3 time_to_90pct=never") ==
	      0);
	return testlib_done("test_reclaim_tracker");
}

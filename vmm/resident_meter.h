/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Resident guest RAM, measured at a bounded cost. A measurement is a
 * mincore() walk of all guest RAM (guest_mem__resident_bytes: about 1-10 ms
 * per 4 GiB), and a guest can ask for one as often as it likes (a marker
 * write to port 0xf5, the reclaim sampler it keeps active), as can anyone
 * who reaches GET /metrics. So every reader goes through one meter:
 *  - a reader says how old a value it accepts (max_age_ns): the API accepts
 *    one sampling period, so scrapers cause at most one walk per period;
 *  - walks are rationed like log lines: RESIDENT_METER_BURST in a row, then
 *    one per gap, the gap being RESIDENT_METER_INTERVAL_NS or 20 times the
 *    last walk's duration if that is longer (walks take at most ~5% of one
 *    CPU, whatever the RAM size); a reader refused a walk gets the last
 *    value (counted: throttled);
 *  - the walk runs outside the lock: a reader arriving during a walk gets
 *    the last value rather than waiting.
 * Thread-safe: vCPU threads (markers), the device thread (the sampler) and
 * the API threads read the same meter.
 */
#ifndef MINI_VMM_RESIDENT_METER_H
#define MINI_VMM_RESIDENT_METER_H

#include "base/guest_mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define RESIDENT_METER_BURST	    8
#define RESIDENT_METER_INTERVAL_NS  50000000ULL /* one walk per 50 ms after the burst */
#define RESIDENT_METER_DUTY_DIVISOR 20		/* gap >= 20 x the last walk */

struct resident_meter_stats {
	uint64_t walks;	    /* mincore() walks of all guest RAM */
	uint64_t cached;    /* reads answered with a value young enough */
	uint64_t throttled; /* reads that wanted a walk and got the last value */
};

struct resident_meter {
	pthread_mutex_t lock;
	const struct guest_mem *mem;
	unsigned int tokens;   /* walks allowed now */
	uint64_t refill_ns;    /* when the last token was added */
	uint64_t last_walk_ns; /* duration of the last walk */
	bool walking;
	bool have_value;
	uint64_t value;	   /* bytes, from the last walk */
	uint64_t value_ns; /* when that walk started */
	struct resident_meter_stats stats;
};

void resident_meter__init(struct resident_meter *m, const struct guest_mem *mem);
void resident_meter__exit(struct resident_meter *m);
/*
 * Resident guest RAM in bytes: the last value if it is at most max_age_ns
 * old, else a fresh walk if the ration allows, else the last value anyway.
 */
uint64_t resident_meter__read(struct resident_meter *m, uint64_t max_age_ns);
void resident_meter__get_stats(struct resident_meter *m, struct resident_meter_stats *out);

#endif

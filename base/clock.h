/* SPDX-License-Identifier: GPL-2.0 */
/* The one monotonic clock every latency, timeout and RSS sample uses. */
#ifndef MINI_VMM_CLOCK_H
#define MINI_VMM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif

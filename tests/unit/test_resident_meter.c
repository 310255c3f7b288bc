// SPDX-License-Identifier: GPL-2.0
/*
 * Resident guest RAM at a bounded cost (vmm/resident_meter.c), issue 12
 * item 4: a guest writing markers in a loop, or a scraper hammering
 * GET /metrics, must not turn each request into a walk of all guest RAM.
 *  - a flood of fresh reads from two threads (as two vCPUs writing markers)
 *    walks at most BURST + elapsed / interval times, the rest get the last
 *    value (throttled);
 *  - a well-behaved guest's few markers each get an exact, fresh value;
 *  - the API's samples (vm_sample__fill with one sampling period) walk once
 *    per period however many requests come.
 */
#include "testlib.h"
#include "base/clock.h"
#include "base/guest_mem.h"
#include "vmm/resident_meter.h"
#include "vmm/vm_sample.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define MiB (1ULL << 20)

static struct resident_meter meter;
static uint64_t flood_until_ns;

static void *flood(void *arg)
{
	uint64_t *reads = arg;

	while (clock__mono_ns() < flood_until_ns) {
		resident_meter__read(&meter, 0);
		(*reads)++;
	}
	return NULL;
}

int main(void)
{
	struct guest_mem mem;
	struct resident_meter_stats st;
	uint64_t reads[2] = {0, 0}, t0, elapsed_ms, bound;
	pthread_t t[2];
	uint8_t *hva;

	CHECK_EQ(guest_mem__init(&mem, 64 * MiB, GUEST_MEM_ANON), 0);
	hva = guest_mem__translate(&mem, 0, 64 * MiB);
	CHECK(hva != NULL);
	resident_meter__init(&meter, &mem);

	/* A well-behaved guest: a handful of markers, each sees what it touched. */
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t before = resident_meter__read(&meter, 0);

		memset(hva + i * 8 * MiB, 1, 8 * MiB);
		CHECK(resident_meter__read(&meter, 0) >= before + 8 * MiB);
	}
	resident_meter__get_stats(&meter, &st);
	CHECK_EQ(st.walks, 8);
	CHECK_EQ(st.throttled, 0);

	/* A flood from two vCPUs for 300 ms. */
	usleep(RESIDENT_METER_BURST * RESIDENT_METER_INTERVAL_NS / 1000); /* the burst refills */
	resident_meter__exit(&meter);
	resident_meter__init(&meter, &mem);
	t0 = clock__mono_ns();
	flood_until_ns = t0 + 300000000ULL;
	CHECK_EQ(pthread_create(&t[0], NULL, flood, &reads[0]), 0);
	CHECK_EQ(pthread_create(&t[1], NULL, flood, &reads[1]), 0);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	elapsed_ms = (clock__mono_ns() - t0) / 1000000ULL;
	resident_meter__get_stats(&meter, &st);
	bound = RESIDENT_METER_BURST + elapsed_ms * 1000000ULL / RESIDENT_METER_INTERVAL_NS + 1;
	fprintf(stderr, "flood: %llu reads in %llu ms, %llu walks (bound %llu), %llu throttled\n",
		(unsigned long long)(reads[0] + reads[1]), (unsigned long long)elapsed_ms,
		(unsigned long long)st.walks, (unsigned long long)bound,
		(unsigned long long)st.throttled);
	CHECK(st.walks <= bound);
	CHECK(st.walks >= 1);
	CHECK(reads[0] + reads[1] > 10 * bound); /* it was a flood */
	CHECK_EQ(st.walks + st.throttled + st.cached, reads[0] + reads[1]);
	/* What the throttled got was a real reading: 32 MiB touched above. */
	CHECK(resident_meter__read(&meter, UINT64_MAX) >= 32 * MiB);

	/* Scrapers: 1000 samples within one sampling period walk once. */
	resident_meter__exit(&meter);
	resident_meter__init(&meter, &mem);
	for (unsigned int i = 0; i < 1000; i++) {
		struct vm_sample s;

		memset(&s, 0, sizeof(s));
		vm_sample__fill(&s, &meter, 10ULL * 1000000000ULL, NULL);
		CHECK(s.guest_resident_bytes >= 32 * MiB);
		CHECK_EQ(s.guest_memory_bytes, 64 * MiB);
	}
	resident_meter__get_stats(&meter, &st);
	fprintf(stderr, "scrapes: 1000 samples, %llu walk(s), %llu cached\n",
		(unsigned long long)st.walks, (unsigned long long)st.cached);
	CHECK_EQ(st.walks, 1);
	CHECK_EQ(st.cached, 999);

	resident_meter__exit(&meter);
	guest_mem__exit(&mem);
	return testlib_done("test_resident_meter");
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The one table of the guest's statistics tags (devices/balloon_stats.c):
 * every tag the balloon keeps has an entry under its own number, with the
 * names the API and /metrics use, and no two tags share a name (a
 * duplicate would silently merge two statistics in GET
 * /balloon/statistics or make the Prometheus exposition invalid).
 */
#include "testlib.h"

#include "devices/balloon_stats.h"

#include <string.h>

static bool named(const char *s)
{
	return s && s[0];
}

/* Prometheus metric names: [a-z0-9_], and ours carry their unit or _total. */
static bool metric_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return false;
	return (n > 6 && strcmp(s + n - 6, "_bytes") == 0) ||
	       (n > 6 && strcmp(s + n - 6, "_total") == 0);
}

static void test_every_tag(void)
{
	for (unsigned int tag = 0; tag < BALLOON_STATS_TAGS; tag++) {
		const struct balloon_stat_info *s = balloon_stat__info(tag);

		CHECK(s != NULL);
		CHECK_EQ(s->tag, tag);
		CHECK(named(s->api_name) && named(s->metric) && named(s->help));
		CHECK(strcmp(balloon_stat__name(tag), s->api_name) == 0);
		CHECK(metric_name_ok(s->metric));
		/* A counter says so in its name; a gauge does not. */
		CHECK_EQ(s->cumulative, strstr(s->metric, "_total") != NULL);
	}
	CHECK(balloon_stat__info(BALLOON_STATS_TAGS) == NULL);
	CHECK(balloon_stat__info(~0u) == NULL);
	CHECK(balloon_stat__name(BALLOON_STATS_TAGS) == NULL);
}

static void test_unique_names(void)
{
	for (unsigned int a = 0; a < BALLOON_STATS_TAGS; a++) {
		for (unsigned int b = a + 1; b < BALLOON_STATS_TAGS; b++) {
			const struct balloon_stat_info *x = balloon_stat__info(a);
			const struct balloon_stat_info *y = balloon_stat__info(b);

			CHECK(strcmp(x->api_name, y->api_name) != 0);
			CHECK(strcmp(x->metric, y->metric) != 0);
		}
	}
}

/* The names Firecracker's API uses and the ones our dashboards read, spot-checked. */
static void test_known_names(void)
{
	CHECK(strcmp(balloon_stat__name(VIRTIO_BALLOON_S_MEMFREE), "free_memory") == 0);
	CHECK(strcmp(balloon_stat__name(VIRTIO_BALLOON_S_OOM_KILL), "oom_kill") == 0);
	CHECK(strcmp(balloon_stat__info(VIRTIO_BALLOON_S_OOM_KILL)->metric, "oom_kills_total") ==
	      0);
	CHECK(strcmp(balloon_stat__info(VIRTIO_BALLOON_S_AVAIL)->metric,
		     "available_memory_bytes") == 0);
	CHECK_EQ(VIRTIO_BALLOON_S_DIRECT_RECLAIM, BALLOON_STATS_TAGS - 1);
}

int main(void)
{
	test_every_tag();
	test_unique_names();
	test_known_names();
	return testlib_done("test_balloon_stats");
}

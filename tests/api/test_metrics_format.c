// SPDX-License-Identifier: GPL-2.0
/*
 * The pure parts of the API: Prometheus exposition of a sample (names,
 * units, cumulative histogram buckets, only what the guest sent), the
 * --metrics-log line, and the parsers config.c can use for its flags.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include "control/api.h"
#include "control/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

static char *format(const struct vm_sample *s, void (*fn)(const struct vm_sample *, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f);
	fn(s, f);
	CHECK(fclose(f) == 0);
	return buf;
}

#ifdef __clang__
#define BUILD_COMPILER_FOR_TEST __VERSION__
#else
#define BUILD_COMPILER_FOR_TEST "gcc " __VERSION__
#endif

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void fill(struct vm_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->monotonic_ns = 10000000000ULL;
	s->wall_ns = 1700000000123456789ULL;
	s->uptime_ns = 12345678901ULL;
	s->state = VM_RUN_STATE_RUNNING;
	s->vcpus = 2;
	s->guest_memory_bytes = 512ULL << 20;
	s->guest_resident_bytes = 200ULL << 20;
	strcpy(s->memory_backend, "memfd");
	s->vm_id = "vm-1";
	s->vmm_version = "1.2.3";
	s->has_balloon = true;
	s->balloon.target_bytes = 64ULL << 20;
	s->balloon.actual_bytes = 32ULL << 20;
	s->balloon.stats_interval_s = 5;
	s->balloon.reporting = true;
	strcpy(s->balloon.discard_method, "punch-hole");
	strcpy(s->balloon.discard_engine, "io_uring");
	s->balloon.discard_granule_bytes = 4096;
	s->balloon.stats.reports = 7;
	s->balloon.stats.bytes_reported = 28ULL << 20;
	s->balloon.stats.rejected[BALLOON_REJ_UNALIGNED] = 3;
	s->balloon.stats.inflate_pages = 3;
	s->balloon.stats.guest.valid = 1u << 4 | 1u << 12 | 1u << 13; /* free, both scans */
	s->balloon.stats.guest.val[12] = 5;
	s->balloon.stats.guest.val[13] = UINT64_MAX / 1000;
	s->balloon.stats.guest.val[4] = 300ULL << 20;
	s->balloon.stats.guest.val[5] = 999; /* not valid: must not appear */
	s->balloon.stats.guest.updates = 4;
	s->balloon.stats.guest.last_update_ns = 8000000000ULL;
	s->balloon.discard.bytes_discarded = 27ULL << 20;
	s->balloon.discard.report_latency.buckets[0] = 1;  /* <= 1 us */
	s->balloon.discard.report_latency.buckets[3] = 2;  /* <= 8 us */
	s->balloon.discard.report_latency.buckets[25] = 1; /* +Inf */
	s->balloon.discard.report_latency.count = 4;
	s->balloon.discard.report_latency.sum_ns = 1500000000ULL;
}

static void test_exposition(void)
{
	struct vm_sample s;
	char *text, *line, *save = NULL;
	char last_family[128] = "";

	fill(&s);
	text = format(&s, metrics__format);
	CHECK(has_line(text, "mini_vmm_guest_memory_bytes{vm_id=\"vm-1\"} 536870912"));
	CHECK(has_line(text, "mini_vmm_guest_memory_resident_bytes{vm_id=\"vm-1\"} 209715200"));
	CHECK(has_line(text, "mini_vmm_vm_state{vm_id=\"vm-1\",state=\"Running\"} 1"));
	CHECK(has_line(text, "mini_vmm_vm_state{vm_id=\"vm-1\",state=\"Stopping\"} 0"));
	CHECK(has_line(text, "mini_vmm_vm_uptime_seconds{vm_id=\"vm-1\"} 12.345678901"));
	CHECK(has_line(text, "mini_vmm_balloon_target_bytes{vm_id=\"vm-1\"} 67108864"));
	CHECK(has_line(text, "mini_vmm_balloon_actual_bytes{vm_id=\"vm-1\"} 33554432"));
	CHECK(has_line(text, "mini_vmm_balloon_reports_total{vm_id=\"vm-1\"} 7"));
	CHECK(has_line(text, "mini_vmm_balloon_reported_bytes_total{vm_id=\"vm-1\"} 29360128"));
	CHECK(has_line(
		text,
		"mini_vmm_balloon_rejected_chains_total{vm_id=\"vm-1\",reason=\"unaligned\"} 3"));
	CHECK(has_line(text, "mini_vmm_discard_discarded_bytes_total{vm_id=\"vm-1\"} 28311552"));
	CHECK(has_line(text, "mini_vmm_discard_method_info{vm_id=\"vm-1\",method=\"punch-hole\","
			     "engine=\"io_uring\","
			     "backend=\"memfd\"} 1"));
	CHECK(has_line(text, "mini_vmm_guest_free_memory_bytes{vm_id=\"vm-1\"} 314572800"));
	CHECK(!strstr(text, "mini_vmm_guest_total_memory_bytes"));
	CHECK(has_line(text, "mini_vmm_guest_stats_age_seconds{vm_id=\"vm-1\"} 2.000000000"));
	/* Cumulative buckets in seconds; +Inf and _count are the total. */
	CHECK(has_line(text, "mini_vmm_discard_report_latency_seconds_bucket{vm_id=\"vm-1\",le=\"0."
			     "000001\"} 1"));
	CHECK(has_line(text, "mini_vmm_discard_report_latency_seconds_bucket{vm_id=\"vm-1\",le=\"0."
			     "000004\"} 1"));
	CHECK(has_line(text, "mini_vmm_discard_report_latency_seconds_bucket{vm_id=\"vm-1\",le=\"0."
			     "000008\"} 3"));
	CHECK(has_line(text, "mini_vmm_discard_report_latency_seconds_bucket{vm_id=\"vm-1\",le=\"1."
			     "048576\"} 3"));
	CHECK(has_line(text, "mini_vmm_discard_report_latency_seconds_bucket{vm_id=\"vm-1\",le="
			     "\"16.777216\"} 3"));
	CHECK(has_line(
		text,
		"mini_vmm_discard_report_latency_seconds_bucket{vm_id=\"vm-1\",le=\"+Inf\"} 4"));
	CHECK(has_line(text,
		       "mini_vmm_discard_report_latency_seconds_sum{vm_id=\"vm-1\"} 1.500000000"));
	CHECK(has_line(text, "mini_vmm_discard_report_latency_seconds_count{vm_id=\"vm-1\"} 4"));
	CHECK(has_line(text, "# TYPE mini_vmm_discard_report_latency_seconds histogram"));
	CHECK(has_line(text, "mini_vmm_build_info{vm_id=\"vm-1\",version=\"1.2.3\",compiler="
			     "\"" BUILD_COMPILER_FOR_TEST "\"} 1"));
	/* Pages are exposed as bytes: 3 inflated pages, 5 guest kswapd-scanned pages. */
	CHECK(has_line(text, "mini_vmm_balloon_inflated_bytes_total{vm_id=\"vm-1\"} 12288"));
	CHECK(has_line(text, "mini_vmm_guest_async_scanned_bytes_total{vm_id=\"vm-1\"} 20480"));
	CHECK(has_line(text, "mini_vmm_guest_direct_scanned_bytes_total{vm_id=\"vm-1\"} "
			     "18446744073709551615")); /* a hostile count saturates */

	/* Every sample is prefixed and follows its family's HELP and TYPE; counters end _total. */
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], type[32];

		if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
			CHECK(strncmp(name, "mini_vmm_", 9) == 0);
			if (strcmp(type, "counter") == 0)
				CHECK(strlen(name) > 6 &&
				      !strcmp(name + strlen(name) - 6, "_total"));
			else
				CHECK(!strstr(name, "_total"));
			snprintf(last_family, sizeof(last_family), "%s", name);
			continue;
		}
		if (line[0] == '#')
			continue;
		CHECK(strncmp(line, last_family, strlen(last_family)) == 0);
		/* Memory in bytes, never pages (pfns are counts of refused entries, not memory). */
		CHECK(!memmem(line, strcspn(line, "{ "), "pages", 5));
		/* The VM's identity is the first label of every sample. */
		CHECK(strstr(line, "{vm_id=\"vm-1\"") == strchr(line, '{') && strchr(line, '{'));
	}
	free(text);

	/* Statistics that came in while the sample was taken are 0 s old, not left out. */
	fill(&s);
	s.balloon.stats.guest.last_update_ns = s.monotonic_ns + 5;
	text = format(&s, metrics__format);
	CHECK(has_line(text, "mini_vmm_guest_stats_age_seconds{vm_id=\"vm-1\"} 0.000000000"));
	free(text);

	/* No id (a caller that sets none): no label at all, still valid lines. */
	fill(&s);
	s.vm_id = NULL;
	text = format(&s, metrics__format);
	CHECK(has_line(text, "mini_vmm_guest_memory_bytes 536870912"));
	CHECK(has_line(text, "mini_vmm_vm_state{state=\"Running\"} 1"));
	CHECK(!strstr(text, "vm_id"));
	free(text);

	/* No balloon: VM gauges only. */
	s.has_balloon = false;
	text = format(&s, metrics__format);
	CHECK(has_line(text, "mini_vmm_balloon_device_present 0"));
	CHECK(!strstr(text, "mini_vmm_balloon_target_bytes"));
	CHECK(!strstr(text, "mini_vmm_discard_"));
	free(text);
}

/* Every scalar counter of the two stats structs is in its table, once (a new one must be added). */
static void test_counter_tables(void)
{
	size_t balloon_scalars = (offsetof(struct balloon_stats, guest) -
				  sizeof(((struct balloon_stats *)0)->rejected)) /
				 sizeof(uint64_t);
	size_t discard_scalars = offsetof(struct discard_stats, report_latency) / sizeof(uint64_t);
	const struct {
		const struct metrics_counter *t;
		unsigned int n;
		size_t scalars;
	} tables[] = {
		{metrics__balloon_counters, metrics__nr_balloon_counters, balloon_scalars},
		{metrics__discard_counters, metrics__nr_discard_counters, discard_scalars},
	};
	struct discard_stats d = {0};

	for (unsigned int k = 0; k < 2; k++) {
		CHECK_EQ(tables[k].n, tables[k].scalars);
		for (unsigned int i = 0; i < tables[k].n; i++)
			for (unsigned int j = 0; j < i; j++) {
				CHECK(tables[k].t[i].offset != tables[k].t[j].offset);
				CHECK(strcmp(tables[k].t[i].metric, tables[k].t[j].metric) != 0);
			}
	}
	d.bytes_discarded = 77;
	for (unsigned int i = 0; i < metrics__nr_discard_counters; i++)
		if (!strcmp(metrics__discard_counters[i].key, "bytes_discarded"))
			CHECK_EQ(metrics_counter__get(&metrics__discard_counters[i], &d), 77);
}

static void test_log_line(void)
{
	struct vm_sample s;
	char *text;

	fill(&s);
	text = format(&s, metrics__format_log_line);
	CHECK(strncmp(text, "{\"t_s\":12.345,\"time\":1700000000.123,", 36) == 0);
	CHECK(strchr(text, '\n') == text + strlen(text) - 1); /* one line */
	CHECK(strstr(text, "\"guest_resident_bytes\":209715200"));
	CHECK(strstr(text, "\"balloon_target_bytes\":67108864"));
	CHECK(strstr(text, "\"guest_free_memory_bytes\":314572800"));
	CHECK(strstr(text, "\"guest_available_memory_bytes\":null"));
	CHECK(strstr(text, "\"bytes_discarded\":28311552"));
	CHECK(strstr(text, ",\"vm_id\":\"vm-1\","));
	CHECK(strstr(text, "\"inflated_bytes\":12288"));
	CHECK(strstr(text, "\"guest_stats_updates\":4,\"guest_stats_age_s\":2.000,"));
	CHECK(strstr(text,
		     "\"report_latency\":{\"count\":4,\"sum_s\":1.500,\"buckets\":[1,0,0,2,"));
	free(text);
	s.has_balloon = false;
	text = format(&s, metrics__format_log_line);
	CHECK(strstr(text, "\"balloon\":false}\n"));
	free(text);
}

static void test_label_escape(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	metrics__write_label_value(f, "a\"b\\c\nd");
	fclose(f);
	CHECK(strcmp(buf, "a\\\"b\\\\c\\nd") == 0);
	free(buf);
}

static void test_parse_interval(void)
{
	uint32_t ms = 0;

	CHECK(metrics__parse_interval("500ms", &ms) == 0 && ms == 500);
	CHECK(metrics__parse_interval("2s", &ms) == 0 && ms == 2000);
	CHECK(metrics__parse_interval("2", &ms) == 0 && ms == 2000);
	CHECK(metrics__parse_interval("3600s", &ms) == 0 && ms == 3600000);
	CHECK_EQ(metrics__parse_interval("99ms", &ms), -EINVAL);
	CHECK_EQ(metrics__parse_interval("3601", &ms), -EINVAL);
	CHECK_EQ(metrics__parse_interval("1h", &ms), -EINVAL);
	CHECK_EQ(metrics__parse_interval("", &ms), -EINVAL);
	CHECK_EQ(metrics__parse_interval("-1", &ms), -EINVAL);
	CHECK_EQ(metrics__parse_interval("99999999999999999999999", &ms), -EINVAL);
}

/* /proc/self/stat and /proc/self/limits as Linux writes them (proc(5)). */
static void test_process_parsers(void)
{
	/* A comm with a space and a ')': fields count from the last ')'. */
	static const char stat[] =
		"4242 (mini vmm) x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 75 0 0 20 0 9 0 "
		"123456 2147483648 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 "
		"0\n";
	static const char limits[] =
		"Limit                     Soft Limit           Hard Limit           Units     \n"
		"Max cpu time              unlimited            unlimited            seconds   \n"
		"Max open files            1024                 524288               files     \n";
	struct process_stat st;
	uint64_t v;

	CHECK_EQ(metrics_process__parse_stat(stat, &st), 0);
	CHECK_EQ(st.utime_ticks, 250);
	CHECK_EQ(st.stime_ticks, 75);
	CHECK_EQ(st.start_ticks, 123456);
	CHECK_EQ(st.vsize_bytes, 2147483648ULL);
	CHECK_EQ(st.rss_pages, 5000);
	CHECK_EQ(metrics_process__parse_stat("4242 (x) S 1 2", &st), -EINVAL); /* cut short */
	CHECK_EQ(metrics_process__parse_stat("no parenthesis", &st), -EINVAL);
	CHECK_EQ(metrics_process__parse_max_fds(limits, &v), 0);
	CHECK_EQ(v, 1024);
	CHECK_EQ(metrics_process__parse_max_fds("Limit\nMax open files  unlimited  x\n", &v), 0);
	CHECK_EQ(v, UINT64_MAX);
	CHECK_EQ(metrics_process__parse_max_fds("Limit\nMax processes 10\n", &v), -EINVAL);
}

static void test_parse_listen(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	CHECK(api__parse_listen("127.0.0.1:9100", &ss, &len) == 0);
	CHECK(ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in));
	CHECK_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9100);
	CHECK_EQ(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0x7f000001);
	CHECK(api__parse_listen("[::1]:0", &ss, &len) == 0);
	CHECK(ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6));
	CHECK_EQ(api__parse_listen("localhost:80", &ss, &len), -EINVAL);
	CHECK_EQ(api__parse_listen("127.0.0.1", &ss, &len), -EINVAL);
	CHECK_EQ(api__parse_listen("127.0.0.1:65536", &ss, &len), -EINVAL);
	CHECK_EQ(api__parse_listen("127.0.0.1:", &ss, &len), -EINVAL);
	CHECK_EQ(api__parse_listen("127.0.0.1:80x", &ss, &len), -EINVAL);
	CHECK_EQ(api__parse_listen(":80", &ss, &len), -EINVAL);
	CHECK_EQ(api__parse_listen("[::1]80", &ss, &len), -EINVAL);
	CHECK_EQ(api__parse_listen("::1:80", &ss, &len), -EINVAL);
}

int main(void)
{
	test_exposition();
	test_counter_tables();
	test_log_line();
	test_label_escape();
	test_parse_interval();
	test_parse_listen();
	test_process_parsers();
	CHECK(strcmp(vm_run_state__name(VM_RUN_STATE_STOPPING), "Stopping") == 0);
	CHECK(strcmp(vm_run_state__name((enum vm_run_state)42), "Unknown") == 0);
	return testlib_done("test_metrics_format");
}

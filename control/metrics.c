// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus text exposition, a pure function of a struct vm_sample,
 * and the counter tables GET /balloon/reporting shares with it (the
 * timeline is metrics_log.c). Naming follows the Prometheus
 * conventions (https://prometheus.io/docs/practices/naming/): a mini_vmm_
 * prefix, base units in the name (_bytes, _seconds), _total on counters.
 * Every counter here is cumulative since the VM started: a scrape never
 * resets anything. `promtool check metrics` runs on this output in
 * tests/api.
 */
#include "control/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S  ((uint64_t)1000000000)
#define NS_PER_MS ((uint64_t)1000000)
#define US_PER_S  ((uint64_t)1000000)

/* mini_vmm_build_info's compiler label: clang's __VERSION__ names itself, gcc's is a number. */
#ifdef __clang__
#define BUILD_COMPILER __VERSION__
#else
#define BUILD_COMPILER "gcc " __VERSION__
#endif

static const char *const run_state_names[VM_RUN_STATE__COUNT] = {
	[VM_RUN_STATE_STARTING] = "Starting", [VM_RUN_STATE_RUNNING] = "Running",
	[VM_RUN_STATE_STOPPING] = "Stopping", [VM_RUN_STATE_NOT_STARTED] = "Not started",
	[VM_RUN_STATE_PAUSED] = "Paused",
};

const char *vm_run_state__name(enum vm_run_state s)
{
	if ((unsigned int)s >= VM_RUN_STATE__COUNT)
		return "Unknown";
	return run_state_names[s];
}

bool metrics__guest_stat(const struct vm_sample *s, unsigned int tag, uint64_t *out)
{
	const struct balloon_guest_stats *g = &s->balloon.stats.guest;

	if (!s->has_balloon || tag >= BALLOON_STATS_TAGS || !(g->valid & (1u << tag)))
		return false;
	*out = g->val[tag];
	return true;
}

uint64_t metrics__guest_stats_age_ns(const struct vm_sample *s)
{
	const struct balloon_guest_stats *g = &s->balloon.stats.guest;

	/* A buffer that came in while the sample was taken is 0 s old, never negative. */
	return s->monotonic_ns > g->last_update_ns ? s->monotonic_ns - g->last_update_ns : 0;
}

void metrics__write_label_value(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		if (*v == '\n') {
			fputs("\\n", out);
			continue;
		}
		fputc(*v, out);
	}
}

/* ---- writing the exposition (metrics.h: struct metrics_out) ---- */

void metrics_out__family(struct metrics_out *o, const char *name, const char *type,
			 const char *help)
{
	fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_out__label(struct metrics_out *o, const char *key, const char *value)
{
	fprintf(o->f, "%s%s=\"", o->labels++ ? "," : "{", key);
	metrics__write_label_value(o->f, value);
	fputc('"', o->f);
}

void metrics_out__begin(struct metrics_out *o, const char *name)
{
	fputs(name, o->f);
	o->labels = 0;
	if (o->vm_id)
		metrics_out__label(o, "vm_id", o->vm_id);
}

static void end_labels(struct metrics_out *o)
{
	fputs(o->labels ? "} " : " ", o->f);
	o->labels = 0;
}

void metrics_out__end_u64(struct metrics_out *o, uint64_t v)
{
	end_labels(o);
	fprintf(o->f, "%" PRIu64 "\n", v);
}

void metrics_out__end_seconds(struct metrics_out *o, uint64_t ns)
{
	end_labels(o);
	fprintf(o->f, "%" PRIu64 ".%09" PRIu64 "\n", ns / NS_PER_S, ns % NS_PER_S);
}

/* The mini_vmm_ families of this file. */
static void family(struct metrics_out *o, const char *name, const char *type, const char *help)
{
	char full[96];

	snprintf(full, sizeof(full), "mini_vmm_%s", name);
	metrics_out__family(o, full, type, help);
}

static void begin(struct metrics_out *o, const char *name)
{
	char full[96];

	snprintf(full, sizeof(full), "mini_vmm_%s", name);
	metrics_out__begin(o, full);
}

static void sample_u64(struct metrics_out *o, const char *name, uint64_t v)
{
	begin(o, name);
	metrics_out__end_u64(o, v);
}

static void sample_seconds(struct metrics_out *o, const char *name, uint64_t ns)
{
	begin(o, name);
	metrics_out__end_seconds(o, ns);
}

static void metric_u64(struct metrics_out *o, const char *name, const char *type, const char *help,
		       uint64_t v)
{
	family(o, name, type, help);
	sample_u64(o, name, v);
}

/* One sample of the family mini_vmm_<name>, with one more label. */
static void labelled_u64(struct metrics_out *o, const char *name, const char *label,
			 const char *value, uint64_t v)
{
	begin(o, name);
	metrics_out__label(o, label, value);
	metrics_out__end_u64(o, v);
}

/* A bucket bound in seconds, exactly: 2^i microseconds has at most 6 decimals. */
static void format_le(char *buf, size_t len, uint64_t le_us)
{
	char frac[8];
	int n;

	if (le_us == UINT64_MAX) {
		snprintf(buf, len, "+Inf");
		return;
	}
	snprintf(frac, sizeof(frac), "%06" PRIu64, le_us % US_PER_S);
	for (n = 6; n > 1 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(buf, len, "%" PRIu64 ".%s", le_us / US_PER_S, frac);
}

/*
 * The discard queue keeps per-bucket counts over log2 microsecond bounds;
 * Prometheus buckets are cumulative ("<= le"). The +Inf bucket and _count
 * are the total of all buckets, so the family is always self-consistent.
 */
void metrics_out__histogram(struct metrics_out *o, const char *name, const char *label,
			    const char *value, const struct discard_histogram *h)
{
	char line[112], le[32];
	uint64_t cum = 0;

	snprintf(line, sizeof(line), "mini_vmm_%s_bucket", name);
	for (unsigned int i = 0; i < DISCARD_HIST_BUCKETS; i++) {
		cum += h->buckets[i];
		metrics_out__begin(o, line);
		if (label)
			metrics_out__label(o, label, value);
		format_le(le, sizeof(le), discard_histogram__bucket_le_us(i));
		metrics_out__label(o, "le", le);
		metrics_out__end_u64(o, cum);
	}
	snprintf(line, sizeof(line), "mini_vmm_%s_sum", name);
	metrics_out__begin(o, line);
	if (label)
		metrics_out__label(o, label, value);
	metrics_out__end_seconds(o, h->sum_ns);
	snprintf(line, sizeof(line), "mini_vmm_%s_count", name);
	metrics_out__begin(o, line);
	if (label)
		metrics_out__label(o, label, value);
	metrics_out__end_u64(o, cum);
}

static void histogram(struct metrics_out *o, const char *name, const char *help,
		      const struct discard_histogram *h)
{
	family(o, name, "histogram", help);
	metrics_out__histogram(o, name, NULL, NULL, h);
}

/* ---- the exposition ---- */

static void format_vm(const struct vm_sample *s, struct metrics_out *out)
{
	family(out, "vm_state", "gauge", "1 for the VM's current state, 0 for the others.");
	for (unsigned int i = 0; i < VM_RUN_STATE__COUNT; i++)
		labelled_u64(out, "vm_state", "state", run_state_names[i], s->state == i);
	family(out, "vm_uptime_seconds", "gauge", "Seconds since the VM was set up.");
	sample_seconds(out, "vm_uptime_seconds", s->uptime_ns);
	metric_u64(out, "vm_vcpus", "gauge", "vCPUs of the guest.", s->vcpus);
	metric_u64(out, "guest_memory_bytes", "gauge", "Guest RAM size.", s->guest_memory_bytes);
	metric_u64(out, "guest_memory_resident_bytes", "gauge",
		   "Host memory resident for guest RAM (host RSS of guest RAM, by mincore).",
		   s->guest_resident_bytes);
	family(out, "guest_memory_backend_info", "gauge", "How guest RAM is backed on the host.");
	labelled_u64(out, "guest_memory_backend_info", "backend", s->memory_backend, 1);
	family(out, "event_loop_max_callback_seconds", "gauge",
	       "Longest single callback of the device event loop: its worst block.");
	sample_seconds(out, "event_loop_max_callback_seconds", s->event_loop_max_callback_ns);
}

static void format_guest_stats(const struct vm_sample *s, struct metrics_out *out)
{
	const struct balloon_guest_stats *g = &s->balloon.stats.guest;
	char name[64];
	uint64_t v;

	/* The names, help and kind of each tag: devices/balloon_stats.c. */
	for (unsigned int tag = 0; tag < BALLOON_STATS_TAGS; tag++) {
		const struct balloon_stat_info *m = balloon_stat__info(tag);

		if (!m || !metrics__guest_stat(s, tag, &v))
			continue;
		snprintf(name, sizeof(name), "guest_%s", m->metric);
		/* The guest's number: a count past 2^52 pages saturates, never wraps. */
		if (m->pages)
			v = v > UINT64_MAX / 4096 ? UINT64_MAX : v * 4096;
		metric_u64(out, name, m->cumulative ? "counter" : "gauge", m->help, v);
	}
	metric_u64(out, "guest_stats_updates_total", "counter",
		   "Statistics buffers the guest has sent.", g->updates);
	if (g->updates) {
		family(out, "guest_stats_age_seconds", "gauge",
		       "Seconds since the guest last sent its statistics.");
		sample_seconds(out, "guest_stats_age_seconds", metrics__guest_stats_age_ns(s));
	}
}

/*
 * The balloon's and the discard queue's counters, one table each: the
 * exposition (here) and GET /balloon/reporting (api.c) both walk them, so
 * the two views always carry the same numbers. JSON keys are the field names.
 */
#define COUNTER(st, field, metric, help)                                                           \
	{                                                                                          \
#field, metric, "counter", help, offsetof(struct st, field), 1                     \
	}
#define GAUGE(st, field, metric, help)                                                             \
	{                                                                                          \
#field, metric, "gauge", help, offsetof(struct st, field), 1                       \
	}
/* A count of 4 KiB pages, exposed in bytes (the JSON key keeps the field's pages). */
#define PAGES_AS_BYTES(st, field, metric, help)                                                    \
	{                                                                                          \
#field, metric, "counter", help, offsetof(struct st, field), 4096                  \
	}

const struct metrics_counter metrics__balloon_counters[] = {
	COUNTER(balloon_stats, reports, "balloon_reports_total",
		"Free page reports (chains) sent to the discard queue."),
	COUNTER(balloon_stats, report_buffers, "balloon_report_buffers_total",
		"Buffers (ranges) in free page reports."),
	COUNTER(balloon_stats, bytes_reported, "balloon_reported_bytes_total",
		"Bytes the guest reported as free."),
	COUNTER(balloon_stats, reports_done, "balloon_reports_done_total",
		"Free page reports acknowledged after all their discards completed."),
	COUNTER(balloon_stats, poison_skipped, "balloon_poison_skipped_reports_total",
		"Reports acknowledged without discard because poison_val is not 0."),
	COUNTER(balloon_stats, bytes_poison_skipped, "balloon_poison_skipped_bytes_total",
		"Bytes in reports acknowledged without discard because of page poison."),
	COUNTER(balloon_stats, inflate_chains, "balloon_inflate_chains_total",
		"Inflate chains processed."),
	PAGES_AS_BYTES(balloon_stats, inflate_pages, "balloon_inflated_bytes_total",
		       "Bytes inflated (and discarded): 4 KiB pages times 4096."),
	COUNTER(balloon_stats, inflate_invalid_pfns, "balloon_inflate_invalid_pfns_total",
		"Inflate PFNs outside guest RAM, skipped."),
	COUNTER(balloon_stats, inflate_duplicate_pfns, "balloon_inflate_duplicate_pfns_total",
		"Inflate PFNs repeated within a chain, discarded once."),
	COUNTER(balloon_stats, deflate_chains, "balloon_deflate_chains_total",
		"Deflate chains processed."),
	PAGES_AS_BYTES(balloon_stats, deflate_pages, "balloon_deflated_bytes_total",
		       "Bytes deflated: 4 KiB pages times 4096."),
	PAGES_AS_BYTES(balloon_stats, deflate_unrequested_pages,
		       "balloon_deflate_unrequested_bytes_total",
		       "Bytes deflated while actual <= num_pages (guest OOM)."),
	COUNTER(balloon_stats, stats_buffers, "balloon_stats_buffers_total",
		"Guest statistics buffers parsed."),
	COUNTER(balloon_stats, stats_unknown_tags, "balloon_stats_unknown_tags_total",
		"Guest statistics entries with an unknown tag."),
	COUNTER(balloon_stats, stats_extra_buffers, "balloon_stats_extra_buffers_total",
		"Second statistics buffers while one was held."),
	COUNTER(balloon_stats, config_ro_writes, "balloon_config_ro_writes_total",
		"Guest writes to read-only config space fields (ignored)."),
	COUNTER(balloon_stats, target_changes, "balloon_target_changes_total",
		"Times the host changed the balloon target."),
	COUNTER(balloon_stats, broken_rings, "balloon_broken_rings_total",
		"Rings found broken (device set DEVICE_NEEDS_RESET)."),
	COUNTER(balloon_stats, completions_after_reset, "balloon_completions_after_reset_total",
		"Discards that finished during a device reset (not pushed)."),
	COUNTER(balloon_stats, ring_overlaps, "balloon_ring_overlaps_total",
		"Reports and inflates naming pages of the queues' own rings (kept)."),
	COUNTER(balloon_stats, bytes_ring_kept, "balloon_ring_kept_bytes_total",
		"Bytes holding the queues' rings kept resident, not discarded."),
	COUNTER(balloon_stats, chains_waited, "balloon_chains_waited_total",
		"Chains held until the discard queue was back under its limits."),
	COUNTER(balloon_stats, notify_yields, "balloon_notify_yields_total",
		"Queue notifications that stopped at their work budget and re-armed."),
	COUNTER(balloon_stats, hint_runs, "balloon_hint_runs_total",
		"Free page hinting runs started by the host."),
	COUNTER(balloon_stats, hint_cmds, "balloon_hint_commands_total",
		"Free page hinting command ids received from the driver."),
	COUNTER(balloon_stats, hint_chains, "balloon_hint_chains_total",
		"Free page hint chains sent to the discard queue."),
	COUNTER(balloon_stats, hint_buffers, "balloon_hint_buffers_total",
		"Buffers (ranges) in free page hint chains."),
	COUNTER(balloon_stats, bytes_hinted, "balloon_hinted_bytes_total",
		"Bytes the guest hinted as free in the current run."),
	COUNTER(balloon_stats, hints_done, "balloon_hints_done_total",
		"Hint chains acknowledged after all their discards completed."),
	COUNTER(balloon_stats, bytes_hint_discarded, "balloon_hint_discarded_bytes_total",
		"Hinted bytes whose discards completed."),
	COUNTER(balloon_stats, hints_ignored, "balloon_hints_ignored_total",
		"Hint chains outside the current run: acknowledged, not discarded."),
	COUNTER(balloon_stats, bytes_hints_ignored, "balloon_hints_ignored_bytes_total",
		"Bytes in hint chains outside the current run."),
	COUNTER(balloon_stats, hint_done_deferred, "balloon_hint_done_deferred_total",
		"Times DONE waited for hint discards still in flight."),
	COUNTER(balloon_stats, hint_kicks_direct, "balloon_hint_kicks_direct_total",
		"Free page hint kicks served on the kicking vCPU thread, hints discarded first."),
};
const unsigned int metrics__nr_balloon_counters =
	sizeof(metrics__balloon_counters) / sizeof(metrics__balloon_counters[0]);

const struct metrics_counter metrics__discard_counters[] = {
	COUNTER(discard_stats, reports, "discard_reports_total",
		"Reports accepted by the discard queue."),
	COUNTER(discard_stats, reports_rejected, "discard_reports_rejected_total",
		"Reports the discard queue refused (an invalid range)."),
	COUNTER(discard_stats, reports_completed, "discard_reports_completed_total",
		"Reports whose discards all completed."),
	GAUGE(discard_stats, reports_in_flight, "discard_reports_in_flight",
	      "Reports submitted, not yet done."),
	COUNTER(discard_stats, ranges, "discard_ranges_total",
		"Ranges in accepted reports, before coalescing."),
	COUNTER(discard_stats, ops, "discard_ops_total", "Discard operations issued."),
	GAUGE(discard_stats, ops_in_flight, "discard_ops_in_flight",
	      "Operations on the ring or waiting for a slot."),
	COUNTER(discard_stats, reports_over_limit, "discard_reports_over_limit_total",
		"Reports refused for now: the queue was at its limits."),
	GAUGE(discard_stats, bytes_in_flight, "discard_bytes_in_flight",
	      "Guest bytes in reports not yet done."),
	GAUGE(discard_stats, mem_in_flight, "discard_host_memory_in_flight_bytes",
	      "Host heap bytes held for reports not yet done."),
	COUNTER(discard_stats, bytes_requested, "discard_requested_bytes_total",
		"Bytes asked to be discarded (accepted ranges)."),
	COUNTER(discard_stats, bytes_discarded, "discard_discarded_bytes_total",
		"Bytes really given back to the host."),
	COUNTER(discard_stats, bytes_skipped, "discard_skipped_bytes_total",
		"Bytes left in place: partial huge pages (hugetlbfs)."),
	COUNTER(discard_stats, invalid_ranges, "discard_invalid_ranges_total",
		"Ranges refused: outside RAM, unaligned, empty or overflowing."),
	COUNTER(discard_stats, op_errors, "discard_op_errors_total",
		"Ring operations that failed."),
	COUNTER(discard_stats, sync_retries, "discard_sync_retries_total",
		"Failed operations retried synchronously."),
	COUNTER(discard_stats, acked_without_discard, "discard_acked_without_discard_ops_total",
		"Operations acknowledged without discard (the retry failed too)."),
	COUNTER(discard_stats, bytes_acked_without_discard,
		"discard_acked_without_discard_bytes_total",
		"Bytes acknowledged without discard (the retry failed too)."),
	COUNTER(discard_stats, ineffective_ops, "discard_ineffective_ops_total",
		"Operations that succeeded but left their range resident (mincore)."),
	COUNTER(discard_stats, bytes_not_freed, "discard_not_freed_bytes_total",
		"Bytes of those operations: not counted as discarded."),
	COUNTER(discard_stats, sq_full_deferrals, "discard_sq_full_deferrals_total",
		"Operations that waited for a free io_uring slot."),
	COUNTER(discard_stats, batch_deferrals, "discard_batch_deferrals_total",
		"Operations that waited for the event loop's next turn (bounded batches)."),
	COUNTER(discard_stats, page_batches, "discard_page_batches_total",
		"Batches of small (under 2 MiB) operations handed to the page worker."),
	COUNTER(discard_stats, page_batch_ops, "discard_page_batch_ops_total",
		"Operations in those batches."),
};
const unsigned int metrics__nr_discard_counters =
	sizeof(metrics__discard_counters) / sizeof(metrics__discard_counters[0]);

uint64_t metrics_counter__get(const struct metrics_counter *c, const void *stats)
{
	uint64_t v;

	memcpy(&v, (const char *)stats + c->offset, sizeof(v));
	return v;
}

static void format_counters(struct metrics_out *out, const struct metrics_counter *table,
			    unsigned int n, const void *stats)
{
	for (unsigned int i = 0; i < n; i++)
		metric_u64(out, table[i].metric, table[i].type, table[i].help,
			   metrics_counter__get(&table[i], stats) * table[i].scale);
}

static void format_balloon(const struct vm_sample *s, struct metrics_out *out)
{
	const struct vm_balloon_sample *b = &s->balloon;

	metric_u64(out, "balloon_target_bytes", "gauge",
		   "Balloon size the host asks for (num_pages * 4 KiB).", b->target_bytes);
	metric_u64(out, "balloon_actual_bytes", "gauge",
		   "Balloon size the guest driver reports (actual * 4 KiB).", b->actual_bytes);
	metric_u64(out, "balloon_stats_polling_interval_seconds", "gauge",
		   "Guest statistics polling interval; 0 when not polling.", b->stats_interval_s);
	metric_u64(out, "balloon_deflate_on_oom", "gauge",
		   "1 if VIRTIO_BALLOON_F_DEFLATE_ON_OOM is offered.", b->deflate_on_oom);
	metric_u64(out, "balloon_reporting_enabled", "gauge",
		   "1 if free page reporting (VIRTIO_BALLOON_F_REPORTING) is offered.",
		   b->reporting);
	format_counters(out, metrics__balloon_counters, metrics__nr_balloon_counters, &b->stats);
	family(out, "balloon_rejected_chains_total", "counter",
	       "Chains refused (handed back with length 0, nothing discarded), by reason.");
	for (unsigned int r = 0; r < BALLOON_REJ__COUNT; r++)
		labelled_u64(out, "balloon_rejected_chains_total", "reason",
			     balloon_reject__name((enum balloon_reject)r), b->stats.rejected[r]);
	format_guest_stats(s, out);
}

static void format_discard(const struct vm_sample *s, struct metrics_out *out)
{
	const struct vm_balloon_sample *b = &s->balloon;

	family(out, "discard_method_info", "gauge",
	       "How freed guest memory is given back to the host: method, engine, backend.");
	begin(out, "discard_method_info");
	metrics_out__label(out, "method", b->discard_method);
	metrics_out__label(out, "engine", b->discard_engine);
	metrics_out__label(out, "backend", s->memory_backend);
	metrics_out__end_u64(out, 1);
	metric_u64(out, "discard_granule_bytes", "gauge",
		   "Discard granularity: 4 KiB, or the huge page size.", b->discard_granule_bytes);
	format_counters(out, metrics__discard_counters, metrics__nr_discard_counters, &b->discard);
	histogram(out, "discard_report_latency_seconds",
		  "Per report: submit to the last discard completed.", &b->discard.report_latency);
	histogram(out, "discard_op_latency_seconds", "Per operation: ring submit to completion.",
		  &b->discard.op_latency);
}

void metrics__format(const struct vm_sample *s, FILE *f)
{
	struct metrics_out o = {.f = f, .vm_id = s->vm_id}, *out = &o;

	family(out, "build_info", "gauge",
	       "1, labelled with the mini-vmm version and the compiler that built it.");
	begin(out, "build_info");
	metrics_out__label(out, "version", s->vmm_version ? s->vmm_version : "unknown");
	metrics_out__label(out, "compiler", BUILD_COMPILER);
	metrics_out__end_u64(out, 1);
	format_vm(s, out);
	metric_u64(out, "balloon_device_present", "gauge", "1 if the VM has a virtio-balloon.",
		   s->has_balloon);
	if (!s->has_balloon)
		return;
	format_balloon(s, out);
	format_discard(s, out);
}

int metrics__parse_interval(const char *s, uint32_t *ms_out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > 3600000ULL)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1000;
	else
		return -EINVAL;
	if (v < 100 || v > 3600000ULL)
		return -EINVAL;
	*ms_out = (uint32_t)v;
	return 0;
}

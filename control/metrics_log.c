// SPDX-License-Identifier: GPL-2.0
/*
 * The --metrics-log timeline: one JSON object per line and per sample (a
 * pure function of a struct vm_sample; docs/api.md lists the fields),
 * appended and flushed by the sampler thread.
 */
#include "control/metrics.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define NS_PER_S  ((uint64_t)1000000000)
#define NS_PER_MS ((uint64_t)1000000)

static void json_seconds(FILE *out, const char *key, uint64_t ns)
{
	fprintf(out, ",\"%s\":%" PRIu64 ".%03" PRIu64, key, ns / NS_PER_S,
		(ns % NS_PER_S) / NS_PER_MS);
}

static void json_u64(FILE *out, const char *key, uint64_t v)
{
	fprintf(out, ",\"%s\":%" PRIu64, key, v);
}

static void json_guest_stat(FILE *out, const struct vm_sample *s, const char *key, unsigned int tag)
{
	uint64_t v;

	if (metrics__guest_stat(s, tag, &v))
		json_u64(out, key, v);
	else
		fprintf(out, ",\"%s\":null", key);
}

/* A JSON string: the id is checked by vmm/config.c, but escaped all the same. */
static void json_string(FILE *out, const char *key, const char *v)
{
	fprintf(out, ",\"%s\":\"", key);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fprintf(out, "\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			fprintf(out, "\\u%04x", (unsigned int)(unsigned char)*v);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

void metrics__format_log_line(const struct vm_sample *s, FILE *out)
{
	const struct vm_balloon_sample *b = &s->balloon;
	const struct discard_histogram *h = &b->discard.report_latency;

	/* Other strings come from fixed tables (state, backend, method): no escaping needed. */
	fprintf(out, "{\"t_s\":%" PRIu64 ".%03" PRIu64, s->uptime_ns / NS_PER_S,
		(s->uptime_ns % NS_PER_S) / NS_PER_MS);
	json_seconds(out, "time", s->wall_ns);
	if (s->vm_id)
		json_string(out, "vm_id", s->vm_id);
	fprintf(out, ",\"state\":\"%s\",\"memory_backend\":\"%s\"", vm_run_state__name(s->state),
		s->memory_backend);
	json_u64(out, "guest_memory_bytes", s->guest_memory_bytes);
	json_u64(out, "guest_resident_bytes", s->guest_resident_bytes);
	if (!s->has_balloon) {
		fputs(",\"balloon\":false}\n", out);
		return;
	}
	fprintf(out, ",\"balloon\":true,\"discard_method\":\"%s\"", b->discard_method);
	json_u64(out, "balloon_target_bytes", b->target_bytes);
	json_u64(out, "balloon_actual_bytes", b->actual_bytes);
	json_guest_stat(out, s, "guest_free_memory_bytes", VIRTIO_BALLOON_S_MEMFREE);
	json_guest_stat(out, s, "guest_available_memory_bytes", VIRTIO_BALLOON_S_AVAIL);
	json_guest_stat(out, s, "guest_total_memory_bytes", VIRTIO_BALLOON_S_MEMTOT);
	/* How fresh those are: buffers received, and the age of the last one. */
	json_u64(out, "guest_stats_updates", b->stats.guest.updates);
	if (b->stats.guest.updates)
		json_seconds(out, "guest_stats_age_s", metrics__guest_stats_age_ns(s));
	else
		fputs(",\"guest_stats_age_s\":null", out);
	json_u64(out, "reports", b->stats.reports);
	json_u64(out, "reports_done", b->stats.reports_done);
	json_u64(out, "bytes_reported", b->stats.bytes_reported);
	json_u64(out, "inflated_bytes", b->stats.inflate_pages * 4096);
	json_u64(out, "deflated_bytes", b->stats.deflate_pages * 4096);
	json_u64(out, "discard_bytes_requested", b->discard.bytes_requested);
	json_u64(out, "bytes_discarded", b->discard.bytes_discarded);
	json_u64(out, "discard_reports_in_flight", b->discard.reports_in_flight);
	fprintf(out, ",\"report_latency\":{\"count\":%" PRIu64, h->count);
	json_seconds(out, "sum_s", h->sum_ns);
	fputs(",\"buckets\":[", out);
	for (unsigned int i = 0; i < DISCARD_HIST_BUCKETS; i++)
		fprintf(out, "%s%" PRIu64, i ? "," : "", h->buckets[i]);
	fputs("]}}\n", out);
}

int metrics_log__open(struct metrics_log *log, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	*log = (struct metrics_log){0};
	if (fd < 0) {
		log_error("--metrics-log %s: %s", path, strerror(errno));
		return -errno;
	}
	log->f = fdopen(fd, "w");
	if (!log->f) {
		int err = errno;

		close(fd);
		log_error("--metrics-log %s: %s", path, strerror(err));
		return -err;
	}
	/*
	 * The buffer now, on this thread: stdio would allocate it (and fstat
	 * the file) at the first write, on the sampler thread, which seccomp
	 * allows no fstat.
	 */
	setvbuf(log->f, NULL, _IOFBF, 0);
	return 0;
}

void metrics_log__sample(struct metrics_log *log, const struct vm_sample *s)
{
	if (!log->f)
		return;
	metrics__format_log_line(s, log->f);
	if (fflush(log->f) != 0 || ferror(log->f)) {
		log->write_errors++;
		clearerr(log->f);
		log_ratelimited(LOG_WARN, "--metrics-log: write failed: %s", strerror(errno));
		return;
	}
	__atomic_fetch_add(&log->samples, 1, __ATOMIC_RELAXED); /* read by /metrics */
}

void metrics_log__close(struct metrics_log *log)
{
	if (log->f)
		fclose(log->f);
	log->f = NULL;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the outside world sees of a running VM: one sample struct, taken by
 * the VM (vmm/vm_sample.c) whenever the API asks, and pure formatters over it:
 * Prometheus text exposition (/metrics) and the JSON-lines timeline written
 * by --metrics-log. docs/api.md lists every metric with its meaning.
 */
#ifndef MINI_VMM_METRICS_H
#define MINI_VMM_METRICS_H

#include "devices/virtio_balloon.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Firecracker-style names ("Running"), as GET / and GET /vm report them. */
enum vm_run_state {
	VM_RUN_STATE_STARTING = 0, /* set up, vCPUs not started yet */
	VM_RUN_STATE_RUNNING,
	VM_RUN_STATE_STOPPING,	  /* a stop was requested: the VM is tearing down */
	VM_RUN_STATE_NOT_STARTED, /* before InstanceStart: configurable through the API */
	VM_RUN_STATE_PAUSED,	  /* PATCH /vm Paused: vCPUs parked, statistics ticks held */
	VM_RUN_STATE__COUNT,
};

const char *vm_run_state__name(enum vm_run_state s);

/* The balloon part of a sample (only meaningful when has_balloon). */
struct vm_balloon_sample {
	bool deflate_on_oom; /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM offered (fixed at start) */
	bool reporting;	     /* VIRTIO_BALLOON_F_REPORTING offered (fixed at start) */
	bool stats_enabled;  /* STATS_VQ offered: the polling interval may change */
	uint32_t stats_interval_s;
	uint64_t target_bytes;	 /* num_pages * 4 KiB: what the host asks for */
	uint64_t actual_bytes;	 /* actual * 4 KiB: what the driver says it holds */
	char discard_method[16]; /* resolved: madvise, remove, punch-hole */
	char discard_engine[16]; /* io_uring or sync */
	uint64_t discard_granule_bytes;
	char discard_reason[160]; /* why that method (as logged at start) */
	struct balloon_stats stats;
	struct discard_stats discard;

	/* Free page hinting: offered (fixed at start), and where its run is. */
	bool free_page_hinting;
	struct balloon_hint_status hinting;
};

/* Everything the API, /metrics and the timeline report, at one instant. */
struct vm_sample {
	uint64_t monotonic_ns; /* CLOCK_MONOTONIC when taken (guest stats age) */
	uint64_t wall_ns;      /* CLOCK_REALTIME when taken (timeline timestamps) */
	uint64_t uptime_ns;
	enum vm_run_state state;
	unsigned int vcpus;
	uint64_t guest_memory_bytes;   /* guest RAM size */
	uint64_t guest_resident_bytes; /* host RSS of guest RAM (mincore) */
	char memory_backend[16];       /* anon, memfd, hugetlbfs, thp */
	uint64_t event_loop_max_callback_ns;
	bool has_balloon;
	struct vm_balloon_sample balloon;
	/* Set by the API (sampler__take), not the VM: who and what is reporting. */
	const char *vm_id;	 /* --id: the vm_id label on every series; NULL: none */
	const char *vmm_version; /* mini_vmm_build_info's version label */
};

/*
 * Writing the exposition: every sample line carries vm_id="<id>" first
 * (docs/api.md, "The VM's identity"), then its own labels. A line is
 * metrics_out__begin(), any metrics_out__label(), one metrics_out__end_*().
 * Names are written as given (no prefix added).
 */
struct metrics_out {
	FILE *f;
	const char *vm_id;   /* NULL: no vm_id label */
	unsigned int labels; /* on the line being written */
};

void metrics_out__family(struct metrics_out *o, const char *name, const char *type,
			 const char *help);
void metrics_out__begin(struct metrics_out *o, const char *name);
void metrics_out__label(struct metrics_out *o, const char *key, const char *value);
void metrics_out__end_u64(struct metrics_out *o, uint64_t v);
void metrics_out__end_seconds(struct metrics_out *o, uint64_t ns); /* exact, 9 decimals */

/*
 * A histogram family mini_vmm_<name> over struct discard_histogram's log2
 * microsecond buckets. The family's HELP and TYPE are written by the caller
 * (once, with metrics_out__family); label/value, if not NULL, is one more
 * label on every line (several series of one family).
 */
struct discard_histogram;
void metrics_out__histogram(struct metrics_out *o, const char *name, const char *label,
			    const char *value, const struct discard_histogram *h);

/*
 * A cumulative counter (or gauge) of struct balloon_stats or struct
 * discard_stats: its JSON key in GET /balloon/reporting (the field's name),
 * its metric name after "mini_vmm_", and where it is in the struct.
 */
struct metrics_counter {
	const char *key;
	const char *metric;
	const char *type; /* "counter" or "gauge" */
	const char *help;
	size_t offset;
	/* The metric's value is the field times this (pages -> bytes); the JSON key keeps the
	 * field. */
	uint64_t scale;
};

extern const struct metrics_counter metrics__balloon_counters[]; /* struct balloon_stats */
extern const unsigned int metrics__nr_balloon_counters;
extern const struct metrics_counter metrics__discard_counters[]; /* struct discard_stats */
extern const unsigned int metrics__nr_discard_counters;

/* The value of counter c in stats (a struct balloon_stats or discard_stats), unscaled. */
uint64_t metrics_counter__get(const struct metrics_counter *c, const void *stats);

/*
 * Write the Prometheus text exposition (format 0.0.4) of *s to out: every
 * name prefixed mini_vmm_ with its unit, counters cumulative (_total),
 * latency histograms in seconds with _bucket/_sum/_count, every sample
 * labelled vm_id=s->vm_id. Pure.
 */
void metrics__format(const struct vm_sample *s, FILE *out);

/*
 * One line of the --metrics-log timeline: a JSON object and '\n'
 * (docs/api.md lists the fields). Pure.
 */
void metrics__format_log_line(const struct vm_sample *s, FILE *out);

/*
 * Parse a sampling interval: "500ms", "2s" or "2" (seconds); 100 ms to
 * 1 hour. 0 or -EINVAL.
 */
int metrics__parse_interval(const char *s, uint32_t *ms_out);

/* The guest's latest value of stats tag `tag`, if its last stats buffer carried it. */
bool metrics__guest_stat(const struct vm_sample *s, unsigned int tag, uint64_t *out);

/* How old the guest's last statistics are at the sample (0 if just in); only with updates. */
uint64_t metrics__guest_stats_age_ns(const struct vm_sample *s);

/* Write v as a Prometheus label value: \\, \" and \n escaped. */
void metrics__write_label_value(FILE *out, const char *v);

/*
 * The process_* metrics of Prometheus's client libraries, read from
 * /proc/self (metrics_process.c). The files are opened at init, before the
 * API's threads are confined, and re-read at each scrape (pread, getdents64).
 */
struct metrics_process {
	int stat_fd;	      /* /proc/self/stat */
	int limits_fd;	      /* /proc/self/limits */
	int fd_dir;	      /* /proc/self/fd */
	uint64_t boot_time_s; /* btime of /proc/stat */
	long ticks_per_s;
	long page_size;
};

/* What one /proc/self/stat line gives (proc(5): fields 14, 15, 22, 23, 24). */
struct process_stat {
	uint64_t utime_ticks, stime_ticks;
	uint64_t start_ticks; /* since boot */
	uint64_t vsize_bytes;
	uint64_t rss_pages;
};

/* Parse /proc/self/stat's text (the comm may hold spaces and ')'). 0 or -EINVAL. Pure. */
int metrics_process__parse_stat(const char *text, struct process_stat *out);
/* The soft "Max open files" of /proc/self/limits' text; UINT64_MAX if "unlimited". Pure. */
int metrics_process__parse_max_fds(const char *text, uint64_t *out);

/* Open the files. 0, or -errno (then format writes nothing: a log line said why). */
int metrics_process__init(struct metrics_process *p);
/* process_* families, or nothing for what cannot be read. */
void metrics_process__format(struct metrics_process *p, struct metrics_out *o);
void metrics_process__close(struct metrics_process *p);

/* The JSON-lines timeline (--metrics-log, metrics_log.c). Written from the sampler thread. */
struct metrics_log {
	FILE *f;
	uint64_t samples;
	uint64_t write_errors;
};

/* Create or truncate path (0644). 0 or -errno with a log line. */
int metrics_log__open(struct metrics_log *log, const char *path);
/* Append one sample and flush it, so a crash loses at most one line. */
void metrics_log__sample(struct metrics_log *log, const struct vm_sample *s);
void metrics_log__close(struct metrics_log *log);

#endif

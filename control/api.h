/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control API and the metrics listener (docs/api.md).
 *
 * - Control API: HTTP/1.1 + JSON on a Unix socket created owner-only
 *   (0600). Firecracker's balloon endpoints (GET/PUT/PATCH /balloon,
 *   GET/PATCH /balloon/statistics, GET /, PUT /actions) plus what
 *   reclamation needs (GET /balloon/reporting, GET /vm, /metrics).
 * - Metrics listener: read-only HTTP on a TCP address (GET /metrics,
 *   GET /dashboard, GET /dashboard/data), for Prometheus and a browser.
 * - A sampler thread: every interval it samples the VM into the
 *   dashboard's history and the --metrics-log timeline.
 *
 * libmicrohttpd serves each listener from its own thread. The VM is only
 * reached through struct vm_control_ops, whose callbacks take short locks;
 * nothing here runs on the VM's event loop or its vCPU threads, so a slow or
 * hostile client costs a connection slot (bounded, timed out), never the VM.
 */
#ifndef MINI_VMM_API_H
#define MINI_VMM_API_H

#include "control/metrics.h"

#include <stdint.h>
#include <sys/socket.h>

#define API_MAX_BODY_BYTES	16384 /* larger request bodies get 413 */
#define API_DEFAULT_TIMEOUT_S	10    /* a request not complete by then gets 408 */
#define API_DEFAULT_INTERVAL_MS 1000  /* sampler: dashboard history and --metrics-log */
#define API_HISTORY_SAMPLES	900   /* dashboard history kept in memory */
#define API_MAX_CONNECTIONS	32    /* per listener */

/*
 * Firecracker's pre-boot configuration (docs/api.md, "Before boot"): what
 * PUT /machine-config, /boot-source and /balloon carry, and the sections of
 * a --config-file. Strings are malloc'd and owned by the struct's holder
 * (api_vm_config__release); NULL: absent.
 */
enum api_huge_pages {
	API_HUGE_PAGES_NONE = 0,    /* "None": the command line's backend (anon or memfd) */
	API_HUGE_PAGES_TRANSPARENT, /* "Transparent": thp */
	API_HUGE_PAGES_2M,	    /* "2M": hugetlbfs */
};

struct api_machine_config {
	uint32_t vcpu_count;
	uint64_t mem_size_mib;
	enum api_huge_pages huge_pages;
};

struct api_boot_source {
	char *kernel_image_path;
	char *boot_args;
	char *initrd_path;
};

struct api_balloon_config {
	uint32_t amount_mib;
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s;
	bool free_page_reporting;
	bool free_page_hinting;
};

struct api_vm_config {
	bool has_machine, has_boot, has_balloon; /* which sections are set */
	struct api_machine_config machine;
	struct api_boot_source boot;
	struct api_balloon_config balloon;
};

/* Free the strings (the struct itself is the caller's). */
void api_vm_config__release(struct api_vm_config *c);

/*
 * Parse a Firecracker-format configuration file's text (--config-file):
 * "boot-source", "machine-config" and "balloon" are taken, with the same
 * checks as the API's PUTs; any other section is refused by name. 0, or
 * -EINVAL with a reason naming the section and field in err. Pure.
 */
int api__parse_config_file(const char *text, size_t len, struct api_vm_config *out, char *err,
			   size_t err_len);

/* What the VM provides. Callbacks run on the API's threads. */
struct vm_control_ops {
	/*
	 * Fill *s (every field but wall_ns, which the API sets). Short locks
	 * only: it runs for every request and every sample.
	 */
	void (*sample)(void *opaque, struct vm_sample *s);
	/* Balloon target in bytes. 0, -ENODEV (no balloon) or -ERANGE (more than guest RAM). */
	int (*set_balloon_target)(void *opaque, uint64_t bytes);
	/* Guest stats polling interval, 0 stops. 0, -ENODEV or -EOPNOTSUPP (no stats queue). */
	int (*set_stats_interval)(void *opaque, uint32_t secs);
	/*
	 * Free page hinting: start a run (acknowledge_on_stop: answer the
	 * driver's STOP with DONE) or, with start false, stop it. 0, -ENODEV (no
	 * balloon, or no driver has set it up yet) or -EOPNOTSUPP (not offered).
	 */
	int (*balloon_hinting)(void *opaque, bool start, bool acknowledge_on_stop);
	/* Stop the VM with exit status 0, as if the guest powered off. Must not block. */
	void (*request_shutdown)(void *opaque);

	/*
	 * Before boot (a VM started with an API socket and no kernel). All
	 * three optional: without them the VM is configured and started from
	 * its command line, and the pre-boot calls answer as after start.
	 *
	 * configure: apply the sections of *change that are set. 0; -EINVAL
	 * with err naming the field; -EALREADY once InstanceStart was asked.
	 */
	int (*configure)(void *opaque, const struct api_vm_config *change, char *err,
			 size_t err_len);
	/* The configuration now (its strings copied: the caller releases). 0 or -ENOMEM. */
	int (*get_config)(void *opaque, struct api_vm_config *out);
	/*
	 * InstanceStart: validate, build and start the VM; returns once the
	 * vCPUs run (0) or it failed (-EALREADY: started already; -EINVAL:
	 * the configuration, err naming the field; other -errno, err says).
	 */
	int (*start)(void *opaque, char *err, size_t err_len);
	/*
	 * PATCH /vm: pause (vCPUs parked, device work held, discards in flight
	 * completed before it returns) or resume. Optional. 0; -EAGAIN before
	 * boot; other -errno with err.
	 */
	int (*set_paused)(void *opaque, bool paused, char *err, size_t err_len);
};

struct api_config {
	const char *socket_path;      /* --api-socket PATH, or NULL */
	const char *metrics_listen;   /* --metrics-listen ADDR:PORT, or NULL */
	const char *metrics_log_path; /* --metrics-log PATH, or NULL */
	uint32_t interval_ms;	      /* --metrics-interval; 0: API_DEFAULT_INTERVAL_MS */
	unsigned int timeout_s;	      /* request timeout; 0: API_DEFAULT_TIMEOUT_S */
	const char *vmm_version;      /* for GET / */
	const char *instance_id;      /* for GET / ("id"); NULL: "mini-vmm" */
	/*
	 * Optional: run on the thread that then creates every API thread (the
	 * listeners' and the sampler), which inherit what it installs, e.g.
	 * seccomp__install(SECCOMP_ROLE_API). Sockets and files are made
	 * before it runs. A negative return fails api__start with it.
	 * The process must already be safe to confine: vmm/ makes glibc's
	 * malloc so before any thread exists (seccomp__prepare_process).
	 */
	int (*confine)(void *opaque);
	void *confine_opaque;
};

struct api_server;

/*
 * Start what cfg asks for (any subset; nothing at all is valid and starts
 * nothing). On success *out is the server (NULL if nothing was asked for).
 * Returns 0 or -errno after a log line naming the flag to fix.
 */
int api__start(struct api_server **out, const struct api_config *cfg,
	       const struct vm_control_ops *ops, void *opaque);
/* Stop the listeners and the sampler, remove the socket file, free. NULL is fine. */
void api__stop(struct api_server *s);
/* The API socket's directory (O_PATH), or -1: for seccomp__allow_unlinkat(). */
int api__socket_dirfd(const struct api_server *s);

/* The metrics listener's bound port (useful with port 0), or 0 if none. */
uint16_t api__metrics_port(const struct api_server *s);

/*
 * Parse "127.0.0.1:9100" or "[::1]:9100" (a numeric address and a port,
 * 0 allowed: any free port). 0 or -EINVAL. Pure; config.c may call it to
 * refuse a bad --metrics-listen at parse time.
 */
int api__parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the pieces of the control API share; nothing outside control/
 * includes it. The pieces:
 *   api_server.c        api__start/api__stop: sockets first, then the threads
 *   api_sockets.c       the listening sockets and the --metrics-listen parser
 *   api_http.c          libmicrohttpd: one request's life, replies, counters
 *   api_routes.c        the route table: paths, methods, listeners
 *   api_json.c          request bodies (strict JSON) and JSON answers
 *   handlers_vm.c       GET /, GET /vm, PUT /actions, GET /metrics
 *   handlers_balloon.c  /balloon, /balloon/statistics, /balloon/reporting
 *   handlers_preboot.c  /machine-config, /boot-source, /vm/config, /version
 *   preboot_config.c    Firecracker's configuration sections (API and --config-file)
 *   dashboard.c         GET /dashboard, /dashboard/data, the metrics root
 *   sampler.c           samples of the VM: per request and every interval
 */
#ifndef MINI_VMM_CONTROL_API_INTERNAL_H
#define MINI_VMM_CONTROL_API_INTERNAL_H

#include "control/api.h"
#include "control/metrics.h"

#include <json-c/json.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MIB_SHIFT 20

/* Status codes counted in mini_vmm_api_requests_total (api_http.c), and "other". */
#define NR_CODES 11

enum listener_kind {
	LISTENER_API = 0, /* the Unix socket: everything */
	LISTENER_METRICS, /* TCP: read-only pages */
	LISTENER__COUNT,
};

struct api_server;

struct api_listener {
	struct api_server *srv;
	enum listener_kind kind;
	struct MHD_Daemon *daemon;
	uint64_t requests[NR_CODES]; /* atomics: updated on the listener's thread */
	/* Request durations, headers complete to answer queued: atomics, as requests[]. */
	struct discard_histogram durations;
};

/* One history point for the dashboard's charts. */
struct history_point {
	uint64_t t_ms; /* VM uptime */
	uint64_t resident;
	uint64_t target;
	uint64_t actual;
	uint64_t guest_free; /* UINT64_MAX: not known (no stats yet) */
	uint64_t reported;
	uint64_t discarded;
};

struct api_server {
	struct api_config cfg;
	const struct vm_control_ops *ops;
	void *opaque;
	char *socket_path;	 /* owned copy: unlinked at stop */
	int socket_dirfd;	 /* O_PATH of its directory: unlinkat() at stop, under seccomp */
	const char *socket_name; /* last component of socket_path */
	struct api_listener listeners[LISTENER__COUNT];
	uint16_t metrics_port;
	uint64_t timeouts;		/* atomics: requests answered 408 */
	struct metrics_process process; /* process_* metrics (metrics_process.c) */

	/* The sampler thread, its wakeup, and what it fills: sampler.c's alone. */
	pthread_t sampler;
	bool sampler_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	bool sample_now;
	struct metrics_log mlog;
	struct history_point *history; /* ring of API_HISTORY_SAMPLES */
	unsigned int hist_head, hist_len;
};

/* ---- routes ---- */

enum {
	M_GET = 1u << 0, /* HEAD is served as GET (MHD drops the body) */
	M_PUT = 1u << 1,
	M_PATCH = 1u << 2,
};

struct api_request;
struct api_reply;
typedef void (*route_fn)(struct api_request *req, struct api_reply *r);

struct api_route {
	const char *path;
	unsigned int methods;
	bool control; /* only on the API socket: changes the VM or is Firecracker's */
	route_fn get, put, patch;
};

struct api_reply {
	unsigned int status;
	const char *content_type;
	char *body; /* malloc'd, or NULL with static_body */
	const void *static_body;
	size_t len;
	const char *allow;
	const char *location;
};

/* Per request (MHD's con_cls): from the end of the headers to on_completed. */
struct api_request {
	struct api_listener *l;
	struct MHD_Connection *conn;
	const struct api_route *route;
	unsigned int method;
	uint64_t start_ns;
	char body[API_MAX_BODY_BYTES + 1];
	size_t len;
	bool too_large;
	uint64_t drained; /* body bytes dropped */
	bool has_pending; /* an early answer, sent once the body is drained */
	struct api_reply pending;
	bool responded;
	bool shutdown_after;	      /* PUT /actions Shutdown: once the 204 has gone out */
	bool stop_after_failed_start; /* InstanceStart failed: stop once the 400 has gone out */
	unsigned int abort_status;
	const char *abort_msg;
};

/* A field a request body may have (api_json.c). */
struct field_spec {
	const char *name;
	enum json_type type;
	bool required;
};

/* api_http.c: replies, listeners, the server's own counters */
void api_reply__json(struct api_reply *r, unsigned int status, struct json_object *obj);
void __attribute__((format(printf, 3, 4)))
api_reply__error(struct api_reply *r, unsigned int status, const char *fmt, ...);
void api_reply__no_content(struct api_reply *r);
int api_http__start_listener(struct api_server *srv, enum listener_kind kind, int listen_fd);
void api_http__format_metrics(struct api_server *srv, FILE *out);

/* api_routes.c */
bool api_routes__route(struct api_request *req, const char *url, const char *method,
		       struct api_reply *r);

/* api_json.c */
extern const struct field_spec api_json__unchecked[1];
struct json_object *api_json__parse_body(struct api_request *req, struct api_reply *r,
					 const struct field_spec *spec, unsigned int n);
bool api_json__get_uint(struct json_object *obj, const char *name, uint64_t max, uint64_t *out,
			struct api_reply *r);
bool api_json__check_fields(struct json_object *obj, const struct field_spec *spec, unsigned int n,
			    const char *where, char *err, size_t err_len);
bool api_json__uint_field(struct json_object *obj, const char *where, const char *name,
			  uint64_t min, uint64_t max, uint64_t *out, char *err, size_t err_len);
void api_json__add_u64(struct json_object *o, const char *key, uint64_t v);
void api_json__add_seconds(struct json_object *o, const char *key, uint64_t ns);
void api_json__add_counters(struct json_object *o, const struct metrics_counter *table,
			    unsigned int n, const void *stats);
struct json_object *api_json__histogram(const struct discard_histogram *h);

/* Firecracker's words for a pre-boot-only call after InstanceStart, and the reverse. */
#define API_MSG_POST_BOOT "The requested operation is not supported after starting the microVM."
#define API_MSG_PRE_BOOT  "The requested operation is not supported before starting the microVM."

/* preboot_config.c: Firecracker's sections, checked; where prefixes each message. */
int api_preboot__parse_machine(struct json_object *obj, const char *where, bool partial,
			       struct api_machine_config *out, char *err, size_t err_len);
int api_preboot__parse_boot(struct json_object *obj, const char *where, struct api_boot_source *out,
			    char *err, size_t err_len);
int api_preboot__parse_balloon(struct json_object *obj, const char *where,
			       struct api_balloon_config *out, char *err, size_t err_len);

/* handlers_preboot.c: the VM's configure and start, answered as Firecracker does */
void api_preboot__reply_post_boot(struct api_reply *r);
void api_preboot__configure(struct api_server *srv, const struct api_vm_config *change,
			    struct api_reply *r);
void api_preboot__start(struct api_request *req, struct api_reply *r);
/* handlers_balloon.c: Firecracker's Balloon object now (c: the configuration), or NULL. */
struct json_object *api_balloon__json(struct api_server *srv, const struct api_vm_config *c);

/* The handlers: handlers_vm.c, handlers_balloon.c, handlers_preboot.c, dashboard.c */
void api_get_machine_config(struct api_request *req, struct api_reply *r);
void api_put_machine_config(struct api_request *req, struct api_reply *r);
void api_patch_machine_config(struct api_request *req, struct api_reply *r);
void api_put_boot_source(struct api_request *req, struct api_reply *r);
void api_get_vm_config(struct api_request *req, struct api_reply *r);
void api_get_version(struct api_request *req, struct api_reply *r);
void api_get_instance(struct api_request *req, struct api_reply *r);
void api_get_vm(struct api_request *req, struct api_reply *r);
void api_patch_vm(struct api_request *req, struct api_reply *r);
void api_put_actions(struct api_request *req, struct api_reply *r);
void api_get_metrics(struct api_request *req, struct api_reply *r);
void api_get_balloon(struct api_request *req, struct api_reply *r);
void api_put_balloon(struct api_request *req, struct api_reply *r);
void api_patch_balloon(struct api_request *req, struct api_reply *r);
void api_get_balloon_statistics(struct api_request *req, struct api_reply *r);
void api_patch_balloon_statistics(struct api_request *req, struct api_reply *r);
void api_get_balloon_reporting(struct api_request *req, struct api_reply *r);
void api_patch_balloon_hinting_start(struct api_request *req, struct api_reply *r);
void api_get_balloon_hinting_status(struct api_request *req, struct api_reply *r);
void api_patch_balloon_hinting_stop(struct api_request *req, struct api_reply *r);
void api_get_dashboard(struct api_request *req, struct api_reply *r);
void api_get_root_redirect(struct api_request *req, struct api_reply *r);
void api_get_dashboard_data(struct api_request *req, struct api_reply *r);

/*
 * sampler.c: the sampler's lock, wakeup and history ring are its own; the
 * rest of control/ goes through these.
 */
/* A sample of the VM now, wall clock included: the VM's callback, short locks. */
void sampler__take(struct api_server *srv, struct vm_sample *s);
/* The lock, the wakeup and the history ring. 0 or -ENOMEM. */
int sampler__init(struct api_server *srv);
/* The sampler thread (from api_server.c's setup thread). 0 or -errno. */
int sampler__start(struct api_server *srv);
/* A sample now (PUT /actions FlushMetrics), without waiting for it. */
void sampler__flush(struct api_server *srv);
/*
 * Copy the history, oldest first, to out (room for API_HISTORY_SAMPLES):
 * every point, or only those later than *after_ms. Returns how many.
 */
unsigned int sampler__history(struct api_server *srv, const uint64_t *after_ms,
			      struct history_point *out);
/* Stop and join the thread if it runs; free what sampler__init made. */
void sampler__stop(struct api_server *srv);

/* api_sockets.c */
bool api_sockets__is_loopback(const struct sockaddr_storage *ss);
int api_sockets__open_unix(const char *path, int *out);
int api_sockets__open_tcp(const char *arg, const struct sockaddr_storage *ss, socklen_t len,
			  int *out, uint16_t *port);
void api_sockets__open_dir(struct api_server *srv);

#endif

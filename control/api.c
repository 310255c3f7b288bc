// SPDX-License-Identifier: GPL-2.0
/*
 * The control API and the metrics listener on libmicrohttpd, JSON with json-c.
 *
 * Each listener is one MHD daemon with its own internal epoll thread
 * (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL): connections are served
 * without blocking one another, and none of it runs on a VM thread. A
 * request is handled in three steps (MHD calls on_request repeatedly):
 *   1. headers complete: route, method, Content-Type and Content-Length
 *      checks; a refusal (404/405/415/413) is answered before any body is
 *      kept (see DRAIN_MAX_BYTES);
 *   2. body chunks: copied up to API_MAX_BODY_BYTES (more: 413 at the end),
 *      a request older than the timeout is aborted with 408;
 *   3. end of request: parse, validate, call the VM, answer.
 * A client that goes quiet mid-request is timed out by MHD; on_completed
 * then writes our 408 onto the socket before MHD closes it (MHD calls it
 * before its shutdown(), in 0.9.75 and in 1.0 alike).
 *
 * Errors are JSON {"fault_message": "..."} as Firecracker's, so its clients
 * parse them unchanged.
 */
#define _GNU_SOURCE
#include "api.h"
#include "dashboard.h"

#include "vmm/clock.h"
#include "vmm/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MIB_SHIFT	   20
#define PAGE_4K_SHIFT	   12
#define STATS_INTERVAL_MAX 86400 /* the balloon's own limit (docs/virtio-balloon.md) */
/*
 * A request refused on its headers (404, 405, 415, 413) that is sending a
 * body anyway has up to this much of it read and dropped before the answer:
 * a client that writes its whole body before reading (Python's http.client,
 * most libraries) then reads the 4xx instead of a broken pipe. Larger bodies
 * are answered at once and the connection closed.
 */
#define DRAIN_MAX_BYTES (1024 * 1024)

/* Status codes we count in mini_vmm_api_requests_total; others count as "other". */
static const unsigned int counted_codes[] = {200, 204, 303, 400, 404, 405, 408, 413, 415, 500};
#define NR_CODES (sizeof(counted_codes) / sizeof(counted_codes[0]) + 1)

enum listener_kind {
	LISTENER_API = 0, /* the Unix socket: everything */
	LISTENER_METRICS, /* TCP: read-only pages */
	LISTENER__COUNT,
};

static const char *const listener_names[LISTENER__COUNT] = {"api", "metrics"};

struct api_server;

struct api_listener {
	struct api_server *srv;
	enum listener_kind kind;
	struct MHD_Daemon *daemon;
	uint64_t requests[NR_CODES]; /* atomics: updated on the listener's thread */
};

/* One history point for the dashboard's charts. */
struct api_sample {
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
	uint64_t timeouts; /* atomics: requests answered 408 */

	/* The sampler thread, its wakeup, and what it fills. */
	pthread_t sampler;
	bool sampler_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	bool sample_now;
	struct metrics_log mlog;
	struct api_sample *history; /* ring of API_HISTORY_SAMPLES */
	unsigned int hist_head, hist_len;
};

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void take_snapshot(struct api_server *srv, struct vm_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	srv->ops->snapshot(srv->opaque, s);
	s->wall_ns = wall_ns();
}

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
	bool shutdown_after; /* PUT /actions Shutdown: once the 204 has gone out */
	unsigned int abort_status;
	const char *abort_msg;
};

/* ---- replies ---- */

static void reply_json(struct api_reply *r, unsigned int status, struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE);

	r->status = status;
	r->content_type = "application/json";
	r->body = s ? strdup(s) : NULL;
	r->len = r->body ? strlen(r->body) : 0;
	if (!r->body)
		r->status = 500;
	json_object_put(obj);
}

static char *fault_json(const char *msg)
{
	struct json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "fault_message", json_object_new_string(msg));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static void __attribute__((format(printf, 3, 4)))
reply_error(struct api_reply *r, unsigned int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(r->body);
	*r = (struct api_reply){.status = status, .content_type = "application/json"};
	r->body = fault_json(msg);
	r->len = r->body ? strlen(r->body) : 0;
}

static void reply_no_content(struct api_reply *r)
{
	r->status = 204;
	r->content_type = NULL;
}

static const char *reason_phrase(unsigned int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	default:
		return "Error";
	}
}

static void count_status(struct api_listener *l, unsigned int status)
{
	unsigned int i;

	for (i = 0; i < NR_CODES - 1; i++)
		if (counted_codes[i] == status)
			break;
	__atomic_fetch_add(&l->requests[i], 1, __ATOMIC_RELAXED);
}

static enum MHD_Result send_reply(struct api_request *req, struct api_reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->static_body)
		resp = MHD_create_response_from_buffer(r->len, (void *)r->static_body,
						       MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_buffer(r->body ? r->len : 0, r->body,
						       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL; /* MHD owns it now */
	if (r->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	ret = MHD_queue_response(req->conn, r->status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES) {
		req->responded = true;
		count_status(req->l, r->status);
	}
	return ret;
}

/*
 * Answer a request MHD can no longer answer for us (it timed out, or we
 * aborted it mid-body): write a complete response straight onto the socket.
 * Nothing of this request has been sent yet, and MHD calls on_completed
 * before it shuts the socket down, so the client reads a clean response.
 */
static void write_raw_error(struct api_request *req, unsigned int status, const char *msg)
{
	const union MHD_ConnectionInfo *ci;
	char head[256], *body = fault_json(msg);
	int n;

	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || !body) {
		free(body);
		return;
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
		     status, reason_phrase(status), strlen(body));
	/* Best effort, never blocking: a client that reads nothing just misses it. */
	if (send(ci->connect_fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
		send(ci->connect_fd, body, strlen(body), MSG_NOSIGNAL | MSG_DONTWAIT);
	free(body);
	req->responded = true;
	count_status(req->l, status);
}

/* ---- request bodies ---- */

struct field_spec {
	const char *name;
	enum json_type type;
	bool required;
};

static const char *type_word(enum json_type t)
{
	switch (t) {
	case json_type_int:
		return "an integer";
	case json_type_boolean:
		return "a boolean";
	case json_type_string:
		return "a string";
	default:
		return json_type_to_name(t);
	}
}

/*
 * Parse the body as one JSON object holding only the fields in spec, each of
 * its type, the required ones present. NULL after a 400 otherwise.
 */
static struct json_object *parse_body(struct api_request *req, struct api_reply *r,
				      const struct field_spec *spec, unsigned int n)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end;
	char expected[160] = "";

	if (req->len == 0) {
		reply_error(r, 400, "empty body: expected a JSON object");
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		reply_error(r, 500, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* With the terminating NUL, a bare number ends; after the value only space may follow. */
	obj = json_tokener_parse_ex(tok, req->body, (int)req->len + 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!obj || jerr != json_tokener_success) {
		json_object_put(obj);
		reply_error(r, 400, "malformed JSON at byte %zu: %s", end,
			    json_tokener_error_desc(jerr));
		return NULL;
	}
	for (; end < req->len; end++) {
		char c = req->body[end];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			json_object_put(obj);
			reply_error(r, 400,
				    "malformed JSON: unexpected data after the object at byte %zu",
				    end);
			return NULL;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		reply_error(r, 400, "the body must be a JSON object");
		return NULL;
	}
	for (unsigned int i = 0; i < n; i++)
		snprintf(expected + strlen(expected), sizeof(expected) - strlen(expected), "%s%s",
			 i ? ", " : "", spec[i].name);
	json_object_object_foreach(obj, key, val)
	{
		unsigned int i;

		for (i = 0; i < n; i++)
			if (strcmp(key, spec[i].name) == 0)
				break;
		if (i == n) {
			reply_error(r, 400, "unknown field '%.64s' (expected: %s)", key, expected);
			json_object_put(obj);
			return NULL;
		}
		if (!json_object_is_type(val, spec[i].type)) {
			reply_error(r, 400, "'%s' must be %s", spec[i].name,
				    type_word(spec[i].type));
			json_object_put(obj);
			return NULL;
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		if (spec[i].required && !json_object_object_get_ex(obj, spec[i].name, NULL)) {
			reply_error(r, 400, "missing field '%s'", spec[i].name);
			json_object_put(obj);
			return NULL;
		}
	}
	return obj;
}

/* An integer field in [0, max]; false after a 400. Absent: *out untouched, true. */
static bool get_uint(struct json_object *obj, const char *name, uint64_t max, uint64_t *out,
		     struct api_reply *r)
{
	struct json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(obj, name, &v))
		return true;
	x = json_object_get_int64(v); /* saturates at INT64_MAX: still out of range */
	if (x < 0 || (uint64_t)x > max) {
		reply_error(r, 400, "'%s' must be between 0 and %llu", name,
			    (unsigned long long)max);
		return false;
	}
	*out = (uint64_t)x;
	return true;
}

/* ---- JSON views of a snapshot ---- */

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

/* Seconds with microsecond digits (json-c would print doubles with 17 digits). */
static void add_seconds(struct json_object *o, const char *key, uint64_t ns)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu.%06llu", (unsigned long long)(ns / 1000000000ULL),
		 (unsigned long long)(ns % 1000000000ULL / 1000ULL));
	json_object_object_add(o, key, json_object_new_double_s((double)ns / 1e9, text));
}

/* Every counter of a table (metrics.h) under its field's name. */
static void add_counters(struct json_object *o, const struct metrics_counter *table, unsigned int n,
			 const void *stats)
{
	for (unsigned int i = 0; i < n; i++)
		add_u64(o, table[i].key, metrics_counter__get(&table[i], stats));
}

static struct json_object *histogram_json(const struct discard_histogram *h)
{
	struct json_object *o = json_object_new_object(), *buckets = json_object_new_array();

	add_u64(o, "count", h->count);
	add_seconds(o, "sum_s", h->sum_ns);
	for (unsigned int i = 0; i < DISCARD_HIST_BUCKETS; i++) {
		struct json_object *b = json_object_new_object();
		uint64_t le = discard_histogram__bucket_le_us(i);

		/* le_us: upper bound in microseconds, null for +Inf; count: this bucket alone. */
		json_object_object_add(b, "le_us",
				       le == UINT64_MAX ? NULL : json_object_new_uint64(le));
		add_u64(b, "count", h->buckets[i]);
		json_object_array_add(buckets, b);
	}
	json_object_object_add(o, "buckets", buckets);
	return o;
}

static bool no_balloon(const struct vm_snapshot *s, struct api_reply *r)
{
	if (s->has_balloon)
		return false;
	reply_error(r, 400,
		    "No balloon device: start mini-vmm with --balloon or --balloon-reporting");
	return true;
}

/* ---- handlers ---- */

static void get_instance(struct api_request *req, struct api_reply *r)
{
	struct api_server *srv = req->l->srv;
	struct json_object *o = json_object_new_object();
	struct vm_snapshot s;

	take_snapshot(srv, &s);
	json_object_object_add(o, "id", json_object_new_string(srv->cfg.instance_id));
	json_object_object_add(o, "state", json_object_new_string(vm_run_state__name(s.state)));
	json_object_object_add(o, "vmm_version", json_object_new_string(srv->cfg.vmm_version));
	json_object_object_add(o, "app_name", json_object_new_string("mini-vmm"));
	reply_json(r, 200, o);
}

static void get_vm(struct api_request *req, struct api_reply *r)
{
	struct json_object *o = json_object_new_object();
	struct vm_snapshot s;

	take_snapshot(req->l->srv, &s);
	json_object_object_add(o, "state", json_object_new_string(vm_run_state__name(s.state)));
	add_seconds(o, "uptime_s", s.uptime_ns);
	add_u64(o, "vcpus", s.vcpus);
	add_u64(o, "guest_memory_bytes", s.guest_memory_bytes);
	add_u64(o, "guest_memory_mib", s.guest_memory_bytes >> MIB_SHIFT);
	add_u64(o, "guest_resident_bytes", s.guest_resident_bytes);
	json_object_object_add(o, "memory_backend", json_object_new_string(s.memory_backend));
	json_object_object_add(o, "balloon", json_object_new_boolean(s.has_balloon));
	add_seconds(o, "event_loop_max_callback_s", s.event_loop_max_callback_ns);
	reply_json(r, 200, o);
}

static void put_actions(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {{"action_type", json_type_string, true}};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = parse_body(req, r, spec, 1), *v;
	const char *action;

	if (!obj)
		return;
	json_object_object_get_ex(obj, "action_type", &v);
	action = json_object_get_string(v);
	if (strcmp(action, "Shutdown") == 0) {
		/* Stopped from on_completed, once this 204 is on its way. */
		req->shutdown_after = true;
		reply_no_content(r);
	} else if (strcmp(action, "FlushMetrics") == 0) {
		pthread_mutex_lock(&srv->lock);
		srv->sample_now = true;
		pthread_cond_signal(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
		reply_no_content(r);
	} else {
		reply_error(r, 400,
			    "unsupported action_type '%.64s' (expected Shutdown or FlushMetrics)",
			    action);
	}
	json_object_put(obj);
}

static void get_balloon(struct api_request *req, struct api_reply *r)
{
	struct json_object *o;
	struct vm_snapshot s;

	take_snapshot(req->l->srv, &s);
	if (no_balloon(&s, r))
		return;
	o = json_object_new_object();
	add_u64(o, "amount_mib", s.balloon.target_bytes >> MIB_SHIFT);
	json_object_object_add(o, "deflate_on_oom",
			       json_object_new_boolean(s.balloon.deflate_on_oom));
	add_u64(o, "stats_polling_interval_s", s.balloon.stats_interval_s);
	reply_json(r, 200, o);
}

/* Firecracker's words, and what to do about it. */
static void reply_no_stats(struct api_reply *r)
{
	reply_error(r, 400,
		    "Statistics for the balloon device are not enabled: start mini-vmm with "
		    "--balloon stats-interval=N");
}

/* The interval it has is always fine (a no-op); another needs the stats queue. */
static bool check_stats_interval(const struct vm_snapshot *s, uint64_t secs, struct api_reply *r)
{
	if (secs == s->balloon.stats_interval_s || s->balloon.stats_enabled)
		return true;
	reply_no_stats(r);
	return false;
}

static bool apply_target(struct api_server *srv, const struct vm_snapshot *s, uint64_t mib,
			 struct api_reply *r)
{
	int ret = srv->ops->set_balloon_target(srv->opaque, mib << MIB_SHIFT);

	if (ret == -ERANGE)
		reply_error(r, 400, "amount_mib %llu is more than guest RAM (%llu MiB)",
			    (unsigned long long)mib,
			    (unsigned long long)(s->guest_memory_bytes >> MIB_SHIFT));
	else if (ret < 0)
		reply_error(r, 400, "setting the balloon target failed: %s", strerror(-ret));
	return ret == 0;
}

static bool apply_stats_interval(struct api_server *srv, uint64_t secs, struct api_reply *r)
{
	int ret = srv->ops->set_stats_interval(srv->opaque, (uint32_t)secs);

	if (ret == -EOPNOTSUPP)
		reply_no_stats(r);
	else if (ret < 0)
		reply_error(r, 400, "setting the statistics interval failed: %s", strerror(-ret));
	return ret == 0;
}

/*
 * Firecracker creates its balloon with PUT before boot. Ours exists from the
 * start (--balloon), so PUT is accepted when it describes this balloon:
 * amount_mib and the interval are applied, deflate_on_oom must match (a
 * feature bit, negotiated at boot). Everything is checked before anything
 * changes.
 */
static void put_balloon(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {
		{"amount_mib", json_type_int, true},
		{"deflate_on_oom", json_type_boolean, true},
		{"stats_polling_interval_s", json_type_int, false},
	};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = parse_body(req, r, spec, 3), *v;
	uint64_t mib = 0, secs;
	struct vm_snapshot s;

	if (!obj)
		return;
	take_snapshot(srv, &s);
	secs = s.balloon.stats_interval_s;
	if (no_balloon(&s, r) || !get_uint(obj, "amount_mib", UINT32_MAX, &mib, r) ||
	    !get_uint(obj, "stats_polling_interval_s", STATS_INTERVAL_MAX, &secs, r))
		goto out;
	json_object_object_get_ex(obj, "deflate_on_oom", &v);
	if (json_object_get_boolean(v) != s.balloon.deflate_on_oom) {
		reply_error(r, 400,
			    "deflate_on_oom is fixed when the VM starts (--balloon "
			    "deflate-on-oom=on|off); this balloon has it %s",
			    s.balloon.deflate_on_oom ? "on" : "off");
		goto out;
	}
	/* The target is the first change and checks itself; the interval is checked here. */
	if (!check_stats_interval(&s, secs, r) || !apply_target(srv, &s, mib, r))
		goto out;
	if (secs != s.balloon.stats_interval_s && !apply_stats_interval(srv, secs, r))
		goto out;
	reply_no_content(r);
out:
	json_object_put(obj);
}

static void patch_balloon(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {{"amount_mib", json_type_int, true}};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = parse_body(req, r, spec, 1);
	struct vm_snapshot s;
	uint64_t mib = 0;

	if (!obj)
		return;
	take_snapshot(srv, &s);
	if (!no_balloon(&s, r) && get_uint(obj, "amount_mib", UINT32_MAX, &mib, r) &&
	    apply_target(srv, &s, mib, r))
		reply_no_content(r);
	json_object_put(obj);
}

/* GET /balloon/statistics keys, as Firecracker names them, per guest stats tag. */
static const char *const firecracker_stat_names[BALLOON_STATS_TAGS] = {
	"swap_in",	    "swap_out",	   "major_faults",
	"minor_faults",	    "free_memory", "total_memory",
	"available_memory", "disk_caches", "hugetlb_allocations",
	"hugetlb_failures", "oom_kill",	   "alloc_stall",
	"async_scan",	    "direct_scan", "async_reclaim",
	"direct_reclaim",
};

static void get_balloon_statistics(struct api_request *req, struct api_reply *r)
{
	struct json_object *o;
	struct vm_snapshot s;
	uint64_t v;

	take_snapshot(req->l->srv, &s);
	if (no_balloon(&s, r))
		return;
	if (!s.balloon.stats_enabled) {
		reply_no_stats(r);
		return;
	}
	o = json_object_new_object();
	add_u64(o, "target_pages", s.balloon.target_bytes >> PAGE_4K_SHIFT);
	add_u64(o, "actual_pages", s.balloon.actual_bytes >> PAGE_4K_SHIFT);
	add_u64(o, "target_mib", s.balloon.target_bytes >> MIB_SHIFT);
	add_u64(o, "actual_mib", s.balloon.actual_bytes >> MIB_SHIFT);
	/* As Firecracker: a statistic is present once the guest has sent it. */
	for (unsigned int tag = 0; tag < BALLOON_STATS_TAGS; tag++)
		if (metrics__guest_stat(&s, tag, &v))
			add_u64(o, firecracker_stat_names[tag], v);
	reply_json(r, 200, o);
}

static void patch_balloon_statistics(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {
		{"stats_polling_interval_s", json_type_int, true},
	};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = parse_body(req, r, spec, 1);
	struct vm_snapshot s;
	uint64_t secs = 0;

	if (!obj)
		return;
	take_snapshot(srv, &s);
	/* As Firecracker: the interval it already has is a no-op, with or without stats. */
	if (!no_balloon(&s, r) &&
	    get_uint(obj, "stats_polling_interval_s", STATS_INTERVAL_MAX, &secs, r) &&
	    check_stats_interval(&s, secs, r) &&
	    (secs == s.balloon.stats_interval_s || apply_stats_interval(srv, secs, r)))
		reply_no_content(r);
	json_object_put(obj);
}

static void get_balloon_reporting(struct api_request *req, struct api_reply *r)
{
	struct json_object *o, *b, *d, *rej;
	const struct balloon_stats *st;
	const struct discard_stats *ds;
	struct vm_snapshot s;

	take_snapshot(req->l->srv, &s);
	if (no_balloon(&s, r))
		return;
	st = &s.balloon.stats;
	ds = &s.balloon.discard;
	o = json_object_new_object();
	json_object_object_add(o, "reporting_enabled",
			       json_object_new_boolean(s.balloon.reporting));
	add_u64(o, "guest_memory_bytes", s.guest_memory_bytes);
	add_u64(o, "guest_resident_bytes", s.guest_resident_bytes);
	json_object_object_add(o, "memory_backend", json_object_new_string(s.memory_backend));
	add_u64(o, "balloon_target_bytes", s.balloon.target_bytes);
	add_u64(o, "balloon_actual_bytes", s.balloon.actual_bytes);

	b = json_object_new_object();
	add_counters(b, metrics__balloon_counters, metrics__nr_balloon_counters, st);
	rej = json_object_new_object();
	for (unsigned int i = 0; i < BALLOON_REJ__COUNT; i++)
		add_u64(rej, balloon_reject__name((enum balloon_reject)i), st->rejected[i]);
	json_object_object_add(b, "rejected", rej);
	json_object_object_add(o, "balloon", b);

	d = json_object_new_object();
	json_object_object_add(d, "method", json_object_new_string(s.balloon.discard_method));
	json_object_object_add(d, "engine", json_object_new_string(s.balloon.discard_engine));
	json_object_object_add(d, "reason", json_object_new_string(s.balloon.discard_reason));
	add_u64(d, "granule_bytes", s.balloon.discard_granule_bytes);
	add_counters(d, metrics__discard_counters, metrics__nr_discard_counters, ds);
	json_object_object_add(d, "report_latency", histogram_json(&ds->report_latency));
	json_object_object_add(d, "op_latency", histogram_json(&ds->op_latency));
	json_object_object_add(o, "discard", d);
	reply_json(r, 200, o);
}

static void format_api_metrics(struct api_server *srv, FILE *out)
{
	fputs("# HELP mini_vmm_api_requests_total HTTP requests answered, by listener and "
	      "status code.\n# TYPE mini_vmm_api_requests_total counter\n",
	      out);
	for (unsigned int l = 0; l < LISTENER__COUNT; l++) {
		if (!srv->listeners[l].daemon)
			continue;
		for (unsigned int i = 0; i < NR_CODES; i++) {
			uint64_t n =
				__atomic_load_n(&srv->listeners[l].requests[i], __ATOMIC_RELAXED);
			char code[8];

			if (i < NR_CODES - 1)
				snprintf(code, sizeof(code), "%u", counted_codes[i]);
			else
				snprintf(code, sizeof(code), "other");
			fprintf(out,
				"mini_vmm_api_requests_total{listener=\"%s\",code=\"%s\"} %llu\n",
				listener_names[l], code, (unsigned long long)n);
		}
	}
	fprintf(out,
		"# HELP mini_vmm_api_request_timeouts_total Requests not complete within the "
		"timeout (answered 408).\n# TYPE mini_vmm_api_request_timeouts_total counter\n"
		"mini_vmm_api_request_timeouts_total %llu\n",
		(unsigned long long)__atomic_load_n(&srv->timeouts, __ATOMIC_RELAXED));
	fprintf(out,
		"# HELP mini_vmm_metrics_log_samples_total Samples written to --metrics-log.\n"
		"# TYPE mini_vmm_metrics_log_samples_total counter\n"
		"mini_vmm_metrics_log_samples_total %llu\n",
		(unsigned long long)__atomic_load_n(&srv->mlog.samples, __ATOMIC_RELAXED));
}

static void get_metrics(struct api_request *req, struct api_reply *r)
{
	struct api_server *srv = req->l->srv;
	struct vm_snapshot s;
	size_t len = 0;
	char *buf = NULL;
	FILE *out = open_memstream(&buf, &len);

	if (!out) {
		reply_error(r, 500, "out of memory");
		return;
	}
	take_snapshot(srv, &s);
	metrics__format(&s, out);
	format_api_metrics(srv, out);
	if (fclose(out) != 0) {
		free(buf);
		reply_error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->body = buf;
	r->len = len;
}

static void get_dashboard(struct api_request *req, struct api_reply *r)
{
	r->status = 200;
	r->content_type = "text/html; charset=utf-8";
	r->static_body = dashboard__html(&r->len);
}

static void get_root_redirect(struct api_request *req, struct api_reply *r)
{
	r->status = 303;
	r->location = "/dashboard";
	r->content_type = "text/plain; charset=utf-8";
	r->static_body = "See /dashboard\n";
	r->len = strlen(r->static_body);
}

static struct json_object *u64_array(const struct api_sample *samples, unsigned int n,
				     size_t offset)
{
	struct json_object *a = json_object_new_array_ext((int)n);

	for (unsigned int i = 0; i < n; i++) {
		uint64_t v = *(const uint64_t *)((const char *)&samples[i] + offset);

		json_object_array_add(a, v == UINT64_MAX ? NULL : json_object_new_uint64(v));
	}
	return a;
}

/*
 * The dashboard's feed: the values now, the history the sampler kept (only
 * the samples after ?since=T_MS if given), and the report latency histogram.
 */
static void get_dashboard_data(struct api_request *req, struct api_reply *r)
{
	struct api_server *srv = req->l->srv;
	const char *since_arg =
		MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "since");
	uint64_t since = since_arg ? strtoull(since_arg, NULL, 10) : 0;
	struct json_object *o = json_object_new_object(), *now, *hist;
	struct api_sample *copy;
	unsigned int n = 0;
	struct vm_snapshot s;
	uint64_t v;

	copy = malloc(sizeof(*copy) * API_HISTORY_SAMPLES);
	if (!copy) {
		json_object_put(o);
		reply_error(r, 500, "out of memory");
		return;
	}
	pthread_mutex_lock(&srv->lock);
	for (unsigned int i = 0; i < srv->hist_len; i++) {
		const struct api_sample *p =
			&srv->history[(srv->hist_head + API_HISTORY_SAMPLES - srv->hist_len + i) %
				      API_HISTORY_SAMPLES];

		if (!since_arg || p->t_ms > since)
			copy[n++] = *p;
	}
	pthread_mutex_unlock(&srv->lock);

	take_snapshot(srv, &s);
	now = json_object_new_object();
	json_object_object_add(now, "state", json_object_new_string(vm_run_state__name(s.state)));
	add_u64(now, "t_ms", s.uptime_ns / 1000000ULL);
	add_u64(now, "guest_memory_bytes", s.guest_memory_bytes);
	add_u64(now, "guest_resident_bytes", s.guest_resident_bytes);
	json_object_object_add(now, "memory_backend", json_object_new_string(s.memory_backend));
	json_object_object_add(now, "balloon", json_object_new_boolean(s.has_balloon));
	if (s.has_balloon) {
		add_u64(now, "balloon_target_bytes", s.balloon.target_bytes);
		add_u64(now, "balloon_actual_bytes", s.balloon.actual_bytes);
		json_object_object_add(now, "guest_free_memory_bytes",
				       metrics__guest_stat(&s, GUEST_STAT_FREE_MEMORY, &v)
					       ? json_object_new_uint64(v)
					       : NULL);
		json_object_object_add(now, "guest_available_memory_bytes",
				       metrics__guest_stat(&s, GUEST_STAT_AVAILABLE_MEMORY, &v)
					       ? json_object_new_uint64(v)
					       : NULL);
		add_u64(now, "bytes_reported", s.balloon.stats.bytes_reported);
		add_u64(now, "bytes_discarded", s.balloon.discard.bytes_discarded);
		add_u64(now, "reports", s.balloon.stats.reports);
		add_u64(now, "reports_in_flight", s.balloon.discard.reports_in_flight);
		json_object_object_add(now, "discard_method",
				       json_object_new_string(s.balloon.discard_method));
		json_object_object_add(now, "discard_engine",
				       json_object_new_string(s.balloon.discard_engine));
		json_object_object_add(o, "report_latency",
				       histogram_json(&s.balloon.discard.report_latency));
	}
	json_object_object_add(o, "now", now);
	add_u64(o, "interval_ms", srv->cfg.interval_ms);

	hist = json_object_new_object();
	json_object_object_add(hist, "t_ms", u64_array(copy, n, offsetof(struct api_sample, t_ms)));
	json_object_object_add(hist, "resident",
			       u64_array(copy, n, offsetof(struct api_sample, resident)));
	json_object_object_add(hist, "target",
			       u64_array(copy, n, offsetof(struct api_sample, target)));
	json_object_object_add(hist, "actual",
			       u64_array(copy, n, offsetof(struct api_sample, actual)));
	json_object_object_add(hist, "guest_free",
			       u64_array(copy, n, offsetof(struct api_sample, guest_free)));
	json_object_object_add(hist, "reported",
			       u64_array(copy, n, offsetof(struct api_sample, reported)));
	json_object_object_add(hist, "discarded",
			       u64_array(copy, n, offsetof(struct api_sample, discarded)));
	json_object_object_add(o, "history", hist);
	free(copy);
	reply_json(r, 200, o);
}

static const struct api_route routes[] = {
	{"/", M_GET, true, .get = get_instance},
	{"/vm", M_GET, true, .get = get_vm},
	{"/actions", M_PUT, true, .put = put_actions},
	{"/balloon", M_GET | M_PUT | M_PATCH, true, .get = get_balloon, .put = put_balloon,
	 .patch = patch_balloon},
	{"/balloon/statistics", M_GET | M_PATCH, true, .get = get_balloon_statistics,
	 .patch = patch_balloon_statistics},
	{"/balloon/reporting", M_GET, true, .get = get_balloon_reporting},
	{"/metrics", M_GET, false, .get = get_metrics},
	{"/dashboard", M_GET, false, .get = get_dashboard},
	{"/dashboard/data", M_GET, false, .get = get_dashboard_data},
};

/* On the metrics listener, "/" leads a browser to the dashboard. */
static const struct api_route metrics_root = {"/", M_GET, false, .get = get_root_redirect};

static const char *allow_header(unsigned int methods)
{
	static const char *const allow[8] = {
		[M_GET] = "GET, HEAD",
		[M_PUT] = "PUT",
		[M_PATCH] = "PATCH",
		[M_GET | M_PUT] = "GET, HEAD, PUT",
		[M_GET | M_PATCH] = "GET, HEAD, PATCH",
		[M_PUT | M_PATCH] = "PUT, PATCH",
		[M_GET | M_PUT | M_PATCH] = "GET, HEAD, PUT, PATCH",
	};

	return allow[methods & 7];
}

static unsigned int method_bit(const char *method)
{
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		return M_GET;
	if (strcmp(method, MHD_HTTP_METHOD_PUT) == 0)
		return M_PUT;
	if (strcmp(method, MHD_HTTP_METHOD_PATCH) == 0)
		return M_PATCH;
	return 0;
}

/* Route the request; false after filling a 404 or 405 reply. */
static bool route_request(struct api_request *req, const char *url, const char *method,
			  struct api_reply *r)
{
	const struct api_route *route = NULL;

	if (req->l->kind == LISTENER_METRICS && strcmp(url, "/") == 0)
		route = &metrics_root;
	for (unsigned int i = 0; !route && i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(url, routes[i].path) == 0)
			route = &routes[i];
	if (!route) {
		reply_error(r, 404, "no such endpoint: %.128s", url);
		return false;
	}
	if (route->control && req->l->kind != LISTENER_API) {
		reply_error(r, 404, "%.128s is served on the API socket (--api-socket) only", url);
		return false;
	}
	req->route = route;
	req->method = method_bit(method);
	if (!(req->method & route->methods)) {
		reply_error(r, 405, "method %.16s not allowed on %s (allowed: %s)", method,
			    route->path, allow_header(route->methods));
		r->allow = allow_header(route->methods);
		return false;
	}
	return true;
}

static const char *header(struct api_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* Before the body: a JSON Content-Type (or none) and a size we accept. */
static bool check_body_headers(struct api_request *req, struct api_reply *r)
{
	const char *ctype = header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *clen = header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (ctype && strncasecmp(ctype, "application/json", 16) != 0) {
		reply_error(r, 415, "Content-Type must be application/json, not '%.64s'", ctype);
		return false;
	}
	if (clen && strtoull(clen, NULL, 10) > API_MAX_BODY_BYTES) {
		reply_error(r, 413, "request body of %.20s bytes is over the limit of %u bytes",
			    clen, API_MAX_BODY_BYTES);
		return false;
	}
	return true;
}

/*
 * Answer a request refused on its headers: at once if it has no body coming
 * (or waits for "100 Continue", or announces more than DRAIN_MAX_BYTES),
 * else after its body has been read and dropped (see DRAIN_MAX_BYTES).
 */
static enum MHD_Result send_early_reply(struct api_request *req, struct api_reply *r)
{
	const char *clen = header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	const char *expect = header(req, MHD_HTTP_HEADER_EXPECT);
	uint64_t len = clen ? strtoull(clen, NULL, 10) : 0;

	if ((len == 0 && !te) || expect || len > DRAIN_MAX_BYTES)
		return send_reply(req, r);
	req->pending = *r;
	req->has_pending = true;
	return MHD_YES;
}

/* Mid-body: stop reading and have on_completed write the answer. */
static enum MHD_Result abort_request(struct api_request *req, unsigned int status, const char *msg)
{
	req->abort_status = status;
	req->abort_msg = msg;
	return MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api_listener *l = cls;
	struct api_request *req = *con_cls;
	struct api_reply r = {0};
	route_fn fn;

	if (!req) {
		/* Headers complete: answer what we can before reading any body. */
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		req->l = l;
		req->conn = conn;
		req->start_ns = clock__mono_ns();
		if (!route_request(req, url, method, &r) ||
		    ((req->method & (M_PUT | M_PATCH)) && !check_body_headers(req, &r)))
			return send_early_reply(req, &r);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (clock__mono_ns() - req->start_ns >
		    (uint64_t)l->srv->cfg.timeout_s * 1000000000ULL) {
			__atomic_fetch_add(&l->srv->timeouts, 1, __ATOMIC_RELAXED);
			return abort_request(req, 408, "request not complete within the timeout");
		}
		if (req->has_pending || req->too_large) {
			/* Dropped; a chunked body that never ends is cut off here. */
			req->drained += *upload_data_size;
			*upload_data_size = 0;
			if (req->drained > DRAIN_MAX_BYTES)
				return abort_request(
					req, req->has_pending ? req->pending.status : 413,
					"request refused, and its body is over the limit");
			return MHD_YES;
		}
		if (req->len + *upload_data_size > API_MAX_BODY_BYTES) {
			/* Chunked, or longer than it said: drop the rest, 413 at the end. */
			req->too_large = true;
		} else {
			memcpy(req->body + req->len, upload_data, *upload_data_size);
			req->len += *upload_data_size;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->responded)
		return MHD_YES;
	if (req->has_pending) {
		req->has_pending = false;
		return send_reply(req, &req->pending);
	}
	if (req->too_large) {
		reply_error(&r, 413, "request body is over the limit of %u bytes",
			    API_MAX_BODY_BYTES);
		return send_reply(req, &r);
	}
	req->body[req->len] = '\0';
	if (req->method == M_GET)
		fn = req->route->get;
	else if (req->method == M_PUT)
		fn = req->route->put;
	else
		fn = req->route->patch;
	fn(req, &r);
	return send_reply(req, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_listener *l = cls;
	struct api_request *req = *con_cls;

	if (!req)
		return;
	if (!req->responded) {
		if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED) {
			__atomic_fetch_add(&l->srv->timeouts, 1, __ATOMIC_RELAXED);
			write_raw_error(req, 408, "request not complete within the timeout");
		} else if (req->abort_status) {
			write_raw_error(req, req->abort_status, req->abort_msg);
		}
	}
	if (req->shutdown_after && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		log_info("api: shutdown requested (PUT /actions Shutdown)");
		l->srv->ops->request_shutdown(l->srv->opaque);
	}
	if (req->has_pending)
		free(req->pending.body);
	free(req);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_ratelimited(LOG_WARN, "api (libmicrohttpd): %s", msg);
}

/* ---- listeners ---- */

int api__parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon, *h = s;
	size_t hlen;
	unsigned long port;
	char *end;

	if (!s)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host) || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		*len = sizeof(*a4);
	}
	return 0;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* Whether something accepts connections on the Unix socket at sa. */
static bool unix_socket_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return live;
}

/*
 * The API socket, owner-only from the first instant: Linux creates the
 * socket file with the mode of the socket's inode minus the umask
 * (unix_bind), so fchmod before bind leaves no window where others could
 * connect; the chmod after is for other kernels. A stale socket left by a
 * mini-vmm that did not exit cleanly is replaced; a live one, or a file that
 * is not a socket, is an error.
 */
static int open_api_socket(const char *path, int *out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("--api-socket %s: longer than the %zu bytes a Unix socket path may have",
			  path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("--api-socket %s: exists and is not a socket", path);
			return -EEXIST;
		}
		if (unix_socket_live(&sa)) {
			log_error("--api-socket %s: another process is listening there", path);
			return -EADDRINUSE;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		err = errno;
		log_error("--api-socket %s: %s", path, strerror(err));
		close(fd);
		return -err;
	}
	*out = fd;
	return 0;
}

/*
 * The metrics listener's socket, bound to exactly the address given. Made
 * here rather than by MHD so that every socket exists before the API
 * threads are confined (seccomp: they may not create sockets).
 */
static int open_metrics_socket(const char *arg, const struct sockaddr_storage *ss, socklen_t len,
			       int *out, uint16_t *port)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int fd, one = 1, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* SO_REUSEADDR: a restarted mini-vmm gets its port back despite TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
		err = errno;
		log_error("--metrics-listen %s: %s", arg, strerror(err));
		close(fd);
		return -err;
	}
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						  : ((struct sockaddr_in *)&bound)->sin_port);
	*out = fd;
	return 0;
}

/* Serve listen_fd from a new MHD daemon (which owns the fd from then on). */
static int start_listener(struct api_server *srv, enum listener_kind kind, int listen_fd)
{
	struct api_listener *l = &srv->listeners[kind];
	struct MHD_OptionItem opts[] = {
		/* First, so that MHD's own start-up messages go through it too. */
		{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
		{MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.timeout_s, NULL},
		{MHD_OPTION_CONNECTION_LIMIT, API_MAX_CONNECTIONS, NULL},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, l},
		{MHD_OPTION_END, 0, NULL},
	};

	l->srv = srv;
	l->kind = kind;
	l->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, l, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!l->daemon) {
		log_error("api: libmicrohttpd could not serve the %s listener",
			  listener_names[kind]);
		close(listen_fd);
		return -EIO;
	}
	return 0;
}

/* ---- the sampler ---- */

static void record_sample(struct api_server *srv, const struct vm_snapshot *s)
{
	unsigned int last = (srv->hist_head + API_HISTORY_SAMPLES - 1) % API_HISTORY_SAMPLES;
	struct api_sample *p = &srv->history[srv->hist_head];
	uint64_t v;

	/* Two samples in one millisecond (a flush right after a tick): keep the newer. */
	if (srv->hist_len && srv->history[last].t_ms == s->uptime_ns / 1000000ULL) {
		srv->hist_head = last;
		srv->hist_len--;
		p = &srv->history[last];
	}

	*p = (struct api_sample){
		.t_ms = s->uptime_ns / 1000000ULL,
		.resident = s->guest_resident_bytes,
		.target = s->has_balloon ? s->balloon.target_bytes : UINT64_MAX,
		.actual = s->has_balloon ? s->balloon.actual_bytes : UINT64_MAX,
		.guest_free = metrics__guest_stat(s, GUEST_STAT_FREE_MEMORY, &v) ? v : UINT64_MAX,
		.reported = s->has_balloon ? s->balloon.stats.bytes_reported : UINT64_MAX,
		.discarded = s->has_balloon ? s->balloon.discard.bytes_discarded : UINT64_MAX,
	};
	srv->hist_head = (srv->hist_head + 1) % API_HISTORY_SAMPLES;
	if (srv->hist_len < API_HISTORY_SAMPLES)
		srv->hist_len++;
}

/*
 * One sample per interval, on a fixed schedule (a slow sample does not
 * shift the next ones), plus one whenever PUT /actions FlushMetrics asks.
 */
static void *sampler_main(void *arg)
{
	struct api_server *srv = arg;
	uint64_t interval = (uint64_t)srv->cfg.interval_ms * 1000000ULL, next = clock__mono_ns();
	struct vm_snapshot s;
	struct timespec deadline;

	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping) {
		srv->sample_now = false;
		pthread_mutex_unlock(&srv->lock);
		/* Outside the lock: the snapshot walks guest RAM's residency (mincore). */
		take_snapshot(srv, &s);
		metrics_log__sample(&srv->mlog, &s);
		pthread_mutex_lock(&srv->lock);
		record_sample(srv, &s);
		while (next <= clock__mono_ns())
			next += interval;
		deadline.tv_sec = (time_t)(next / 1000000000ULL);
		deadline.tv_nsec = (long)(next % 1000000000ULL);
		while (!srv->stopping && !srv->sample_now &&
		       pthread_cond_timedwait(&srv->cond, &srv->lock, &deadline) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

static int start_sampler(struct api_server *srv)
{
	int ret = pthread_create(&srv->sampler, NULL, sampler_main, srv);

	if (ret) {
		log_error("api: cannot start the sampler thread: %s", strerror(ret));
		return -ret;
	}
	srv->sampler_started = true;
	return 0;
}

/* What the setup thread gets: the sockets made on the caller's thread. */
struct api_setup {
	struct api_server *srv;
	int fd[LISTENER__COUNT];
	int ret;
};

/*
 * glibc opens /proc/sys/vm/overcommit_memory the first time a thread arena's
 * heap shrinks (malloc/arena.c, check_may_shrink_heap), and a confined API
 * thread may open nothing. Make that first time happen here, before confine:
 * grow this thread's arena well past the trim threshold, then free it.
 */
static void warm_up_malloc(void)
{
	void *p[16];

	for (unsigned int i = 0; i < 16; i++) {
		p[i] = malloc(64 * 1024); /* below the mmap threshold: from the arena */
		if (p[i])
			*(volatile char *)p[i] = 1;
	}
	for (unsigned int i = 16; i-- > 0;)
		free(p[i]);
}

/*
 * Every API thread (MHD's and the sampler) is created from this one, after
 * cfg.confine ran on it: they all inherit what it installed (a seccomp
 * filter), and its signal mask (see api__start).
 */
static void *api_setup_main(void *arg)
{
	struct api_setup *st = arg;
	struct api_server *srv = st->srv;

	/* Inherited by the sampler (MHD names its own threads "MHD-single"). */
	prctl(PR_SET_NAME, "api-sampler");
	if (srv->cfg.confine) {
		warm_up_malloc();
		st->ret = srv->cfg.confine(srv->cfg.confine_opaque);
		if (st->ret < 0)
			return NULL;
	}
	for (unsigned int i = 0; i < LISTENER__COUNT; i++) {
		if (st->fd[i] < 0)
			continue;
		st->ret = start_listener(srv, (enum listener_kind)i, st->fd[i]);
		st->fd[i] = -1; /* MHD's, or closed */
		if (st->ret < 0)
			return NULL;
	}
	st->ret = start_sampler(srv);
	return NULL;
}

static void log_started(struct api_server *srv, const struct sockaddr_storage *ss)
{
	const struct api_config *cfg = &srv->cfg;

	if (cfg->socket_path)
		log_info("api: control API on unix:%s (HTTP/1.1, JSON; docs/api.md)",
			 cfg->socket_path);
	if (cfg->metrics_listen) {
		const char *host = cfg->metrics_listen;
		int hostlen = (int)(strrchr(host, ':') - host);

		log_info("api: metrics on http://%.*s:%u/metrics, dashboard on "
			 "http://%.*s:%u/dashboard",
			 hostlen, host, srv->metrics_port, hostlen, host, srv->metrics_port);
		if (!is_loopback(ss))
			log_warn("--metrics-listen %s: not a loopback address: anyone who can "
				 "reach it can read the metrics and the dashboard (read-only)",
				 cfg->metrics_listen);
	}
	if (cfg->metrics_log_path)
		log_info("api: sampling every %u ms into --metrics-log %s", cfg->interval_ms,
			 cfg->metrics_log_path);
}

static void api_open_socket_dir(struct api_server *srv)
{
	char *slash = strrchr(srv->socket_path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	srv->socket_name = slash ? slash + 1 : srv->socket_path;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == srv->socket_path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - srv->socket_path),
			 srv->socket_path);
	srv->socket_dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int api__start(struct api_server **out, const struct api_config *cfg,
	       const struct vm_control_ops *ops, void *opaque)
{
	struct api_setup st = {.fd = {-1, -1}};
	struct sockaddr_storage ss = {0};
	struct api_server *srv;
	pthread_condattr_t ca;
	pthread_t setup;
	sigset_t all, old;
	socklen_t sslen;
	int ret = 0;

	*out = NULL;
	if (!cfg->socket_path && !cfg->metrics_listen && !cfg->metrics_log_path)
		return 0;
	if (cfg->metrics_listen && api__parse_listen(cfg->metrics_listen, &ss, &sslen) < 0) {
		log_error("--metrics-listen '%s': expected ADDRESS:PORT, like 127.0.0.1:9100 or "
			  "[::1]:9100",
			  cfg->metrics_listen);
		return -EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv)
		srv->socket_dirfd = -1;
	if (!srv)
		return -ENOMEM;
	srv->cfg = *cfg;
	if (!srv->cfg.interval_ms)
		srv->cfg.interval_ms = API_DEFAULT_INTERVAL_MS;
	if (!srv->cfg.timeout_s)
		srv->cfg.timeout_s = API_DEFAULT_TIMEOUT_S;
	if (!srv->cfg.vmm_version)
		srv->cfg.vmm_version = "unknown";
	if (!srv->cfg.instance_id)
		srv->cfg.instance_id = "mini-vmm";
	srv->ops = ops;
	srv->opaque = opaque;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->cond, &ca);
	pthread_condattr_destroy(&ca);
	srv->history = calloc(API_HISTORY_SAMPLES, sizeof(*srv->history));
	if (!srv->history) {
		ret = -ENOMEM;
		goto err;
	}

	/*
	 * Files and sockets first, on this thread: the API threads may not make
	 * any. Likewise glibc's time zone, which MHD's Date header (gmtime_r)
	 * would otherwise load from /etc/localtime on its first request.
	 */
	tzset();
	if (cfg->metrics_log_path) {
		ret = metrics_log__open(&srv->mlog, cfg->metrics_log_path);
		if (ret < 0)
			goto err;
	}
	if (cfg->socket_path) {
		ret = open_api_socket(cfg->socket_path, &st.fd[LISTENER_API]);
		if (ret < 0)
			goto err;
		srv->socket_path = strdup(cfg->socket_path);
		if (srv->socket_path)
			api_open_socket_dir(srv);
	}
	if (cfg->metrics_listen) {
		ret = open_metrics_socket(cfg->metrics_listen, &ss, sslen, &st.fd[LISTENER_METRICS],
					  &srv->metrics_port);
		if (ret < 0)
			goto err;
	}

	st.srv = srv;
	/*
	 * Asynchronous signals are the VM's (its signalfd): blocked in every API
	 * thread. The synchronous ones stay open: a blocked SIGSYS from seccomp
	 * or a SIGSEGV would kill the process without its handler's message.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&setup, NULL, api_setup_main, &st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		ret = -ret;
		goto err;
	}
	pthread_join(setup, NULL);
	ret = st.ret;
	if (ret < 0)
		goto err;
	log_started(srv, &ss);
	*out = srv;
	return 0;
err:
	for (unsigned int i = 0; i < LISTENER__COUNT; i++)
		if (st.fd[i] >= 0)
			close(st.fd[i]);
	api__stop(srv);
	return ret;
}

int api__socket_dirfd(const struct api_server *srv)
{
	return srv ? srv->socket_dirfd : -1;
}

void api__stop(struct api_server *srv)
{
	if (!srv)
		return;
	for (unsigned int i = 0; i < LISTENER__COUNT; i++) {
		if (srv->listeners[i].daemon)
			MHD_stop_daemon(srv->listeners[i].daemon);
		srv->listeners[i].daemon = NULL;
	}
	if (srv->socket_path) {
		/*
		 * unlinkat on the directory opened at start: the device thread's
		 * seccomp filter allows exactly that (seccomp__allow_unlinkat).
		 */
		if (srv->socket_dirfd >= 0) {
			unlinkat(srv->socket_dirfd, srv->socket_name, 0);
			close(srv->socket_dirfd);
		} else {
			unlink(srv->socket_path);
		}
		free(srv->socket_path);
	}
	if (srv->sampler_started) {
		pthread_mutex_lock(&srv->lock);
		srv->stopping = true;
		pthread_cond_signal(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
		pthread_join(srv->sampler, NULL);
	}
	pthread_cond_destroy(&srv->cond);
	metrics_log__close(&srv->mlog);
	pthread_mutex_destroy(&srv->lock);
	free(srv->history);
	free(srv);
}

uint16_t api__metrics_port(const struct api_server *srv)
{
	return srv ? srv->metrics_port : 0;
}

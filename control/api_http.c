// SPDX-License-Identifier: GPL-2.0
/*
 * The HTTP side of the control API and the metrics listener: libmicrohttpd
 * daemons, one request's life in them, replies and the per-status counters.
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
#include "control/api_internal.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * A request refused on its headers (404, 405, 415, 413) that is sending a
 * body anyway has up to this much of it read and dropped before the answer:
 * a client that writes its whole body before reading (Python's http.client,
 * most libraries) then reads the 4xx instead of a broken pipe. Larger bodies
 * are answered at once and the connection closed.
 */
#define DRAIN_MAX_BYTES (1024 * 1024)

/* Status codes we count in mini_vmm_api_requests_total; others count as "other". */
static const unsigned int counted_codes[NR_CODES - 1] = {200, 204, 303, 400, 404,
							 405, 408, 413, 415, 500};

static const char *const listener_names[LISTENER__COUNT] = {"api", "metrics"};

/* ---- replies ---- */

void api_reply__json(struct api_reply *r, unsigned int status, struct json_object *obj)
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

void __attribute__((format(printf, 3, 4)))
api_reply__error(struct api_reply *r, unsigned int status, const char *fmt, ...)
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

void api_reply__no_content(struct api_reply *r)
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

/* An answer went out (or was queued): its status and how long the request took. */
static void count_status(struct api_request *req, unsigned int status)
{
	struct api_listener *l = req->l;
	uint64_t ns = clock__mono_ns() - req->start_ns;
	unsigned int i;

	for (i = 0; i < NR_CODES - 1; i++)
		if (counted_codes[i] == status)
			break;
	__atomic_fetch_add(&l->requests[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->durations.buckets[discard_histogram__bucket(ns)], 1,
			   __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->durations.sum_ns, ns, __ATOMIC_RELAXED);
	__atomic_fetch_add(&l->durations.count, 1, __ATOMIC_RELAXED);
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
		count_status(req, r->status);
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
	count_status(req, status);
}

/* ---- one request ---- */

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
		api_reply__error(r, 415, "Content-Type must be application/json, not '%.64s'",
				 ctype);
		return false;
	}
	if (clen && strtoull(clen, NULL, 10) > API_MAX_BODY_BYTES) {
		api_reply__error(r, 413,
				 "request body of %.20s bytes is over the limit of %u bytes", clen,
				 API_MAX_BODY_BYTES);
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
		if (!api_routes__route(req, url, method, &r) ||
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
		api_reply__error(&r, 413, "request body is over the limit of %u bytes",
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
	/* A failed InstanceStart stops mini-vmm once its 400 is out (or its client gone). */
	if (req->stop_after_failed_start)
		l->srv->ops->request_shutdown(l->srv->opaque);
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

/* Serve listen_fd from a new MHD daemon (which owns the fd from then on). */
int api_http__start_listener(struct api_server *srv, enum listener_kind kind, int listen_fd)
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

/* ---- the server's own counters, for GET /metrics ---- */

void api_http__format_metrics(struct api_server *srv, FILE *f)
{
	struct metrics_out o = {.f = f, .vm_id = srv->cfg.instance_id};

	metrics_out__family(&o, "mini_vmm_api_requests_total", "counter",
			    "HTTP requests answered, by listener and status code.");
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
			metrics_out__begin(&o, "mini_vmm_api_requests_total");
			metrics_out__label(&o, "listener", listener_names[l]);
			metrics_out__label(&o, "code", code);
			metrics_out__end_u64(&o, n);
		}
	}
	metrics_out__family(&o, "mini_vmm_api_request_duration_seconds", "histogram",
			    "Requests by listener: headers complete to answer queued.");
	for (unsigned int l = 0; l < LISTENER__COUNT; l++) {
		const struct discard_histogram *d = &srv->listeners[l].durations;
		struct discard_histogram h = {0};
		uint64_t total = 0;

		if (!srv->listeners[l].daemon)
			continue;
		/* Bucket by bucket while requests go on: _count is the buckets' sum. */
		for (unsigned int i = 0; i < DISCARD_HIST_BUCKETS; i++)
			total += h.buckets[i] = __atomic_load_n(&d->buckets[i], __ATOMIC_RELAXED);
		h.count = total;
		h.sum_ns = __atomic_load_n(&d->sum_ns, __ATOMIC_RELAXED);
		metrics_out__histogram(&o, "api_request_duration_seconds", "listener",
				       listener_names[l], &h);
	}
	metrics_out__family(&o, "mini_vmm_api_request_timeouts_total", "counter",
			    "Requests not complete within the timeout (answered 408).");
	metrics_out__begin(&o, "mini_vmm_api_request_timeouts_total");
	metrics_out__end_u64(&o, __atomic_load_n(&srv->timeouts, __ATOMIC_RELAXED));
	metrics_out__family(&o, "mini_vmm_metrics_log_samples_total", "counter",
			    "Samples written to --metrics-log.");
	metrics_out__begin(&o, "mini_vmm_metrics_log_samples_total");
	metrics_out__end_u64(&o, __atomic_load_n(&srv->mlog.samples, __ATOMIC_RELAXED));
	metrics_process__format(&srv->process, &o);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The dashboard's server side: the page (GET /dashboard: dashboard.html,
 * compiled into the binary by dashboard.cmake, so it needs no files and no
 * network), its feed (GET /dashboard/data: the values now, the
 * sampler's history, the report latency histogram) and, on the metrics
 * listener, "/" redirecting a browser to it.
 */
#include "control/api_internal.h"

#include <stdlib.h>
#include <string.h>

/* Generated from control/dashboard.html by control/dashboard.cmake: dashboard_html[]. */
#include "dashboard_html.h"

void api_get_dashboard(struct api_request *req, struct api_reply *r)
{
	r->status = 200;
	r->content_type = "text/html; charset=utf-8";
	r->static_body = dashboard_html;
	r->len = sizeof(dashboard_html);
}

void api_get_root_redirect(struct api_request *req, struct api_reply *r)
{
	r->status = 303;
	r->location = "/dashboard";
	r->content_type = "text/plain; charset=utf-8";
	r->static_body = "See /dashboard\n";
	r->len = strlen(r->static_body);
}

static struct json_object *u64_array(const struct history_point *samples, unsigned int n,
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
void api_get_dashboard_data(struct api_request *req, struct api_reply *r)
{
	struct api_server *srv = req->l->srv;
	const char *since_arg =
		MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "since");
	uint64_t since = since_arg ? strtoull(since_arg, NULL, 10) : 0;
	struct json_object *o = json_object_new_object(), *now, *hist;
	struct history_point *copy;
	unsigned int n;
	struct vm_sample s;
	uint64_t v;

	copy = malloc(sizeof(*copy) * API_HISTORY_SAMPLES);
	if (!copy) {
		json_object_put(o);
		api_reply__error(r, 500, "out of memory");
		return;
	}
	n = sampler__history(srv, since_arg ? &since : NULL, copy);

	sampler__take(srv, &s);
	now = json_object_new_object();
	json_object_object_add(now, "state", json_object_new_string(vm_run_state__name(s.state)));
	api_json__add_u64(now, "t_ms", s.uptime_ns / 1000000ULL);
	api_json__add_u64(now, "guest_memory_bytes", s.guest_memory_bytes);
	api_json__add_u64(now, "guest_resident_bytes", s.guest_resident_bytes);
	json_object_object_add(now, "memory_backend", json_object_new_string(s.memory_backend));
	json_object_object_add(now, "balloon", json_object_new_boolean(s.has_balloon));
	if (s.has_balloon) {
		api_json__add_u64(now, "balloon_target_bytes", s.balloon.target_bytes);
		api_json__add_u64(now, "balloon_actual_bytes", s.balloon.actual_bytes);
		json_object_object_add(now, "guest_free_memory_bytes",
				       metrics__guest_stat(&s, VIRTIO_BALLOON_S_MEMFREE, &v)
					       ? json_object_new_uint64(v)
					       : NULL);
		json_object_object_add(now, "guest_available_memory_bytes",
				       metrics__guest_stat(&s, VIRTIO_BALLOON_S_AVAIL, &v)
					       ? json_object_new_uint64(v)
					       : NULL);
		api_json__add_u64(now, "bytes_reported", s.balloon.stats.bytes_reported);
		api_json__add_u64(now, "bytes_discarded", s.balloon.discard.bytes_discarded);
		api_json__add_u64(now, "reports", s.balloon.stats.reports);
		api_json__add_u64(now, "reports_in_flight", s.balloon.discard.reports_in_flight);
		json_object_object_add(now, "discard_method",
				       json_object_new_string(s.balloon.discard_method));
		json_object_object_add(now, "discard_engine",
				       json_object_new_string(s.balloon.discard_engine));
		json_object_object_add(o, "report_latency",
				       api_json__histogram(&s.balloon.discard.report_latency));
	}
	json_object_object_add(o, "now", now);
	api_json__add_u64(o, "interval_ms", srv->cfg.interval_ms);

	hist = json_object_new_object();
	json_object_object_add(hist, "t_ms",
			       u64_array(copy, n, offsetof(struct history_point, t_ms)));
	json_object_object_add(hist, "resident",
			       u64_array(copy, n, offsetof(struct history_point, resident)));
	json_object_object_add(hist, "target",
			       u64_array(copy, n, offsetof(struct history_point, target)));
	json_object_object_add(hist, "actual",
			       u64_array(copy, n, offsetof(struct history_point, actual)));
	json_object_object_add(hist, "guest_free",
			       u64_array(copy, n, offsetof(struct history_point, guest_free)));
	json_object_object_add(hist, "reported",
			       u64_array(copy, n, offsetof(struct history_point, reported)));
	json_object_object_add(hist, "discarded",
			       u64_array(copy, n, offsetof(struct history_point, discarded)));
	json_object_object_add(o, "history", hist);
	free(copy);
	api_reply__json(r, 200, o);
}

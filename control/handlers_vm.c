// SPDX-License-Identifier: GPL-2.0
/*
 * Handlers for the VM as a whole: GET / (Firecracker's instance info),
 * GET /vm, PUT /actions (Shutdown, FlushMetrics) and GET /metrics (the
 * Prometheus exposition of a sample, plus the API's own counters).
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void get_instance(struct api_request *req, struct api_reply *r)
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

void get_vm(struct api_request *req, struct api_reply *r)
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

void put_actions(struct api_request *req, struct api_reply *r)
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
		sampler__flush(srv);
		reply_no_content(r);
	} else {
		reply_error(r, 400,
			    "unsupported action_type '%.64s' (expected Shutdown or FlushMetrics)",
			    action);
	}
	json_object_put(obj);
}

void get_metrics(struct api_request *req, struct api_reply *r)
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

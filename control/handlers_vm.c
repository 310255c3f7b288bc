// SPDX-License-Identifier: GPL-2.0
/*
 * Handlers for the VM as a whole: GET / (Firecracker's instance info),
 * GET /vm, PUT /actions (InstanceStart, Shutdown, FlushMetrics) and GET /metrics (the
 * Prometheus exposition of a sample, plus the API's own counters).
 */
#define _GNU_SOURCE
#include "control/api_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* InstanceInfo's state takes Firecracker's three values only. */
static const char *instance_state(enum vm_run_state s)
{
	if (s == VM_RUN_STATE_PAUSED)
		return "Paused";
	return s == VM_RUN_STATE_NOT_STARTED || s == VM_RUN_STATE_STARTING ? "Not started"
									   : "Running";
}

void api_get_instance(struct api_request *req, struct api_reply *r)
{
	struct api_server *srv = req->l->srv;
	struct json_object *o = json_object_new_object();
	struct vm_sample s;

	sampler__take(srv, &s);
	json_object_object_add(o, "id", json_object_new_string(srv->cfg.instance_id));
	json_object_object_add(o, "state", json_object_new_string(instance_state(s.state)));
	json_object_object_add(o, "vmm_version", json_object_new_string(srv->cfg.vmm_version));
	json_object_object_add(o, "app_name", json_object_new_string("mini-vmm"));
	api_reply__json(r, 200, o);
}

void api_get_vm(struct api_request *req, struct api_reply *r)
{
	struct json_object *o = json_object_new_object();
	struct vm_sample s;

	sampler__take(req->l->srv, &s);
	json_object_object_add(o, "state", json_object_new_string(vm_run_state__name(s.state)));
	api_json__add_seconds(o, "uptime_s", s.uptime_ns);
	api_json__add_u64(o, "vcpus", s.vcpus);
	api_json__add_u64(o, "guest_memory_bytes", s.guest_memory_bytes);
	api_json__add_u64(o, "guest_memory_mib", s.guest_memory_bytes >> MIB_SHIFT);
	api_json__add_u64(o, "guest_resident_bytes", s.guest_resident_bytes);
	json_object_object_add(o, "memory_backend", json_object_new_string(s.memory_backend));
	json_object_object_add(o, "balloon", json_object_new_boolean(s.has_balloon));
	api_json__add_seconds(o, "event_loop_max_callback_s", s.event_loop_max_callback_ns);
	api_reply__json(r, 200, o);
}

/* Firecracker's PATCH /vm: {"state": "Paused" | "Resumed"}. */
void api_patch_vm(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {{"state", json_type_string, true}};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = api_json__parse_body(req, r, spec, 1), *v;
	const char *state;
	char err[256] = "";
	bool pause;
	int ret;

	if (!obj)
		return;
	json_object_object_get_ex(obj, "state", &v);
	state = json_object_get_string(v);
	pause = strcmp(state, "Paused") == 0;
	if (!pause && strcmp(state, "Resumed") != 0) {
		api_reply__error(r, 400, "'state': '%.32s' (expected Paused or Resumed)", state);
	} else if (!srv->ops->set_paused) {
		api_reply__error(r, 400, "this VM cannot be paused");
	} else {
		ret = srv->ops->set_paused(srv->opaque, pause, err, sizeof(err));
		if (ret == -EAGAIN)
			api_reply__error(r, 400, API_MSG_PRE_BOOT);
		else if (ret < 0)
			api_reply__error(r, 400, "%s", err[0] ? err : strerror(-ret));
		else
			api_reply__no_content(r);
	}
	json_object_put(obj);
}

void api_put_actions(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {{"action_type", json_type_string, true}};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = api_json__parse_body(req, r, spec, 1), *v;
	const char *action;

	if (!obj)
		return;
	json_object_object_get_ex(obj, "action_type", &v);
	action = json_object_get_string(v);
	if (strcmp(action, "Shutdown") == 0) {
		/* Stopped from on_completed, once this 204 is on its way. */
		req->shutdown_after = true;
		api_reply__no_content(r);
	} else if (strcmp(action, "InstanceStart") == 0) {
		api_preboot__start(req, r);
	} else if (strcmp(action, "FlushMetrics") == 0) {
		sampler__flush(srv);
		api_reply__no_content(r);
	} else {
		api_reply__error(
			r, 400,
			"unsupported action_type '%.64s' (expected InstanceStart, Shutdown or "
			"FlushMetrics)",
			action);
	}
	json_object_put(obj);
}

void api_get_metrics(struct api_request *req, struct api_reply *r)
{
	struct api_server *srv = req->l->srv;
	struct vm_sample s;
	size_t len = 0;
	char *buf = NULL;
	FILE *out = open_memstream(&buf, &len);

	if (!out) {
		api_reply__error(r, 500, "out of memory");
		return;
	}
	sampler__take(srv, &s);
	metrics__format(&s, out);
	api_http__format_metrics(srv, out);
	if (fclose(out) != 0) {
		free(buf);
		api_reply__error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->body = buf;
	r->len = len;
}

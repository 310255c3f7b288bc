// SPDX-License-Identifier: GPL-2.0
/*
 * Firecracker's free page hinting endpoints: PATCH /balloon/hinting/start
 * (optional body {"acknowledge_on_stop": bool}, default true), GET
 * /balloon/hinting/status ({"host_cmd", "guest_cmd"}) and PATCH
 * /balloon/hinting/stop, with its status codes: 204, 200, and 400 with
 * {"fault_message"} when the balloon does not offer hinting. The device
 * side is devices/balloon_hinting.c; docs/virtio-balloon.md explains runs.
 */
#include "control/api_internal.h"

#include <errno.h>
#include <string.h>

/* 400 unless there is a balloon offering hinting; fills *s. */
static bool hinting_enabled(struct api_server *srv, struct vm_sample *s, struct api_reply *r)
{
	sampler__take(srv, s);
	if (!s->has_balloon) {
		api_reply__error(r, 400,
				 "No balloon device: start mini-vmm with --balloon "
				 "free-page-hinting=on");
		return false;
	}
	if (!s->balloon.free_page_hinting || !srv->ops->balloon_hinting) {
		api_reply__error(r, 400,
				 "Free page hinting is not enabled on the balloon device: start "
				 "mini-vmm with --balloon free-page-hinting=on");
		return false;
	}
	return true;
}

static void reply_hinting(struct api_reply *r, int ret)
{
	if (ret == 0)
		api_reply__no_content(r);
	else if (ret == -ENODEV)
		api_reply__error(r, 400,
				 "The balloon device is not active: the guest's driver has "
				 "not set it up (or did not accept free page hinting)");
	else if (ret == -EOPNOTSUPP)
		api_reply__error(r, 400,
				 "Free page hinting is not enabled on the balloon device: start "
				 "mini-vmm with --balloon free-page-hinting=on");
	else
		api_reply__error(r, 400, "free page hinting failed: %s", strerror(-ret));
}

void api_patch_balloon_hinting_start(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {{"acknowledge_on_stop", json_type_boolean, false}};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = NULL, *v;
	bool ack = true; /* Firecracker's default */
	struct vm_sample s;

	/* The body is optional in Firecracker's spec. */
	if (req->len) {
		obj = api_json__parse_body(req, r, spec, 1);
		if (!obj)
			return;
		if (json_object_object_get_ex(obj, "acknowledge_on_stop", &v))
			ack = json_object_get_boolean(v);
	}
	if (hinting_enabled(srv, &s, r))
		reply_hinting(r, srv->ops->balloon_hinting(srv->opaque, true, ack));
	json_object_put(obj);
}

void api_get_balloon_hinting_status(struct api_request *req, struct api_reply *r)
{
	struct json_object *o;
	struct vm_sample s;

	if (!hinting_enabled(req->l->srv, &s, r))
		return;
	o = json_object_new_object();
	api_json__add_u64(o, "host_cmd", s.balloon.hinting.host_cmd);
	/* As Firecracker: null until the driver sent a command. */
	json_object_object_add(o, "guest_cmd",
			       s.balloon.hinting.guest_cmd_seen
				       ? json_object_new_int64(s.balloon.hinting.guest_cmd)
				       : NULL);
	api_reply__json(r, 200, o);
}

void api_patch_balloon_hinting_stop(struct api_request *req, struct api_reply *r)
{
	struct api_server *srv = req->l->srv;
	struct json_object *obj = NULL;
	struct vm_sample s;

	/* No fields: an empty body or {} (Firecracker's example sends {}). */
	if (req->len) {
		obj = api_json__parse_body(req, r, NULL, 0);
		if (!obj)
			return;
	}
	if (hinting_enabled(srv, &s, r))
		reply_hinting(r, srv->ops->balloon_hinting(srv->opaque, false, false));
	json_object_put(obj);
}

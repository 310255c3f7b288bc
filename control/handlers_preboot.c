// SPDX-License-Identifier: GPL-2.0
/*
 * Firecracker's configuration endpoints: GET/PUT/PATCH /machine-config,
 * PUT /boot-source (both pre-boot only), PUT /actions InstanceStart's
 * half, GET /vm/config and GET /version. The VM is reached through
 * vm_control_ops' configure/get_config/start; a VM without them (started
 * from its command line) answers as Firecracker does after boot.
 */
#include "control/api_internal.h"

#include <errno.h>
#include <string.h>

static const char *huge_pages_name(enum api_huge_pages h)
{
	return h == API_HUGE_PAGES_2M		 ? "2M"
	       : h == API_HUGE_PAGES_TRANSPARENT ? "Transparent"
						 : "None";
}

void api_preboot__reply_post_boot(struct api_reply *r)
{
	api_reply__error(r, 400, API_MSG_POST_BOOT);
}

/*
 * The configuration now, or false after a reply. A VM without get_config
 * (configured on its command line) is described by a sample.
 */
static bool get_config(struct api_server *srv, struct api_vm_config *c, struct api_reply *r)
{
	struct vm_sample s;

	*c = (struct api_vm_config){0};
	if (!srv->ops->get_config) {
		sampler__take(srv, &s);
		c->has_machine = true;
		c->machine.vcpu_count = s.vcpus;
		c->machine.mem_size_mib = s.guest_memory_bytes >> MIB_SHIFT;
		return true;
	}
	if (srv->ops->get_config(srv->opaque, c) < 0) {
		api_reply__error(r, 500, "out of memory");
		return false;
	}
	return true;
}

/* Apply change through the VM; the reply says how it went. */
void api_preboot__configure(struct api_server *srv, const struct api_vm_config *change,
			    struct api_reply *r)
{
	char err[400] = "";
	int ret;

	if (!srv->ops->configure) {
		api_preboot__reply_post_boot(r);
		return;
	}
	ret = srv->ops->configure(srv->opaque, change, err, sizeof(err));
	if (ret == -EALREADY)
		api_preboot__reply_post_boot(r);
	else if (ret < 0)
		api_reply__error(r, 400, "%s", err[0] ? err : strerror(-ret));
	else
		api_reply__no_content(r);
}

static struct json_object *machine_json(const struct api_machine_config *mc)
{
	struct json_object *o = json_object_new_object();

	api_json__add_u64(o, "vcpu_count", mc->vcpu_count);
	api_json__add_u64(o, "mem_size_mib", mc->mem_size_mib);
	json_object_object_add(o, "smt", json_object_new_boolean(false));
	json_object_object_add(o, "track_dirty_pages", json_object_new_boolean(false));
	json_object_object_add(o, "huge_pages",
			       json_object_new_string(huge_pages_name(mc->huge_pages)));
	return o;
}

void api_get_machine_config(struct api_request *req, struct api_reply *r)
{
	struct api_vm_config c;

	if (!get_config(req->l->srv, &c, r))
		return;
	api_reply__json(r, 200, machine_json(&c.machine));
	api_vm_config__release(&c);
}

static void put_machine_config(struct api_request *req, struct api_reply *r, bool partial)
{
	struct api_server *srv = req->l->srv;
	struct api_vm_config c, change = {.has_machine = true};
	struct json_object *obj;
	char err[400];

	/* Fields are checked by the section's own parser, below. */
	obj = api_json__parse_body(req, r, api_json__unchecked, 0);
	if (!obj)
		return;
	if (!get_config(srv, &c, r))
		goto out;
	change.machine = c.machine;
	api_vm_config__release(&c);
	if (api_preboot__parse_machine(obj, "", partial, &change.machine, err, sizeof(err)) < 0)
		api_reply__error(r, 400, "%s", err);
	else
		api_preboot__configure(srv, &change, r);
out:
	json_object_put(obj);
}

void api_put_machine_config(struct api_request *req, struct api_reply *r)
{
	put_machine_config(req, r, false);
}

void api_patch_machine_config(struct api_request *req, struct api_reply *r)
{
	put_machine_config(req, r, true);
}

void api_put_boot_source(struct api_request *req, struct api_reply *r)
{
	struct api_vm_config change = {.has_boot = true};
	struct json_object *obj = api_json__parse_body(req, r, api_json__unchecked, 0);
	char err[400];

	if (!obj)
		return;
	if (api_preboot__parse_boot(obj, "", &change.boot, err, sizeof(err)) < 0)
		api_reply__error(r, 400, "%s", err);
	else
		api_preboot__configure(req->l->srv, &change, r);
	api_vm_config__release(&change);
	json_object_put(obj);
}

/* PUT /actions InstanceStart: returns once the vCPUs run, or why not. */
void api_preboot__start(struct api_request *req, struct api_reply *r)
{
	struct api_server *srv = req->l->srv;
	char err[400] = "";
	int ret;

	if (!srv->ops->start) {
		api_preboot__reply_post_boot(r);
		return;
	}
	ret = srv->ops->start(srv->opaque, err, sizeof(err));
	if (ret == -EALREADY)
		api_preboot__reply_post_boot(r);
	else if (ret == -EINVAL)
		api_reply__error(r, 400, "%s", err[0] ? err : strerror(-ret));
	else if (ret < 0) {
		/* The VM was half built: mini-vmm stops once this answer is out. */
		api_reply__error(r, 400, "InstanceStart failed: %s", err[0] ? err : strerror(-ret));
		req->stop_after_failed_start = true;
	} else
		api_reply__no_content(r);
}

static void add_string(struct json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

/* Firecracker's FullVmConfiguration, for the sections mini-vmm has. */
void api_get_vm_config(struct api_request *req, struct api_reply *r)
{
	struct json_object *o, *boot, *balloon;
	struct api_vm_config c;

	if (!get_config(req->l->srv, &c, r))
		return;
	o = json_object_new_object();
	if (c.has_boot) {
		boot = json_object_new_object();
		add_string(boot, "kernel_image_path", c.boot.kernel_image_path);
		add_string(boot, "boot_args", c.boot.boot_args);
		add_string(boot, "initrd_path", c.boot.initrd_path);
		json_object_object_add(o, "boot-source", boot);
	}
	json_object_object_add(o, "machine-config", machine_json(&c.machine));
	balloon = api_balloon__json(req->l->srv, &c);
	if (balloon)
		json_object_object_add(o, "balloon", balloon);
	json_object_object_add(o, "drives", json_object_new_array());
	json_object_object_add(o, "network-interfaces", json_object_new_array());
	api_reply__json(r, 200, o);
	api_vm_config__release(&c);
}

void api_get_version(struct api_request *req, struct api_reply *r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "firecracker_version",
			       json_object_new_string(req->l->srv->cfg.vmm_version));
	api_reply__json(r, 200, o);
}

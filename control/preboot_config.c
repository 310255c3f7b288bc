// SPDX-License-Identifier: GPL-2.0
/*
 * Firecracker's pre-boot configuration as JSON: its three sections we take
 * ("machine-config", "boot-source", "balloon") -> struct api_vm_config, with
 * one set of checks for both the API's PUTs (handlers_preboot.c) and a
 * --config-file (api__parse_config_file). Field names, types and defaults
 * are Firecracker's (its OpenAPI spec); what mini-vmm cannot do is refused
 * by field name, never ignored. Pure: no VM, no I/O.
 */
#define _GNU_SOURCE
#include "control/api_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VCPU_MAX	   32	      /* Firecracker's range, and our MP table's */
#define MEM_MIN_MIB	   16	      /* what mini-vmm boots (--memory's minimum) */
#define MEM_MAX_MIB	   (1u << 20) /* 1 TiB */
#define STATS_INTERVAL_MAX 86400      /* the balloon's own limit */
#define CONFIG_FILE_MAX	   (1u << 20) /* a --config-file larger than this is refused */

void api_vm_config__release(struct api_vm_config *c)
{
	free(c->boot.kernel_image_path);
	free(c->boot.boot_args);
	free(c->boot.initrd_path);
	c->boot = (struct api_boot_source){0};
}

static bool get_bool(struct json_object *obj, const char *name, bool dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, name, &v) ? json_object_get_boolean(v) : dflt;
}

static const char *get_string(struct json_object *obj, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, name, &v) ? json_object_get_string(v) : NULL;
}

/*
 * PUT /machine-config (and a config file's "machine-config"): *out is the
 * base (the current configuration, for PATCH with partial set); fields
 * absent take Firecracker's defaults on PUT, stay on PATCH.
 */
int api_preboot__parse_machine(struct json_object *obj, const char *where, bool partial,
			       struct api_machine_config *out, char *err, size_t err_len)
{
	const struct field_spec spec[] = {
		{"vcpu_count", json_type_int, !partial},
		{"mem_size_mib", json_type_int, !partial},
		{"smt", json_type_boolean, false},
		{"track_dirty_pages", json_type_boolean, false},
		{"cpu_template", json_type_string, false},
		{"huge_pages", json_type_string, false},
	};
	struct api_machine_config mc = *out;
	uint64_t cpus = mc.vcpu_count, mib = mc.mem_size_mib;
	const char *s;

	if (!api_json__check_fields(obj, spec, 6, where, err, err_len) ||
	    !api_json__uint_field(obj, where, "vcpu_count", 1, VCPU_MAX, &cpus, err, err_len) ||
	    !api_json__uint_field(obj, where, "mem_size_mib", MEM_MIN_MIB, MEM_MAX_MIB, &mib, err,
				  err_len))
		return -EINVAL;
	/* Accepted at their defaults, which is what mini-vmm does; refused otherwise. */
	if (get_bool(obj, "smt", false)) {
		snprintf(err, err_len,
			 "%s'smt': true is not supported (mini-vmm's vCPUs are "
			 "single-threaded cores); false or absent",
			 where);
		return -EINVAL;
	}
	if (get_bool(obj, "track_dirty_pages", false)) {
		snprintf(err, err_len,
			 "%s'track_dirty_pages': true is not supported (mini-vmm has "
			 "no snapshots); false or absent",
			 where);
		return -EINVAL;
	}
	s = get_string(obj, "cpu_template");
	if (s && strcmp(s, "None") != 0) {
		snprintf(err, err_len, "%s'cpu_template': '%.32s' is not supported (only \"None\")",
			 where, s);
		return -EINVAL;
	}
	s = get_string(obj, "huge_pages");
	if (!s && !partial)
		mc.huge_pages = API_HUGE_PAGES_NONE;
	else if (s && strcmp(s, "None") == 0)
		mc.huge_pages = API_HUGE_PAGES_NONE;
	else if (s && strcmp(s, "Transparent") == 0)
		mc.huge_pages = API_HUGE_PAGES_TRANSPARENT;
	else if (s && strcmp(s, "2M") == 0)
		mc.huge_pages = API_HUGE_PAGES_2M;
	else if (s) {
		snprintf(err, err_len, "%s'huge_pages': '%.32s' (expected None, Transparent or 2M)",
			 where, s);
		return -EINVAL;
	}
	if (mc.huge_pages == API_HUGE_PAGES_2M && mib % 2) {
		snprintf(err, err_len,
			 "%s'mem_size_mib' must be a multiple of 2 with huge_pages 2M", where);
		return -EINVAL;
	}
	mc.vcpu_count = (uint32_t)cpus;
	mc.mem_size_mib = mib;
	*out = mc;
	return 0;
}

static int dup_string(struct json_object *obj, const char *where, const char *name, bool nonempty,
		      char **out, char *err, size_t err_len)
{
	const char *s = get_string(obj, name);

	*out = NULL;
	if (!s)
		return 0;
	if (nonempty && !*s) {
		snprintf(err, err_len, "%s'%s' must not be empty", where, name);
		return -EINVAL;
	}
	*out = strdup(s);
	if (!*out) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* PUT /boot-source: *out gets malloc'd strings (api_vm_config__release). */
int api_preboot__parse_boot(struct json_object *obj, const char *where, struct api_boot_source *out,
			    char *err, size_t err_len)
{
	static const struct field_spec spec[] = {
		{"kernel_image_path", json_type_string, true},
		{"boot_args", json_type_string, false},
		{"initrd_path", json_type_string, false},
	};
	struct api_vm_config c = {0};
	int ret;

	if (!api_json__check_fields(obj, spec, 3, where, err, err_len))
		return -EINVAL;
	ret = dup_string(obj, where, "kernel_image_path", true, &c.boot.kernel_image_path, err,
			 err_len);
	if (ret == 0)
		ret = dup_string(obj, where, "boot_args", false, &c.boot.boot_args, err, err_len);
	if (ret == 0)
		ret = dup_string(obj, where, "initrd_path", true, &c.boot.initrd_path, err,
				 err_len);
	if (ret < 0) {
		api_vm_config__release(&c);
		return ret;
	}
	*out = c.boot;
	return 0;
}

/* PUT /balloon: Firecracker's Balloon (amount_mib and deflate_on_oom required). */
int api_preboot__parse_balloon(struct json_object *obj, const char *where,
			       struct api_balloon_config *out, char *err, size_t err_len)
{
	static const struct field_spec spec[] = {
		{"amount_mib", json_type_int, true},
		{"deflate_on_oom", json_type_boolean, true},
		{"stats_polling_interval_s", json_type_int, false},
		{"free_page_hinting", json_type_boolean, false},
		{"free_page_reporting", json_type_boolean, false},
	};
	uint64_t mib = 0, secs = 0;

	if (!api_json__check_fields(obj, spec, 5, where, err, err_len) ||
	    !api_json__uint_field(obj, where, "amount_mib", 0, UINT32_MAX, &mib, err, err_len) ||
	    !api_json__uint_field(obj, where, "stats_polling_interval_s", 0, STATS_INTERVAL_MAX,
				  &secs, err, err_len))
		return -EINVAL;
	*out = (struct api_balloon_config){
		.amount_mib = (uint32_t)mib,
		.deflate_on_oom = get_bool(obj, "deflate_on_oom", false),
		.stats_polling_interval_s = (uint32_t)secs,
		.free_page_reporting = get_bool(obj, "free_page_reporting", false),
		.free_page_hinting = get_bool(obj, "free_page_hinting", false),
	};
	return 0;
}

/* A section we do not support is fine only when it says "none": null or []. */
static bool section_empty(struct json_object *v)
{
	return !v || (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0);
}

int api__parse_config_file(const char *text, size_t len, struct api_vm_config *out, char *err,
			   size_t err_len)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	int ret = 0;

	*out = (struct api_vm_config){0};
	if (len > CONFIG_FILE_MAX || len > INT32_MAX) {
		snprintf(err, err_len, "larger than %u bytes", CONFIG_FILE_MAX);
		return -EINVAL;
	}
	tok = json_tokener_new();
	if (!tok) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (obj && jerr == json_tokener_success) {
		for (size_t end = json_tokener_get_parse_end(tok); end < len; end++)
			if (!strchr(" \t\r\n", text[end]) || !text[end])
				jerr = json_tokener_error_parse_unexpected;
	}
	if (!obj || jerr != json_tokener_success) {
		snprintf(err, err_len, "malformed JSON at byte %zu: %s",
			 json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		json_object_put(obj);
		return -EINVAL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, err_len, "the file must hold one JSON object");
		json_object_put(obj);
		return -EINVAL;
	}
	json_object_object_foreach(obj, key, val)
	{
		bool is_machine = strcmp(key, "machine-config") == 0;
		bool is_boot = strcmp(key, "boot-source") == 0;
		bool is_balloon = strcmp(key, "balloon") == 0;
		char where[32];

		if ((is_machine || is_boot || is_balloon) &&
		    !json_object_is_type(val, json_type_object)) {
			snprintf(err, err_len, "section '%s' must be an object", key);
			ret = -EINVAL;
		} else if (is_machine) {
			snprintf(where, sizeof(where), "%s: ", key);
			out->machine = (struct api_machine_config){.vcpu_count = 1};
			ret = api_preboot__parse_machine(val, where, false, &out->machine, err,
							 err_len);
			out->has_machine = ret == 0;
		} else if (is_boot) {
			snprintf(where, sizeof(where), "%s: ", key);
			ret = api_preboot__parse_boot(val, where, &out->boot, err, err_len);
			out->has_boot = ret == 0;
		} else if (is_balloon) {
			snprintf(where, sizeof(where), "%s: ", key);
			ret = api_preboot__parse_balloon(val, where, &out->balloon, err, err_len);
			out->has_balloon = ret == 0;
		} else if (!section_empty(val)) {
			snprintf(err, err_len,
				 "section '%.64s' is not supported by mini-vmm (supported: "
				 "boot-source, machine-config, balloon)",
				 key);
			ret = -EINVAL;
		}
		if (ret < 0)
			break;
	}
	json_object_put(obj);
	if (ret == 0 && !out->has_boot) {
		snprintf(err, err_len, "section 'boot-source' is required");
		ret = -EINVAL;
	}
	if (ret < 0)
		api_vm_config__release(out);
	return ret;
}

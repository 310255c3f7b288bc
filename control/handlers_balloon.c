// SPDX-License-Identifier: GPL-2.0
/*
 * Handlers for the balloon: Firecracker's GET/PUT/PATCH /balloon and
 * GET/PATCH /balloon/statistics, with its shapes and its error messages,
 * and GET /balloon/reporting (free page reporting, the discard queue and
 * its latency histograms). Every path answers 400 without a balloon.
 */
#include "control/api_internal.h"

#include <errno.h>
#include <string.h>

#define PAGE_4K_SHIFT	   12
#define STATS_INTERVAL_MAX 86400 /* the balloon's own limit (docs/virtio-balloon.md) */

static bool no_balloon(const struct vm_sample *s, struct api_reply *r)
{
	if (s->has_balloon)
		return false;
	api_reply__error(r, 400,
			 "No balloon device: start mini-vmm with --balloon or --balloon-reporting");
	return true;
}

void api_get_balloon(struct api_request *req, struct api_reply *r)
{
	struct json_object *o;
	struct vm_sample s;

	sampler__take(req->l->srv, &s);
	if (no_balloon(&s, r))
		return;
	o = json_object_new_object();
	api_json__add_u64(o, "amount_mib", s.balloon.target_bytes >> MIB_SHIFT);
	json_object_object_add(o, "deflate_on_oom",
			       json_object_new_boolean(s.balloon.deflate_on_oom));
	api_json__add_u64(o, "stats_polling_interval_s", s.balloon.stats_interval_s);
	api_reply__json(r, 200, o);
}

/* Firecracker's words, and what to do about it. */
static void reply_no_stats(struct api_reply *r)
{
	api_reply__error(r, 400,
			 "Statistics for the balloon device are not enabled: start mini-vmm with "
			 "--balloon stats-interval=N");
}

/* The interval it has is always fine (a no-op); another needs the stats queue. */
static bool check_stats_interval(const struct vm_sample *s, uint64_t secs, struct api_reply *r)
{
	if (secs == s->balloon.stats_interval_s || s->balloon.stats_enabled)
		return true;
	reply_no_stats(r);
	return false;
}

static bool apply_target(struct api_server *srv, const struct vm_sample *s, uint64_t mib,
			 struct api_reply *r)
{
	int ret = srv->ops->set_balloon_target(srv->opaque, mib << MIB_SHIFT);

	if (ret == -ERANGE)
		api_reply__error(r, 400, "amount_mib %llu is more than guest RAM (%llu MiB)",
				 (unsigned long long)mib,
				 (unsigned long long)(s->guest_memory_bytes >> MIB_SHIFT));
	else if (ret < 0)
		api_reply__error(r, 400, "setting the balloon target failed: %s", strerror(-ret));
	return ret == 0;
}

static bool apply_stats_interval(struct api_server *srv, uint64_t secs, struct api_reply *r)
{
	int ret = srv->ops->set_stats_interval(srv->opaque, (uint32_t)secs);

	if (ret == -EOPNOTSUPP)
		reply_no_stats(r);
	else if (ret < 0)
		api_reply__error(r, 400, "setting the statistics interval failed: %s",
				 strerror(-ret));
	return ret == 0;
}

/*
 * Firecracker creates its balloon with PUT before boot. Ours exists from the
 * start (--balloon), so PUT is accepted when it describes this balloon:
 * amount_mib and the interval are applied, deflate_on_oom must match (a
 * feature bit, negotiated at boot). Everything is checked before anything
 * changes.
 */
void api_put_balloon(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {
		{"amount_mib", json_type_int, true},
		{"deflate_on_oom", json_type_boolean, true},
		{"stats_polling_interval_s", json_type_int, false},
	};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = api_json__parse_body(req, r, spec, 3), *v;
	uint64_t mib = 0, secs;
	struct vm_sample s;

	if (!obj)
		return;
	sampler__take(srv, &s);
	secs = s.balloon.stats_interval_s;
	if (no_balloon(&s, r) || !api_json__get_uint(obj, "amount_mib", UINT32_MAX, &mib, r) ||
	    !api_json__get_uint(obj, "stats_polling_interval_s", STATS_INTERVAL_MAX, &secs, r))
		goto out;
	json_object_object_get_ex(obj, "deflate_on_oom", &v);
	if (json_object_get_boolean(v) != s.balloon.deflate_on_oom) {
		api_reply__error(r, 400,
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
	api_reply__no_content(r);
out:
	json_object_put(obj);
}

void api_patch_balloon(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {{"amount_mib", json_type_int, true}};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = api_json__parse_body(req, r, spec, 1);
	struct vm_sample s;
	uint64_t mib = 0;

	if (!obj)
		return;
	sampler__take(srv, &s);
	if (!no_balloon(&s, r) && api_json__get_uint(obj, "amount_mib", UINT32_MAX, &mib, r) &&
	    apply_target(srv, &s, mib, r))
		api_reply__no_content(r);
	json_object_put(obj);
}

void api_get_balloon_statistics(struct api_request *req, struct api_reply *r)
{
	struct json_object *o;
	struct vm_sample s;
	uint64_t v;

	sampler__take(req->l->srv, &s);
	if (no_balloon(&s, r))
		return;
	if (!s.balloon.stats_enabled) {
		reply_no_stats(r);
		return;
	}
	o = json_object_new_object();
	api_json__add_u64(o, "target_pages", s.balloon.target_bytes >> PAGE_4K_SHIFT);
	api_json__add_u64(o, "actual_pages", s.balloon.actual_bytes >> PAGE_4K_SHIFT);
	api_json__add_u64(o, "target_mib", s.balloon.target_bytes >> MIB_SHIFT);
	api_json__add_u64(o, "actual_mib", s.balloon.actual_bytes >> MIB_SHIFT);
	/* As Firecracker, by its names: a statistic is present once the guest has sent it. */
	for (unsigned int tag = 0; tag < BALLOON_STATS_TAGS; tag++)
		if (balloon_stat__name(tag) && metrics__guest_stat(&s, tag, &v))
			api_json__add_u64(o, balloon_stat__name(tag), v);
	api_reply__json(r, 200, o);
}

void api_patch_balloon_statistics(struct api_request *req, struct api_reply *r)
{
	static const struct field_spec spec[] = {
		{"stats_polling_interval_s", json_type_int, true},
	};
	struct api_server *srv = req->l->srv;
	struct json_object *obj = api_json__parse_body(req, r, spec, 1);
	struct vm_sample s;
	uint64_t secs = 0;

	if (!obj)
		return;
	sampler__take(srv, &s);
	/* As Firecracker: the interval it already has is a no-op, with or without stats. */
	if (!no_balloon(&s, r) &&
	    api_json__get_uint(obj, "stats_polling_interval_s", STATS_INTERVAL_MAX, &secs, r) &&
	    check_stats_interval(&s, secs, r) &&
	    (secs == s.balloon.stats_interval_s || apply_stats_interval(srv, secs, r)))
		api_reply__no_content(r);
	json_object_put(obj);
}

void api_get_balloon_reporting(struct api_request *req, struct api_reply *r)
{
	struct json_object *o, *b, *d, *rej;
	const struct balloon_stats *st;
	const struct discard_stats *ds;
	struct vm_sample s;

	sampler__take(req->l->srv, &s);
	if (no_balloon(&s, r))
		return;
	st = &s.balloon.stats;
	ds = &s.balloon.discard;
	o = json_object_new_object();
	json_object_object_add(o, "reporting_enabled",
			       json_object_new_boolean(s.balloon.reporting));
	api_json__add_u64(o, "guest_memory_bytes", s.guest_memory_bytes);
	api_json__add_u64(o, "guest_resident_bytes", s.guest_resident_bytes);
	json_object_object_add(o, "memory_backend", json_object_new_string(s.memory_backend));
	api_json__add_u64(o, "balloon_target_bytes", s.balloon.target_bytes);
	api_json__add_u64(o, "balloon_actual_bytes", s.balloon.actual_bytes);

	b = json_object_new_object();
	api_json__add_counters(b, metrics__balloon_counters, metrics__nr_balloon_counters, st);
	rej = json_object_new_object();
	for (unsigned int i = 0; i < BALLOON_REJ__COUNT; i++)
		api_json__add_u64(rej, balloon_reject__name((enum balloon_reject)i),
				  st->rejected[i]);
	json_object_object_add(b, "rejected", rej);
	json_object_object_add(o, "balloon", b);

	d = json_object_new_object();
	json_object_object_add(d, "method", json_object_new_string(s.balloon.discard_method));
	json_object_object_add(d, "engine", json_object_new_string(s.balloon.discard_engine));
	json_object_object_add(d, "reason", json_object_new_string(s.balloon.discard_reason));
	api_json__add_u64(d, "granule_bytes", s.balloon.discard_granule_bytes);
	api_json__add_counters(d, metrics__discard_counters, metrics__nr_discard_counters, ds);
	json_object_object_add(d, "report_latency", api_json__histogram(&ds->report_latency));
	json_object_object_add(d, "op_latency", api_json__histogram(&ds->op_latency));
	json_object_object_add(o, "discard", d);
	api_reply__json(r, 200, o);
}

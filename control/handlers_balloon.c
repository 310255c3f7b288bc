// SPDX-License-Identifier: GPL-2.0
/*
 * Handlers for the balloon: Firecracker's GET/PUT/PATCH /balloon and
 * GET/PATCH /balloon/statistics, with its shapes, its error messages and
 * its phases (PUT before InstanceStart only; PATCH before or after), and
 * GET /balloon/reporting (free page reporting, the discard queue and its
 * latency histograms). Every path answers 400 without a balloon.
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

/* Before InstanceStart: the balloon is a configuration, not yet a device. */
static bool preboot(const struct api_server *srv, const struct vm_sample *s)
{
	return s->state == VM_RUN_STATE_NOT_STARTED && srv->ops->configure;
}

static struct json_object *balloon_json(uint64_t mib, bool deflate, uint64_t secs, bool reporting,
					bool hinting)
{
	struct json_object *o = json_object_new_object();

	api_json__add_u64(o, "amount_mib", mib);
	json_object_object_add(o, "deflate_on_oom", json_object_new_boolean(deflate));
	api_json__add_u64(o, "stats_polling_interval_s", secs);
	json_object_object_add(o, "free_page_hinting", json_object_new_boolean(hinting));
	json_object_object_add(o, "free_page_reporting", json_object_new_boolean(reporting));
	return o;
}

struct json_object *api_balloon__json(struct api_server *srv, const struct api_vm_config *c)
{
	const struct api_balloon_config *b = &c->balloon;
	struct vm_sample s;

	sampler__take(srv, &s);
	if (preboot(srv, &s))
		return c->has_balloon ? balloon_json(b->amount_mib, b->deflate_on_oom,
						     b->stats_polling_interval_s,
						     b->free_page_reporting, b->free_page_hinting)
				      : NULL;
	if (!s.has_balloon)
		return NULL;
	return balloon_json(s.balloon.target_bytes >> MIB_SHIFT, s.balloon.deflate_on_oom,
			    s.balloon.stats_interval_s, s.balloon.reporting,
			    s.balloon.free_page_hinting);
}

/* The balloon's configuration before boot, or false after a 400. */
static bool preboot_balloon(struct api_server *srv, struct api_vm_config *c, struct api_reply *r)
{
	*c = (struct api_vm_config){0};
	if (srv->ops->get_config(srv->opaque, c) < 0) {
		api_reply__error(r, 500, "out of memory");
		return false;
	}
	api_vm_config__release(c); /* only the balloon section is used */
	if (c->has_balloon)
		return true;
	api_reply__error(r, 400, "No balloon device: configure one first (PUT /balloon)");
	return false;
}

void api_get_balloon(struct api_request *req, struct api_reply *r)
{
	struct api_server *srv = req->l->srv;
	struct api_vm_config c = {0};
	struct json_object *o;
	struct vm_sample s;

	sampler__take(srv, &s);
	if (preboot(srv, &s) && !preboot_balloon(srv, &c, r))
		return;
	o = api_balloon__json(srv, &c);
	if (o)
		api_reply__json(r, 200, o);
	else
		no_balloon(&s, r);
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
 * Firecracker's PUT /balloon: creates or replaces the balloon before boot,
 * every field of its Balloon object; after boot it is refused (PATCH
 * changes the target, PATCH /balloon/statistics the interval).
 */
void api_put_balloon(struct api_request *req, struct api_reply *r)
{
	struct api_vm_config change = {.has_balloon = true};
	struct json_object *obj = api_json__parse_body(req, r, api_json__unchecked, 0);
	char err[400];

	if (!obj)
		return;
	if (api_preboot__parse_balloon(obj, "", &change.balloon, err, sizeof(err)) < 0)
		api_reply__error(r, 400, "%s", err);
	else
		api_preboot__configure(req->l->srv, &change, r);
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
	if (preboot(srv, &s)) {
		struct api_vm_config c;

		/* Before boot it changes the configuration, as in Firecracker. */
		if (preboot_balloon(srv, &c, r) &&
		    api_json__get_uint(obj, "amount_mib", UINT32_MAX, &mib, r)) {
			c.balloon.amount_mib = (uint32_t)mib;
			c.has_machine = c.has_boot = false;
			api_preboot__configure(srv, &c, r);
		}
	} else if (!no_balloon(&s, r) &&
		   api_json__get_uint(obj, "amount_mib", UINT32_MAX, &mib, r) &&
		   apply_target(srv, &s, mib, r)) {
		api_reply__no_content(r);
	}
	json_object_put(obj);
}

void api_get_balloon_statistics(struct api_request *req, struct api_reply *r)
{
	struct json_object *o;
	struct vm_sample s;
	uint64_t v;

	sampler__take(req->l->srv, &s);
	if (s.state == VM_RUN_STATE_NOT_STARTED) {
		api_reply__error(r, 400, API_MSG_PRE_BOOT);
		return;
	}
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
	if (preboot(srv, &s)) {
		struct api_vm_config c;

		if (preboot_balloon(srv, &c, r) &&
		    api_json__get_uint(obj, "stats_polling_interval_s", STATS_INTERVAL_MAX, &secs,
				       r)) {
			c.balloon.stats_polling_interval_s = (uint32_t)secs;
			c.has_machine = c.has_boot = false;
			api_preboot__configure(srv, &c, r);
		}
		json_object_put(obj);
		return;
	}
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
	if (s.state == VM_RUN_STATE_NOT_STARTED) {
		api_reply__error(r, 400, API_MSG_PRE_BOOT);
		return;
	}
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

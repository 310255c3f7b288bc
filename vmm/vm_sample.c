// SPDX-License-Identifier: GPL-2.0
/*
 * The VM's side of control/metrics.h: fills a struct vm_sample from guest
 * RAM and the balloon, through the balloon's accessors only (what its
 * discard queue chose, and its status under its lock). vm.c adds the VM's
 * own state.
 */
#include "vmm/vm_sample.h"

#include "base/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void copy_name(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void vm_sample__fill(struct vm_sample *s, struct resident_meter *rm, uint64_t max_age_ns,
		     struct virtio_balloon *b)
{
	struct vm_balloon_sample *bs = &s->balloon;
	const struct guest_mem *mem = rm->mem;
	struct balloon_status st;
	struct discard_info di;

	s->monotonic_ns = clock__mono_ns();
	s->guest_memory_bytes = mem->ram_size;
	s->guest_resident_bytes = resident_meter__read(rm, max_age_ns);
	copy_name(s->memory_backend, sizeof(s->memory_backend),
		  guest_mem__backend_name(mem->backend));
	s->has_balloon = b != NULL;
	if (!b)
		return;
	/* Fixed at init: the offered features, the discard method and why. */
	bs->deflate_on_oom = b->cfg.deflate_on_oom;
	bs->reporting = b->cfg.reporting;
	bs->stats_enabled = virtio_balloon__stats_offered(b);
	bs->free_page_hinting = virtio_balloon__hinting_offered(b);
	virtio_balloon__discard_info(b, &di);
	copy_name(bs->discard_method, sizeof(bs->discard_method), discard_method__name(di.method));
	copy_name(bs->discard_engine, sizeof(bs->discard_engine), discard_engine__name(di.engine));
	copy_name(bs->discard_reason, sizeof(bs->discard_reason), di.reason);
	bs->discard_granule_bytes = di.granule;
	/* Changing: one critical section, so target, actual and counters agree. */
	virtio_balloon__get_status(b, &st);
	bs->stats_interval_s = st.stats_interval_s;
	bs->target_bytes = st.target_bytes;
	bs->actual_bytes = st.actual_bytes;
	bs->stats = st.stats;
	bs->discard = st.discard;
	bs->hinting = st.hinting;
}

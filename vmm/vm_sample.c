// SPDX-License-Identifier: GPL-2.0
#include "vmm/vm_sample.h"

#include "base/clock.h"

#include <pthread.h>
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
	copy_name(bs->discard_method, sizeof(bs->discard_method),
		  discard_queue__method_name(&b->dq));
	copy_name(bs->discard_engine, sizeof(bs->discard_engine),
		  discard_engine__name(b->dq.engine));
	copy_name(bs->discard_reason, sizeof(bs->discard_reason), b->dq.reason);
	bs->discard_granule_bytes = b->dq.granule;
	/* Changing: one critical section, so target, actual and counters agree. */
	pthread_mutex_lock(&b->vdev.lock);
	bs->stats_interval_s = b->stats_interval_s;
	bs->target_bytes = (uint64_t)b->num_pages << VIRTIO_BALLOON_PFN_SHIFT;
	bs->actual_bytes = (uint64_t)b->actual << VIRTIO_BALLOON_PFN_SHIFT;
	bs->stats = b->stats;
	bs->discard = b->dq.stats;
	pthread_mutex_unlock(&b->vdev.lock);
}

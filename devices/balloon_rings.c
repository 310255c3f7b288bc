// SPDX-License-Identifier: GPL-2.0
/* Discards never take the device's own ring pages: see balloon_rings.h. */
#include "devices/balloon_rings.h"

#include "devices/virtqueue.h"

struct span {
	uint64_t start, end; /* granule-aligned, end exclusive */
};

#define MAX_SPANS (3 * VIRTIO_MAX_QUEUES)

static void add_span(struct span *s, unsigned int *n, uint64_t gpa, uint64_t len, uint64_t g)
{
	uint64_t start = gpa & ~(g - 1), end = gpa + len;

	/* Ring addresses were checked at activation (inside RAM): no overflow here. */
	end = (end + g - 1) & ~(g - 1);
	s[(*n)++] = (struct span){start, end};
}

/* 2.7: descriptor table 16 bytes per entry; avail 6 + 2 per entry; used 6 + 8 per entry. */
static unsigned int ring_spans(const struct virtio_device *vdev, uint64_t g, struct span *s)
{
	unsigned int n = 0;

	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		const struct virtqueue *vq = &vdev->queues[q];

		if (!vq->active || !vq->size)
			continue;
		add_span(s, &n, vq->desc_gpa, 16ULL * vq->size, g);
		add_span(s, &n, vq->avail_gpa, 6 + 2ULL * vq->size, g); /* + used_event */
		add_span(s, &n, vq->used_gpa, 6 + 8ULL * vq->size, g);	/* + avail_event */
	}
	return n;
}

unsigned int balloon_rings__exclude(const struct virtio_device *vdev, uint64_t granule,
				    struct discard_range *r, unsigned int nr, unsigned int cap,
				    uint64_t *kept_bytes)
{
	struct span spans[MAX_SPANS];
	unsigned int ns = ring_spans(vdev, granule, spans), out = 0;

	for (unsigned int k = 0; k < ns; k++) {
		const struct span *p = &spans[k];

		for (unsigned int i = 0; i < nr; i++) {
			uint64_t s = r[i].gpa, e = s + r[i].len;
			bool left, right;

			if (!r[i].len || e <= p->start || s >= p->end)
				continue;
			left = s < p->start;
			right = e > p->end;
			*kept_bytes += (e < p->end ? e : p->end) - (s > p->start ? s : p->start);
			if (left)
				r[i].len = p->start - s;
			if (right && !left) {
				r[i] = (struct discard_range){p->end, e - p->end};
			} else if (right && nr < cap) {
				r[nr++] = (struct discard_range){p->end, e - p->end};
			} else if (right) {
				*kept_bytes += e - p->end; /* no room to split: kept whole */
			}
			if (!left && !right)
				r[i].len = 0; /* removed below, order kept */
		}
	}
	for (unsigned int i = 0; i < nr; i++)
		if (r[i].len)
			r[out++] = r[i];
	return out;
}

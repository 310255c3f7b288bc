// SPDX-License-Identifier: GPL-2.0
/*
 * The balloon's chains that ask for discards (virtio 1.2 5.5.6.1, 5.5.6.5;
 * free page hints reach balloon__discard_chain from balloon_hinting.c)
 * and deflate: a free page report's buffers or an inflate chain's PFNs
 * become ranges, sorted, with repeated, overlapping and adjacent ones
 * merged, before the discard queue makes a single op of them; the chain
 * goes back to the driver only once every discard of it completed.
 *
 * What the guest can make the device hold is bounded twice over: a head
 * is in flight once (virtqueue__pop breaks the ring otherwise), and the
 * discard queue holds at most its limits (BALLOON_MAX_*_IN_FLIGHT). A chain
 * over them is held in b->pending, its queue not popped further, until the
 * completions make room and re-arm the queue. docs/virtio-balloon.md,
 * "Bounds".
 *
 * Runs with vdev->lock held, like everything in the model.
 */
#include "devices/balloon_internal.h"
#include "devices/balloon_rings.h"

#include "base/log.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/*
 * The discard queue finished every op of a chain: now, and only now, the
 * chain goes back to the driver. Runs with vdev->lock held (from
 * virtio_balloon__discards_ready(), or from drain() inside reset).
 */
static void balloon_discard_done(void *cookie, const struct discard_result *res)
{
	struct balloon_inflight *f = cookie;
	struct virtio_balloon *b = f->b;
	bool live = b->active && !b->resetting;

	(void)res;
	if (!live) {
		/* The driver reset the device: those rings are gone. */
		b->stats.completions_after_reset++;
	} else {
		virtqueue__push(&b->vdev.queues[f->qidx], f->head, 0);
		if (f->role == BALLOON_Q_REPORTING)
			b->stats.reports_done++;
		virtio__signal_used(&b->vdev, f->qidx);
	}
	/* After the used entry: a DONE waiting for this chain may go out now. */
	if (f->role == BALLOON_Q_FREE_PAGE)
		balloon_hinting__chain_done(b, f->bytes, live);
}

/* Heap sift-down of r[i] within r[0..n), by gpa. */
static void sift_down(struct discard_range *r, unsigned int i, unsigned int n)
{
	for (;;) {
		unsigned int child = 2 * i + 1;
		struct discard_range t;

		if (child >= n)
			return;
		if (child + 1 < n && r[child + 1].gpa > r[child].gpa)
			child++;
		if (r[i].gpa >= r[child].gpa)
			return;
		t = r[i];
		r[i] = r[child];
		r[child] = t;
		i = child;
	}
}

/*
 * Heapsort by gpa: in place, O(n log n) worst case, no allocation and no
 * system call. Not qsort(): glibc's (before 2.37) asks sysinfo() for the
 * machine's memory on its first large sort, which the device thread's
 * seccomp filter forbids.
 */
static void sort_ranges(struct discard_range *r, unsigned int n)
{
	for (unsigned int i = n / 2; i-- > 0;)
		sift_down(r, i, n);
	for (unsigned int end = n; end-- > 1;) {
		struct discard_range t = r[0];

		r[0] = r[end];
		r[end] = t;
		sift_down(r, 0, end);
	}
}

/*
 * Sort and merge: ranges that overlap or touch (inside one RAM region)
 * become one. Every range is inside RAM already (translated by pop, or a
 * PFN checked by read_pfns), so no end overflows. Returns the new count.
 */
static unsigned int merge_ranges(const struct guest_mem *mem, struct discard_range *r,
				 unsigned int n)
{
	unsigned int out = 0;

	if (n < 2)
		return n;
	sort_ranges(r, n);
	for (unsigned int i = 1; i < n; i++) {
		struct discard_range *cur = &r[out];
		uint64_t end = cur->gpa + cur->len, next_end = r[i].gpa + r[i].len;
		uint64_t new_end = next_end > end ? next_end : end;

		/* Touching ranges of two regions stay apart: no op spans a region edge. */
		if (r[i].gpa <= end && guest_mem__find(mem, cur->gpa, new_end - cur->gpa))
			cur->len = new_end - cur->gpa;
		else
			r[++out] = r[i];
	}
	return out + 1;
}

/*
 * The queues' own ring pages are never discarded (balloon_rings.h): cut the
 * pending chain's ranges around them. false: nothing is left to discard,
 * and the chain was acknowledged at once.
 */
static bool exclude_rings(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx)
{
	struct balloon_pending *p = &b->pending[role];
	uint64_t kept = 0;

	p->nr_ranges = balloon_rings__exclude(&b->vdev, b->dq.granule, p->ranges, p->nr_ranges,
					      BALLOON_MAX_RANGES_PER_CHAIN, &kept);
	if (kept) {
		b->stats.ring_overlaps++;
		b->stats.bytes_ring_kept += kept;
		log_ratelimited(LOG_WARN,
				"virtio-balloon: %s: %llu KiB holding the queues' rings kept, "
				"not discarded",
				balloon_queue__name(role), (unsigned long long)(kept >> 10));
	}
	if (p->nr_ranges)
		return true;
	virtqueue__push(&b->vdev.queues[qidx], p->head, 0);
	return false;
}

/*
 * Hand role's pending chain to the discard queue; its used entry follows
 * from balloon_discard_done. false: the queue is at its limits and the
 * chain stays held. A refusal pushes the chain back with len 0.
 */
static bool send_pending(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx)
{
	struct balloon_pending *p = &b->pending[role];
	struct balloon_inflight *f;
	enum balloon_reject why;
	int ret;

	/* head < queue size <= BALLOON_QUEUE_SIZE: guaranteed by virtqueue__pop. */
	if (p->head >= BALLOON_QUEUE_SIZE) {
		p->held = false;
		balloon__reject_chain(b, role, qidx, p->head, BALLOON_REJ_VQ);
		return true;
	}
	f = &b->inflight[role][p->head];
	*f = (struct balloon_inflight){
		.b = b, .qidx = (uint16_t)qidx, .head = p->head, .role = role, .bytes = p->bytes};
	ret = discard_queue__submit(&b->dq, p->ranges, p->nr_ranges, balloon_discard_done, f);
	if (ret == -EAGAIN) {
		if (!p->held)
			b->stats.chains_waited++;
		p->held = true;
		return false;
	}
	p->held = false;
	if (ret < 0) {
		why = ret == -EINVAL ? BALLOON_REJ_OUT_OF_RAM : BALLOON_REJ_HOST;
		balloon__reject_chain(b, role, qidx, p->head, why);
		return true;
	}
	if (role == BALLOON_Q_REPORTING) {
		b->stats.reports++;
		b->stats.report_buffers += p->nr_bufs;
		b->stats.bytes_reported += p->bytes;
	} else if (role == BALLOON_Q_FREE_PAGE) {
		b->hint.inflight++;
		b->stats.hint_chains++;
		b->stats.hint_buffers += p->nr_bufs;
		b->stats.bytes_hinted += p->bytes;
	} else {
		b->stats.inflate_pages += p->bytes / BALLOON_PAGE_4K;
	}
	return true;
}

void balloon__discard_chain_now(struct virtio_balloon *b, enum balloon_queue role,
				unsigned int qidx, unsigned int nr_ranges)
{
	struct balloon_pending *p = &b->pending[role];
	struct discard_result res;
	int ret;

	p->nr_ranges = merge_ranges(b->mem, p->ranges, nr_ranges);
	if (!exclude_rings(b, role, qidx))
		return;
	ret = discard_queue__run_now(&b->dq, p->ranges, p->nr_ranges, &res);
	if (ret < 0) {
		balloon__reject_chain(b, role, qidx, p->head,
				      ret == -EINVAL ? BALLOON_REJ_OUT_OF_RAM : BALLOON_REJ_HOST);
		return;
	}
	b->hint.inflight++; /* balloon_hinting__chain_done() counts it out */
	b->stats.hint_chains++;
	b->stats.hint_buffers += p->nr_bufs;
	b->stats.bytes_hinted += p->bytes;
	virtqueue__push(&b->vdev.queues[qidx], p->head, 0);
	balloon_hinting__chain_done(b, p->bytes, true);
}

bool balloon__retry_pending(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx)
{
	if (role >= BALLOON_Q__COUNT || !b->pending[role].held)
		return true;
	return send_pending(b, role, qidx);
}

/* ---- free page reporting (5.5.6.5) ---- */

/*
 * A report: device-writable buffers, each a free guest-physical range
 * (Linux: virtqueue_add_inbuf of up to 32 entries of 2-4 MiB). Device
 * writes nothing into them; the used length is 0.
 */
bool balloon__take_free_ranges(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx,
			       const struct vq_chain *c, uint64_t *bytes)
{
	struct balloon_pending *p = &b->pending[role];

	/* A chain has at most a queue's worth of buffers (pop bounds it). */
	if (c->nr_bufs > BALLOON_MAX_RANGES_PER_CHAIN) {
		balloon__reject_chain(b, role, qidx, c->head, BALLOON_REJ_TOO_LARGE);
		return false;
	}
	*bytes = 0;
	for (unsigned int i = 0; i < c->nr_bufs; i++) {
		const struct vq_buf *buf = &c->bufs[i];

		if ((buf->gpa | buf->len) & (BALLOON_PAGE_4K - 1)) {
			balloon__reject_chain(b, role, qidx, c->head, BALLOON_REJ_UNALIGNED);
			return false;
		}
		p->ranges[i] = (struct discard_range){.gpa = buf->gpa, .len = buf->len};
		*bytes += buf->len;
	}
	return true;
}

bool balloon__process_report(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c)
{
	const enum balloon_queue role = BALLOON_Q_REPORTING;
	struct balloon_pending *p = &b->pending[role];
	uint64_t bytes;

	if (c->nr_readable) {
		balloon__reject_chain(b, role, qidx, c->head, BALLOON_REJ_NOT_WRITABLE);
		return true;
	}
	if (!balloon__take_free_ranges(b, role, qidx, c, &bytes))
		return true;
	/*
	 * 5.5.6.5.1 / PAGE_POISON: the driver expects reported pages to keep
	 * poison_val; a discard would turn them into zeros. Acknowledge only.
	 */
	if (virtio__has_feature(&b->vdev, VIRTIO_BALLOON_F_PAGE_POISON) && b->poison_val != 0) {
		b->stats.poison_skipped++;
		b->stats.bytes_poison_skipped += bytes;
		virtqueue__push(&b->vdev.queues[qidx], c->head, 0);
		return true;
	}
	p->head = c->head;
	p->nr_bufs = c->nr_bufs;
	p->bytes = bytes;
	return balloon__discard_chain(b, role, qidx, c->nr_bufs);
}

bool balloon__discard_chain(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx,
			    unsigned int nr_ranges)
{
	struct balloon_pending *p = &b->pending[role];

	p->nr_ranges = merge_ranges(b->mem, p->ranges, nr_ranges);
	if (!exclude_rings(b, role, qidx))
		return true;
	return send_pending(b, role, qidx);
}

/* ---- inflate / deflate (5.5.6.1-2) ---- */

/*
 * Read a chain of le32 PFNs (device-readable), each exactly once. Valid
 * PFNs (a 4 KiB page inside RAM) are counted, and with `out` written there
 * as 4 KiB ranges. Returns BALLOON_REJ__COUNT if the chain is usable,
 * else why not.
 */
static enum balloon_reject read_pfns(struct virtio_balloon *b, const struct vq_chain *c,
				     struct discard_range *out, uint64_t *valid, uint64_t *invalid)
{
	*valid = *invalid = 0;
	if (c->nr_readable != c->nr_bufs)
		return BALLOON_REJ_NOT_READABLE;
	if (c->readable_bytes > (uint64_t)BALLOON_MAX_PFNS_PER_CHAIN * 4)
		return BALLOON_REJ_TOO_LARGE;
	for (unsigned int i = 0; i < c->nr_bufs; i++)
		if (c->bufs[i].len % 4)
			return BALLOON_REJ_BAD_LENGTH;
	/* The arrays' pages present before we read them (guest_mem.h). */
	if (virtqueue__prefault_readable(b->mem, c) < 0)
		return BALLOON_REJ_HOST_MEMORY;

	for (unsigned int i = 0; i < c->nr_bufs; i++) {
		const uint8_t *p = c->bufs[i].hva;

		for (uint32_t off = 0; off < c->bufs[i].len; off += 4) {
			uint32_t le;
			uint64_t gpa;

			/* Guest memory: read each PFN exactly once. */
			memcpy(&le, p + off, sizeof(le));
			gpa = (uint64_t)le32toh(le) << VIRTIO_BALLOON_PFN_SHIFT;
			if (!guest_mem__find(b->mem, gpa, BALLOON_PAGE_4K)) {
				(*invalid)++;
				continue;
			}
			if (out)
				out[*valid] =
					(struct discard_range){.gpa = gpa, .len = BALLOON_PAGE_4K};
			(*valid)++;
		}
	}
	return BALLOON_REJ__COUNT;
}

static void log_invalid_pfns(struct virtio_balloon *b, enum balloon_queue role, uint64_t invalid)
{
	if (!invalid)
		return;
	b->stats.inflate_invalid_pfns += invalid;
	log_ratelimited(LOG_WARN, "virtio-balloon: %s: %llu PFNs outside guest RAM ignored",
			balloon_queue__name(role), (unsigned long long)invalid);
}

bool balloon__process_inflate(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c)
{
	const enum balloon_queue role = BALLOON_Q_INFLATE;
	struct balloon_pending *p = &b->pending[role];
	enum balloon_reject why;
	uint64_t valid, invalid, distinct = 0;

	why = read_pfns(b, c, p->ranges, &valid, &invalid);
	if (why != BALLOON_REJ__COUNT) {
		balloon__reject_chain(b, role, qidx, c->head, why);
		return true;
	}
	log_invalid_pfns(b, role, invalid);
	b->stats.inflate_chains++;
	if (!valid) {
		virtqueue__push(&b->vdev.queues[qidx], c->head, 0);
		return true;
	}
	/* Repeats and neighbours merge: one op per run of pages, each page once. */
	p->nr_ranges = merge_ranges(b->mem, p->ranges, (unsigned int)valid);
	for (unsigned int i = 0; i < p->nr_ranges; i++)
		distinct += p->ranges[i].len;
	b->stats.inflate_duplicate_pfns += valid - distinct / BALLOON_PAGE_4K;
	p->head = c->head;
	p->nr_bufs = c->nr_bufs;
	p->bytes = distinct;
	if (!exclude_rings(b, role, qidx))
		return true;
	return send_pending(b, role, qidx);
}

/*
 * Deflate: the pages come back to the guest by being touched; nothing to do
 * on the host but acknowledge. With DEFLATE_ON_OOM the driver deflates on
 * its own under memory pressure; deflating while the balloon is not above
 * target is counted as "unrequested".
 */
void balloon__process_deflate(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c)
{
	const enum balloon_queue role = BALLOON_Q_DEFLATE;
	enum balloon_reject why;
	uint64_t valid, invalid;

	why = read_pfns(b, c, NULL, &valid, &invalid);
	if (why != BALLOON_REJ__COUNT) {
		balloon__reject_chain(b, role, qidx, c->head, why);
		return;
	}
	log_invalid_pfns(b, role, invalid);
	b->stats.deflate_chains++;
	b->stats.deflate_pages += valid;
	if (b->actual <= b->num_pages)
		b->stats.deflate_unrequested_pages += valid;
	virtqueue__push(&b->vdev.queues[qidx], c->head, 0);
}

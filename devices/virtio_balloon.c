// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-balloon device model (virtio 1.2 section 5.5).
 *
 * The rule everything here serves: a used entry for a chain that asked for
 * a discard (a free page report, an inflate) is published only after every
 * discard of that chain has completed. The guest takes a reported page back
 * the moment it sees the used entry; a discard landing after that would
 * zero memory the guest is already using again.
 *
 * Runs on the device thread with vdev->lock held (the transport takes it
 * around ops calls; the entry points the host calls, discards_ready and
 * stats_tick, take it themselves). The model creates no fd: its host
 * (struct balloon_host_ops) watches the discard queue and runs the timer.
 * Its option string, queue numbering and names are in balloon_config.c.
 */
#include "devices/virtio_balloon.h"

#include "base/clock.h"
#include "base/log.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_4K (1ULL << VIRTIO_BALLOON_PFN_SHIFT)

/* Config space layout (5.5.4), all le32. */
#define CFG_NUM_PAGES  0
#define CFG_ACTUAL     4
#define CFG_CMD_ID     8
#define CFG_POISON_VAL 12

static const char *const queue_names[BALLOON_Q__COUNT] = {
	[BALLOON_Q_INFLATE] = "inflateq",	[BALLOON_Q_DEFLATE] = "deflateq",
	[BALLOON_Q_STATS] = "statsq",		[BALLOON_Q_FREE_PAGE] = "free_page_vq",
	[BALLOON_Q_REPORTING] = "reporting_vq",
};

/* ---- helpers ---- */

static struct virtio_balloon *to_balloon(struct virtio_device *vdev)
{
	return vdev->priv;
}

static bool negotiated(const struct virtio_balloon *b, unsigned int bit)
{
	return virtio__has_feature(&b->vdev, bit);
}

static enum balloon_queue role_of(const struct virtio_balloon *b, unsigned int qidx)
{
	for (int r = 0; r < BALLOON_Q__COUNT; r++)
		if (b->qidx[r] == (int)qidx)
			return (enum balloon_queue)r;
	return BALLOON_Q__COUNT;
}

/* Count a refused chain and say so, rate limited (the guest controls the rate). */
static void count_reject(struct virtio_balloon *b, enum balloon_queue role, enum balloon_reject why)
{
	b->stats.rejected[why]++;
	log_ratelimited(LOG_WARN,
			"virtio-balloon: %s chain refused (%s): acknowledged, nothing "
			"discarded",
			queue_names[role], balloon_reject__name(why));
}

/* Refuse a chain: hand it back with len 0 so the driver is never left waiting. */
static void reject_chain(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx,
			 uint16_t head, enum balloon_reject why)
{
	count_reject(b, role, why);
	virtqueue__push(&b->vdev.queues[qidx], head, 0);
}

/*
 * The discard queue finished every op of a chain: now, and only now, the
 * chain goes back to the driver. Runs with vdev->lock held (from
 * virtio_balloon__discards_ready(), or from drain() inside reset).
 */
static void balloon_discard_done(void *cookie, const struct discard_result *res)
{
	struct balloon_inflight *f = cookie;
	struct virtio_balloon *b = f->b;

	(void)res;
	if (!b->active || b->resetting) {
		/* The driver reset the device: those rings are gone. */
		b->stats.completions_after_reset++;
		return;
	}
	virtqueue__push(&b->vdev.queues[f->qidx], f->head, 0);
	if (f->role == BALLOON_Q_REPORTING)
		b->stats.reports_done++;
	virtio__signal_used(&b->vdev, f->qidx);
}

/* Hand ranges to the discard queue; the chain is pushed by balloon_discard_done. */
static int submit_discards(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx,
			   uint16_t head, unsigned int nr_ranges, enum balloon_reject *why)
{
	struct balloon_inflight *f;
	int ret;

	/* head < queue size <= BALLOON_QUEUE_SIZE: guaranteed by virtqueue__pop. */
	if (head >= BALLOON_QUEUE_SIZE) {
		*why = BALLOON_REJ_VQ;
		return -EINVAL;
	}
	f = &b->inflight[role][head];
	*f = (struct balloon_inflight){.b = b, .qidx = (uint16_t)qidx, .head = head, .role = role};
	ret = discard_queue__submit(&b->dq, b->ranges, nr_ranges, balloon_discard_done, f);
	if (ret < 0)
		*why = ret == -EINVAL ? BALLOON_REJ_OUT_OF_RAM : BALLOON_REJ_HOST;
	return ret;
}

/* ---- free page reporting (5.5.6.5) ---- */

/*
 * A report: device-writable buffers, each a free guest-physical range
 * (Linux: virtqueue_add_inbuf of up to 32 entries of 2-4 MiB). Device
 * writes nothing into them; the used length is 0.
 */
static void process_report(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c)
{
	const enum balloon_queue role = BALLOON_Q_REPORTING;
	enum balloon_reject why;
	uint64_t bytes = 0;

	if (c->nr_readable) {
		reject_chain(b, role, qidx, c->head, BALLOON_REJ_NOT_WRITABLE);
		return;
	}
	for (unsigned int i = 0; i < c->nr_bufs; i++) {
		const struct vq_buf *buf = &c->bufs[i];

		if ((buf->gpa | buf->len) & (PAGE_4K - 1)) {
			reject_chain(b, role, qidx, c->head, BALLOON_REJ_UNALIGNED);
			return;
		}
		b->ranges[i] = (struct discard_range){.gpa = buf->gpa, .len = buf->len};
		bytes += buf->len;
	}
	/*
	 * 5.5.6.5.1 / PAGE_POISON: the driver expects reported pages to keep
	 * poison_val; a discard would turn them into zeros. Acknowledge only.
	 */
	if (negotiated(b, VIRTIO_BALLOON_F_PAGE_POISON) && b->poison_val != 0) {
		b->stats.poison_skipped++;
		b->stats.bytes_poison_skipped += bytes;
		virtqueue__push(&b->vdev.queues[qidx], c->head, 0);
		return;
	}
	if (submit_discards(b, role, qidx, c->head, c->nr_bufs, &why) < 0) {
		reject_chain(b, role, qidx, c->head, why);
		return;
	}
	b->stats.reports++;
	b->stats.report_buffers += c->nr_bufs;
	b->stats.bytes_reported += bytes;
}

/* ---- inflate / deflate (5.5.6.1-2) ---- */

/*
 * Read a chain of le32 PFNs (device-readable). Valid PFNs (a 4 KiB page
 * inside RAM) are counted, and with `build` coalesced into b->ranges.
 * Returns BALLOON_REJ__COUNT if the chain is usable, else why not.
 */
static enum balloon_reject read_pfns(struct virtio_balloon *b, const struct vq_chain *c, bool build,
				     unsigned int *nr_ranges, uint64_t *valid, uint64_t *invalid)
{
	unsigned int nr = 0;

	*valid = *invalid = 0;
	if (c->nr_readable != c->nr_bufs)
		return BALLOON_REJ_NOT_READABLE;
	if (c->readable_bytes > (uint64_t)BALLOON_MAX_PFNS_PER_CHAIN * 4)
		return BALLOON_REJ_TOO_LARGE;
	for (unsigned int i = 0; i < c->nr_bufs; i++)
		if (c->bufs[i].len % 4)
			return BALLOON_REJ_BAD_LENGTH;

	for (unsigned int i = 0; i < c->nr_bufs; i++) {
		const uint8_t *p = c->bufs[i].hva;

		for (uint32_t off = 0; off < c->bufs[i].len; off += 4) {
			uint32_t le;
			uint64_t gpa;

			/* Guest memory: read each PFN exactly once. */
			memcpy(&le, p + off, sizeof(le));
			gpa = (uint64_t)le32toh(le) << VIRTIO_BALLOON_PFN_SHIFT;
			if (!guest_mem__find(b->mem, gpa, PAGE_4K)) {
				(*invalid)++;
				continue;
			}
			(*valid)++;
			if (!build)
				continue;
			/* Contiguous PFNs become one range (never across a region edge). */
			if (nr && b->ranges[nr - 1].gpa + b->ranges[nr - 1].len == gpa &&
			    guest_mem__find(b->mem, b->ranges[nr - 1].gpa,
					    b->ranges[nr - 1].len + PAGE_4K)) {
				b->ranges[nr - 1].len += PAGE_4K;
			} else {
				b->ranges[nr++] =
					(struct discard_range){.gpa = gpa, .len = PAGE_4K};
			}
		}
	}
	*nr_ranges = nr;
	return BALLOON_REJ__COUNT;
}

static void log_invalid_pfns(struct virtio_balloon *b, enum balloon_queue role, uint64_t invalid)
{
	if (!invalid)
		return;
	b->stats.inflate_invalid_pfns += invalid;
	log_ratelimited(LOG_WARN, "virtio-balloon: %s: %llu PFNs outside guest RAM ignored",
			queue_names[role], (unsigned long long)invalid);
}

static void process_inflate(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c)
{
	const enum balloon_queue role = BALLOON_Q_INFLATE;
	enum balloon_reject why;
	unsigned int nr = 0;
	uint64_t valid, invalid;

	why = read_pfns(b, c, true, &nr, &valid, &invalid);
	if (why != BALLOON_REJ__COUNT) {
		reject_chain(b, role, qidx, c->head, why);
		return;
	}
	log_invalid_pfns(b, role, invalid);
	b->stats.inflate_chains++;
	if (!nr) {
		virtqueue__push(&b->vdev.queues[qidx], c->head, 0);
		return;
	}
	if (submit_discards(b, role, qidx, c->head, nr, &why) < 0) {
		reject_chain(b, role, qidx, c->head, why);
		return;
	}
	b->stats.inflate_pages += valid;
}

/*
 * Deflate: the pages come back to the guest by being touched; nothing to do
 * on the host but acknowledge. With DEFLATE_ON_OOM the driver deflates on
 * its own under memory pressure; deflating while the balloon is not above
 * target is counted as "unrequested".
 */
static void process_deflate(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c)
{
	const enum balloon_queue role = BALLOON_Q_DEFLATE;
	enum balloon_reject why;
	unsigned int nr;
	uint64_t valid, invalid;

	why = read_pfns(b, c, false, &nr, &valid, &invalid);
	if (why != BALLOON_REJ__COUNT) {
		reject_chain(b, role, qidx, c->head, why);
		return;
	}
	log_invalid_pfns(b, role, invalid);
	b->stats.deflate_chains++;
	b->stats.deflate_pages += valid;
	if (b->actual <= b->num_pages)
		b->stats.deflate_unrequested_pages += valid;
	virtqueue__push(&b->vdev.queues[qidx], c->head, 0);
}

/* ---- memory statistics (5.5.6.3) ---- */

/*
 * The driver hands over one device-readable buffer of packed (le16 tag,
 * le64 val) entries. We keep it until the next tick of the stats timer and
 * then give it back: that return is the request for fresh numbers. A bad
 * buffer is held all the same, so a misbehaving driver is paced by the
 * timer rather than spinning.
 */
static void process_stats(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c)
{
	const enum balloon_queue role = BALLOON_Q_STATS;
	uint8_t buf[BALLOON_STATS_MAX_ENTRIES * BALLOON_STAT_ENTRY_SIZE];
	struct balloon_guest_stats *g = &b->stats.guest;
	uint64_t len = c->readable_bytes, off = 0;

	if (b->stats_held) {
		/* Only one buffer is meant to be outstanding: return the older one. */
		b->stats.stats_extra_buffers++;
		virtqueue__push(&b->vdev.queues[qidx], b->stats_head, 0);
	}
	b->stats_held = true;
	b->stats_head = c->head;

	if (c->nr_readable != c->nr_bufs) {
		count_reject(b, role, BALLOON_REJ_NOT_READABLE);
		return;
	}
	if (len > sizeof(buf)) {
		count_reject(b, role, BALLOON_REJ_TOO_LARGE);
		return;
	}
	if (len % BALLOON_STAT_ENTRY_SIZE) {
		count_reject(b, role, BALLOON_REJ_BAD_LENGTH);
		return;
	}
	for (unsigned int i = 0; i < c->nr_bufs; i++) {
		memcpy(buf + off, c->bufs[i].hva, c->bufs[i].len);
		off += c->bufs[i].len;
	}
	g->valid = 0;
	for (off = 0; off < len; off += BALLOON_STAT_ENTRY_SIZE) {
		uint16_t tag;
		uint64_t val;

		memcpy(&tag, buf + off, sizeof(tag));
		memcpy(&val, buf + off + 2, sizeof(val));
		tag = le16toh(tag);
		if (tag >= BALLOON_STATS_TAGS) {
			b->stats.stats_unknown_tags++;
			continue;
		}
		g->val[tag] = le64toh(val);
		g->valid |= 1u << tag;
	}
	g->updates++;
	g->last_update_ns = clock__mono_ns();
	b->stats.stats_buffers++;
}

/* Have the host's stats timer tick every stats_interval_s while the stats queue runs. */
static void arm_stats_timer(struct virtio_balloon *b)
{
	uint32_t secs = 0;

	if (!virtio_balloon__stats_offered(b) || !b->host)
		return;
	if (b->active && b->qidx[BALLOON_Q_STATS] >= 0)
		secs = b->stats_interval_s;
	b->host->set_stats_timer(b->host_opaque, secs);
}

/* Timer tick on the device thread: give the stats buffer back = ask for new stats. */
void virtio_balloon__stats_tick(struct virtio_balloon *b)
{
	int q;

	pthread_mutex_lock(&b->vdev.lock);
	q = b->qidx[BALLOON_Q_STATS];
	if (b->active && q >= 0 && b->stats_held) {
		b->stats_held = false;
		virtqueue__push(&b->vdev.queues[q], b->stats_head, 0);
		virtio__signal_used(&b->vdev, (unsigned int)q);
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

/* The discard queue's eventfd is readable, on the device thread. */
void virtio_balloon__discards_ready(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	discard_queue__process_completions(&b->dq);
	pthread_mutex_unlock(&b->vdev.lock);
}

/* ---- virtio_device_ops ---- */

static unsigned int balloon_num_queues(struct virtio_device *vdev)
{
	return virtio_balloon__num_queues(vdev->features_acked);
}

static uint64_t balloon_get_features(struct virtio_device *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) |
		     (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_BALLOON_F_PAGE_POISON);

	if (virtio_balloon__stats_offered(b))
		f |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	if (b->cfg.deflate_on_oom)
		f |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (b->cfg.reporting)
		f |= 1ULL << VIRTIO_BALLOON_F_REPORTING;
	return f;
}

static int balloon_set_features(struct virtio_device *vdev, uint64_t features)
{
	/* Any subset of what we offered works (the transport checked that). */
	(void)vdev;
	(void)features;
	return 0;
}

static void config_image(const struct virtio_balloon *b, uint8_t img[BALLOON_CONFIG_SIZE])
{
	uint32_t v[4] = {htole32(b->num_pages), htole32(b->actual),
			 htole32(b->free_page_hint_cmd_id), htole32(b->poison_val)};

	memcpy(img, v, BALLOON_CONFIG_SIZE);
}

static void balloon_read_config(struct virtio_device *vdev, uint32_t offset, void *data,
				uint32_t len)
{
	uint8_t img[BALLOON_CONFIG_SIZE];

	/* The transport bounds offset/len by config_size; cheap to be sure. */
	if (offset > BALLOON_CONFIG_SIZE || len > BALLOON_CONFIG_SIZE - offset)
		return;
	config_image(to_balloon(vdev), img);
	memcpy(data, img + offset, len);
}

/*
 * The driver owns `actual` and (with PAGE_POISON) `poison_val`; num_pages
 * and the hint command id are the device's. Byte-wise, so any access width
 * and alignment the transport lets through works.
 */
static void balloon_write_config(struct virtio_device *vdev, uint32_t offset, const void *data,
				 uint32_t len)
{
	struct virtio_balloon *b = to_balloon(vdev);
	bool poison_ok = negotiated(b, VIRTIO_BALLOON_F_PAGE_POISON);
	uint8_t img[BALLOON_CONFIG_SIZE];
	bool refused = false;
	uint32_t v;

	if (offset > BALLOON_CONFIG_SIZE || len > BALLOON_CONFIG_SIZE - offset)
		return;
	config_image(b, img);
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = offset + i;

		if ((o >= CFG_ACTUAL && o < CFG_ACTUAL + 4) ||
		    (poison_ok && o >= CFG_POISON_VAL && o < CFG_POISON_VAL + 4))
			img[o] = ((const uint8_t *)data)[i];
		else
			refused = true;
	}
	memcpy(&v, img + CFG_ACTUAL, 4);
	b->actual = le32toh(v);
	memcpy(&v, img + CFG_POISON_VAL, 4);
	b->poison_val = le32toh(v);
	if (refused) {
		b->stats.config_ro_writes++;
		log_ratelimited(LOG_WARN,
				"virtio-balloon: write to read-only config bytes at %u+%u ignored",
				offset, len);
	}
}

static void balloon_queue_notify(struct virtio_device *vdev, unsigned int qidx);

/* The host stops delivering discard completions and stats ticks (reset, exit). */
static void detach_from_host(struct virtio_balloon *b)
{
	if (!b->host_attached)
		return;
	b->host->detach(b->host_opaque);
	b->host_attached = false;
}

static int balloon_activate(struct virtio_device *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);
	int ret;

	for (int r = 0; r < BALLOON_Q__COUNT; r++)
		b->qidx[r] =
			virtio_balloon__queue_index(vdev->features_acked, (enum balloon_queue)r);
	if (b->host && !b->host_attached) {
		ret = b->host->attach(b->host_opaque);
		if (ret < 0)
			return ret;
		b->host_attached = true;
	}
	b->active = true;
	arm_stats_timer(b);
	log_info("virtio-balloon: active: features 0x%llx, %u queues (reporting %d, stats %d), "
		 "target %u pages",
		 (unsigned long long)vdev->features_acked,
		 virtio_balloon__num_queues(vdev->features_acked), b->qidx[BALLOON_Q_REPORTING],
		 b->qidx[BALLOON_Q_STATS], b->num_pages);
	/* Linux queues its first stats buffer before DRIVER_OK: look at every queue now. */
	for (unsigned int q = 0; q < virtio_balloon__num_queues(vdev->features_acked); q++)
		balloon_queue_notify(vdev, q);
	return 0;
}

static void balloon_reset(struct virtio_device *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	/* Discards in flight finish first (their used entries are dropped). */
	b->resetting = true;
	discard_queue__drain(&b->dq);
	detach_from_host(b);
	b->active = false;
	b->resetting = false;
	b->stats_held = false;
	arm_stats_timer(b); /* disarms: not active */
	for (int r = 0; r < BALLOON_Q__COUNT; r++)
		b->qidx[r] = -1;
	/* 5.5.4: actual and poison_val are the driver's; a new driver starts from 0. */
	b->actual = 0;
	b->poison_val = 0;
}

static void balloon_queue_notify(struct virtio_device *vdev, unsigned int qidx)
{
	struct virtio_balloon *b = to_balloon(vdev);
	enum balloon_queue role;
	struct virtqueue *vq;

	if (!b->active || qidx >= VIRTIO_MAX_QUEUES)
		return;
	role = role_of(b, qidx);
	if (role == BALLOON_Q__COUNT)
		return;
	vq = &vdev->queues[qidx];
	for (;;) {
		struct vq_chain *c = b->chain;
		enum vq_error err;
		enum vq_pop_result r = virtqueue__pop(vq, c, &err);

		if (r == VQ_POP_EMPTY)
			break;
		if (r == VQ_POP_BROKEN) {
			b->stats.broken_rings++;
			virtio__set_needs_reset(vdev, "a queue's ring is corrupt");
			break;
		}
		if (r == VQ_POP_REJECTED) {
			reject_chain(b, role, qidx, c->head, BALLOON_REJ_VQ);
			continue;
		}
		switch (role) {
		case BALLOON_Q_INFLATE:
			process_inflate(b, qidx, c);
			break;
		case BALLOON_Q_DEFLATE:
			process_deflate(b, qidx, c);
			break;
		case BALLOON_Q_STATS:
			process_stats(b, qidx, c);
			break;
		case BALLOON_Q_REPORTING:
			process_report(b, qidx, c);
			break;
		default:
			/* free_page_vq is never offered. */
			virtqueue__push(vq, c->head, 0);
			break;
		}
	}
	/* One interrupt for everything acknowledged right away. */
	virtio__signal_used(vdev, qidx);
}

static const struct virtio_device_ops balloon_ops = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.max_queue_size = BALLOON_QUEUE_SIZE,
	.num_queues = balloon_num_queues,
	.get_features = balloon_get_features,
	.set_features = balloon_set_features,
	.config_size = BALLOON_CONFIG_SIZE,
	.read_config = balloon_read_config,
	.write_config = balloon_write_config,
	.activate = balloon_activate,
	.reset = balloon_reset,
	.queue_notify = balloon_queue_notify,
};

/* ---- public API ---- */

int virtio_balloon__init(struct virtio_balloon *b, const struct balloon_config *cfg,
			 const struct guest_mem *mem)
{
	int ret;

	memset(b, 0, sizeof(*b));
	for (int r = 0; r < BALLOON_Q__COUNT; r++)
		b->qidx[r] = -1;
	if (cfg->initial_target_bytes > mem->ram_size ||
	    (cfg->initial_target_bytes >> VIRTIO_BALLOON_PFN_SHIFT) > UINT32_MAX) {
		log_error("virtio-balloon: size=%llu bytes is more than guest RAM (%llu bytes)",
			  (unsigned long long)cfg->initial_target_bytes,
			  (unsigned long long)mem->ram_size);
		return -ERANGE;
	}
	b->cfg = *cfg;
	b->mem = mem;
	b->num_pages = (uint32_t)(cfg->initial_target_bytes >> VIRTIO_BALLOON_PFN_SHIFT);
	b->stats_interval_s = cfg->stats_interval_s;

	b->chain = malloc(sizeof(*b->chain));
	b->ranges = calloc(BALLOON_MAX_PFNS_PER_CHAIN, sizeof(*b->ranges));
	if (!b->chain || !b->ranges) {
		ret = -ENOMEM;
		log_error("virtio-balloon: out of memory");
		goto err_free;
	}
	ret = discard_queue__init(&b->dq, mem, cfg->discard, cfg->discard_engine, 0,
				  &cfg->discard_worker);
	if (ret < 0)
		goto err_free;

	b->vdev.ops = &balloon_ops;
	b->vdev.priv = b;
	b->vdev.mem = mem;
	log_info("virtio-balloon: reporting %s, deflate-on-oom %s, stats every %us, target %llu "
		 "MiB",
		 cfg->reporting ? "on" : "off", cfg->deflate_on_oom ? "on" : "off",
		 cfg->stats_interval_s, (unsigned long long)(cfg->initial_target_bytes >> 20));
	return 0;

err_free:
	free(b->ranges);
	free(b->chain);
	b->ranges = NULL;
	b->chain = NULL;
	return ret;
}

void virtio_balloon__set_host(struct virtio_balloon *b, const struct balloon_host_ops *host,
			      void *opaque)
{
	b->host = host;
	b->host_opaque = opaque;
}

bool virtio_balloon__stats_offered(const struct virtio_balloon *b)
{
	return b->cfg.stats_interval_s > 0;
}

void virtio_balloon__exit(struct virtio_balloon *b)
{
	detach_from_host(b);
	b->resetting = true; /* completions from here on are not pushed */
	discard_queue__exit(&b->dq);
	free(b->ranges);
	free(b->chain);
	b->ranges = NULL;
	b->chain = NULL;
}

int virtio_balloon__set_target(struct virtio_balloon *b, uint64_t bytes)
{
	uint64_t pages = bytes >> VIRTIO_BALLOON_PFN_SHIFT;

	if (bytes > b->mem->ram_size || pages > UINT32_MAX)
		return -ERANGE;
	pthread_mutex_lock(&b->vdev.lock);
	if (pages != b->num_pages) {
		b->num_pages = (uint32_t)pages;
		b->stats.target_changes++;
		/* 5.5.6: the driver reads num_pages on a configuration change notification. */
		virtio__signal_config(&b->vdev);
	}
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

int virtio_balloon__set_stats_interval(struct virtio_balloon *b, uint32_t secs)
{
	if (!virtio_balloon__stats_offered(b))
		return -EOPNOTSUPP;
	pthread_mutex_lock(&b->vdev.lock);
	b->stats_interval_s = secs;
	arm_stats_timer(b);
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

void virtio_balloon__get_status(struct virtio_balloon *b, struct balloon_status *out)
{
	pthread_mutex_lock(&b->vdev.lock);
	out->stats_interval_s = b->stats_interval_s;
	out->target_bytes = (uint64_t)b->num_pages << VIRTIO_BALLOON_PFN_SHIFT;
	out->actual_bytes = (uint64_t)b->actual << VIRTIO_BALLOON_PFN_SHIFT;
	out->stats = b->stats;
	out->discard = *discard_queue__stats(&b->dq);
	pthread_mutex_unlock(&b->vdev.lock);
}

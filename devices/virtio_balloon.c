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
 * Its option string, queue numbering and names are in balloon_config.c;
 * the chains that ask for discards in balloon_discard.c; free page
 * hinting's command ids in balloon_hinting.c.
 */
#include "devices/balloon_internal.h"

#include "base/clock.h"
#include "base/log.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

const char *balloon_queue__name(enum balloon_queue role)
{
	return (unsigned int)role < BALLOON_Q__COUNT ? queue_names[role] : "unknown";
}

/* Count a refused chain and say so, rate limited (the guest controls the rate). */
void balloon__count_reject(struct virtio_balloon *b, enum balloon_queue role,
			   enum balloon_reject why)
{
	b->stats.rejected[why]++;
	log_ratelimited(LOG_WARN,
			"virtio-balloon: %s chain refused (%s): acknowledged, nothing "
			"discarded",
			queue_names[role], balloon_reject__name(why));
}

/* Refuse a chain: hand it back with len 0 so the driver is never left waiting. */
void balloon__reject_chain(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx,
			   uint16_t head, enum balloon_reject why)
{
	balloon__count_reject(b, role, why);
	virtqueue__push(&b->vdev.queues[qidx], head, 0);
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
		balloon__count_reject(b, role, BALLOON_REJ_NOT_READABLE);
		return;
	}
	if (len > sizeof(buf)) {
		balloon__count_reject(b, role, BALLOON_REJ_TOO_LARGE);
		return;
	}
	if (len % BALLOON_STAT_ENTRY_SIZE) {
		balloon__count_reject(b, role, BALLOON_REJ_BAD_LENGTH);
		return;
	}
	/* Held all the same: the timer gives it back with len 0. */
	if (virtqueue__prefault_readable(b->mem, c) < 0) {
		balloon__count_reject(b, role, BALLOON_REJ_HOST_MEMORY);
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

/*
 * The discard queue's eventfd is readable, on the device thread. Completions
 * made room: a queue whose chain was held over the limits is re-armed (its
 * retry runs in its own callback, under its own budget).
 */
void virtio_balloon__discards_ready(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	discard_queue__process_completions(&b->dq);
	for (int r = 0; r < BALLOON_Q__COUNT; r++)
		if (b->active && b->pending[r].held && b->qidx[r] >= 0)
			virtio__renotify(&b->vdev, (unsigned int)b->qidx[r]);
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
	if (b->cfg.free_page_hinting)
		f |= 1ULL << VIRTIO_BALLOON_F_FREE_PAGE_HINT;
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
	/* The guest activates as often as it resets: rate-limited (base/log.h). */
	log_ratelimited(LOG_INFO,
			"virtio-balloon: active: features 0x%llx, %u queues (reporting %d, "
			"stats %d), target %u pages",
			(unsigned long long)vdev->features_acked,
			virtio_balloon__num_queues(vdev->features_acked),
			b->qidx[BALLOON_Q_REPORTING], b->qidx[BALLOON_Q_STATS], b->num_pages);
	/*
	 * Linux queues its first stats buffer before DRIVER_OK: look at every
	 * queue. On the device thread, as if kicked: this runs on a vCPU's, and
	 * a guest may have filled every ring before DRIVER_OK. Without that
	 * wiring, one budget's worth here.
	 */
	for (unsigned int q = 0; q < virtio_balloon__num_queues(vdev->features_acked); q++)
		if (!virtio__renotify(vdev, q))
			balloon_queue_notify(vdev, q);
	return 0;
}

static void balloon_reset(struct virtio_device *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	/*
	 * Discards in flight finish first (their used entries are dropped).
	 * The discard queue's limits bound what there is to wait for.
	 */
	b->resetting = true;
	discard_queue__drain(&b->dq);
	detach_from_host(b);
	b->active = false;
	b->resetting = false;
	b->stats_held = false;
	for (int r = 0; r < BALLOON_Q__COUNT; r++)
		b->pending[r].held = false; /* popped from rings now forgotten */
	arm_stats_timer(b);		    /* disarms: not active */
	balloon_hinting__reset(b);
	for (int r = 0; r < BALLOON_Q__COUNT; r++)
		b->qidx[r] = -1;
	/* 5.5.4: actual and poison_val are the driver's; a new driver starts from 0. */
	b->actual = 0;
	b->poison_val = 0;
}

/* One popped chain, by its queue's role. false: it is held, pop no further. */
static bool process_chain(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx,
			  const struct vq_chain *c)
{
	switch (role) {
	case BALLOON_Q_INFLATE:
		return balloon__process_inflate(b, qidx, c);
	case BALLOON_Q_DEFLATE:
		balloon__process_deflate(b, qidx, c);
		return true;
	case BALLOON_Q_STATS:
		process_stats(b, qidx, c);
		return true;
	case BALLOON_Q_REPORTING:
		return balloon__process_report(b, qidx, c);
	case BALLOON_Q_FREE_PAGE:
		return balloon__process_hint(b, qidx, c);
	default:
		virtqueue__push(&b->vdev.queues[qidx], c->head, 0);
		return true;
	}
}

/*
 * The driver kicked (or we re-armed ourselves). Bounded work: at most
 * cfg.notify_budget_chains chains, and none after cfg.notify_budget_ops
 * discard ops went out (BALLOON_NOTIFY_BUDGET_*); then, if the ring holds
 * more, the queue is re-armed through its notification and the device
 * thread serves other events (the signalfd, the API's lock holders, the
 * other queues) before it comes back. A guest keeping the ring full so
 * costs one budget per loop turn, never a callback that lasts as long as
 * it keeps feeding.
 */
static void serve_queue(struct virtio_device *vdev, unsigned int qidx, unsigned int max_chains,
			uint64_t max_ops)
{
	struct virtio_balloon *b = to_balloon(vdev);
	enum balloon_queue role;
	struct virtqueue *vq;
	uint64_t ops0 = b->dq.stats.ops;

	if (!b->active || qidx >= VIRTIO_MAX_QUEUES)
		return;
	role = role_of(b, qidx);
	if (role == BALLOON_Q__COUNT)
		return;
	vq = &vdev->queues[qidx];
	/* A held chain goes first; while it cannot, the ring waits (completions re-arm it). */
	if (!balloon__retry_pending(b, role, qidx))
		return;
	for (unsigned int chains = 0;; chains++) {
		struct vq_chain *c = b->chain;
		enum vq_error err;
		enum vq_pop_result r;

		if (chains >= max_chains || b->dq.stats.ops - ops0 >= max_ops) {
			if (virtqueue__pending(vq)) {
				b->stats.notify_yields++;
				virtio__renotify(vdev, qidx);
			}
			break;
		}
		r = virtqueue__pop(vq, c, &err);
		if (r == VQ_POP_EMPTY)
			break;
		if (r == VQ_POP_BROKEN) {
			b->stats.broken_rings++;
			virtio__set_needs_reset(vdev, "a queue's ring is corrupt");
			break;
		}
		if (r == VQ_POP_REJECTED) {
			balloon__reject_chain(b, role, qidx, c->head,
					      err == VQ_ERR_HOST_MEMORY ? BALLOON_REJ_HOST_MEMORY
									: BALLOON_REJ_VQ);
			continue;
		}
		if (!process_chain(b, role, qidx, c))
			break;
	}
	/* One interrupt for everything acknowledged right away. */
	virtio__signal_used(vdev, qidx);
}

static void balloon_queue_notify(struct virtio_device *vdev, unsigned int qidx)
{
	struct virtio_balloon *b = to_balloon(vdev);

	serve_queue(vdev, qidx, b->cfg.notify_budget_chains, b->cfg.notify_budget_ops);
}

/*
 * The free_page_vq is direct (balloon_hinting.c says why): its index is 2
 * or 3 depending on STATS_VQ, so both are, when hinting is offered; a kick
 * on the one that is the stats or reporting queue goes the usual way.
 */
static uint32_t balloon_direct_queues(struct virtio_device *vdev)
{
	return to_balloon(vdev)->cfg.free_page_hinting ? (1u << 2) | (1u << 3) : 0;
}

static bool balloon_queue_notify_direct(struct virtio_device *vdev, unsigned int qidx)
{
	struct virtio_balloon *b = to_balloon(vdev);

	if (!b->active || (int)qidx != b->qidx[BALLOON_Q_FREE_PAGE])
		return false;
	b->stats.hint_kicks_direct++;
	/*
	 * Every hint on the ring now, bounded by the ring's size (a guest that
	 * re-publishes faster only delays its own vCPU; the rest is renotified).
	 */
	serve_queue(vdev, qidx, vdev->queues[qidx].size, UINT64_MAX);
	return true;
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
	.direct_queues = balloon_direct_queues,
	.queue_notify_direct = balloon_queue_notify_direct,
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
	if (!b->cfg.notify_budget_chains) /* a config not from balloon_config__default() */
		b->cfg.notify_budget_chains = BALLOON_NOTIFY_BUDGET_CHAINS;
	if (!b->cfg.notify_budget_ops)
		b->cfg.notify_budget_ops = BALLOON_NOTIFY_BUDGET_OPS;
	b->mem = mem;
	b->num_pages = (uint32_t)(cfg->initial_target_bytes >> VIRTIO_BALLOON_PFN_SHIFT);
	b->stats_interval_s = cfg->stats_interval_s;

	b->chain = malloc(sizeof(*b->chain));
	b->ranges_mem = calloc(3 * BALLOON_MAX_RANGES_PER_CHAIN, sizeof(*b->ranges_mem));
	if (!b->chain || !b->ranges_mem) {
		ret = -ENOMEM;
		log_error("virtio-balloon: out of memory");
		goto err_free;
	}
	b->pending[BALLOON_Q_INFLATE].ranges = b->ranges_mem;
	b->pending[BALLOON_Q_REPORTING].ranges = b->ranges_mem + BALLOON_MAX_RANGES_PER_CHAIN;
	b->pending[BALLOON_Q_FREE_PAGE].ranges = b->ranges_mem + 2 * BALLOON_MAX_RANGES_PER_CHAIN;
	ret = discard_queue__init(&b->dq, mem, cfg->discard, cfg->discard_engine, 0,
				  &cfg->discard_worker);
	if (ret < 0)
		goto err_free;
	/* docs/virtio-balloon.md, "Bounds": what the guest can have the host hold. */
	b->dq.limits = (struct discard_limits){
		.ops = BALLOON_MAX_OPS_IN_FLIGHT,
		.bytes = mem->ram_size,
		.mem = BALLOON_MAX_MEM_IN_FLIGHT,
	};

	b->vdev.ops = &balloon_ops;
	b->vdev.priv = b;
	b->vdev.mem = mem;
	log_info("virtio-balloon: reporting %s, deflate-on-oom %s, free-page-hinting %s, stats "
		 "every %us, target %llu MiB",
		 cfg->reporting ? "on" : "off", cfg->deflate_on_oom ? "on" : "off",
		 cfg->free_page_hinting ? "on" : "off", cfg->stats_interval_s,
		 (unsigned long long)(cfg->initial_target_bytes >> 20));
	return 0;

err_free:
	free(b->ranges_mem);
	free(b->chain);
	b->ranges_mem = NULL;
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
	free(b->ranges_mem);
	free(b->chain);
	b->ranges_mem = NULL;
	b->chain = NULL;
	for (int r = 0; r < BALLOON_Q__COUNT; r++)
		b->pending[r] = (struct balloon_pending){0};
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
	out->hinting = b->hint.st;
	pthread_mutex_unlock(&b->vdev.lock);
}

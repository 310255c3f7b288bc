// SPDX-License-Identifier: GPL-2.0
/*
 * Free page hinting (virtio 1.2 section 5.5.6.4): the host starts a run by
 * putting a new command id (>= 2) in free_page_hint_cmd_id and raising a
 * config interrupt. The driver answers on the free_page_vq with that id in
 * a 4-byte device-readable buffer, then hands free blocks as device-writable
 * buffers (Linux: 4 MiB each, one per chain, held allocated), and ends its
 * side with a STOP (0) buffer. The host ends the run with DONE (1), after
 * which the driver gives every hinted block back to its allocator.
 *
 * The rule here, the counterpart of reporting's: DONE reaches config space
 * only once every hint discard in flight completed, because 5.5.6.4.2 lets
 * the device change a hinted page only before DONE, and Linux frees the
 * blocks the moment it reads DONE. Each hint chain's used entry also waits
 * for its discards, like a report's (balloon_discard.c).
 *
 * And hints are discarded before the kick that brought them returns to the
 * guest. 5.5.6.4 lets the driver take a hinted block back before DONE, and
 * Linux 6.1's shrinker does under memory pressure (the pressure a run
 * itself creates: it allocates every free 4 MiB block); a discard landing
 * after the guest wrote to the block loses that write. Linux adds a hint to
 * the ring, kicks, and only then puts the block on the list its shrinker
 * frees from. So the free_page_vq has no ioeventfd
 * (virtio_device_ops.direct_queues): the kick exits to the vCPU thread,
 * which discards every hint on the ring (balloon__discard_chain_now) before
 * the guest runs on. Through the discard queue's asynchronous path a block
 * could be freed and reused while its hint waited on the ring or its
 * discard was in flight (boot/hinting's guest once hung spinning on a lock
 * after a run that took 228 of its 256 MiB: most likely that, not proven).
 * docs/virtio-balloon.md, "Free page hinting".
 *
 * Hints that are not for the current run (no run, a stale id, after a stop)
 * are acknowledged and kept, never discarded (5.5.6.4.2: the device MUST
 * ignore them). Runs with vdev->lock held, like the rest of the model.
 */
#include "devices/balloon_internal.h"

#include "base/log.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

static bool run_active(const struct balloon_hinting *h)
{
	return h->st.host_cmd > VIRTIO_BALLOON_CMD_ID_DONE;
}

/* The command id the driver reads, and the interrupt that makes it read it. */
static void publish_cmd(struct virtio_balloon *b, uint32_t id)
{
	b->free_page_hint_cmd_id = id;
	virtio__signal_config(&b->vdev);
}

/*
 * A chain held at the discard queue's limits belongs to the run it came
 * in: when the run changes it goes back to the driver, not discarded.
 */
static void drop_held_hint(struct virtio_balloon *b)
{
	struct balloon_pending *p = &b->pending[BALLOON_Q_FREE_PAGE];
	int q = b->qidx[BALLOON_Q_FREE_PAGE];

	if (!p->held || q < 0)
		return;
	p->held = false;
	b->stats.hints_ignored++;
	b->stats.bytes_hints_ignored += p->bytes;
	virtqueue__push(&b->vdev.queues[q], p->head, 0);
	virtio__signal_used(&b->vdev, (unsigned int)q);
}

/* The host is done with the hinted pages: DONE now, or when the last discard completed. */
static void request_done(struct virtio_balloon *b)
{
	struct balloon_hinting *h = &b->hint;

	h->st.host_cmd = VIRTIO_BALLOON_CMD_ID_DONE; /* from now on, hints are ignored */
	drop_held_hint(b);
	if (h->inflight) {
		if (!h->done_deferred)
			b->stats.hint_done_deferred++;
		h->done_deferred = true;
		return;
	}
	h->done_deferred = false;
	if (b->free_page_hint_cmd_id != VIRTIO_BALLOON_CMD_ID_DONE)
		publish_cmd(b, VIRTIO_BALLOON_CMD_ID_DONE);
}

void balloon_hinting__chain_done(struct virtio_balloon *b, uint64_t bytes, bool live)
{
	struct balloon_hinting *h = &b->hint;

	if (h->inflight)
		h->inflight--;
	if (!live)
		return;
	b->stats.hints_done++;
	b->stats.bytes_hint_discarded += bytes;
	if (!h->inflight && h->done_deferred) {
		h->done_deferred = false;
		publish_cmd(b, VIRTIO_BALLOON_CMD_ID_DONE);
	}
}

void balloon_hinting__reset(struct virtio_balloon *b)
{
	struct balloon_hinting *h = &b->hint;

	/* last_run_id stays: a new driver never sees an id twice. */
	h->st = (struct balloon_hint_status){.host_cmd = VIRTIO_BALLOON_CMD_ID_STOP};
	h->ack_on_stop = false;
	h->done_deferred = false;
	h->inflight = 0; /* the reset drained the discard queue */
	b->free_page_hint_cmd_id = VIRTIO_BALLOON_CMD_ID_STOP;
}

/* A command buffer: one device-readable le32, the driver's id or STOP. */
static void process_cmd(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c)
{
	const enum balloon_queue role = BALLOON_Q_FREE_PAGE;
	struct balloon_hinting *h = &b->hint;
	uint32_t le, cmd;
	bool was_current;

	if (c->nr_bufs != 1 || c->nr_readable != 1 || c->bufs[0].len != sizeof(le)) {
		balloon__reject_chain(b, role, qidx, c->head, BALLOON_REJ_BAD_LENGTH);
		return;
	}
	if (virtqueue__prefault_readable(b->mem, c) < 0) {
		balloon__reject_chain(b, role, qidx, c->head, BALLOON_REJ_HOST_MEMORY);
		return;
	}
	memcpy(&le, c->bufs[0].hva, sizeof(le)); /* guest memory: read once */
	cmd = le32toh(le);
	b->stats.hint_cmds++;
	/* A STOP ends the run it follows: one of an earlier run must not end this one. */
	was_current = h->st.guest_cmd_seen && h->st.guest_cmd == h->st.host_cmd;
	h->st.guest_cmd = cmd;
	h->st.guest_cmd_seen = true;
	virtqueue__push(&b->vdev.queues[qidx], c->head, 0);
	if (cmd == VIRTIO_BALLOON_CMD_ID_DONE)
		log_ratelimited(LOG_WARN, "virtio-balloon: free_page_vq: the driver sent DONE, "
					  "which is the device's; taken as STOP");
	else if (cmd != VIRTIO_BALLOON_CMD_ID_STOP)
		return; /* its id: hints follow (or a stale id: they will be ignored) */
	/* The driver has no more to hint for this run. */
	if (h->ack_on_stop && run_active(h) && was_current)
		request_done(b);
}

/*
 * Hints: device-writable buffers, each a free guest range the driver holds
 * until DONE. Checked like a report's buffers (balloon_discard.c).
 */
bool balloon__process_hint(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c)
{
	const enum balloon_queue role = BALLOON_Q_FREE_PAGE;
	struct balloon_pending *p = &b->pending[role];
	struct balloon_hinting *h = &b->hint;
	uint64_t bytes;

	if (c->nr_readable) {
		if (c->nr_readable == c->nr_bufs) {
			process_cmd(b, qidx, c);
			return true;
		}
		/* Linux sends the id and the hints in chains of their own. */
		balloon__reject_chain(b, role, qidx, c->head, BALLOON_REJ_NOT_WRITABLE);
		return true;
	}
	if (!balloon__take_free_ranges(b, role, qidx, c, &bytes))
		return true;
	/* 5.5.6.4.2: pages sent under an id other than the current one are ignored. */
	if (!run_active(h) || !h->st.guest_cmd_seen || h->st.guest_cmd != h->st.host_cmd) {
		b->stats.hints_ignored++;
		b->stats.bytes_hints_ignored += bytes;
		log_ratelimited(LOG_INFO,
				"virtio-balloon: free_page_vq: %llu KiB hinted outside the current "
				"run: acknowledged, kept",
				(unsigned long long)(bytes >> 10));
		virtqueue__push(&b->vdev.queues[qidx], c->head, 0);
		return true;
	}
	/*
	 * No PAGE_POISON exception, unlike reports: 5.5.6.4 makes hinted pages
	 * uninitialized memory to the driver, and Linux frees them back through
	 * the allocator after DONE, which poisons them again then.
	 */
	p->head = c->head;
	p->nr_bufs = c->nr_bufs;
	p->bytes = bytes;
	balloon__discard_chain_now(b, role, qidx, c->nr_bufs);
	return true;
}

/* ---- the host's side (the API), any thread ---- */

bool virtio_balloon__hinting_offered(const struct virtio_balloon *b)
{
	return b->cfg.free_page_hinting;
}

/* Under vdev.lock: whether the host may drive a run now. */
static int hinting_usable(const struct virtio_balloon *b)
{
	if (!virtio_balloon__hinting_offered(b))
		return -EOPNOTSUPP;
	if (!b->active || b->qidx[BALLOON_Q_FREE_PAGE] < 0)
		return -ENODEV; /* no driver yet, or it did not take the feature */
	return 0;
}

int virtio_balloon__hinting_start(struct virtio_balloon *b, bool acknowledge_on_stop)
{
	struct balloon_hinting *h = &b->hint;
	uint32_t id;
	int ret;

	pthread_mutex_lock(&b->vdev.lock);
	ret = hinting_usable(b);
	if (ret == 0) {
		/* 5.5.6.4.2: an id is not reused; 0 and 1 are STOP and DONE. */
		id = h->last_run_id + 1;
		if (id <= VIRTIO_BALLOON_CMD_ID_DONE)
			id = VIRTIO_BALLOON_CMD_ID_DONE + 1;
		drop_held_hint(b); /* the previous run's */
		h->last_run_id = id;
		h->st.host_cmd = id;
		h->ack_on_stop = acknowledge_on_stop;
		h->done_deferred = false; /* the pages stay hinted: a new run follows */
		b->stats.hint_runs++;
		publish_cmd(b, id);
	}
	pthread_mutex_unlock(&b->vdev.lock);
	return ret;
}

int virtio_balloon__hinting_stop(struct virtio_balloon *b)
{
	int ret;

	pthread_mutex_lock(&b->vdev.lock);
	ret = hinting_usable(b);
	if (ret == 0)
		request_done(b);
	pthread_mutex_unlock(&b->vdev.lock);
	return ret;
}

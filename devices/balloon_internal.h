/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the balloon's files share and nobody else sees. devices/virtio_balloon.h
 * is the device's public contract.
 *
 *   virtio_balloon.c  the virtio ops: features, config space, activate,
 *                     reset, the notify loop and its budget; the stats queue
 *   balloon_discard.c the chains that ask for discards (free page reports,
 *                     inflate) and deflate: PFNs and buffers into merged
 *                     ranges, the discard queue's limits, the used entry
 *                     after the discards
 *   balloon_hinting.c free page hinting: the command ids, the free_page_vq,
 *                     DONE only after the hint discards completed
 *   balloon_config.c  the option string, queue numbering, names
 */
#ifndef MINI_VMM_BALLOON_INTERNAL_H
#define MINI_VMM_BALLOON_INTERNAL_H

#include "devices/virtio_balloon.h"

#define BALLOON_PAGE_4K (1ULL << VIRTIO_BALLOON_PFN_SHIFT)

/* virtio_balloon.c */
const char *balloon_queue__name(enum balloon_queue role);
/* Count a refused chain and say so, rate limited. */
void balloon__count_reject(struct virtio_balloon *b, enum balloon_queue role,
			   enum balloon_reject why);
/* Refuse a chain: count it and hand it back with len 0. */
void balloon__reject_chain(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx,
			   uint16_t head, enum balloon_reject why);

/* balloon_discard.c */
/*
 * Process one chain of the reporting or inflate queue. false: it is held
 * (the discard queue is at its limits) and the queue must not be popped
 * further for now.
 */
bool balloon__process_report(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c);
/*
 * A chain of device-writable buffers, each a free guest-physical range (a
 * report, a hint): into b->pending[role].ranges, their sum in *bytes.
 * false after refusing the chain (too many buffers, one not 4 KiB aligned).
 */
bool balloon__take_free_ranges(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx,
			       const struct vq_chain *c, uint64_t *bytes);
bool balloon__process_inflate(struct virtio_balloon *b, unsigned int qidx,
			      const struct vq_chain *c);
void balloon__process_deflate(struct virtio_balloon *b, unsigned int qidx,
			      const struct vq_chain *c);
/*
 * Hand a validated chain of `role`'s queue, its ranges in b->pending[role]
 * (head, nr_bufs, bytes set), to the discard queue after merging and
 * cutting out the rings. false: it is held (the discard queue is at its
 * limits).
 */
bool balloon__discard_chain(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx,
			    unsigned int nr_ranges);
/*
 * The same, but the discards run now, on the calling thread, and the chain
 * is acknowledged before this returns (free page hints: balloon_hinting.c
 * says why). Never holds a chain.
 */
void balloon__discard_chain_now(struct virtio_balloon *b, enum balloon_queue role,
				unsigned int qidx, unsigned int nr_ranges);
/*
 * Send role's held chain again. false: still held. true: it went out (or
 * was refused), or none was held.
 */
bool balloon__retry_pending(struct virtio_balloon *b, enum balloon_queue role, unsigned int qidx);

/* balloon_hinting.c */
/* Process one chain of the free_page_vq. false: it is held, pop no further. */
bool balloon__process_hint(struct virtio_balloon *b, unsigned int qidx, const struct vq_chain *c);
/* A hint chain's discards completed; `live`: the device was not being reset. */
void balloon_hinting__chain_done(struct virtio_balloon *b, uint64_t bytes, bool live);
/* Device reset: back to STOP, nothing in flight (the discard queue was drained). */
void balloon_hinting__reset(struct virtio_balloon *b);

#endif

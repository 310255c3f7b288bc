/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Split virtqueue, device side (virtio 1.2 section 2.7). Pure logic over
 * guest memory: no threads, no fds. Every guest address goes through
 * guest_mem__translate(); every index the guest writes is bounded.
 */
#ifndef MINI_VMM_VIRTQUEUE_H
#define MINI_VMM_VIRTQUEUE_H

#include "base/guest_mem.h"

#include <stdbool.h>
#include <stdint.h>

#define VIRTQ_MAX_SIZE 1024 /* largest queue size any mini-vmm device offers */

/* Ring layout (virtio 1.2 section 2.7). All fields are little-endian. */
#define VIRTQ_DESC_F_NEXT	   1 /* the chain continues via .next */
#define VIRTQ_DESC_F_WRITE	   2 /* device-writable (else device-readable) */
#define VIRTQ_DESC_F_INDIRECT	   4 /* .addr/.len name a table of descriptors (2.7.5.3) */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* driver: no used-buffer interrupts please (no EVENT_IDX) */
#define VIRTQ_USED_F_NO_NOTIFY	   1 /* device: no available-buffer notifications please */

#define VIRTQ_DESC_SIZE	     16			     /* sizeof(struct virtq_desc) */
#define VIRTQ_DESC_ALIGN     16			     /* 2.7: alignment of the descriptor table */
#define VIRTQ_AVAIL_ALIGN    2			     /* ... of the available ring */
#define VIRTQ_USED_ALIGN     4			     /* ... of the used ring */
#define VIRTQ_AVAIL_SIZE(n)  (6 + 2 * (uint64_t)(n)) /* flags, idx, ring[n], used_event */
#define VIRTQ_USED_SIZE(n)   (6 + 8 * (uint64_t)(n)) /* flags, idx, ring[n], avail_event */
#define VIRTQ_USED_ELEM_SIZE 8			     /* struct virtq_used_elem: le32 id, le32 len */

/* One descriptor as it sits in guest memory (little-endian fields). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* One buffer of a descriptor chain, already translated and bounds-checked. */
struct vq_buf {
	uint64_t gpa;
	uint32_t len;
	bool device_writable; /* VIRTQ_DESC_F_WRITE */
	void *hva;	      /* guest_mem__translate(gpa, len), never NULL */
};

/*
 * A popped chain. Readable (driver->device) buffers come first, then writable
 * ones (spec 2.7.4.2); a chain breaking that order is rejected.
 */
struct vq_chain {
	uint16_t head; /* descriptor index to hand back with virtqueue__push() */
	uint16_t nr_bufs;
	uint16_t nr_readable; /* bufs[0 .. nr_readable) are device-readable */
	uint64_t readable_bytes;
	uint64_t writable_bytes;
	struct vq_buf bufs[VIRTQ_MAX_SIZE];
};

/* Why a chain was rejected; each has a counter in struct vq_stats. */
enum vq_error {
	VQ_ERR_NONE = 0,
	VQ_ERR_HEAD_OUT_OF_RANGE, /* avail ring names a descriptor >= queue size */
	VQ_ERR_AVAIL_IDX_JUMP,	  /* avail->idx moved by more than the queue size */
	VQ_ERR_NEXT_OUT_OF_RANGE, /* desc.next >= queue (or indirect table) size */
	VQ_ERR_CHAIN_TOO_LONG,	  /* more buffers than the queue size: a loop or abuse */
	VQ_ERR_BUF_OUT_OF_RAM,	  /* [addr, addr+len) not inside one RAM region, or overflow */
	VQ_ERR_ZERO_LEN,	  /* a zero-length buffer */
	VQ_ERR_WRONG_ORDER,	  /* a readable buffer after a writable one */
	VQ_ERR_BAD_INDIRECT,	  /* indirect table: bad length, nested, or with F_NEXT */
	VQ_ERR_INDIRECT_NOT_NEGOTIATED, /* F_INDIRECT used without VIRTIO_F_INDIRECT_DESC */
	VQ_ERR_RING_OUT_OF_RAM,		/* desc/avail/used ring not inside guest RAM */
	VQ_ERR_BAD_RING_LAYOUT,		/* bad queue size, or a misaligned ring */
	VQ_ERR_HEAD_IN_FLIGHT,		/* avail ring names a head the device has not used yet */
	VQ_ERR_HOST_MEMORY, /* an indirect table's pages could not be populated (hugetlbfs) */
	VQ_ERR__COUNT,
};

struct vq_stats {
	uint64_t chains_popped;
	uint64_t chains_rejected;
	uint64_t used_pushed;
	uint64_t notifications_suppressed; /* interrupts skipped: EVENT_IDX or NO_INTERRUPT */
	uint64_t errors[VQ_ERR__COUNT];
};

struct virtqueue {
	/* Set by the transport from the guest's queue registers. */
	uint16_t size; /* QueueNum: a power of two, 1..max */
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	bool ready;

	/* Negotiated ring features, set at activation. */
	bool event_idx;	    /* VIRTIO_RING_F_EVENT_IDX */
	bool indirect_desc; /* VIRTIO_RING_F_INDIRECT_DESC */

	/* Device-side state. */
	const struct guest_mem *mem;
	uint16_t last_avail_idx; /* next avail ring slot to consume */
	uint16_t used_idx;	 /* next used ring slot to fill (shadow of used->idx) */
	uint16_t signalled_used; /* used_idx at the last interrupt (EVENT_IDX) */
	bool signalled_used_valid;
	bool broken;	   /* ring-level corruption seen: the device should NEEDS_RESET */
	bool active;	   /* virtqueue__activate() succeeded: the host pointers below are valid */
	uint8_t *desc_hva; /* translated at activation: guest RAM regions never move */
	uint8_t *avail_hva;
	uint8_t *used_hva;
	/*
	 * Heads popped and not yet pushed: bit h of word h / 64. A driver may
	 * make a head available again only after the device used it.
	 */
	uint64_t heads_in_flight[VIRTQ_MAX_SIZE / 64];

	struct vq_stats stats;
};

/* Static names for enum vq_error, e.g. for logs and metrics. */
const char *virtqueue__error_name(enum vq_error err);

/*
 * Prepare a queue whose registers have been written, at DRIVER_OK (or
 * QueueReady). Checks the three rings lie in guest RAM. 0 or -EINVAL
 * (counted as VQ_ERR_RING_OUT_OF_RAM, or VQ_ERR_BAD_RING_LAYOUT for a size
 * that is not a power of two in 1..VIRTQ_MAX_SIZE or a misaligned ring).
 */
int virtqueue__activate(struct virtqueue *vq, const struct guest_mem *mem, bool event_idx,
			bool indirect_desc);

/* Forget everything (device reset). Stats are kept: they are cumulative. */
void virtqueue__reset(struct virtqueue *vq);

enum vq_pop_result {
	VQ_POP_EMPTY = 0,    /* nothing available */
	VQ_POP_OK = 1,	     /* *chain filled */
	VQ_POP_REJECTED = 2, /* chain->head valid but the chain is bad: counted; the device
			       should push(head, 0) so the driver gets its buffer back */
	VQ_POP_BROKEN = 3,   /* the ring itself is unusable (bad avail idx or head, or a head
				still in flight): counted, vq->broken set; the device should
				enter NEEDS_RESET */
};

/*
 * Take the next available chain. On VQ_POP_REJECTED, *err says why and
 * chain->head is valid. Chain length is bounded by the queue size, including
 * indirect tables. A head stays in flight from its pop (OK or REJECTED) to
 * its push; the driver making it available again before that breaks the
 * ring (VQ_ERR_HEAD_IN_FLIGHT), so a device never holds more than `size`
 * chains of one queue. Pairs its avail->idx read with an acquire barrier.
 */
enum vq_pop_result virtqueue__pop(struct virtqueue *vq, struct vq_chain *chain, enum vq_error *err);

/*
 * Before the device reads a popped chain's device-readable buffers:
 * guest_mem__prefault() over each (one call per run of buffers in the same
 * backing pages). 0, or its -errno: the device must not read them then.
 * No system call unless mem->prefault_reads (hugetlbfs).
 */
int virtqueue__prefault_readable(const struct guest_mem *mem, const struct vq_chain *chain);

/*
 * Hand a chain back: write the used element, then publish used->idx with a
 * release barrier (pairs with the driver's read of used->idx). The head is
 * no longer in flight.
 */
void virtqueue__push(struct virtqueue *vq, uint16_t head, uint32_t written_len);

/*
 * Whether the driver wants an interrupt for what has been pushed since the
 * last call (EVENT_IDX used_event, or VIRTQ_AVAIL_F_NO_INTERRUPT without it).
 * Call it once per batch of pushes; false is counted in
 * stats.notifications_suppressed.
 */
bool virtqueue__should_notify(struct virtqueue *vq);

/*
 * Number of chains the driver has made available and the device not yet
 * popped (0 for an inactive or broken queue).
 */
uint16_t virtqueue__pending(const struct virtqueue *vq);

#endif

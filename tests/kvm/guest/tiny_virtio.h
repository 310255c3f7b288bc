/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal virtio-mmio driver for the tiny guests, written from the spec
 * (virtio 1.2 sections 2.1-2.7 and 4.2), not from mini-vmm's device code, so
 * it checks the device against the spec rather than against itself.
 * Polling only: the guests run with interrupts off and watch the used ring.
 */
#ifndef TINY_VIRTIO_H
#define TINY_VIRTIO_H

#include "tiny.h"

/* Registers of the version 2 virtio-mmio window (4.2.2). */
#define VM_MAGIC_VALUE	       0x000
#define VM_VERSION	       0x004
#define VM_DEVICE_ID	       0x008
#define VM_VENDOR_ID	       0x00c
#define VM_DEVICE_FEATURES     0x010
#define VM_DEVICE_FEATURES_SEL 0x014
#define VM_DRIVER_FEATURES     0x020
#define VM_DRIVER_FEATURES_SEL 0x024
#define VM_QUEUE_SEL	       0x030
#define VM_QUEUE_NUM_MAX       0x034
#define VM_QUEUE_NUM	       0x038
#define VM_QUEUE_READY	       0x044
#define VM_QUEUE_NOTIFY	       0x050
#define VM_INTERRUPT_STATUS    0x060
#define VM_INTERRUPT_ACK       0x064
#define VM_STATUS	       0x070
#define VM_QUEUE_DESC_LOW      0x080
#define VM_QUEUE_DESC_HIGH     0x084
#define VM_QUEUE_DRIVER_LOW    0x090
#define VM_QUEUE_DRIVER_HIGH   0x094
#define VM_QUEUE_DEVICE_LOW    0x0a0
#define VM_QUEUE_DEVICE_HIGH   0x0a4
#define VM_CONFIG_GENERATION   0x0fc
#define VM_CONFIG	       0x100

#define VM_MAGIC	  0x74726976 /* "virt" */
#define VM_VERSION_MODERN 2

/* Device status (2.1). */
#define VS_ACKNOWLEDGE	      1
#define VS_DRIVER	      2
#define VS_DRIVER_OK	      4
#define VS_FEATURES_OK	      8
#define VS_DEVICE_NEEDS_RESET 64
#define VS_FAILED	      128

/* Interrupt status (4.2.2). */
#define VM_INT_USED_RING 1
#define VM_INT_CONFIG	 2

#define VIRTIO_F_VERSION_1 32

/* virtio-balloon (5.5). */
#define VIRTIO_ID_BALLOON		5
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ	1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON	4
#define VIRTIO_BALLOON_F_REPORTING	5
#define BALLOON_CFG_NUM_PAGES		0 /* le32, device -> driver: target in 4 KiB pages */
#define BALLOON_CFG_ACTUAL		4 /* le32, driver -> device */
#define BALLOON_PFN_SHIFT		12

#define BIT64(n) (1UL << (n))

/*
 * Balloon queue indices (5.5.2): inflateq 0, deflateq 1, then statsq,
 * free_page_vq and reporting_vq, each only if its feature was negotiated.
 * A queue that does not exist takes no index: with REPORTING alone the
 * reporting queue is 2 (as Linux's virtio_find_vqs numbers them).
 */
static inline unsigned int balloon_reporting_vq(uint64_t features)
{
	return 2 + !!(features & BIT64(VIRTIO_BALLOON_F_STATS_VQ)) +
	       !!(features & BIT64(VIRTIO_BALLOON_F_FREE_PAGE_HINT));
}

static inline unsigned int balloon_num_queues(uint64_t features)
{
	return balloon_reporting_vq(features) + !!(features & BIT64(VIRTIO_BALLOON_F_REPORTING));
}

/* Split ring (2.7). */
#define VRING_DESC_F_NEXT  1
#define VRING_DESC_F_WRITE 2

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

#define TVQ_MAX_SIZE 256 /* rings are statically sized for this many entries */

/* The driver's side of one split virtqueue. */
struct tvq {
	unsigned int qidx;
	uint16_t size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t next_desc; /* next free descriptor (chains are taken in a rotating order) */
	uint16_t avail_idx; /* shadow of avail->idx */
	uint16_t used_seen; /* used entries consumed so far */
	uint16_t pending;   /* chains published and not yet seen used */
};

/* One buffer of a chain to submit. */
struct tbuf {
	uint64_t addr;
	uint32_t len;
	bool device_writable;
};

/* The device window in use (set by tvm_find). */
extern uint64_t tvm_base;

static inline uint32_t tvm_read(uint32_t off)
{
	return mmio_read32(tvm_base + off);
}

static inline void tvm_write(uint32_t off, uint32_t v)
{
	mmio_write32(tvm_base + off, v);
}

/* Find the first virtio-mmio window with `device_id`; sets tvm_base. 0 or -1. */
int tvm_find(uint32_t device_id);

/* The device's 64 feature bits of interest (words 0 and 1). */
uint64_t tvm_device_features(void);
void tvm_write_driver_features(uint64_t features);

/*
 * Reset (Status 0, checked to read back 0), ACKNOWLEDGE, DRIVER, write
 * `features`, FEATURES_OK. Returns the Status read back afterwards; the
 * caller decides whether FEATURES_OK stuck.
 */
uint32_t tvm_negotiate(uint64_t features);
/* The same, failing the test unless FEATURES_OK sticks. */
void tvm_negotiate_or_fail(uint64_t features);

/*
 * The balloon's first steps (3.1.1): find it, reset, ACKNOWLEDGE, DRIVER,
 * read its features. Fails the test unless there is one (`flag`: the
 * mini-vmm option that adds it) offering every bit of `want` (`lacking`:
 * their names). Returns the features offered.
 */
uint64_t tvm_balloon_offering(uint64_t want, const char *lacking, const char *flag);

/*
 * Program queue `qidx` with `size` entries on the static rings of slot
 * `ring_slot` (0..TVQ_SLOTS-1) and set QueueReady; fails the test on error.
 * tvq_setup = tvq_prepare (QueueSel .. QueueDevice) + tvq_ready (QueueReady).
 */
#define TVQ_SLOTS 3
void tvq_setup(struct tvq *q, unsigned int ring_slot, unsigned int qidx, uint16_t size);
void tvq_prepare(struct tvq *q, unsigned int ring_slot, unsigned int qidx, uint16_t size);
void tvq_ready(struct tvq *q);
/* Ring addresses of a slot, for tests that program the registers by hand. */
void tvq_slot_rings(unsigned int ring_slot, uint64_t *desc, uint64_t *avail, uint64_t *used);

/* Set DRIVER_OK on top of ACKNOWLEDGE|DRIVER|FEATURES_OK and check it reads back. */
void tvm_driver_ok(void);

/*
 * Write `n` buffers as one chain into the descriptor table (no publication).
 * Returns the head descriptor index.
 */
uint16_t tvq_add_chain(struct tvq *q, const struct tbuf *bufs, unsigned int n);
/* Put `head` in the available ring and publish it (2.7.13), without notifying. */
void tvq_publish(struct tvq *q, uint16_t head);
/* QueueNotify (4.2.3.3). */
void tvq_kick(struct tvq *q);

/*
 * How long to wait, in host time (tiny_now_ms). TVQ_WAIT_MS bounds what
 * must come (a used element, an interrupt, a status change): it only
 * decides how soon a broken device fails the test, so it is generous, for
 * an emulating KVM on a loaded host, yet well inside run_tiny.sh's limit so
 * the guest's FAIL line is printed. TVQ_QUIET_MS is how long the guest
 * watches for what must NOT come: long beside the microseconds to
 * milliseconds the device takes to answer a notification, on any KVM.
 */
#define TVQ_WAIT_MS  60000
#define TVQ_QUIET_MS 500

/*
 * Wait up to `timeout_ms` for the next used element, polling used->idx.
 * Returns 0 with *id / *len filled, -1 on timeout.
 */
int tvq_wait_used(struct tvq *q, uint32_t *id, uint32_t *len, uint32_t timeout_ms);

/* Fail the test if the device publishes a used element within `ms`. */
void tvq_expect_no_used(struct tvq *q, uint32_t ms, const char *what);

/*
 * Add, publish, kick and wait; fails the test on timeout or if the used
 * element names another head. Returns the used length.
 */
uint32_t tvq_roundtrip(struct tvq *q, const struct tbuf *bufs, unsigned int n, const char *what);

/* Check InterruptStatus has `bits`, acknowledge them, check they are gone. */
void tvm_expect_interrupt(uint32_t bits, const char *what);

/*
 * The balloon's target (config num_pages, 4 KiB pages), read until
 * ConfigGeneration is stable (2.5.1). The host side of a test sets it
 * through the API (PATCH /balloon) to tell the guest to go on:
 * tvm_wait_balloon_target() waits up to TVQ_WAIT_MS for `pages`, fails the
 * test otherwise, and acknowledges the configuration interrupt it raised.
 */
uint32_t tvm_balloon_target(void);
void tvm_wait_balloon_target(uint32_t pages, const char *what);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The driver's side of split virtqueues, in plain memory, for unit tests
 * (Firecracker style): a fake guest RAM registered with
 * guest_mem__add_region(), descriptor tables and rings laid out in it, chains
 * of (addr, len, write) buffers made available -- direct, indirect or both --
 * and used elements read back. Device code under test gets the very
 * struct guest_mem and struct virtqueue it gets in a VM.
 *
 *	struct fake_ram ram;
 *	struct fake_virtq fq;
 *	struct virtqueue vq;
 *
 *	fake_ram__init(&ram, FAKE_RAM_GPA, 1 << 20);
 *	fake_virtq__init(&fq, &ram, 16);
 *	fake_virtq__activate(&fq, &vq, false, true);
 *	uint64_t buf = fake_ram__alloc(&ram, 4096, 4096);
 *	struct fake_buf b[] = {{buf, 4096, true}};
 *	int head = fake_virtq__add_chain(&fq, b, 1);
 *	... the device pops and pushes ...
 *	fake_virtq__get_used(&fq, &id, &len);
 *
 * Misuse of the helpers themselves (RAM exhausted, a chain longer than the
 * queue) aborts the test with a message: those are bugs in the test.
 */
#ifndef MINI_VMM_FAKE_VIRTQ_H
#define MINI_VMM_FAKE_VIRTQ_H

#include "devices/virtio.h"
#include "devices/virtqueue.h"
#include "base/guest_mem.h"

#include <stdbool.h>
#include <stdint.h>

/* A default base for fake RAM: guest-physical 0 is deliberately not RAM. */
#define FAKE_RAM_GPA 0x100000ULL

/* One region of fake guest RAM, with a bump allocator for rings and buffers. */
struct fake_ram {
	struct guest_mem mem; /* hand &ram.mem to the device under test */
	uint8_t *buf;	      /* host backing, page aligned, zeroed */
	uint64_t gpa;	      /* first guest-physical address */
	uint64_t size;
	uint64_t next; /* next free gpa for fake_ram__alloc() */
};

/* size: a multiple of 4096. 0 or -errno. */
int fake_ram__init(struct fake_ram *ram, uint64_t gpa, uint64_t size);
void fake_ram__exit(struct fake_ram *ram);
/* `len` bytes aligned to `align` (a power of two), zeroed; aborts when RAM is full. */
uint64_t fake_ram__alloc(struct fake_ram *ram, uint64_t len, uint64_t align);
/* Host pointer for [gpa, gpa + len) via guest_mem__translate(); aborts if outside RAM. */
void *fake_ram__hva(const struct fake_ram *ram, uint64_t gpa, uint64_t len);

/* A buffer for a chain: guest address, length, device-writable? */
struct fake_buf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* One split virtqueue as the driver sees it. Several may share one fake_ram. */
struct fake_virtq {
	struct fake_ram *ram;
	uint16_t size;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint16_t next_desc;	/* descriptors are handed out round-robin */
	uint16_t avail_idx;	/* the driver's avail->idx */
	uint16_t last_used_idx; /* the next used element fake_virtq__get_used() reads */
};

/* Lay out the three rings (zeroed, aligned per 2.7) in `ram`. size: a power of two. */
int fake_virtq__init(struct fake_virtq *fq, struct fake_ram *ram, uint16_t size);
/* Write the queue registers into *vq as the transport would: size, ring addresses, ready. */
void fake_virtq__setup(const struct fake_virtq *fq, struct virtqueue *vq);
/* virtqueue__reset() + fake_virtq__setup() + virtqueue__activate(). Its return value. */
int fake_virtq__activate(const struct fake_virtq *fq, struct virtqueue *vq, bool event_idx,
			 bool indirect_desc);

/*
 * Make a chain available and return its head (aborts if it cannot fit):
 * `nd` direct descriptors, then, if ni > 0, one VIRTQ_DESC_F_INDIRECT
 * descriptor naming a freshly allocated table of `ni` descriptors.
 * Descriptors come round-robin from the table: keep at most `size` of them in
 * flight.
 */
int fake_virtq__add_mixed(struct fake_virtq *fq, const struct fake_buf *direct, unsigned int nd,
			  const struct fake_buf *indirect, unsigned int ni);
/* Only direct descriptors. */
int fake_virtq__add_chain(struct fake_virtq *fq, const struct fake_buf *bufs, unsigned int n);
/* One indirect descriptor holding all `n` buffers. */
int fake_virtq__add_indirect(struct fake_virtq *fq, const struct fake_buf *bufs, unsigned int n);

/* Raw access, to build the broken rings a hostile driver would. */
void fake_virtq__write_desc(struct fake_virtq *fq, uint64_t table_gpa, uint16_t idx, uint64_t addr,
			    uint32_t len, uint16_t flags, uint16_t next);
/* In the queue's own descriptor table. */
void fake_virtq__set_desc(struct fake_virtq *fq, uint16_t idx, uint64_t addr, uint32_t len,
			  uint16_t flags, uint16_t next);
/* avail->ring[avail_idx % size] = head, then avail->idx + 1 (release). */
void fake_virtq__publish(struct fake_virtq *fq, uint16_t head);
/* avail->idx = idx, writing no ring entry. */
void fake_virtq__set_avail_idx(struct fake_virtq *fq, uint16_t idx);
void fake_virtq__set_avail_flags(struct fake_virtq *fq, uint16_t flags);
/* EVENT_IDX: the driver's used_event (in the avail ring). */
void fake_virtq__set_used_event(struct fake_virtq *fq, uint16_t used_event);
/* EVENT_IDX: the device's avail_event (in the used ring). */
uint16_t fake_virtq__avail_event(const struct fake_virtq *fq);
uint16_t fake_virtq__used_idx(const struct fake_virtq *fq);
uint16_t fake_virtq__used_flags(const struct fake_virtq *fq);

/* Read the next used element, if the device has published one. */
bool fake_virtq__get_used(struct fake_virtq *fq, uint32_t *id, uint32_t *len);

/* n values as le32 in fresh fake RAM (a balloon PFN array); returns its gpa. */
uint64_t fake_ram__put_le32(struct fake_ram *ram, const uint32_t *vals, unsigned int n);

/*
 * A word per 4 KiB page telling its gpa: fill [gpa, gpa + len) with it;
 * count the pages that do not hold it (intact) or are not zero (discarded);
 * or say whether there are none, printing the first one to stderr if not.
 */
void fake_ram__fill_pattern(struct fake_ram *ram, uint64_t gpa, uint64_t len);
uint64_t fake_ram__mismatches(struct fake_ram *ram, uint64_t gpa, uint64_t len, bool intact);
bool fake_ram__pages_are(struct fake_ram *ram, uint64_t gpa, uint64_t len, bool intact);

/*
 * vdev->renotify recorded, not written to an eventfd: what the VMM's
 * ioeventfd write would ask of the device thread, run on demand.
 */
struct fake_renotify {
	struct virtio_device *vdev;
	bool pending[VIRTIO_MAX_QUEUES];
};
/* Become vdev's renotify hook. */
void fake_renotify__attach(struct fake_renotify *rn, struct virtio_device *vdev);
/* Run the queue notifications asked for, until none is (the caller holds what the device thread
 * would). */
void fake_renotify__run(struct fake_renotify *rn);
/* The same under vdev->lock, as the device thread runs a notification. */
void fake_renotify__run_locked(struct fake_renotify *rn);
/* The driver kicks queue qidx: queue_notify under the lock (the transport), then the rest. */
void fake_renotify__kick(struct fake_renotify *rn, unsigned int qidx);

#endif

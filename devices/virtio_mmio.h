/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-mmio transport, version 2 ("modern") register layout (virtio 1.2
 * section 4.2.2). One 4 KiB register window per device, a plain switch over
 * register offsets. The guest drives the device's life cycle through it; every
 * value it writes is checked (status transitions against an explicit table,
 * queue registers only between FEATURES_OK and DRIVER_OK, queue indices
 * against the number of queues) and a bad one costs a counter, never the VMM.
 *
 * The io handler runs on vCPU threads and takes vdev->lock around everything
 * that touches device state; the device thread takes the same lock while it
 * works on queues.
 */
#ifndef MINI_VMM_VIRTIO_MMIO_H
#define MINI_VMM_VIRTIO_MMIO_H

#include "devices/virtio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTIO_MMIO_SIZE    0x1000     /* register window per device */
#define VIRTIO_MMIO_MAGIC   0x74726976 /* "virt" in little-endian ASCII */
#define VIRTIO_MMIO_VERSION 2	       /* the non-legacy interface */
/* Our VendorID: the bytes 'M' 'V' 'M' 'M' ("mini-vmm") in little-endian order. */
#define VIRTIO_MMIO_VENDOR_ID 0x4d4d564d

/* Register offsets (4.2.2). R: read-only, W: write-only, RW: both. */
#define VIRTIO_MMIO_MAGIC_VALUE		0x000 /* R */
#define VIRTIO_MMIO_VERSION_REG		0x004 /* R */
#define VIRTIO_MMIO_DEVICE_ID		0x008 /* R */
#define VIRTIO_MMIO_VENDOR_ID_REG	0x00c /* R */
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010 /* R: 32 bits selected by ..._SEL */
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014 /* W */
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020 /* W */
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024 /* W */
#define VIRTIO_MMIO_QUEUE_SEL		0x030 /* W */
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034 /* R: 0 if the selected queue does not exist */
#define VIRTIO_MMIO_QUEUE_NUM		0x038 /* W */
#define VIRTIO_MMIO_QUEUE_READY		0x044 /* RW */
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050 /* W: queue index */
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060 /* R */
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064 /* W */
#define VIRTIO_MMIO_STATUS		0x070 /* RW */
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080 /* W */
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084 /* W */
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW	0x090 /* W: the available ring */
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH	0x094 /* W */
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW	0x0a0 /* W: the used ring */
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH	0x0a4 /* W */
#define VIRTIO_MMIO_SHM_SEL		0x0ac /* W: no shared memory regions here */
#define VIRTIO_MMIO_SHM_LEN_LOW		0x0b0 /* R: all ones, "no such region" */
#define VIRTIO_MMIO_SHM_LEN_HIGH	0x0b4 /* R */
#define VIRTIO_MMIO_SHM_BASE_LOW	0x0b8 /* R */
#define VIRTIO_MMIO_SHM_BASE_HIGH	0x0bc /* R */
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc /* R */
#define VIRTIO_MMIO_CONFIG		0x100 /* device config space, 1/2/4/8-byte access */

/* Guest mistakes, by kind. Cumulative: a device reset keeps them. */
struct virtio_mmio_stats {
	uint64_t bad_access; /* not 32-bit aligned 4 bytes, unknown register, wrong direction,
				bad value (QueueReady not 0/1), misaligned config access */
	uint64_t bad_status_transition;	     /* Status write not in the transition table */
	uint64_t queue_write_outside_window; /* queue register outside FEATURES_OK..DRIVER_OK */
	uint64_t queue_write_while_ready;    /* QueueNum/Desc/Driver/Device with QueueReady set */
	uint64_t bad_queue_select;	     /* queue register or QueueNotify: no such queue */
	uint64_t bad_queue_num;		     /* QueueNum not a power of two in 1..QueueNumMax */
	uint64_t features_write_refused;     /* DriverFeatures outside DRIVER..FEATURES_OK */
	uint64_t features_refused;    /* FEATURES_OK refused: no VERSION_1, not offered, or the
					 device said no */
	uint64_t config_out_of_range; /* config access beyond ops->config_size */
	uint64_t activate_failed;     /* DRIVER_OK: a queue or the device failed -> NEEDS_RESET */
	uint64_t notifies;	      /* QueueNotify writes that reached m->kick */
	uint64_t resets;	      /* Status written to 0 */
};

struct virtio_mmio_dev;

/* QueueNotify for a valid queue; called WITHOUT vdev->lock held. */
typedef void (*virtio_mmio_kick_fn)(struct virtio_mmio_dev *m, unsigned int qidx, void *opaque);

struct virtio_mmio_dev {
	struct virtio_device *vdev;
	uint64_t base; /* guest-physical base of the register window */
	uint32_t irq;  /* GSI, for the command line and the wiring */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;	  /* raw guest value; checked against num_queues at each use */
	uint64_t driver_features; /* written by the driver, pending until FEATURES_OK */
	/*
	 * The fallback notify path: the wiring normally catches QueueNotify
	 * with a KVM ioeventfd, so this runs only without one (and in tests).
	 */
	virtio_mmio_kick_fn kick;
	void *kick_opaque;
	struct virtio_mmio_stats stats;
};

/*
 * Set up the transport for `vdev` (ops set; vdev->mem needed by DRIVER_OK).
 * Initialises vdev->lock and puts the device in the reset state. Checks the
 * ops table: max_queue_size a power of two in 1..VIRTQ_MAX_SIZE and
 * config_size fitting the window. 0 or -EINVAL (logged); -errno if the mutex
 * cannot be created.
 */
int virtio_mmio__init(struct virtio_mmio_dev *m, struct virtio_device *vdev, uint64_t base,
		      uint32_t irq);
/*
 * Destroy vdev->lock, after a successful virtio_mmio__init(). The device must
 * be quiet (no vCPU or device thread using it).
 */
void virtio_mmio__exit(struct virtio_mmio_dev *m);

/*
 * The bus handler (vmm/bus.h bus_io_fn; opaque is the struct virtio_mmio_dev,
 * offset relative to base). Reads of anything refused return 0.
 */
void virtio_mmio__io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

/*
 * The kernel command line fragment announcing the device,
 * "virtio_mmio.device=4K@0xd0000000:5". Returns its length, or -ENOSPC if
 * `len` is too small.
 */
int virtio_mmio__cmdline(const struct virtio_mmio_dev *m, char *buf, size_t len);

#endif

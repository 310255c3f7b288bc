/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A virtio device as the transport sees it: a static ops table (kvmtool
 * style) plus per-instance state. The device model never touches KVM: it
 * gets guest memory, its queues, and a callback to raise its interrupt.
 */
#ifndef MINI_VMM_VIRTIO_H
#define MINI_VMM_VIRTIO_H

#include "devices/virtqueue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Device status bits (virtio 1.2 section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1
#define VIRTIO_STATUS_DRIVER		 2
#define VIRTIO_STATUS_DRIVER_OK		 4
#define VIRTIO_STATUS_FEATURES_OK	 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED		 128

/* Reserved feature bits (section 6). */
#define VIRTIO_F_INDIRECT_DESC	 28
#define VIRTIO_F_EVENT_IDX	 29
#define VIRTIO_F_VERSION_1	 32
#define VIRTIO_F_ACCESS_PLATFORM 33

/* Interrupt status bits (4.2.2). */
#define VIRTIO_INT_USED_RING 1
#define VIRTIO_INT_CONFIG    2

#define VIRTIO_MAX_QUEUES 8

struct virtio_device;

struct virtio_device_ops {
	const char *name;
	uint32_t device_id;
	uint16_t max_queue_size; /* offered as QueueNumMax for every queue */

	/* Number of queues that exist for the features the driver accepted. */
	unsigned int (*num_queues)(struct virtio_device *vdev);
	/* Features offered (VERSION_1 is added by the transport). */
	uint64_t (*get_features)(struct virtio_device *vdev);
	/* The driver's final choice, at FEATURES_OK. Non-zero refuses it. */
	int (*set_features)(struct virtio_device *vdev, uint64_t features);
	/* Config space; offset/len already bounds-checked against config_size. */
	uint32_t config_size;
	void (*read_config)(struct virtio_device *vdev, uint32_t offset, void *data, uint32_t len);
	void (*write_config)(struct virtio_device *vdev, uint32_t offset, const void *data,
			     uint32_t len);
	/* DRIVER_OK: queues are set up and activated. Non-zero -> NEEDS_RESET. */
	int (*activate)(struct virtio_device *vdev);
	/* Status written to 0: stop using the queues (wait for in-flight work first). */
	void (*reset)(struct virtio_device *vdev);
	/* The driver kicked queue `qidx` (called on the device thread). */
	void (*queue_notify)(struct virtio_device *vdev, unsigned int qidx);
	/*
	 * Optional: queues (a bitmask of indexes, fixed at init) whose kick
	 * must be served before the kicking vCPU runs on. The wiring gives
	 * them no ioeventfd, so QueueNotify exits to the vCPU thread, which
	 * calls queue_notify_direct with the lock held; false from it (not
	 * such a queue for the features taken) sends the kick the usual way.
	 */
	uint32_t (*direct_queues)(struct virtio_device *vdev);
	bool (*queue_notify_direct)(struct virtio_device *vdev, unsigned int qidx);
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	void *priv; /* the device model's own state */
	const struct guest_mem *mem;

	/*
	 * Serialises the transport (vCPU threads) against the device thread.
	 * Held by the transport around every ops call and by the device thread
	 * while it works on queues. See docs/architecture.md.
	 */
	pthread_mutex_t lock;

	uint32_t status;
	uint64_t features_offered;
	uint64_t features_acked;
	uint32_t config_generation;
	uint32_t interrupt_status;
	struct virtqueue queues[VIRTIO_MAX_QUEUES];

	/* Raise the device's interrupt line (wiring: irqfd). Called with lock held. */
	void (*raise_irq)(struct virtio_device *vdev, void *opaque);
	void *irq_opaque;
	/*
	 * Have ops->queue_notify(qidx) called again on the device thread, as
	 * if the driver had kicked, after the events already waiting (wiring:
	 * write the queue's ioeventfd). How a device that stopped at its work
	 * budget comes back for the rest. Called with lock held, from any
	 * thread. NULL: not wired (a test driving the model alone).
	 */
	void (*renotify)(struct virtio_device *vdev, unsigned int qidx, void *opaque);
	void *renotify_opaque;
};

/*
 * For device models: publish used buffers of queue `qidx` to the driver,
 * raising the interrupt if virtqueue__should_notify() says so. Lock held.
 */
void virtio__signal_used(struct virtio_device *vdev, unsigned int qidx);
/*
 * Config space changed: bump the generation and raise a config interrupt
 * (the interrupt only once DRIVER_OK is set; before that the driver polls).
 */
void virtio__signal_config(struct virtio_device *vdev);
/* For device models: vdev->renotify(qidx). false if it is not wired. Lock held. */
bool virtio__renotify(struct virtio_device *vdev, unsigned int qidx);
/* Something is irrecoverably wrong (broken ring, host failure): NEEDS_RESET. */
void virtio__set_needs_reset(struct virtio_device *vdev, const char *why);

static inline bool virtio__has_feature(const struct virtio_device *vdev, unsigned int bit)
{
	return (vdev->features_acked >> bit) & 1;
}

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * Transport-independent helpers for device models: interrupts, coming back
 * to a queue later, and DEVICE_NEEDS_RESET. All of them run with vdev->lock
 * held.
 */
#include "devices/virtio.h"

#include "base/log.h"

static void raise_interrupt(struct virtio_device *vdev, uint32_t why)
{
	vdev->interrupt_status |= why;
	if (vdev->raise_irq)
		vdev->raise_irq(vdev, vdev->irq_opaque);
}

void virtio__signal_used(struct virtio_device *vdev, unsigned int qidx)
{
	if (qidx >= VIRTIO_MAX_QUEUES)
		return;
	if (virtqueue__should_notify(&vdev->queues[qidx]))
		raise_interrupt(vdev, VIRTIO_INT_USED_RING);
}

void virtio__signal_config(struct virtio_device *vdev)
{
	/* 2.5.1 / 4.2.2: the driver rereads config until ConfigGeneration is stable. */
	vdev->config_generation++;
	/* Before DRIVER_OK the driver does not listen; it reads config as it sets up. */
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		raise_interrupt(vdev, VIRTIO_INT_CONFIG);
}

bool virtio__renotify(struct virtio_device *vdev, unsigned int qidx)
{
	if (!vdev->renotify || qidx >= VIRTIO_MAX_QUEUES)
		return false;
	vdev->renotify(vdev, qidx, vdev->renotify_opaque);
	return true;
}

void virtio__set_needs_reset(struct virtio_device *vdev, const char *why)
{
	const char *name = vdev->ops && vdev->ops->name ? vdev->ops->name : "virtio";

	if (vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return; /* already said so; one interrupt is enough */
	log_ratelimited(LOG_WARN, "%s: device needs reset: %s", name, why);
	vdev->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	/*
	 * 2.1.2: "If DRIVER_OK is set, after it sets DEVICE_NEEDS_RESET, the
	 * device MUST send a device configuration change notification".
	 */
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		raise_interrupt(vdev, VIRTIO_INT_CONFIG);
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device models' wiring to KVM and the device thread: the fds, timers
 * and event-loop registrations the models need and never touch themselves
 * (docs/architecture.md, "Layers").
 *
 * A virtio-mmio slot: the transport's register window on the MMIO bus, its
 * interrupt through a KVM irqfd, and one KVM ioeventfd per queue, watched
 * by the event loop, so that a kick costs no exit to user space.
 *
 * The balloon: its discard queue's eventfd and its stats timer (a timerfd)
 * on the event loop, from the device's activation to its reset, as its
 * struct balloon_host_ops asks.
 */
#ifndef MINI_VMM_VM_DEVICES_H
#define MINI_VMM_VM_DEVICES_H

#include "base/event_loop.h"
#include "base/guest_mem.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_mmio.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"

/* One virtio-mmio slot: the transport plus its KVM wiring. */
struct virtio_slot {
	struct virtio_mmio_dev mmio;
	int irqfd;
	struct virtio_notify {
		struct virtio_slot *slot;
		unsigned int qidx;
		int fd;
	} notify[VIRTIO_MAX_QUEUES];
	uint32_t direct_queues; /* vdev->ops->direct_queues(): kicks served on the vCPU */
};

/*
 * Put vdev in virtio-mmio slot `index` (base/layout.h: its register window
 * and IRQ), with its irqfd and its queues' ioeventfds on loop. 0 or -errno.
 */
int vm_devices__add_virtio(struct virtio_slot *slot, unsigned int index, struct virtio_device *vdev,
			   struct kvm *kvm, struct bus *mmio, struct event_loop *loop,
			   const struct guest_mem *mem);
/* Close a slot's fds, once the vCPUs and the device thread have stopped. */
void vm_devices__remove_virtio(struct virtio_slot *slot);

struct balloon_wiring {
	struct virtio_balloon *b; /* NULL: not wired */
	struct event_loop *loop;
	int stats_timerfd; /* -1 unless the balloon offers STATS_VQ */
	bool paused;	   /* atomic: the VM is paused, statistics ticks are skipped */
};

/*
 * Become b's host on loop, whose thread then calls b's entry points. After
 * virtio_balloon__init(), before DRIVER_OK. 0 or -errno after a log line.
 */
int vm_devices__wire_balloon(struct balloon_wiring *w, struct virtio_balloon *b,
			     struct event_loop *loop);
/* After virtio_balloon__exit(). Safe on a zeroed or failed wiring. */
void vm_devices__unwire_balloon(struct balloon_wiring *w);

#endif

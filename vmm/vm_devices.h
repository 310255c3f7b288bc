/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device models' wiring to the device thread: the fds, timers and
 * event-loop registrations the models need and never touch themselves
 * (docs/architecture.md, "Layers").
 *
 * The balloon: its discard queue's eventfd and its stats timer (a timerfd)
 * on the event loop, from the device's activation to its reset, as its
 * struct balloon_host_ops asks.
 */
#ifndef MINI_VMM_VM_DEVICES_H
#define MINI_VMM_VM_DEVICES_H

#include "base/event_loop.h"
#include "devices/virtio_balloon.h"

struct balloon_wiring {
	struct virtio_balloon *b; /* NULL: not wired */
	struct event_loop *loop;
	int stats_timerfd; /* -1 unless the balloon offers STATS_VQ */
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

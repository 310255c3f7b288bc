// SPDX-License-Identifier: GPL-2.0
/*
 * The devices' wiring to KVM and the device thread. A virtio-mmio slot: the
 * transport's registers on the MMIO bus, its interrupt through an irqfd,
 * each queue's notification through an ioeventfd on the event loop (but a
 * device's direct queues: served on the kicking vCPU's thread). The
 * balloon's host: the fds and the event-loop registrations that the device
 * model (devices/virtio_balloon.c) asks for through its struct
 * balloon_host_ops, and the timerfd of its stats timer.
 */
#include "vmm/vm_devices.h"

#include "base/layout.h"
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* --- virtio-mmio slots --- */

static void virtio_raise_irq(struct virtio_device *vdev, void *opaque)
{
	struct virtio_slot *slot = opaque;
	uint64_t one = 1;

	/* irqfd: KVM injects the GSI; a full counter still means "pending". */
	if (write(slot->irqfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOG_WARN, "virtio irqfd write: %s", strerror(errno));
}

static void virtio_queue_notified(void *opaque, uint32_t events)
{
	struct virtio_notify *n = opaque;
	struct virtio_device *vdev = n->slot->mmio.vdev;
	uint64_t count;

	if (read(n->fd, &count, sizeof(count)) < 0)
		return;
	pthread_mutex_lock(&vdev->lock);
	/* A notify before DRIVER_OK, or for a queue that does not exist, is ignored. */
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) &&
	    n->qidx < vdev->ops->num_queues(vdev) && vdev->queues[n->qidx].active)
		vdev->ops->queue_notify(vdev, n->qidx);
	pthread_mutex_unlock(&vdev->lock);
}

/* Make queue qidx's notification pending, as KVM does on a QueueNotify write. */
static void virtio_notify_queue(struct virtio_slot *slot, unsigned int qidx)
{
	uint64_t one = 1;

	/* A full counter (EAGAIN) is still readable: the notification is pending. */
	if (qidx < VIRTIO_MAX_QUEUES && write(slot->notify[qidx].fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		log_ratelimited(LOG_WARN, "virtio notify write: %s", strerror(errno));
}

/*
 * QueueNotify that reached the MMIO handler, on the vCPU thread. A direct
 * queue (no ioeventfd on purpose, virtio_device_ops.direct_queues) is served
 * here, before the vCPU runs on; any other kick (no ioeventfd matched) takes
 * the device thread's path.
 */
static void virtio_kick(struct virtio_mmio_dev *m, unsigned int qidx, void *opaque)
{
	struct virtio_slot *slot = opaque;
	struct virtio_device *vdev = m->vdev;
	bool served = false;

	if (qidx < VIRTIO_MAX_QUEUES && (slot->direct_queues & (1u << qidx))) {
		pthread_mutex_lock(&vdev->lock);
		if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
		    !(vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) &&
		    qidx < vdev->ops->num_queues(vdev) && vdev->queues[qidx].active)
			served = vdev->ops->queue_notify_direct(vdev, qidx);
		pthread_mutex_unlock(&vdev->lock);
	}
	if (!served)
		virtio_notify_queue(slot, qidx);
}

/*
 * The device stopped at its work budget (or activated with chains waiting):
 * its queue_notify runs again on the next turn of the loop, after the
 * events already ready (signals, the API's, other queues').
 */
static void virtio_renotify(struct virtio_device *vdev, unsigned int qidx, void *opaque)
{
	(void)vdev;
	virtio_notify_queue(opaque, qidx);
}

int vm_devices__add_virtio(struct virtio_slot *slot, unsigned int index, struct virtio_device *vdev,
			   struct kvm *kvm, struct bus *mmio, struct event_loop *loop,
			   const struct guest_mem *mem)
{
	uint64_t base = LAYOUT_VIRTIO_MMIO_BASE + index * LAYOUT_VIRTIO_MMIO_SIZE;
	uint32_t irq = LAYOUT_VIRTIO_IRQ_BASE + index;
	int ret;

	vdev->mem = mem;
	ret = virtio_mmio__init(&slot->mmio, vdev, base, irq);
	if (ret < 0)
		return ret;
	slot->mmio.kick = virtio_kick;
	slot->mmio.kick_opaque = slot;
	slot->irqfd = kvm__irqfd(kvm, irq);
	if (slot->irqfd < 0)
		return slot->irqfd;
	vdev->raise_irq = virtio_raise_irq;
	vdev->irq_opaque = slot;
	vdev->renotify = virtio_renotify;
	vdev->renotify_opaque = slot;
	slot->direct_queues = vdev->ops->direct_queues && vdev->ops->queue_notify_direct
				      ? vdev->ops->direct_queues(vdev)
				      : 0;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct virtio_notify *n = &slot->notify[q];

		n->slot = slot;
		n->qidx = q;
		/* A direct queue's kicks exit to the vCPU; its fd only carries renotify. */
		if (slot->direct_queues & (1u << q)) {
			n->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (n->fd < 0)
				return -errno;
		} else {
			n->fd = kvm__ioeventfd_mmio(kvm, base + VIRTIO_MMIO_QUEUE_NOTIFY, q);
			if (n->fd < 0)
				return n->fd;
		}
		ret = event_loop__add(loop, n->fd, EPOLLIN, virtio_queue_notified, n);
		if (ret < 0)
			return ret;
	}
	ret = bus__register(mmio, base, LAYOUT_VIRTIO_MMIO_SIZE, virtio_mmio__io, &slot->mmio,
			    vdev->ops->name);
	if (ret < 0)
		return ret;
	log_info("%s at 0x%llx, irq %u", vdev->ops->name, (unsigned long long)base, irq);
	return 0;
}

void vm_devices__remove_virtio(struct virtio_slot *slot)
{
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		close(slot->notify[q].fd);
	close(slot->irqfd);
}

/* --- the balloon's host --- */

/* The discard queue's eventfd, on the device thread. */
static void balloon_discards_event(void *opaque, uint32_t events)
{
	struct balloon_wiring *w = opaque;

	virtio_balloon__discards_ready(w->b);
}

/* The stats timer, on the device thread. */
static void balloon_stats_event(void *opaque, uint32_t events)
{
	struct balloon_wiring *w = opaque;
	uint64_t expirations;

	if (read(w->stats_timerfd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: a spurious wakeup, e.g. after the timer was re-armed. */
	}
	/* Paused (PATCH /vm): no device work the guest did not ask for; the next tick does it. */
	if (!__atomic_load_n(&w->paused, __ATOMIC_RELAXED))
		virtio_balloon__stats_tick(w->b);
}

static int balloon_attach(void *opaque)
{
	struct balloon_wiring *w = opaque;
	int ret = event_loop__add(w->loop, virtio_balloon__discard_eventfd(w->b), EPOLLIN,
				  balloon_discards_event, w);

	if (ret < 0) {
		log_error("virtio-balloon: cannot watch the discard queue: %s", strerror(-ret));
		return ret;
	}
	if (w->stats_timerfd >= 0) {
		ret = event_loop__add(w->loop, w->stats_timerfd, EPOLLIN, balloon_stats_event, w);
		if (ret < 0) {
			log_error("virtio-balloon: cannot watch the stats timer: %s",
				  strerror(-ret));
			event_loop__del(w->loop, virtio_balloon__discard_eventfd(w->b));
			return ret;
		}
	}
	return 0;
}

static void balloon_detach(void *opaque)
{
	struct balloon_wiring *w = opaque;

	event_loop__del(w->loop, virtio_balloon__discard_eventfd(w->b));
	if (w->stats_timerfd >= 0)
		event_loop__del(w->loop, w->stats_timerfd);
}

static void balloon_set_stats_timer(void *opaque, uint32_t interval_s)
{
	struct balloon_wiring *w = opaque;
	struct itimerspec its = {
		.it_interval = {.tv_sec = interval_s},
		.it_value = {.tv_sec = interval_s},
	};

	if (w->stats_timerfd >= 0 && timerfd_settime(w->stats_timerfd, 0, &its, NULL) < 0)
		log_warn("virtio-balloon: stats timer: %s", strerror(errno));
}

static const struct balloon_host_ops balloon_host_ops = {
	.attach = balloon_attach,
	.detach = balloon_detach,
	.set_stats_timer = balloon_set_stats_timer,
};

int vm_devices__wire_balloon(struct balloon_wiring *w, struct virtio_balloon *b,
			     struct event_loop *loop)
{
	*w = (struct balloon_wiring){.loop = loop, .stats_timerfd = -1};
	if (virtio_balloon__stats_offered(b)) {
		w->stats_timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (w->stats_timerfd < 0) {
			int ret = -errno;

			log_error("virtio-balloon: stats timer: timerfd_create: %s",
				  strerror(-ret));
			return ret;
		}
	}
	w->b = b;
	virtio_balloon__set_host(b, &balloon_host_ops, w);
	return 0;
}

void vm_devices__unwire_balloon(struct balloon_wiring *w)
{
	if (!w->b)
		return;
	if (w->stats_timerfd >= 0)
		close(w->stats_timerfd);
	w->stats_timerfd = -1;
	w->b = NULL;
}

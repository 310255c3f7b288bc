// SPDX-License-Identifier: GPL-2.0
/*
 * The balloon's host: the fds and the event-loop registrations that the
 * device model (devices/virtio_balloon.c) asks for through its
 * struct balloon_host_ops, and the timerfd of its stats timer.
 */
#include "vmm/vm_devices.h"

#include "base/log.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

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
	virtio_balloon__stats_tick(w->b);
}

static int balloon_attach(void *opaque)
{
	struct balloon_wiring *w = opaque;
	int ret = event_loop__add(w->loop, w->b->dq.eventfd, EPOLLIN, balloon_discards_event, w);

	if (ret < 0) {
		log_error("virtio-balloon: cannot watch the discard queue: %s", strerror(-ret));
		return ret;
	}
	if (w->stats_timerfd >= 0) {
		ret = event_loop__add(w->loop, w->stats_timerfd, EPOLLIN, balloon_stats_event, w);
		if (ret < 0) {
			log_error("virtio-balloon: cannot watch the stats timer: %s",
				  strerror(-ret));
			event_loop__del(w->loop, w->b->dq.eventfd);
			return ret;
		}
	}
	return 0;
}

static void balloon_detach(void *opaque)
{
	struct balloon_wiring *w = opaque;

	event_loop__del(w->loop, w->b->dq.eventfd);
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

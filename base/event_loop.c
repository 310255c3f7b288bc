// SPDX-License-Identifier: GPL-2.0
/*
 * The device thread's epoll loop: its handler table (under its own lock,
 * slots with generations), the loop itself and its longest-callback gauge.
 * The contract is event_loop.h.
 */
#include "base/event_loop.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int event_loop__init(struct event_loop *loop)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0}; /* tag 0: the stop eventfd */

	memset(loop, 0, sizeof(*loop));
	pthread_mutex_init(&loop->lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return -errno;
	loop->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->stop_fd < 0 || epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->stop_fd, &ev) < 0) {
		int err = -errno;

		event_loop__exit(loop);
		return err;
	}
	return 0;
}

void event_loop__exit(struct event_loop *loop)
{
	if (loop->stop_fd > 0)
		close(loop->stop_fd);
	if (loop->epfd > 0)
		close(loop->epfd);
	loop->stop_fd = loop->epfd = -1;
	pthread_mutex_destroy(&loop->lock);
}

/*
 * A ready event carries its handler's slot and the slot's generation; 0 is
 * the stop eventfd. Slot i is i + 1.
 */
static uint64_t event_tag(unsigned int slot, uint32_t gen)
{
	return (uint64_t)gen << 32 | (slot + 1);
}

int event_loop__add(struct event_loop *loop, int fd, uint32_t events, event_cb cb, void *opaque)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&loop->lock);
	for (unsigned int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++) {
		struct event_handler *h = &loop->handlers[i];
		struct epoll_event ev = {.events = events};

		if (h->in_use)
			continue;
		*h = (struct event_handler){
			.fd = fd, .cb = cb, .opaque = opaque, .in_use = true, .gen = h->gen + 1};
		ev.data.u64 = event_tag(i, h->gen);
		ret = 0;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			ret = -errno;
			h->in_use = false;
		}
		break;
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

int event_loop__del(struct event_loop *loop, int fd)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&loop->lock);
	for (unsigned int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++) {
		struct event_handler *h = &loop->handlers[i];

		if (h->in_use && h->fd == fd) {
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
			h->in_use = false;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

int event_loop__mod(struct event_loop *loop, int fd, uint32_t events)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&loop->lock);
	for (unsigned int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++) {
		struct event_handler *h = &loop->handlers[i];
		struct epoll_event ev = {.events = events};

		if (!h->in_use || h->fd != fd)
			continue;
		ev.data.u64 = event_tag(i, h->gen);
		ret = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
		break;
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

/* The callback a ready event still stands for, or false if its handler went. */
static bool event_handler_of(struct event_loop *loop, uint64_t tag, event_cb *cb, void **opaque)
{
	unsigned int slot = (unsigned int)(tag & 0xffffffffu) - 1;
	struct event_handler *h;
	bool live;

	if (slot >= EVENT_LOOP_MAX_HANDLERS)
		return false; /* not a tag of ours */
	h = &loop->handlers[slot];
	pthread_mutex_lock(&loop->lock);
	live = h->in_use && h->gen == (uint32_t)(tag >> 32);
	*cb = h->cb;
	*opaque = h->opaque;
	pthread_mutex_unlock(&loop->lock);
	return live;
}

int event_loop__run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event events[32];
	int n = epoll_wait(loop->epfd, events, 32, timeout_ms);
	int ran = 0;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !loop->stopping; i++) {
		uint64_t tag = events[i].data.u64, t0, dt;
		event_cb cb;
		void *opaque;

		if (!tag)
			continue; /* the stop eventfd */
		/*
		 * Deleted since epoll_wait() (by an earlier callback in this
		 * batch, or by another thread), perhaps with its slot reused:
		 * skipped.
		 */
		if (!event_handler_of(loop, tag, &cb, &opaque))
			continue;
		t0 = clock__mono_ns();
		cb(opaque, events[i].events);
		dt = clock__mono_ns() - t0;
		if (dt > loop->max_callback_ns)
			__atomic_store_n(&loop->max_callback_ns, dt, __ATOMIC_RELAXED);
		ran++;
	}
	return ran;
}

int event_loop__run(struct event_loop *loop)
{
	while (!loop->stopping) {
		int ret = event_loop__run_once(loop, -1);

		if (ret < 0) {
			log_error("event loop: epoll_wait: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void event_loop__stop(struct event_loop *loop)
{
	uint64_t one = 1;

	loop->stopping = true;
	if (write(loop->stop_fd, &one, sizeof(one)) < 0) {
		/* The eventfd counter can only saturate; stopping is already set. */
	}
}

// SPDX-License-Identifier: GPL-2.0
#include "event_loop.h"
#include "clock.h"

#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int event_loop__init(struct event_loop *loop)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	memset(loop, 0, sizeof(*loop));
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
}

int event_loop__add(struct event_loop *loop, int fd, uint32_t events, event_cb cb, void *opaque)
{
	for (unsigned int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++) {
		struct event_handler *h = &loop->handlers[i];
		struct epoll_event ev = {.events = events, .data.ptr = h};

		if (h->in_use)
			continue;
		*h = (struct event_handler){.fd = fd, .cb = cb, .opaque = opaque, .in_use = true};
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			h->in_use = false;
			return -errno;
		}
		return 0;
	}
	return -ENOSPC;
}

int event_loop__del(struct event_loop *loop, int fd)
{
	for (unsigned int i = 0; i < EVENT_LOOP_MAX_HANDLERS; i++) {
		struct event_handler *h = &loop->handlers[i];

		if (h->in_use && h->fd == fd) {
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
			h->in_use = false;
			return 0;
		}
	}
	return -ENOENT;
}

int event_loop__run_once(struct event_loop *loop, int timeout_ms)
{
	struct epoll_event events[32];
	int n = epoll_wait(loop->epfd, events, 32, timeout_ms);
	int ran = 0;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !loop->stopping; i++) {
		struct event_handler *h = events[i].data.ptr;
		uint64_t t0, dt;

		if (!h)
			continue; /* the stop eventfd */
		/* A handler deleted by an earlier callback in this batch is skipped. */
		if (!h->in_use)
			continue;
		t0 = clock__mono_ns();
		h->cb(h->opaque, events[i].events);
		dt = clock__mono_ns() - t0;
		if (dt > loop->max_callback_ns)
			loop->max_callback_ns = dt;
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

// SPDX-License-Identifier: GPL-2.0
/*
 * The device thread's event loop (base/event_loop.c): callbacks run for ready
 * fds; a handler deleted after epoll_wait() returned is not called, even when
 * its slot was reused at once by a new handler (a device reset and
 * re-activation do exactly that); add/del from another thread while the loop
 * runs; stop from another thread.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "base/event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct fd_cb {
	struct event_loop *loop;
	int fd;
	unsigned int calls;
	/* What the callback does to other handlers, once. */
	struct fd_cb *del_then_add; /* delete this one's fd, add `replacement` */
	struct fd_cb *replacement;
};

static void drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to drain */
	}
}

static void on_ready(void *opaque, uint32_t events)
{
	struct fd_cb *c = opaque;

	(void)events;
	c->calls++;
	drain_fd(c->fd);
	if (c->del_then_add) {
		struct fd_cb *victim = c->del_then_add, *repl = c->replacement;

		c->del_then_add = NULL;
		CHECK_EQ(event_loop__del(c->loop, victim->fd), 0);
		CHECK_EQ(event_loop__add(c->loop, repl->fd, EPOLLIN, on_ready, repl), 0);
	}
}

static void kick(int fd)
{
	uint64_t one = 1;

	CHECK_EQ(write(fd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	CHECK(fd >= 0);
	return fd;
}

/*
 * X and A are ready in one epoll_wait(); X's callback, which runs first,
 * deletes A and adds B, which takes A's slot. A's already-returned event
 * must not run B's callback: B was never ready.
 */
static void test_stale_event_after_slot_reuse(void)
{
	struct event_loop loop;
	struct fd_cb x = {.loop = &loop, .fd = new_eventfd()},
		     a = {.loop = &loop, .fd = new_eventfd()},
		     b = {.loop = &loop, .fd = new_eventfd()};
	int ran;

	CHECK_EQ(event_loop__init(&loop), 0);
	CHECK_EQ(event_loop__add(&loop, x.fd, EPOLLIN, on_ready, &x), 0); /* slot 0 */
	CHECK_EQ(event_loop__add(&loop, a.fd, EPOLLIN, on_ready, &a), 0); /* slot 1 */
	x.del_then_add = &a;
	x.replacement = &b;
	kick(x.fd); /* ready first: epoll reports it first */
	kick(a.fd);
	ran = event_loop__run_once(&loop, 1000);
	CHECK_EQ(x.calls, 1);
	CHECK_EQ(a.calls, 0); /* deleted before its turn */
	CHECK_EQ(b.calls, 0); /* its slot's stale event is not B's */
	CHECK_EQ(ran, 1);

	/* B itself works once it is ready. */
	kick(b.fd);
	CHECK_EQ(event_loop__run_once(&loop, 1000), 1);
	CHECK_EQ(b.calls, 1);
	/* mod: nothing watched, then watched again. */
	CHECK_EQ(event_loop__mod(&loop, b.fd, 0), 0);
	kick(b.fd);
	CHECK_EQ(event_loop__run_once(&loop, 50), 0);
	CHECK_EQ(event_loop__mod(&loop, b.fd, EPOLLIN), 0);
	CHECK_EQ(event_loop__run_once(&loop, 1000), 1);
	CHECK_EQ(b.calls, 2);
	CHECK_EQ(event_loop__mod(&loop, a.fd, EPOLLIN), -ENOENT);
	CHECK_EQ(event_loop__del(&loop, a.fd), -ENOENT);
	event_loop__exit(&loop);
	close(x.fd);
	close(a.fd);
	close(b.fd);
}

struct churn {
	struct event_loop *loop;
	int fds[4];
	struct fd_cb cbs[4];
	_Atomic bool done;
};

/* Another thread adds, kicks and deletes fds while the loop runs (a vCPU resetting a device). */
static void *churner(void *arg)
{
	struct churn *c = arg;

	for (unsigned int round = 0; round < 2000; round++) {
		unsigned int k = round % 4;

		CHECK_EQ(event_loop__add(c->loop, c->fds[k], EPOLLIN, on_ready, &c->cbs[k]), 0);
		kick(c->fds[k]);
		CHECK_EQ(event_loop__del(c->loop, c->fds[k]), 0);
	}
	c->done = true;
	event_loop__stop(c->loop);
	return NULL;
}

static void test_add_del_from_another_thread(void)
{
	struct event_loop loop;
	struct churn c = {.loop = &loop};
	pthread_t t;

	CHECK_EQ(event_loop__init(&loop), 0);
	for (unsigned int k = 0; k < 4; k++) {
		c.fds[k] = new_eventfd();
		c.cbs[k] = (struct fd_cb){.loop = &loop, .fd = c.fds[k]};
	}
	CHECK_EQ(pthread_create(&t, NULL, churner, &c), 0);
	CHECK_EQ(event_loop__run(&loop), 0); /* returns once the churner stops it */
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK(c.done);
	event_loop__exit(&loop);
	for (unsigned int k = 0; k < 4; k++)
		close(c.fds[k]);
}

int main(void)
{
	test_stale_event_after_slot_reuse();
	test_add_del_from_another_thread();
	return testlib_done("test_event_loop");
}

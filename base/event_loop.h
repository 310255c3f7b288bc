/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device thread's epoll loop. The VMM's wiring adds the devices' fds (queue
 * ioeventfds, io_uring completion eventfds, timers: vmm/vm.c, vmm/vm_devices.c);
 * callbacks run on the loop's thread.
 * event_loop__stop(), event_loop__add() and event_loop__del() may be called
 * from any thread (a vCPU thread resets and re-activates a device, and with
 * it its fds): the handler table is under the loop's lock, never held while
 * a callback runs. An event that was ready for a deleted fd never runs the
 * callback of a handler added later in its slot. Its own callback may still
 * run once, just after an event_loop__del() from another thread, so
 * callbacks check their device's state under the device's lock.
 */
#ifndef MINI_VMM_EVENT_LOOP_H
#define MINI_VMM_EVENT_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define EVENT_LOOP_MAX_HANDLERS 128

typedef void (*event_cb)(void *opaque, uint32_t epoll_events);

struct event_handler {
	int fd;
	event_cb cb;
	void *opaque;
	bool in_use;
	uint32_t gen; /* bumped by every add: tells a stale ready event from the slot's new user */
};

struct event_loop {
	int epfd;
	int stop_fd;	       /* eventfd: written by event_loop__stop() */
	_Atomic bool stopping; /* set from any thread (event_loop__stop), read by the loop */
	pthread_mutex_t lock;  /* guards handlers[] */
	struct event_handler handlers[EVENT_LOOP_MAX_HANDLERS];
	uint64_t max_callback_ns; /* longest single callback: the loop's worst block */
};

int event_loop__init(struct event_loop *loop);
void event_loop__exit(struct event_loop *loop);
/* events: EPOLLIN etc. Returns 0 or -errno. */
int event_loop__add(struct event_loop *loop, int fd, uint32_t events, event_cb cb, void *opaque);
int event_loop__del(struct event_loop *loop, int fd);
/* Change what is watched on an added fd (0: nothing for now). 0 or -errno. */
int event_loop__mod(struct event_loop *loop, int fd, uint32_t events);
/* Runs callbacks until event_loop__stop(); returns 0. */
int event_loop__run(struct event_loop *loop);
/*
 * One turn: wait up to timeout_ms (0: don't wait, -1: forever) and run the
 * ready callbacks. Returns how many ran, or -errno. For tests and fuzzers
 * that drive the device thread's loop step by step.
 */
int event_loop__run_once(struct event_loop *loop, int timeout_ms);
void event_loop__stop(struct event_loop *loop);

#endif

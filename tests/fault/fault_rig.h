/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fault tier's test rig: the balloon as it runs in mini-vmm, minus KVM.
 *
 *  - guest RAM: one anonymous mapping (so a test may mlock or unmap parts of
 *    it to make the kernel's discards fail for real), with the fake rings of
 *    tests/unit/fake_virtq.h laid out in it;
 *  - the transport: every register access goes through virtio_mmio__io(),
 *    as a vCPU's would; QueueNotify writes an eventfd, as KVM's ioeventfd does;
 *  - the device thread: a real thread running the event loop, which takes
 *    the queue notifications and the discard queue's completions, exactly as
 *    vmm/vm_devices.c wires them.
 * The test's own threads play the vCPUs and the guest driver.
 *
 * Faults come from the discard queue's fault injection (struct
 * discard_faults: hold_completions, inject_ring_failures,
 * inject_retry_failures), from the kernel itself (an
 * mlocked range makes MADV_DONTNEED fail with EINVAL, an unmapped one with
 * ENOMEM), and from fault_inject below: the tier links with
 * -Wl,--wrap=madvise, so the discard engine's synchronous madvise() calls on
 * guest RAM, and the device's prefaults (guest_mem__prefault), can be made
 * to fail with any errno, or to be slow.
 */
#ifndef MINI_VMM_FAULT_RIG_H
#define MINI_VMM_FAULT_RIG_H

#include "devices/virtio_balloon.h"
#include "devices/virtio_mmio.h"
#include "fake_virtq.h"
#include "testlib.h"
#include "base/event_loop.h"
#include "vmm/vm_devices.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define MiB (1ULL << 20)

#define RIG_RAM_SIZE  (96 * MiB)
#define RIG_POOL_SIZE (64 * MiB) /* "guest memory" the tests report, inflate and keep */
#define RIG_QUEUES    3		 /* inflate, deflate, reporting */
#define RIG_Q_INFLATE 0
#define RIG_Q_DEFLATE 1
#define RIG_Q_REPORT  2

/* madvise() on guest RAM through the wrapper: fail or stall on demand. Atomics. */
struct fault_inject {
	int fail_errno;		 /* errno for the failures below */
	unsigned int fail_count; /* the next N calls on guest RAM fail */
	unsigned int delay_ms;	 /* every call on guest RAM first sleeps this long */
	unsigned int calls;	 /* calls on guest RAM seen */
	unsigned int failed;	 /* calls on guest RAM failed by injection */
	unsigned int populates;	 /* calls on guest RAM with MADV_POPULATE_READ (prefaults) */
};
extern struct fault_inject fault_inject;

struct rig {
	struct fake_ram ram; /* built by hand over `map`: see fault_rig.c */
	uint8_t *map;
	struct virtio_balloon b;
	struct virtio_mmio_dev mmio;
	struct event_loop loop;
	struct balloon_wiring wiring; /* the balloon on the loop, as the VM wires it */
	struct discard_faults faults; /* the discard queue's, injected by the tests */
	pthread_t device_thread;
	bool device_thread_running;
	int notify_fd[RIG_QUEUES];
	struct fake_virtq fq[RIG_QUEUES];
	uint64_t pool; /* gpa of RIG_POOL_SIZE bytes, 2 MiB aligned */
	unsigned int irqs;
	bool poison; /* negotiate PAGE_POISON */
	/* The device thread's CPU time in its longest queue notification (not preemption). */
	uint64_t max_notify_cpu_ns;
	uint64_t notify_calls, notify_over_100us; /* ... and how many, how many over 100 us */
	struct rig_samples *samples;		  /* NULL, or every notification's times (below) */
};

/*
 * Every queue notification's wall and CPU time, recorded by the device
 * thread while `on` (benchmarks: tools/bench/hostile.c). n stops at cap.
 */
struct rig_samples {
	uint64_t *wall_ns, *cpu_ns;
	size_t n, cap;
	_Atomic bool on;
};

/* Guest RAM, the balloon (on `engine`), the transport, the device thread; then rig_handshake. */
void rig_init(struct rig *r, enum discard_engine engine);
/* The same with the balloon's whole configuration given. */
void rig_init_cfg(struct rig *r, const struct balloon_config *cfg);
/* The driver's probe: reset, features, fresh rings for every queue, DRIVER_OK. */
void rig_handshake(struct rig *r);
/* Reset by the driver, stop the device thread, free everything. */
void rig_exit(struct rig *r);

void rig_write32(struct rig *r, uint64_t off, uint32_t val);
uint32_t rig_read32(struct rig *r, uint64_t off);
/* QueueNotify for queue q (through the transport and the notify eventfd). */
void rig_kick(struct rig *r, unsigned int q);

/* The next used element of queue q within timeout_ms; false if none came. */
bool rig_wait_used(struct rig *r, unsigned int q, uint32_t *id, uint32_t *len, int timeout_ms);
/* No used element on queue q for `ms` milliseconds. */
bool rig_no_used_for(struct rig *r, unsigned int q, int ms);

/* Snapshot of the counters under the device lock. */
void rig_stats(struct rig *r, struct balloon_stats *bs, struct discard_stats *ds);
struct virtio_mmio_stats rig_mmio_stats(struct rig *r);
void rig_set_hold(struct rig *r, bool hold);

/* Pattern helpers: one word per page of [gpa, gpa + len). */
void rig_fill(struct rig *r, uint64_t gpa, uint64_t len);
/* Pages holding their pattern (keep == true) or zero (discarded). Returns mismatches. */
uint64_t rig_check(struct rig *r, uint64_t gpa, uint64_t len, bool keep);

/* One report of `len` bytes at `gpa`, acked and discarded within timeout: the guest runs on. */
void rig_expect_healthy(struct rig *r, uint64_t gpa, uint64_t len);

/*
 * A hostile vCPU keeping the deflate ring full: every used chain goes
 * straight back, and a kick, until rig_feeder__stop() or its deadline (set
 * it before starting). The deflate ring must be full of chains when it starts.
 */
struct rig_feeder {
	struct rig *r;
	pthread_t tid;
	_Atomic bool stop;
	_Atomic unsigned long long republished;
	uint64_t deadline_ms; /* rig_now_ms() at which it stops by itself; 0: never */
};
void rig_feeder__start(struct rig_feeder *f, struct rig *r);
void rig_feeder__stop(struct rig_feeder *f);
/* Fill the deflate ring: every slot a chain of 256 PFNs from the pool. */
void rig_fill_deflate_ring(struct rig *r);

/*
 * A stand-in for the signalfd on the device loop: an eventfd whose callback
 * notes when it ran. rig_probe__latency_ms() pokes it and waits (5 s at most).
 */
struct rig_probe {
	int fd;
	_Atomic unsigned long long served_ms;
};
void rig_probe__add(struct rig_probe *p, struct rig *r);
uint64_t rig_probe__latency_ms(struct rig_probe *p);
void rig_probe__del(struct rig_probe *p, struct rig *r);

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t rig_now_ms(void);

/* A hang is a failure: SIGALRM after `secs` prints `what` and exits 1. */
void rig_watchdog(unsigned int secs, const char *what);

#endif

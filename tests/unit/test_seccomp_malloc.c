// SPDX-License-Identifier: GPL-2.0
/*
 * The C library behind the filters' back (vmm/seccomp.c
 * seccomp__prepare_process): glibc's malloc makes system calls of its own
 * the first time some state is reached, on whichever thread reaches it, and
 * a guest chooses when that is. Each case runs in a fresh child (forked
 * from a parent that made no thread, so the child's allocator is as
 * mini-vmm's is at start), with the real filters:
 *  - issue 12's SIGSYS: inflate chains queued before DRIVER_OK become large
 *    discard reports when a vCPU (vcpu filter) activates the balloon, in
 *    that thread's malloc arena; the device thread (device filter) frees
 *    them on completion; glibc's first shrink of a thread arena's heap opens
 *    /proc/sys/vm/overcommit_memory: exit 159 unless the process was
 *    prepared. mini-vmm's wiring now has activation re-arm the queues for
 *    the device thread instead (vdev->renotify), and one notification takes
 *    one budget (256 ops); the test leaves renotify unwired and has the vCPU
 *    kick the queue once per chain, as the MMIO QueueNotify fallback does
 *    on the vCPU thread, so the vCPU's arena holds up to the discard
 *    queue's 512 KiB limit of reports: the allocation path of the issue,
 *    kept reachable to show the preparation covers any thread;
 *  - arenas past the 8th: when a 9th thread first allocates, glibc asks
 *    for the CPU count (Debian's 2.36 opens /sys/devices/system/cpu/online),
 *    which no filter allows: 12 threads made under the API filter (as
 *    libmicrohttpd makes its connection threads) allocating at once.
 * Without seccomp__prepare_process() both must die with 159 (so the test can
 * fail); with it both must pass. Sanitizer builds replace malloc, so only
 * the prepared runs are checked there.
 */
#define _GNU_SOURCE
#include "devices/virtio_balloon.h"
#include "balloon_rig.h"
#include "fake_virtq.h"
#include "testlib.h"
#include "base/event_loop.h"
#include "vmm/seccomp.h"
#include "vmm/vm_devices.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB	     (1ULL << 20)
#define NR_CHAINS    16	 /* one notify budget: all taken at activation */
#define PFNS_PER_ONE 256 /* the most a chain may carry; every other page: none merge */

struct outcome {
	int status;
	char err[8192];
};

struct child_run {
	void (*fn)(void);
	bool prepare;
};

static void child(void *arg)
{
	const struct child_run *c = arg;

	if (c->prepare && seccomp__prepare_process() < 0)
		_exit(100);
	c->fn();
}

static void run_child(void (*fn)(void), bool prepare, struct outcome *out)
{
	struct child_run c = {.fn = fn, .prepare = prepare};

	out->status = testlib__run_captured(child, &c, 60, out->err, sizeof(out->err));
}

/* ---- issue 12, item 3: the balloon's own path ---- */

static struct fake_ram ram;
static struct virtio_balloon b;
static struct fake_virtq fq[2];

static int confine_worker(void *opaque, int pidfd)
{
	(void)opaque;
	seccomp__allow_process_madvise(pidfd);
	return seccomp__install(SECCOMP_ROLE_DISCARD);
}

/*
 * The vCPU that writes DRIVER_OK, then kicks the inflate queue once per
 * chain through the MMIO fallback: each kick pops one chain (its 256 ops
 * are one budget) until the discard queue is at its limits.
 */
static void *vcpu_activates(void *arg)
{
	struct virtio_device *vdev = &b.vdev;

	(void)arg;
	if (seccomp__install(SECCOMP_ROLE_VCPU) < 0)
		_exit(101);
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_lock(&vdev->lock);
	if (vdev->ops->activate(vdev))
		_exit(102);
	for (unsigned int i = 0; i < NR_CHAINS; i++)
		vdev->ops->queue_notify(vdev, 0);
	pthread_mutex_unlock(&vdev->lock);
	return NULL;
}

static void inflate_before_driver_ok(void)
{
	static struct event_loop loop;
	static struct balloon_wiring wiring;
	struct virtio_device *vdev = &b.vdev;
	struct balloon_config cfg;
	unsigned int used = 0;
	uint32_t id, len;
	pthread_t t;

	balloon_config__default(&cfg);
	cfg.reporting = false;
	cfg.discard_worker = (struct discard_worker_setup){.fn = confine_worker};
	if (fake_ram__init(&ram, FAKE_RAM_GPA, 32 * MiB) || event_loop__init(&loop) ||
	    virtio_balloon__init(&b, &cfg, &ram.mem) || pthread_mutex_init(&vdev->lock, NULL) ||
	    vm_devices__wire_balloon(&wiring, &b, &loop))
		_exit(103);
	vdev->renotify = NULL; /* activation pops on the vCPU thread (see the top) */
	vdev->features_acked = 1ULL << VIRTIO_F_VERSION_1;
	for (unsigned int i = 0; i < 2; i++) {
		if (fake_virtq__init(&fq[i], &ram, NR_CHAINS) ||
		    fake_virtq__activate(&fq[i], &vdev->queues[i], false, false))
			_exit(104);
	}
	/* NR_CHAINS chains of PFNS_PER_ONE scattered pages, queued before DRIVER_OK. */
	{
		uint64_t pool = fake_ram__alloc(&ram, 2 * PFNS_PER_ONE * 4096ULL, 4096);
		uint64_t arr = fake_ram__alloc(&ram, PFNS_PER_ONE * 4, 4096);
		uint32_t *pfn = fake_ram__hva(&ram, arr, PFNS_PER_ONE * 4);
		struct fake_buf buf[] = {{arr, PFNS_PER_ONE * 4, false}};

		for (unsigned int i = 0; i < PFNS_PER_ONE; i++)
			pfn[i] = htole32((uint32_t)((pool >> 12) + 2 * i));
		for (unsigned int c = 0; c < NR_CHAINS; c++)
			fake_virtq__add_chain(&fq[0], buf, 1);
	}
	if (pthread_create(&t, NULL, vcpu_activates, NULL) || pthread_join(t, NULL))
		_exit(105);

	/* This thread is now the device thread: completions free the reports. */
	if (seccomp__install(SECCOMP_ROLE_DEVICE) < 0)
		_exit(106);
	for (int i = 0; i < 2000 && used < NR_CHAINS; i++) {
		balloon_rig__discards_turn(&b, 10);
		pthread_mutex_lock(&vdev->lock); /* chains the vCPU left: the device's turn */
		vdev->ops->queue_notify(vdev, 0);
		pthread_mutex_unlock(&vdev->lock);
		while (fake_virtq__get_used(&fq[0], &id, &len))
			used++;
	}
	if (used != NR_CHAINS) {
		fprintf(stderr, "only %u of %u inflate chains came back\n", used, NR_CHAINS);
		_exit(107);
	}
	fprintf(stderr, "inflate reports freed on the device thread: %u\n", used);
}

/* ---- arenas: a 9th thread's first allocation ---- */

#define NR_THREADS 12

static pthread_barrier_t all_allocated;

/* Like libmicrohttpd's connection threads: made under the API filter, they inherit it. */
static void *connection_thread(void *arg)
{
	void *p = malloc(4096); /* this thread's first: picks (or makes) its arena */

	(void)arg;
	if (!p)
		_exit(111);
	*(volatile char *)p = 1;
	pthread_barrier_wait(&all_allocated); /* all alive at once: no arena is reused */
	free(p);
	return NULL;
}

static void *api_thread(void *arg)
{
	pthread_t t[NR_THREADS];

	(void)arg;
	if (seccomp__install(SECCOMP_ROLE_API) < 0)
		_exit(110);
	for (unsigned int i = 0; i < NR_THREADS; i++)
		if (pthread_create(&t[i], NULL, connection_thread, NULL))
			_exit(112);
	for (unsigned int i = 0; i < NR_THREADS; i++)
		pthread_join(t[i], NULL);
	return NULL;
}

static void many_threads(void)
{
	pthread_t t;

	pthread_barrier_init(&all_allocated, NULL, NR_THREADS);
	if (pthread_create(&t, NULL, api_thread, NULL) || pthread_join(t, NULL))
		_exit(113);
	fprintf(stderr, "%u filtered threads allocated\n", NR_THREADS);
}

static void expect(void (*fn)(void), bool prepare, const char *what, const char *needle)
{
	struct outcome o;
	bool ok;

	run_child(fn, prepare, &o);
	if (prepare)
		ok = WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0 && strstr(o.err, needle);
	else
		ok = WIFEXITED(o.status) && WEXITSTATUS(o.status) == SECCOMP_EXIT_STATUS &&
		     strstr(o.err, needle);
	if (!ok) {
		fprintf(stderr, "%s (%s): expected %s with '%s', got status 0x%x:\n%s\n", what,
			prepare ? "prepared" : "not prepared", prepare ? "exit 0" : "exit 159",
			needle, o.status, o.err);
		CHECK(0);
	}
	fprintf(stderr, "ok: %s (%s)\n", what, prepare ? "prepared: runs" : "not prepared: 159");
}

int main(void)
{
	char needle[96];

	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		SKIP("this kernel has no seccomp (prctl PR_GET_SECCOMP: %s)", strerror(errno));

	expect(inflate_before_driver_ok, true, "inflate before DRIVER_OK",
	       "inflate reports freed on the device thread");
	expect(many_threads, true, "12 filtered threads allocating", "filtered threads allocated");
#ifndef SANITIZER_BUILD
	/* The same without the preparation: each path really reaches a forbidden call. */
	snprintf(needle, sizeof(needle), "the device thread made system call %d,", SYS_openat);
	expect(inflate_before_driver_ok, false, "inflate before DRIVER_OK", needle);
	snprintf(needle, sizeof(needle), "thread made system call %d,", SYS_openat);
	expect(many_threads, false, "12 filtered threads allocating", needle);
#else
	(void)needle;
#endif
	return testlib_done("test_seccomp_malloc");
}

// SPDX-License-Identifier: GPL-2.0
/* The fault tier's rig: see fault_rig.h. */
#define _GNU_SOURCE
#include "fault_rig.h"

#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RIG_MMIO_BASE 0xd0000000ULL
#define RIG_IRQ	      5

struct fault_inject fault_inject;
static uint8_t *inject_lo, *inject_hi; /* guest RAM, for the wrapper */

/* ---- the madvise wrapper (-Wl,--wrap=madvise) ---- */

int __real_madvise(void *addr, size_t len, int advice);
int __wrap_madvise(void *addr, size_t len, int advice);

int __wrap_madvise(void *addr, size_t len, int advice)
{
	uint8_t *p = addr;
	unsigned int n, delay;

	if (!inject_lo || p < inject_lo || p >= inject_hi)
		return __real_madvise(addr, len, advice);
	__atomic_fetch_add(&fault_inject.calls, 1, __ATOMIC_RELAXED);
	if (advice == MADV_POPULATE_READ)
		__atomic_fetch_add(&fault_inject.populates, 1, __ATOMIC_RELAXED);
	delay = __atomic_load_n(&fault_inject.delay_ms, __ATOMIC_RELAXED);
	if (delay)
		usleep(delay * 1000);
	n = __atomic_load_n(&fault_inject.fail_count, __ATOMIC_RELAXED);
	while (n && !__atomic_compare_exchange_n(&fault_inject.fail_count, &n, n - 1, false,
						 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (n) {
		__atomic_fetch_add(&fault_inject.failed, 1, __ATOMIC_RELAXED);
		errno = fault_inject.fail_errno;
		return -1;
	}
	return __real_madvise(addr, len, advice);
}

/* ---- time, watchdog ---- */

uint64_t rig_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *watchdog_what;

static void watchdog_fired(int sig)
{
	(void)sig;
	dprintf(STDERR_FILENO, "FAIL: hang: %s did not finish in time\n", watchdog_what);
	_exit(1);
}

void rig_watchdog(unsigned int secs, const char *what)
{
	watchdog_what = what;
	signal(SIGALRM, watchdog_fired);
	alarm(secs);
}

/* ---- the device thread ---- */

struct notify_ctx {
	struct rig *r;
	unsigned int q;
};
static struct notify_ctx notify_ctx[RIG_QUEUES];

/* vm_devices.c virtio_queue_notified(): the ioeventfd fired. */
static void queue_notified(void *opaque, uint32_t events)
{
	struct notify_ctx *n = opaque;
	struct virtio_device *vdev = &n->r->b.vdev;
	struct rig_samples *s = n->r->samples;
	struct timespec t0, t1, w0, w1;
	uint64_t count, cpu, wall;

	(void)events;

	if (read(n->r->notify_fd[n->q], &count, sizeof(count)) < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &w0);
	pthread_mutex_lock(&vdev->lock);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) &&
	    n->q < vdev->ops->num_queues(vdev) && vdev->queues[n->q].active)
		vdev->ops->queue_notify(vdev, n->q);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	pthread_mutex_unlock(&vdev->lock);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	cpu = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ULL + (uint64_t)t1.tv_nsec -
	      (uint64_t)t0.tv_nsec;
	wall = (uint64_t)(w1.tv_sec - w0.tv_sec) * 1000000000ULL + (uint64_t)w1.tv_nsec -
	       (uint64_t)w0.tv_nsec;
	if (s && atomic_load(&s->on) && s->n < s->cap) {
		s->wall_ns[s->n] = wall;
		s->cpu_ns[s->n] = cpu;
		s->n++;
	}
	if (cpu > __atomic_load_n(&n->r->max_notify_cpu_ns, __ATOMIC_RELAXED))
		__atomic_store_n(&n->r->max_notify_cpu_ns, cpu, __ATOMIC_RELAXED);
	__atomic_fetch_add(&n->r->notify_calls, 1, __ATOMIC_RELAXED);
	if (cpu > 100000)
		__atomic_fetch_add(&n->r->notify_over_100us, 1, __ATOMIC_RELAXED);
}

/* vm_devices.c virtio_kick(): QueueNotify reached the MMIO handler. */
static void mmio_kick(struct virtio_mmio_dev *m, unsigned int q, void *opaque)
{
	struct rig *r = opaque;
	uint64_t one = 1;

	(void)m;
	if (q < RIG_QUEUES && write(r->notify_fd[q], &one, sizeof(one)) < 0)
		CHECK(0);
}

/* vm_devices.c virtio_renotify(): the device comes back to queue q later. */
static void rig_renotify(struct virtio_device *vdev, unsigned int q, void *opaque)
{
	(void)vdev;
	mmio_kick(NULL, q, opaque);
}

static void count_irq(struct virtio_device *vdev, void *opaque)
{
	struct rig *r = opaque;

	(void)vdev;
	__atomic_fetch_add(&r->irqs, 1, __ATOMIC_RELAXED);
}

static void *device_thread_main(void *arg)
{
	struct rig *r = arg;

	event_loop__run(&r->loop);
	return NULL;
}

/* ---- set-up ---- */

void rig_init(struct rig *r, enum discard_engine engine)
{
	struct balloon_config cfg;

	balloon_config__default(&cfg);
	cfg.discard_engine = engine;
	rig_init_cfg(r, &cfg);
}

void rig_init_cfg(struct rig *r, const struct balloon_config *cfg)
{
	struct fake_ram *ram = &r->ram;

	memset(r, 0, sizeof(*r));
	memset(&fault_inject, 0, sizeof(fault_inject));
	/* Guest RAM: our own mapping, so tests may mlock or unmap pieces of it. */
	r->map = mmap(NULL, RIG_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	CHECK(r->map != MAP_FAILED);
	guest_mem__init_empty(&ram->mem, 4096);
	CHECK_EQ(guest_mem__add_region(&ram->mem, FAKE_RAM_GPA, r->map, RIG_RAM_SIZE, -1, 0), 0);
	ram->buf = r->map;
	ram->gpa = FAKE_RAM_GPA;
	ram->size = RIG_RAM_SIZE;
	ram->next = FAKE_RAM_GPA;
	inject_lo = r->map;
	inject_hi = r->map + RIG_RAM_SIZE;
	r->pool = fake_ram__alloc(ram, RIG_POOL_SIZE, 2 * MiB);

	CHECK_EQ(event_loop__init(&r->loop), 0);
	CHECK_EQ(virtio_balloon__init(&r->b, cfg, &ram->mem), 0);
	r->b.dq.faults = &r->faults;
	CHECK_EQ(vm_devices__wire_balloon(&r->wiring, &r->b, &r->loop), 0);
	r->b.vdev.raise_irq = count_irq;
	r->b.vdev.irq_opaque = r;
	CHECK_EQ(virtio_mmio__init(&r->mmio, &r->b.vdev, RIG_MMIO_BASE, RIG_IRQ), 0);
	r->mmio.kick = mmio_kick;
	r->mmio.kick_opaque = r;
	r->b.vdev.renotify = rig_renotify;
	r->b.vdev.renotify_opaque = r;
	for (unsigned int q = 0; q < RIG_QUEUES; q++) {
		r->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		CHECK(r->notify_fd[q] >= 0);
		notify_ctx[q] = (struct notify_ctx){r, q};
		CHECK_EQ(event_loop__add(&r->loop, r->notify_fd[q], EPOLLIN, queue_notified,
					 &notify_ctx[q]),
			 0);
	}
	CHECK_EQ(pthread_create(&r->device_thread, NULL, device_thread_main, r), 0);
	r->device_thread_running = true;
	rig_handshake(r);
}

void rig_write32(struct rig *r, uint64_t off, uint32_t val)
{
	virtio_mmio__io(&r->mmio, off, &val, 4, true);
}

uint32_t rig_read32(struct rig *r, uint64_t off)
{
	uint32_t val;

	virtio_mmio__io(&r->mmio, off, &val, 4, false);
	return val;
}

void rig_handshake(struct rig *r)
{
	uint64_t features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) |
			    (1ULL << VIRTIO_BALLOON_F_REPORTING);

	if (r->poison)
		features |= 1ULL << VIRTIO_BALLOON_F_PAGE_POISON;
	rig_write32(r, VIRTIO_MMIO_STATUS, 0);
	rig_write32(r, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	rig_write32(r, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	rig_write32(r, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	rig_write32(r, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	rig_write32(r, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	rig_write32(r, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	rig_write32(r, VIRTIO_MMIO_STATUS, 0xb);
	CHECK_EQ(rig_read32(r, VIRTIO_MMIO_STATUS), 0xb);
	for (unsigned int q = 0; q < RIG_QUEUES; q++) {
		struct fake_virtq *fq = &r->fq[q];

		/* Fresh rings each time: a driver re-initialising after a reset does too. */
		CHECK_EQ(fake_virtq__init(fq, &r->ram, BALLOON_QUEUE_SIZE), 0);
		rig_write32(r, VIRTIO_MMIO_QUEUE_SEL, q);
		CHECK_EQ(rig_read32(r, VIRTIO_MMIO_QUEUE_NUM_MAX), BALLOON_QUEUE_SIZE);
		rig_write32(r, VIRTIO_MMIO_QUEUE_NUM, BALLOON_QUEUE_SIZE);
		rig_write32(r, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)fq->desc_gpa);
		rig_write32(r, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(fq->desc_gpa >> 32));
		rig_write32(r, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)fq->avail_gpa);
		rig_write32(r, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(fq->avail_gpa >> 32));
		rig_write32(r, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)fq->used_gpa);
		rig_write32(r, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(fq->used_gpa >> 32));
		rig_write32(r, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	rig_write32(r, VIRTIO_MMIO_STATUS, 0xf);
	CHECK_EQ(rig_read32(r, VIRTIO_MMIO_STATUS), 0xf);
}

void rig_exit(struct rig *r)
{
	uint64_t t0 = rig_now_ms();

	rig_set_hold(r, false);
	rig_write32(r, VIRTIO_MMIO_STATUS, 0); /* the driver goes away: reset drains */
	CHECK(rig_now_ms() - t0 < 10000);
	event_loop__stop(&r->loop);
	if (r->device_thread_running)
		pthread_join(r->device_thread, NULL);
	virtio_balloon__exit(&r->b);
	vm_devices__unwire_balloon(&r->wiring);
	virtio_mmio__exit(&r->mmio);
	for (unsigned int q = 0; q < RIG_QUEUES; q++)
		close(r->notify_fd[q]);
	event_loop__exit(&r->loop);
	inject_lo = inject_hi = NULL;
	munmap(r->map, RIG_RAM_SIZE);
}

void rig_kick(struct rig *r, unsigned int q)
{
	rig_write32(r, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

bool rig_wait_used(struct rig *r, unsigned int q, uint32_t *id, uint32_t *len, int timeout_ms)
{
	uint64_t end = rig_now_ms() + (uint64_t)timeout_ms;

	do {
		if (fake_virtq__get_used(&r->fq[q], id, len))
			return true;
		usleep(500);
	} while (rig_now_ms() < end);
	return false;
}

bool rig_no_used_for(struct rig *r, unsigned int q, int ms)
{
	uint64_t end = rig_now_ms() + (uint64_t)ms;
	uint16_t seen = r->fq[q].last_used_idx;

	while (rig_now_ms() < end) {
		if (fake_virtq__used_idx(&r->fq[q]) != seen)
			return false;
		usleep(1000);
	}
	return true;
}

void rig_stats(struct rig *r, struct balloon_stats *bs, struct discard_stats *ds)
{
	struct balloon_status st;

	virtio_balloon__get_status(&r->b, &st);
	if (bs)
		*bs = st.stats;
	if (ds)
		*ds = st.discard;
}

struct virtio_mmio_stats rig_mmio_stats(struct rig *r)
{
	struct virtio_mmio_stats s;

	pthread_mutex_lock(&r->b.vdev.lock);
	s = r->mmio.stats;
	pthread_mutex_unlock(&r->b.vdev.lock);
	return s;
}

/*
 * The discard queue's hook. While completions are held its eventfd stays
 * readable, which would make the device thread spin; so the rig also stops
 * watching it meanwhile (EPOLL_CTL_MOD to no events) and re-arms it after.
 */
void rig_set_hold(struct rig *r, bool hold)
{
	uint64_t one = 1;

	pthread_mutex_lock(&r->b.vdev.lock);
	r->faults.hold_completions = hold;
	/* -ENOENT while the device is not active: nothing to watch then. */
	event_loop__mod(&r->loop, r->b.dq.eventfd, hold ? 0 : EPOLLIN);
	pthread_mutex_unlock(&r->b.vdev.lock);
	if (!hold && write(r->b.dq.eventfd, &one, sizeof(one)) < 0)
		CHECK(0);
}

void rig_fill(struct rig *r, uint64_t gpa, uint64_t len)
{
	fake_ram__fill_pattern(&r->ram, gpa, len);
}

uint64_t rig_check(struct rig *r, uint64_t gpa, uint64_t len, bool keep)
{
	return fake_ram__mismatches(&r->ram, gpa, len, keep);
}

void rig_expect_healthy(struct rig *r, uint64_t gpa, uint64_t len)
{
	struct fake_buf buf[] = {{gpa, (uint32_t)len, true}};
	uint32_t id, n;
	int head;

	CHECK_EQ(rig_read32(r, VIRTIO_MMIO_STATUS), 0xf);
	rig_fill(r, gpa, len);
	head = fake_virtq__add_chain(&r->fq[RIG_Q_REPORT], buf, 1);
	rig_kick(r, RIG_Q_REPORT);
	CHECK(rig_wait_used(r, RIG_Q_REPORT, &id, &n, 5000));
	CHECK_EQ(id, head);
	CHECK_EQ(n, 0);
	CHECK_EQ(rig_check(r, gpa, len, false), 0);
}

/* ---- a hostile vCPU, and the signalfd's stand-in ---- */

static void *feeder_main(void *arg)
{
	struct rig_feeder *f = arg;
	struct fake_virtq *fq = &f->r->fq[RIG_Q_DEFLATE];
	uint64_t one = 1;
	uint32_t id, len;

	/* The full ring's kick; then one after every batch handed back. */
	CHECK_EQ(write(f->r->notify_fd[RIG_Q_DEFLATE], &one, sizeof(one)), sizeof(one));
	while (!atomic_load(&f->stop) && (!f->deadline_ms || rig_now_ms() < f->deadline_ms)) {
		unsigned int n = 0;

		while (fake_virtq__get_used(fq, &id, &len)) {
			fake_virtq__publish(fq, (uint16_t)id);
			n++;
		}
		atomic_fetch_add(&f->republished, n);
		if (!n) {
			/* A vCPU has a CPU of its own; this host may have two for all threads. */
			sched_yield();
			continue;
		}
		/* QueueNotify as KVM delivers it: the ioeventfd, no exit, no device lock. */
		CHECK_EQ(write(f->r->notify_fd[RIG_Q_DEFLATE], &one, sizeof(one)), sizeof(one));
	}
	return NULL;
}

void rig_feeder__start(struct rig_feeder *f, struct rig *r)
{
	f->r = r;
	atomic_store(&f->stop, false);
	atomic_store(&f->republished, 0);
	CHECK_EQ(pthread_create(&f->tid, NULL, feeder_main, f), 0);
}

void rig_feeder__stop(struct rig_feeder *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->tid, NULL);
}

void rig_fill_deflate_ring(struct rig *r)
{
	uint32_t pfns[BALLOON_MAX_PFNS_PER_CHAIN];
	uint64_t arr;

	for (unsigned int i = 0; i < BALLOON_MAX_PFNS_PER_CHAIN; i++)
		pfns[i] = htole32((uint32_t)((r->pool >> 12) + i));
	arr = fake_ram__alloc(&r->ram, sizeof(pfns), 4);
	memcpy(fake_ram__hva(&r->ram, arr, sizeof(pfns)), pfns, sizeof(pfns));
	struct fake_buf buf[] = {{arr, sizeof(pfns), false}};

	for (unsigned int c = 0; c < BALLOON_QUEUE_SIZE; c++)
		fake_virtq__add_chain(&r->fq[RIG_Q_DEFLATE], buf, 1);
}

static void probe_event(void *opaque, uint32_t events)
{
	struct rig_probe *p = opaque;
	uint64_t v;

	(void)events;
	if (read(p->fd, &v, sizeof(v)) == sizeof(v))
		atomic_store(&p->served_ms, rig_now_ms());
}

void rig_probe__add(struct rig_probe *p, struct rig *r)
{
	p->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(p->fd >= 0);
	CHECK_EQ(event_loop__add(&r->loop, p->fd, EPOLLIN, probe_event, p), 0);
}

uint64_t rig_probe__latency_ms(struct rig_probe *p)
{
	uint64_t one = 1, t0 = rig_now_ms();

	atomic_store(&p->served_ms, 0);
	CHECK_EQ(write(p->fd, &one, sizeof(one)), sizeof(one));
	while (!atomic_load(&p->served_ms) && rig_now_ms() - t0 < 5000)
		usleep(200);
	return rig_now_ms() - t0;
}

void rig_probe__del(struct rig_probe *p, struct rig *r)
{
	event_loop__del(&r->loop, p->fd);
	close(p->fd);
}

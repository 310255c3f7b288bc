// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: virtio-mmio register sequences (devices/virtio_mmio.c) on the
 * one device mini-vmm has, the balloon, as a vCPU sees it: every access goes
 * through virtio_mmio__io(), the bus handler, with any offset, width and
 * value. QueueNotify reaches the balloon the way vm.c's ioeventfd handler
 * does, and the discard queue's events are run like the device thread does.
 *
 * Input:
 *   u8 device options: bit 0 reporting, bit 1 deflate-on-oom, bit 2 stats
 *      (a timerfd), bit 3 discard via io_uring (else synchronous)
 *   then steps, each a u8 opcode:
 *     0 write: u16 offset (0..0x1ff; bit 15 set: any 32-bit offset), u8 width
 *       selector (1, 2, 4, 8 or odd), u64 value
 *     1 read: u16 offset, u8 width
 *     2 guest RAM write: u32 offset, u8 n, n bytes (rings, buffers)
 *     3 run the device thread's events (discard completions)
 *     4 hold discard completions on/off
 *     5 host sets the balloon target: u32 pages
 *
 * vdev->renotify is wired as vm.c wires it (fuzz_renotify): a queue that
 * stopped at its work budget, or was re-armed at activation or by
 * completions, is notified again after the step (up to RENOTIFY_ROUNDS
 * rounds), so a whole ring gets served.
 *
 * Checked after each step: Status never claims DRIVER_OK without
 * FEATURES_OK (unless the driver added FAILED), the accepted features are a
 * subset of the offered ones and include VERSION_1, every active queue's rings
 * lie inside guest RAM with a power-of-two size, and at the end nothing is in
 * flight once the device is reset.
 */
#include "fuzz_common.h"

#include "devices/virtio_balloon.h"
#include "devices/virtio_mmio.h"
#include "base/event_loop.h"
#include "vmm/vm_devices.h"

#include <string.h>
#include <sys/epoll.h>

#define RAM_GPA		0x100000ULL
#define RAM_SIZE	(1ULL << 20)
#define MAX_STEPS	2048
#define RENOTIFY_ROUNDS 64 /* a full 256-entry ring is 16 budgets of 16 chains */

static struct fuzz_ram ram;
static struct virtio_balloon balloon;
static struct virtio_mmio_dev mmio;
static struct event_loop loop;
static struct balloon_wiring wiring;
static struct discard_faults faults;
static unsigned int irqs;
static struct fuzz_renotify renotify;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	fuzz_ram__add(&ram, RAM_GPA, RAM_SIZE);
	return 0;
}

static void count_irq(struct virtio_device *vdev, void *opaque)
{
	(void)vdev;
	(void)opaque;
	irqs++;
}

/* What vm.c's virtio_queue_notified() does when the ioeventfd fires. */
static void kick(struct virtio_mmio_dev *m, unsigned int qidx, void *opaque)
{
	struct virtio_device *vdev = m->vdev;

	(void)opaque;
	pthread_mutex_lock(&vdev->lock);
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) &&
	    qidx < vdev->ops->num_queues(vdev) && vdev->queues[qidx].active)
		vdev->ops->queue_notify(vdev, qidx);
	pthread_mutex_unlock(&vdev->lock);
}

/* A re-armed queue: the same path as the ioeventfd. */
static void renotify_kick(unsigned int qidx)
{
	kick(&mmio, qidx, NULL);
}

/* One non-blocking turn of the device thread's event loop. */
static void run_events(void)
{
	event_loop__run_once(&loop, 0);
}

static void check_device(const struct virtio_device *vdev)
{
	uint32_t st = vdev->status;

	if ((st & VIRTIO_STATUS_DRIVER_OK) && !(st & VIRTIO_STATUS_FAILED))
		FUZZ_ASSERT(st & VIRTIO_STATUS_FEATURES_OK);
	FUZZ_ASSERT((vdev->features_acked & ~vdev->features_offered) == 0);
	if (st & VIRTIO_STATUS_FEATURES_OK)
		FUZZ_ASSERT(vdev->features_acked & (1ULL << VIRTIO_F_VERSION_1));
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		const struct virtqueue *vq = &vdev->queues[i];

		if (!vq->active)
			continue;
		FUZZ_ASSERT(vq->size && !(vq->size & (vq->size - 1)));
		FUZZ_ASSERT(vq->size <= vdev->ops->max_queue_size);
		FUZZ_ASSERT(vq->desc_hva ==
			    guest_mem__translate(&ram.mem, vq->desc_gpa, (uint64_t)vq->size * 16));
		FUZZ_ASSERT(vq->avail_hva == guest_mem__translate(&ram.mem, vq->avail_gpa,
								  VIRTQ_AVAIL_SIZE(vq->size)));
		FUZZ_ASSERT(vq->used_hva == guest_mem__translate(&ram.mem, vq->used_gpa,
								 VIRTQ_USED_SIZE(vq->size)));
	}
}

static uint32_t width(uint8_t sel)
{
	static const uint32_t widths[] = {4, 4, 4, 1, 2, 8, 3, 0};

	return widths[sel % 8];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct virtio_device *vdev = &balloon.vdev;
	struct balloon_config cfg;
	uint8_t opts, buf[8];

	fuzz_ram__reset(&ram);
	opts = fin_u8(&in);
	balloon_config__default(&cfg);
	cfg.reporting = opts & 1;
	cfg.deflate_on_oom = opts & 2;
	cfg.stats_interval_s = opts & 4 ? 1 : 0;
	cfg.discard_engine = opts & 8 ? DISCARD_ENGINE_URING : DISCARD_ENGINE_SYNC;
	if (fuzz_balloon__start(&balloon, &cfg, &ram.mem, &loop, &wiring, &faults) < 0)
		return 0;
	vdev->raise_irq = count_irq;
	fuzz_renotify__wire(&renotify, vdev);
	FUZZ_ASSERT(virtio_mmio__init(&mmio, vdev, 0xd0000000ULL, 5) == 0);
	mmio.kick = kick;

	for (unsigned int step = 0; step < MAX_STEPS && !fin_empty(&in); step++) {
		uint8_t step_op = fin_u8(&in) % 6;

		switch (step_op) {
		case 0:
		case 1: {
			bool is_write = step_op == 0;
			uint16_t raw = fin_u16(&in);
			uint64_t off = raw & 0x8000 ? fin_u32(&in) : (raw & 0x1ff);
			uint32_t len = width(fin_u8(&in));
			uint64_t val = is_write ? fin_u64(&in) : 0;

			if (!len)
				break;
			memcpy(buf, &val, sizeof(buf));
			virtio_mmio__io(&mmio, off, buf, len, is_write);
			break;
		}
		case 2:
			fuzz_ram__scribble(&ram, &in);
			break;
		case 3:
			run_events();
			break;
		case 4:
			pthread_mutex_lock(&vdev->lock);
			faults.hold_completions = !faults.hold_completions;
			pthread_mutex_unlock(&vdev->lock);
			break;
		default:
			(void)virtio_balloon__set_target(&balloon, (uint64_t)fin_u32(&in) << 12);
			break;
		}
		check_device(vdev);
		fuzz_renotify__run(&renotify, RENOTIFY_ROUNDS, renotify_kick);
		check_device(vdev);
	}

	/* The driver resets the device: everything in flight is finished or dropped. */
	faults.hold_completions = false;
	memset(buf, 0, sizeof(buf));
	virtio_mmio__io(&mmio, VIRTIO_MMIO_STATUS, buf, 4, true);
	FUZZ_ASSERT(vdev->status == 0);
	FUZZ_ASSERT(balloon.dq.stats.reports_in_flight == 0);
	FUZZ_ASSERT(balloon.dq.stats.ops_in_flight == 0);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		const struct vq_stats *s = &vdev->queues[i].stats;

		FUZZ_ASSERT(s->used_pushed <= s->chains_popped + s->chains_rejected);
	}
	if (getenv("MINI_VMM_FUZZ_VERBOSE"))
		fprintf(stderr,
			"fuzz_virtio_mmio: notifies %llu resets %llu bad accesses %llu bad status "
			"%llu "
			"activate failed %llu reports %llu done %llu inflate pages %llu irqs %u "
			"renotify %llu/%llu\n",
			(unsigned long long)mmio.stats.notifies,
			(unsigned long long)mmio.stats.resets,
			(unsigned long long)mmio.stats.bad_access,
			(unsigned long long)mmio.stats.bad_status_transition,
			(unsigned long long)mmio.stats.activate_failed,
			(unsigned long long)balloon.stats.reports,
			(unsigned long long)balloon.stats.reports_done,
			(unsigned long long)balloon.stats.inflate_pages, irqs,
			(unsigned long long)renotify.calls, (unsigned long long)renotify.delivered);
	virtio_mmio__exit(&mmio);
	fuzz_balloon__stop(&balloon, &loop, &wiring);
	return 0;
}

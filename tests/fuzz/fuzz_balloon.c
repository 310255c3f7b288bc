// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: virtio-balloon queue processing (devices/virtio_balloon.c and
 * the discard queue under it): free page reports, inflate and deflate PFN
 * arrays, stats buffers and free page hints and command ids of any shape,
 * on a device already at DRIVER_OK with the features the input picks,
 * interleaved with config writes, resets, target changes, hinting runs
 * started and stopped, and the device thread's completion events.
 *
 * Input:
 *   u8 features: bit 0 STATS_VQ, 1 REPORTING, 2 PAGE_POISON, 3 EVENT_IDX,
 *      4 INDIRECT_DESC, 5 DEFLATE_ON_OOM, 6 discard via io_uring (else sync),
 *      7 FREE_PAGE_HINT (offered and acked; it drops STATS_VQ when REPORTING
 *      is set too, so that at most 4 queues fit the ring area)
 *   u8 queue size: 1 << (n % 9), 1..256
 *   then steps, each a u8 opcode:
 *     0 add a chain: u8 queue, u8 count (1..8 direct descriptors), per
 *       descriptor u8 mode + fields (see put_desc), then u8 k: 0 or an
 *       indirect table of k % 9 descriptors at the end of the chain
 *     1 write PFNs: u16 slot, u8 n, per PFN u8 mode (+ u16/u32)
 *     2 kick: u8 queue
 *     3 run the device thread's events (discard completions)
 *     4 hold discard completions on/off
 *     5 config write: u8 offset, u8 width, u64 value (as the transport lets through)
 *     6 reset and bring the device back to DRIVER_OK with fresh rings
 *     7 raw RAM write: u32 offset, u8 n, bytes (rings included)
 *     8 host target: u32 pages; 9 stats interval: u8
 *     10 hinting start: u8 (bit 0: acknowledge_on_stop); 11 hinting stop
 *
 * vdev->renotify is wired as vm.c wires it (fuzz_renotify): a queue that
 * stopped at its work budget, or re-armed at activation or by completions,
 * is notified again after the step, up to RENOTIFY_ROUNDS rounds, so a
 * whole ring gets served.
 *
 * Checked: no memory error or UB; per queue no more used entries than chains
 * taken; DONE in config space never while a hint discard is in flight;
 * after the final reset nothing is in flight and every accepted report
 * completed.
 */
#include "fuzz_common.h"

#include "devices/virtio_balloon.h"
#include "base/event_loop.h"
#include "vmm/vm_devices.h"

#include <endian.h>
#include <string.h>
#include <sys/epoll.h>

#define RAM_GPA		0x100000ULL
#define RAM_SIZE	(8ULL << 20)
#define RING_AREA	0x10000ULL /* per queue 16 KiB: table 4 KiB, avail 4 KiB, used 8 KiB */
#define DATA_GPA	(RAM_GPA + RING_AREA)
#define DATA_SIZE	(RAM_SIZE - RING_AREA)
#define RAM2_GPA	(4ULL << 30) /* a second region above a hole, as above the MMIO gap */
#define RAM2_SIZE	(1ULL << 20)
#define MAX_QUEUES	4
#define MAX_STEPS	1024
#define RENOTIFY_ROUNDS 64 /* a full 256-entry ring is 16 budgets of 16 chains */
#define F(bit)		(1ULL << (bit))

/* The device under test and what it runs on (fuzz_common.h). */
static struct fuzz_balloon_rig fz;

/* The driver's side of each queue. */
static struct drv_queue {
	uint16_t next_desc;
	uint16_t avail_idx;
} drv[MAX_QUEUES];
static unsigned int nr_queues;
static uint16_t qsize;
static uint64_t features;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	fuzz_ram__add(&fz.ram, RAM_GPA, RAM_SIZE);
	fuzz_ram__add(&fz.ram, RAM2_GPA, RAM2_SIZE);
	return 0;
}

static uint8_t *ram_hva(uint64_t gpa)
{
	return fz.ram.hva[0] + (gpa - RAM_GPA);
}

static uint64_t desc_gpa(unsigned int q)
{
	return RAM_GPA + q * 0x4000ULL;
}

static uint64_t avail_gpa(unsigned int q)
{
	return desc_gpa(q) + 0x1000;
}

/* A buffer address: a page or any byte of the data area, a page of RAM2, or anything. */
static uint64_t pick_addr(struct fuzz_in *in, uint8_t mode)
{
	switch (mode & 3) {
	case 0:
		return DATA_GPA + (fin_u16(in) % (DATA_SIZE / 4096)) * 4096ULL;
	case 1:
		return DATA_GPA + fin_u32(in) % DATA_SIZE;
	case 2:
		return RAM2_GPA + (fin_u8(in) % (RAM2_SIZE / 4096)) * 4096ULL;
	default:
		return fin_u64(in);
	}
}

static uint32_t pick_len(struct fuzz_in *in, uint8_t mode)
{
	switch ((mode >> 2) & 3) {
	case 0:
		return (1 + fin_u8(in)) * 4096u; /* 4 KiB .. 1 MiB: report-shaped */
	case 1:
		return fin_u16(in);
	case 2:
		return fin_u32(in);
	default:
		return 4 * (1 + fin_u8(in)); /* a PFN array */
	}
}

/*
 * One descriptor from the input: mode bits 0-1 address, 2-3 length, 4 WRITE,
 * 5 end the chain here, 6 a raw `next`, 7 raw flags.
 */
static void put_desc(struct fuzz_in *in, uint8_t *table, uint16_t idx, uint16_t next, bool last)
{
	uint8_t mode = fin_u8(in);
	uint64_t addr = pick_addr(in, mode);
	uint32_t len = pick_len(in, mode);
	uint16_t flags = mode & 0x10 ? VIRTQ_DESC_F_WRITE : 0;

	if (!last && !(mode & 0x20))
		flags |= VIRTQ_DESC_F_NEXT;
	if (mode & 0x40)
		next = fin_u16(in);
	if (mode & 0x80)
		flags = fin_u16(in);
	fuzz_vq__write_desc(table, idx, addr, len, flags, next);
}

static uint16_t take_desc(unsigned int q)
{
	uint16_t idx = drv[q].next_desc;

	drv[q].next_desc = (uint16_t)((idx + 1) % qsize);
	return idx;
}

static void publish(unsigned int q, uint16_t head)
{
	uint8_t *avail = ram_hva(avail_gpa(q));
	uint16_t le = htole16(head), idx;

	memcpy(avail + 4 + 2 * (drv[q].avail_idx % qsize), &le, 2);
	drv[q].avail_idx++;
	idx = htole16(drv[q].avail_idx);
	__atomic_store_n((uint16_t *)(avail + 2), idx, __ATOMIC_RELEASE);
}

static void add_chain(struct fuzz_in *in)
{
	unsigned int q = fin_u8(in) % nr_queues, n = 1 + fin_u8(in) % 8, k;
	uint8_t *table = ram_hva(desc_gpa(q));
	uint16_t head, idx, next;

	head = idx = take_desc(q);
	for (unsigned int i = 0; i < n; i++) {
		next = take_desc(q);
		put_desc(in, table, idx, next, false);
		idx = next;
	}
	k = fin_u8(in) % 9;
	if (k) {
		/* An indirect table of k descriptors somewhere in the data area. */
		uint64_t tgpa = DATA_GPA + (fin_u16(in) % (DATA_SIZE / 4096)) * 4096ULL;

		for (unsigned int i = 0; i < k; i++)
			put_desc(in, ram_hva(tgpa), (uint16_t)i, (uint16_t)(i + 1), i + 1 == k);
		fuzz_vq__write_desc(table, idx, tgpa, k * VIRTQ_DESC_SIZE, VIRTQ_DESC_F_INDIRECT,
				    0);
	} else {
		/* The chain ends with the last direct descriptor's successor: a plain one. */
		put_desc(in, table, idx, 0, true);
	}
	publish(q, head);
}

static void write_pfns(struct fuzz_in *in)
{
	uint64_t gpa = DATA_GPA + (fin_u16(in) % (DATA_SIZE / 4096)) * 4096ULL;
	unsigned int n = fin_u8(in);

	for (unsigned int i = 0; i < n; i++) {
		uint8_t mode = fin_u8(in);
		uint32_t pfn;

		if (mode % 3 == 0)
			pfn = (uint32_t)(DATA_GPA >> 12) + fin_u16(in) % (DATA_SIZE >> 12);
		else if (mode % 3 == 1)
			pfn = (uint32_t)(RAM2_GPA >> 12) + fin_u8(in) % (RAM2_SIZE >> 12);
		else
			pfn = fin_u32(in);
		pfn = htole32(pfn);
		memcpy(ram_hva(gpa) + 4 * i, &pfn, 4);
	}
}

/* What vm_devices.c does when a queue's ioeventfd fires. */
static void kick(unsigned int q)
{
	fuzz_vq__kick(&fz.balloon.vdev, q);
}

static void run_events(void)
{
	event_loop__run_once(&fz.loop, 0);
}

/* The driver's (re)initialisation: fresh rings, queues set up, DRIVER_OK. */
static void bring_up(void)
{
	struct virtio_device *vdev = &fz.balloon.vdev;

	memset(ram_hva(RAM_GPA), 0, RING_AREA);
	memset(drv, 0, sizeof(drv));
	nr_queues = fuzz_vq__bring_up(vdev, &fz.ram.mem, features, qsize, desc_gpa(0),
				      desc_gpa(1) - desc_gpa(0));
	FUZZ_ASSERT(nr_queues >= 2 && nr_queues <= MAX_QUEUES);
}

static void config_write(struct fuzz_in *in)
{
	static const uint32_t widths[] = {1, 2, 4, 8};
	struct virtio_device *vdev = &fz.balloon.vdev;
	uint32_t off = fin_u8(in) % 24, len = widths[fin_u8(in) % 4];
	uint64_t val = fin_u64(in);

	/* The transport's checks (virtio_mmio.c config_access): aligned, inside. */
	if (off % (len < 4 ? len : 4) || off + len > vdev->ops->config_size)
		return;
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->write_config(vdev, off, &val, len);
	vdev->ops->read_config(vdev, off, &val, len);
	pthread_mutex_unlock(&vdev->lock);
}

/* The input's first byte: which features the driver acks. */
static const struct fuzz_opt_feature opt_features[] = {
	{1, VIRTIO_BALLOON_F_STATS_VQ, false},	       {2, VIRTIO_BALLOON_F_REPORTING, false},
	{4, VIRTIO_BALLOON_F_PAGE_POISON, false},      {8, VIRTIO_F_EVENT_IDX, false},
	{16, VIRTIO_F_INDIRECT_DESC, false},	       {32, VIRTIO_BALLOON_F_DEFLATE_ON_OOM, false},
	{128, VIRTIO_BALLOON_F_FREE_PAGE_HINT, false},
};

/* 5.5.6.4.2: nothing may change a hinted page once DONE is in config space. */
static void check_hinting(void)
{
	struct virtio_balloon *b = &fz.balloon;

	pthread_mutex_lock(&b->vdev.lock);
	if (b->free_page_hint_cmd_id == VIRTIO_BALLOON_CMD_ID_DONE)
		FUZZ_ASSERT(b->hint.inflight == 0);
	pthread_mutex_unlock(&b->vdev.lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct virtio_device *vdev = &fz.balloon.vdev;
	struct balloon_config cfg;
	uint8_t f = fin_u8(&in);

	fuzz_ram__reset(&fz.ram);
	qsize = fuzz_qsize(&in);
	if ((f & 0x83) == 0x83)
		f &= (uint8_t)~1; /* hinting, stats and reporting: 5 queues, one too many here */
	features =
		fuzz_opt_features(f, opt_features, sizeof(opt_features) / sizeof(opt_features[0]));
	balloon_config__default(&cfg);
	cfg.stats_interval_s = f & 1 ? 1 : 0;
	cfg.free_page_hinting = f & 128;
	cfg.discard_engine = f & 64 ? DISCARD_ENGINE_URING : DISCARD_ENGINE_SYNC;

	if (fuzz_balloon__open(&fz.balloon, &cfg, &fz.ram.mem, &fz.loop, &fz.wiring, &fz.faults,
			       &fz.renotify, features) < 0)
		return 0;
	bring_up();

	for (unsigned int step = 0; step < MAX_STEPS && !fin_empty(&in); step++) {
		switch (fin_u8(&in) % 12) {
		case 0:
			add_chain(&in);
			break;
		case 1:
			write_pfns(&in);
			break;
		case 2:
			kick(fin_u8(&in) % nr_queues);
			break;
		case 3:
			run_events();
			break;
		case 4:
			pthread_mutex_lock(&vdev->lock);
			fz.faults.hold_completions = !fz.faults.hold_completions;
			pthread_mutex_unlock(&vdev->lock);
			break;
		case 5:
			config_write(&in);
			break;
		case 6:
			pthread_mutex_lock(&vdev->lock);
			vdev->ops->reset(vdev);
			bring_up();
			pthread_mutex_unlock(&vdev->lock);
			break;
		case 7:
			fuzz_ram__scribble(&fz.ram, &in);
			break;
		case 8:
			(void)virtio_balloon__set_target(&fz.balloon, (uint64_t)fin_u32(&in) << 12);
			break;
		case 9:
			(void)virtio_balloon__set_stats_interval(&fz.balloon, fin_u8(&in) % 3);
			break;
		case 10:
			(void)virtio_balloon__hinting_start(&fz.balloon, fin_u8(&in) & 1);
			break;
		default:
			(void)virtio_balloon__hinting_stop(&fz.balloon);
			break;
		}
		fuzz_renotify__run(&fz.renotify, RENOTIFY_ROUNDS, kick);
		check_hinting();
	}

	pthread_mutex_lock(&vdev->lock);
	fz.faults.hold_completions = false;
	vdev->ops->reset(vdev);
	pthread_mutex_unlock(&vdev->lock);
	FUZZ_ASSERT(fz.balloon.dq.stats.reports_in_flight == 0);
	FUZZ_ASSERT(fz.balloon.dq.stats.ops_in_flight == 0);
	FUZZ_ASSERT(fz.balloon.dq.stats.reports_completed == fz.balloon.dq.stats.reports);
	FUZZ_ASSERT(fz.balloon.hint.inflight == 0);
	FUZZ_ASSERT(fz.balloon.free_page_hint_cmd_id == VIRTIO_BALLOON_CMD_ID_STOP);
	for (unsigned int q = 0; q < MAX_QUEUES; q++) {
		const struct vq_stats *s = &vdev->queues[q].stats;

		FUZZ_ASSERT(s->used_pushed <= s->chains_popped + s->chains_rejected);
	}
	if (getenv("MINI_VMM_FUZZ_VERBOSE")) {
		const struct balloon_stats *st = &fz.balloon.stats;

		fprintf(stderr,
			"fuzz_balloon: reports %llu done %llu poison-skipped %llu inflate pages "
			"%llu "
			"deflate pages %llu stats buffers %llu broken rings %llu after-reset "
			"%llu renotify %llu/%llu hint runs %llu chains %llu done %llu ignored "
			"%llu\n",
			(unsigned long long)st->reports, (unsigned long long)st->reports_done,
			(unsigned long long)st->poison_skipped,
			(unsigned long long)st->inflate_pages,
			(unsigned long long)st->deflate_pages,
			(unsigned long long)st->stats_buffers, (unsigned long long)st->broken_rings,
			(unsigned long long)st->completions_after_reset,
			(unsigned long long)fz.renotify.calls,
			(unsigned long long)fz.renotify.delivered,
			(unsigned long long)st->hint_runs, (unsigned long long)st->hint_chains,
			(unsigned long long)st->hints_done, (unsigned long long)st->hints_ignored);
	}
	fuzz_balloon__stop(&fz.balloon, &fz.loop, &fz.wiring);
	pthread_mutex_destroy(&vdev->lock);
	return 0;
}

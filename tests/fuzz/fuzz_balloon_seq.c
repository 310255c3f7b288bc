// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the balloon under a guest's SEQUENCE of actions, with a model
 * of the guest's side checked after every step. fuzz_balloon fuzzes the
 * shapes of single chains; this one keeps shapes valid (or hostile in a few
 * known ways) and fuzzes the order of things: chains published, heads
 * published again while still in flight, kicks, discard completions run or
 * held, resets between completions, re-activation on new rings, config
 * writes, stats ticks. vdev->renotify is wired (fuzz_renotify) and
 * delivered after every step.
 *
 * Input:
 *   u8 options: bit 0 STATS_VQ, bit 1 no REPORTING, bit 2 EVENT_IDX,
 *      bit 3 discard via io_uring (else sync), bit 4 DEFLATE_ON_OOM
 *   u8 queue size: 1 << (n % 9), 1..256
 *   then steps, each a u8 opcode (% 11):
 *     0 publish a chain: u8 kind (bits 0-1: report, inflate, deflate, stats;
 *       bit 2: hostile shape), u8 count, u16 first page, u8 stride (pages),
 *       u8 pages per report buffer (1..4)
 *     1 publish again a head the guest has in flight: u8 queue, u8 which
 *     2 kick: u8 queue
 *     3 run the device thread's events (discard completions)
 *     4 hold discard completions on/off
 *     5 reset (the device stays reset: kicks do nothing)
 *     6 activate on the other ring area (reset first if active)
 *     7 config: u8 which (actual, host target, stats interval), u32 value
 *     8 stats timer tick
 *     9 fail the next u8 % 4 discard ops on the ring (-EIO after the kernel
 *       ran them: retried synchronously)
 *     10 settle: release completions, run everything until quiet, then
 *       check every chain the guest published came back
 *   the end of the input is a settle, then a reset.
 *
 * Checked after every step (FUZZ_ASSERT aborts: a finding):
 *   - the discard queue's limits hold: ops in flight <= 4096, host heap in
 *     flight <= 512 KiB (BALLOON_MAX_*_IN_FLIGHT, docs/virtio-balloon.md),
 *     guest bytes under discard <= RAM
 *   - a head is in the device at most once (popped, not yet used), and the
 *     device never consumes an avail entry the guest did not publish
 *   - every used entry names a head the device popped, with length 0
 *   - ack only after discard: a used entry for a report or inflate chain
 *     finds each of its pages zeroed (the guest stamped them when it
 *     published it; pages stamped again by a later chain are skipped)
 *   - nothing is written to an old generation's used rings after reset
 *     (they hold a canary until a later activation takes them again)
 *   - after a settle on a working device, every chain came back.
 */
#include "fuzz_common.h"

#include "devices/virtio_balloon.h"
#include "base/event_loop.h"
#include "vmm/vm_devices.h"

#include <endian.h>
#include <string.h>

#define RAM_GPA		0x100000ULL
#define RAM_SIZE	(32ULL << 20) /* 16 chains of 256 scattered pages reach the ops limit */
#define QMAX		4	      /* queues: inflate, deflate, stats, reporting */
#define QAREA		0x4000ULL     /* per queue: table 4 KiB, avail 4 KiB, used 8 KiB */
#define RING_AREA	(QMAX * QAREA)
#define BUF_GPA		(RAM_GPA + 2 * RING_AREA) /* PFN arrays, stats buffers: 1 KiB per (q, head) */
#define DATA_GPA	(RAM_GPA + (2ULL << 20)) /* pages reported and inflated */
#define DATA_PAGES	((RAM_SIZE - (2ULL << 20)) >> 12)
#define MAX_SIZE	256
#define MAX_STEPS	512
#define RENOTIFY_ROUNDS 64
#define STAMP		0x5eed000000000000ULL
#define CANARY		0xa5
#define F(bit)		(1ULL << (bit))

enum kind { K_REPORT, K_INFLATE, K_DEFLATE, K_STATS };

static const enum balloon_queue kind_role[] = {BALLOON_Q_REPORTING, BALLOON_Q_INFLATE,
					       BALLOON_Q_DEFLATE, BALLOON_Q_STATS};

/* The device under test and what it runs on (fuzz_common.h). */
static struct fuzz_balloon_rig fz;

/* The guest's side of one queue, for the current generation of rings. */
struct gq {
	uint16_t avail_idx;	  /* published */
	uint16_t consumed_seen;	  /* device's last_avail_idx at the last check */
	uint16_t used_seen;	  /* used entries read */
	uint16_t avail[MAX_SIZE]; /* head of each avail slot */
	bool desc_busy[MAX_SIZE]; /* descriptors owned by a chain in flight */
	struct chain {
		uint16_t pub;	 /* avail entries of this head not used yet (<= queue size) */
		uint16_t popped; /* of them, consumed by the device */
		bool check;	 /* a well-formed report / inflate: pages must be zero when used */
		uint32_t serial;
		uint16_t ndesc;
		uint16_t desc[MAX_SIZE];
		uint16_t npages;
		uint16_t page[MAX_SIZE];
	} ch[MAX_SIZE];
};

static struct gq gq[QMAX];
static unsigned int nr_queues, gen;
static uint16_t qsize;
static uint64_t features;
static bool uring, canary_live[2];
static uint8_t canary[0x2000];		   /* what a sealed used ring holds */
static uint32_t serial, owner[DATA_PAGES]; /* the chain that stamped each page last */
static struct {
	uint64_t max_ops, max_mem, used, checked_pages, republished;
} seen;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	fuzz_ram__add(&fz.ram, RAM_GPA, RAM_SIZE);
	memset(canary, CANARY, sizeof(canary));
	return 0;
}

static uint8_t *hva(uint64_t gpa)
{
	return fz.ram.hva[0] + (gpa - RAM_GPA);
}

static uint64_t ring_gpa(unsigned int g, unsigned int q)
{
	return RAM_GPA + (g % 2) * RING_AREA + q * QAREA;
}

static uint64_t page_gpa(unsigned int p)
{
	return DATA_GPA + ((uint64_t)p << 12);
}

static struct virtio_device *vdev(void)
{
	return &fz.balloon.vdev;
}

static bool running(void)
{
	return (vdev()->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vdev()->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* What vm_devices.c does when a queue's ioeventfd fires. */
static void kick(unsigned int q)
{
	fuzz_vq__kick(vdev(), q);
}

static void write_desc(unsigned int q, uint16_t idx, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	fuzz_vq__write_desc(hva(ring_gpa(gen, q)), idx, addr, len, flags, next);
}

static void publish(unsigned int q, uint16_t head)
{
	uint8_t *avail = hva(ring_gpa(gen, q) + 0x1000);
	uint16_t le = htole16(head);

	memcpy(avail + 4 + 2 * (gq[q].avail_idx % qsize), &le, 2);
	gq[q].avail[gq[q].avail_idx % qsize] = head;
	gq[q].avail_idx++;
	gq[q].ch[head].pub++;
	/* Release: the entry before the index, as virtio_wmb() in the driver. */
	__atomic_store_n((uint16_t *)(avail + 2), htole16(gq[q].avail_idx), __ATOMIC_RELEASE);
}

/* Room in the avail ring: never more entries out than the ring holds. */
static bool avail_room(unsigned int q)
{
	return (uint16_t)(gq[q].avail_idx - gq[q].used_seen) < qsize;
}

/* Take n free descriptors for a chain at gq[q].ch[head]; false if there are not enough. */
static bool take_descs(unsigned int q, unsigned int n, uint16_t *out)
{
	unsigned int got = 0;

	for (unsigned int i = 0; i < qsize && got < n; i++)
		if (!gq[q].desc_busy[i])
			out[got++] = (uint16_t)i;
	if (got < n)
		return false;
	for (unsigned int i = 0; i < n; i++)
		gq[q].desc_busy[out[i]] = true;
	return true;
}

static void stamp(struct chain *c, unsigned int p)
{
	uint64_t v = STAMP | c->serial;

	memcpy(hva(page_gpa(p)), &v, sizeof(v));
	owner[p] = c->serial;
	if (c->npages < MAX_SIZE)
		c->page[c->npages++] = (uint16_t)p;
}

static void publish_chain(struct fuzz_in *in)
{
	uint8_t k = fin_u8(in), count = fin_u8(in);
	unsigned int first = fin_u16(in) % DATA_PAGES, stride = fin_u8(in);
	unsigned int ppb = 1 + fin_u8(in) % 4;
	enum kind kind = (enum kind)(k % 4);
	bool hostile = k & 4;
	int qi = fz.balloon.qidx[kind_role[kind]];
	unsigned int q, n;
	uint16_t descs[MAX_SIZE];
	struct chain *c;

	if (qi < 0 || !running() || !avail_room((unsigned int)qi))
		return;
	q = (unsigned int)qi;
	n = kind == K_REPORT ? 1 + count % qsize : 1;
	if (kind == K_REPORT && n > MAX_SIZE / ppb)
		n = MAX_SIZE / ppb;
	if (!take_descs(q, n, descs))
		return;
	c = &gq[q].ch[descs[0]];
	FUZZ_ASSERT(c->pub == 0);
	*c = (struct chain){.serial = ++serial, .ndesc = (uint16_t)n};
	memcpy(c->desc, descs, n * sizeof(descs[0]));

	if (kind == K_REPORT) {
		/* Device-writable, 4 KiB aligned ranges; hostile: the last one is not. */
		c->check = !hostile;
		for (unsigned int i = 0; i < n; i++) {
			unsigned int p = (first + i * stride) % DATA_PAGES;
			uint32_t len = ppb * 4096u;
			bool last = i + 1 == n;

			if (p + ppb > DATA_PAGES)
				p = DATA_PAGES - ppb;
			if (hostile && last)
				len -= 512;
			for (unsigned int j = 0; j < ppb && c->check; j++)
				stamp(c, p + j);
			write_desc(q, descs[i], page_gpa(p), len,
				   VIRTQ_DESC_F_WRITE | (last ? 0 : VIRTQ_DESC_F_NEXT),
				   last ? 0 : descs[i + 1]);
		}
	} else if (kind == K_INFLATE || kind == K_DEFLATE) {
		/* One readable PFN array; hostile: every 8th PFN outside RAM (ignored). */
		uint64_t arr = BUF_GPA + (q * MAX_SIZE + descs[0]) * 1024ULL;
		unsigned int npfn = 1 + count;

		c->check = kind == K_INFLATE;
		for (unsigned int i = 0; i < npfn; i++) {
			unsigned int p = (first + i * stride) % DATA_PAGES;
			uint32_t pfn = (uint32_t)(page_gpa(p) >> 12);

			if (hostile && i % 8 == 7)
				pfn = 0xfffffff0u - i;
			else if (c->check)
				stamp(c, p);
			pfn = htole32(pfn);
			memcpy(hva(arr) + 4 * i, &pfn, 4);
		}
		write_desc(q, descs[0], arr, npfn * 4, 0, 0);
	} else {
		/* A stats buffer of (le16 tag, le64 val); hostile: not a whole entry. */
		uint64_t buf = BUF_GPA + (q * MAX_SIZE + descs[0]) * 1024ULL;
		uint32_t len = 10 * (1 + count % 64) - (hostile ? 3 : 0);

		for (uint32_t off = 0; off + 10 <= len; off += 10) {
			uint16_t tag = htole16((uint16_t)(off / 10 % 12));
			uint64_t val = htole64(off * 1000ULL);

			memcpy(hva(buf + off), &tag, 2);
			memcpy(hva(buf + off + 2), &val, 8);
		}
		write_desc(q, descs[0], buf, len, 0, 0);
	}
	publish(q, descs[0]);
}

/* A hostile guest: make a head available again while the device may still hold it. */
static void republish(struct fuzz_in *in)
{
	unsigned int q = fin_u8(in) % QMAX, which = fin_u8(in), found = 0;

	if (q >= nr_queues || !running() || !avail_room(q))
		return;
	for (unsigned int h = 0; h < qsize; h++) {
		if (!gq[q].ch[h].pub)
			continue;
		if (found++ == which % qsize) {
			seen.republished++;
			publish(q, (uint16_t)h);
			return;
		}
	}
}

/* A used entry came back: the model's side of the invariants. */
static void used_entry(unsigned int q, uint32_t id, uint32_t len)
{
	struct chain *c;

	FUZZ_ASSERT(id < qsize);
	c = &gq[q].ch[id];
	/* Only a head the device popped, and no data written into our buffers. */
	FUZZ_ASSERT(c->popped > 0 && c->pub >= c->popped);
	FUZZ_ASSERT(len == 0);
	c->popped--;
	c->pub--;
	seen.used++;
	/* Ack only after discard: every page still ours reads back as zero. */
	for (unsigned int i = 0; c->check && i < c->npages; i++) {
		uint64_t v;

		if (owner[c->page[i]] != c->serial)
			continue;
		memcpy(&v, hva(page_gpa(c->page[i])), sizeof(v));
		FUZZ_ASSERT(v == 0);
		seen.checked_pages++;
	}
	if (!c->pub)
		for (unsigned int i = 0; i < c->ndesc; i++)
			gq[q].desc_busy[c->desc[i]] = false;
}

/* After every step: what the device consumed and gave back, and its bounds. */
static void check(void)
{
	const struct discard_stats *ds = &fz.balloon.dq.stats;

	FUZZ_ASSERT(fz.balloon.dq.limits.ops == BALLOON_MAX_OPS_IN_FLIGHT);
	FUZZ_ASSERT(fz.balloon.dq.limits.mem == BALLOON_MAX_MEM_IN_FLIGHT);
	FUZZ_ASSERT(ds->ops_in_flight <= BALLOON_MAX_OPS_IN_FLIGHT);
	FUZZ_ASSERT(ds->mem_in_flight <= BALLOON_MAX_MEM_IN_FLIGHT);
	FUZZ_ASSERT(ds->bytes_in_flight <= fz.balloon.dq.limits.bytes);
	seen.max_ops = ds->ops_in_flight > seen.max_ops ? ds->ops_in_flight : seen.max_ops;
	seen.max_mem = ds->mem_in_flight > seen.max_mem ? ds->mem_in_flight : seen.max_mem;

	/* Old rings: not one byte written since their reset. */
	for (unsigned int g = 0; g < 2; g++)
		for (unsigned int q = 0; canary_live[g] && q < QMAX; q++)
			FUZZ_ASSERT(memcmp(hva(ring_gpa(g, q) + 0x2000), canary, sizeof(canary)) ==
				    0);

	if (!(vdev()->status & VIRTIO_STATUS_DRIVER_OK))
		return;
	for (unsigned int q = 0; q < nr_queues; q++) {
		struct virtqueue *vq = &vdev()->queues[q];
		const uint8_t *used = hva(ring_gpa(gen, q) + 0x2000);
		uint16_t idx, n;

		/* Consumed: only what was published; each entry's head is popped once more. */
		n = (uint16_t)(vq->last_avail_idx - gq[q].consumed_seen);
		FUZZ_ASSERT(n <= (uint16_t)(gq[q].avail_idx - gq[q].consumed_seen));
		for (; n; n--, gq[q].consumed_seen++)
			gq[q].ch[gq[q].avail[gq[q].consumed_seen % qsize]].popped++;

		idx = le16toh(__atomic_load_n((const uint16_t *)(used + 2), __ATOMIC_ACQUIRE));
		n = (uint16_t)(idx - gq[q].used_seen);
		FUZZ_ASSERT(n <= qsize);
		for (; n; n--, gq[q].used_seen++) {
			uint32_t e[2];

			memcpy(e, used + 4 + 8 * (gq[q].used_seen % qsize), sizeof(e));
			used_entry(q, le32toh(e[0]), le32toh(e[1]));
		}
		/* A head is in the device at most once (virtqueue__pop's heads in flight). */
		for (unsigned int h = 0; h < qsize; h++)
			FUZZ_ASSERT(gq[q].ch[h].popped <= 1);
	}
}

static void run_events(int timeout_ms)
{
	event_loop__run_once(&fz.loop, timeout_ms);
}

/* The driver's (re)initialisation on generation `gen`'s rings, DRIVER_OK. */
static void bring_up(void)
{
	struct virtio_device *v = vdev();

	memset(hva(ring_gpa(gen, 0)), 0, RING_AREA);
	canary_live[gen % 2] = false;
	memset(gq, 0, sizeof(gq));
	nr_queues = fuzz_vq__bring_up(v, &fz.ram.mem, features, qsize, ring_gpa(gen, 0),
				      ring_gpa(gen, 1) - ring_gpa(gen, 0));
	FUZZ_ASSERT(nr_queues >= 2 && nr_queues <= QMAX);
}

/* Status 0, as the transport does it (virtio_mmio.c reset_state); old rings get the canary. */
static void reset(void)
{
	struct virtio_device *v = vdev();
	bool was_up = v->status & VIRTIO_STATUS_DRIVER_OK;

	pthread_mutex_lock(&v->lock);
	v->ops->reset(v);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtqueue__reset(&v->queues[q]);
	v->status = 0;
	pthread_mutex_unlock(&v->lock);
	if (!was_up)
		return;
	/* The reset itself pushes nothing (discards it drained are dropped) ... */
	for (unsigned int q = 0; q < nr_queues; q++) {
		uint16_t idx;

		memcpy(&idx, hva(ring_gpa(gen, q) + 0x2000 + 2), 2);
		FUZZ_ASSERT(le16toh(idx) == gq[q].used_seen);
	}
	/* ... and nothing after it: seal the old used rings. */
	for (unsigned int q = 0; q < QMAX; q++)
		memset(hva(ring_gpa(gen, q) + 0x2000), CANARY, 0x2000);
	canary_live[gen % 2] = true;
}

static void activate(void)
{
	if (vdev()->status)
		reset();
	gen++;
	pthread_mutex_lock(&vdev()->lock);
	bring_up();
	pthread_mutex_unlock(&vdev()->lock);
}

static void config(struct fuzz_in *in)
{
	uint8_t which = fin_u8(in) % 3;
	uint32_t v = fin_u32(in), le = htole32(v);

	if (which == 0) {
		pthread_mutex_lock(&vdev()->lock);
		vdev()->ops->write_config(vdev(), 4, &le, 4); /* actual */
		pthread_mutex_unlock(&vdev()->lock);
	} else if (which == 1) {
		(void)virtio_balloon__set_target(&fz.balloon, (uint64_t)(v % 4096) << 12);
	} else {
		(void)virtio_balloon__set_stats_interval(&fz.balloon, v % 3);
	}
}

/* The device still has work: discards in flight, a held chain, a queue re-armed. */
static bool busy(void)
{
	bool b;

	pthread_mutex_lock(&vdev()->lock);
	b = fz.balloon.dq.stats.reports_in_flight;
	/* A broken or reset device serves no queue: what it holds waits for a reset. */
	if (running()) {
		b |= fz.renotify.pending != 0;
		for (int r = 0; r < BALLOON_Q__COUNT; r++)
			b |= fz.balloon.pending[r].held;
	}
	pthread_mutex_unlock(&vdev()->lock);
	return b;
}

static bool all_consumed(void)
{
	for (unsigned int q = 0; q < nr_queues; q++)
		if (vdev()->queues[q].last_avail_idx != gq[q].avail_idx)
			return false;
	return true;
}

/*
 * Release completions and run the device until it is quiet: completions,
 * re-armed queues, a kick per queue, a stats tick. Then a working device
 * gave every chain back.
 */
static void settle(void)
{
	pthread_mutex_lock(&vdev()->lock);
	fz.faults.hold_completions = false;
	pthread_mutex_unlock(&vdev()->lock);
	/* Up to 2000 turns (10 s with io_uring's 5 ms waits): more would be a hang. */
	for (unsigned int turn = 0; turn < 2000; turn++) {
		run_events(uring ? 5 : 0);
		fuzz_renotify__run(&fz.renotify, RENOTIFY_ROUNDS, kick);
		check();
		if (busy())
			continue;
		for (unsigned int q = 0; q < nr_queues; q++)
			kick(q);
		virtio_balloon__stats_tick(&fz.balloon);
		fuzz_renotify__run(&fz.renotify, RENOTIFY_ROUNDS, kick);
		check();
		if (!busy() && (!running() || all_consumed()))
			break;
	}
	check();
	if (!running())
		return;
	for (unsigned int q = 0; q < nr_queues; q++)
		for (unsigned int h = 0; h < qsize; h++)
			FUZZ_ASSERT(gq[q].ch[h].pub == 0);
}

/* ---- the steps an input is made of: its next byte picks one ---- */

static void step_kick(struct fuzz_in *in)
{
	kick(fin_u8(in) % QMAX);
}

static void step_events(struct fuzz_in *in)
{
	(void)in;
	run_events(0);
}

/* Completions done by the kernel but not reaped: the ack-after-discard window. */
static void step_hold(struct fuzz_in *in)
{
	(void)in;
	pthread_mutex_lock(&vdev()->lock);
	fz.faults.hold_completions = !fz.faults.hold_completions;
	pthread_mutex_unlock(&vdev()->lock);
}

static void step_ring_failures(struct fuzz_in *in)
{
	pthread_mutex_lock(&vdev()->lock);
	fz.faults.inject_ring_failures = fin_u8(in) % 4;
	pthread_mutex_unlock(&vdev()->lock);
}

static void step_reset(struct fuzz_in *in)
{
	(void)in;
	reset();
}

static void step_activate(struct fuzz_in *in)
{
	(void)in;
	activate();
}

static void step_stats_tick(struct fuzz_in *in)
{
	(void)in;
	virtio_balloon__stats_tick(&fz.balloon);
}

static void step_settle(struct fuzz_in *in)
{
	(void)in;
	settle();
}

/* In this order: the seeds (make_corpus.py) name steps by these indices. */
static void (*const steps[])(struct fuzz_in *in) = {
	publish_chain, republish, step_kick,	   step_events,	       step_hold,   step_reset,
	step_activate, config,	  step_stats_tick, step_ring_failures, step_settle,
};

/* The input's first byte: features (bit 8 picks the discard engine instead). */
static const struct fuzz_opt_feature opt_features[] = {
	{1, VIRTIO_BALLOON_F_STATS_VQ, false},
	{2, VIRTIO_BALLOON_F_REPORTING, true},
	{4, VIRTIO_F_EVENT_IDX, false},
	{16, VIRTIO_BALLOON_F_DEFLATE_ON_OOM, false},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct balloon_config cfg;
	uint8_t opt = fin_u8(&in);

	fuzz_ram__reset(&fz.ram);
	qsize = fuzz_qsize(&in);
	features = fuzz_opt_features(opt, opt_features,
				     sizeof(opt_features) / sizeof(opt_features[0]));
	uring = opt & 8;
	balloon_config__default(&cfg);
	cfg.stats_interval_s = opt & 1 ? 1 : 0;
	cfg.discard_engine = uring ? DISCARD_ENGINE_URING : DISCARD_ENGINE_SYNC;
	if (fuzz_balloon__open(&fz.balloon, &cfg, &fz.ram.mem, &fz.loop, &fz.wiring, &fz.faults,
			       &fz.renotify, features) < 0)
		return 0;
	memset(owner, 0, sizeof(owner));
	memset(&seen, 0, sizeof(seen));
	canary_live[0] = canary_live[1] = false;
	serial = 0;
	gen = 0;
	bring_up();

	for (unsigned int step = 0; step < MAX_STEPS && !fin_empty(&in); step++) {
		steps[fin_u8(&in) % (sizeof(steps) / sizeof(steps[0]))](&in);
		fuzz_renotify__run(&fz.renotify, RENOTIFY_ROUNDS, kick);
		check();
	}
	settle();
	reset();
	check();
	FUZZ_ASSERT(fz.balloon.dq.stats.reports_in_flight == 0);
	FUZZ_ASSERT(fz.balloon.dq.stats.ops_in_flight == 0);
	FUZZ_ASSERT(fz.balloon.dq.stats.reports_completed == fz.balloon.dq.stats.reports);
	if (getenv("MINI_VMM_FUZZ_VERBOSE"))
		fprintf(stderr,
			"fuzz_balloon_seq: gens %u reports %llu inflate pages %llu used %llu "
			"pages checked %llu republished %llu broken %llu waited %llu yields %llu "
			"max ops %llu max mem %llu after-reset %llu renotify %llu/%llu\n",
			gen + 1, (unsigned long long)fz.balloon.stats.reports,
			(unsigned long long)fz.balloon.stats.inflate_pages,
			(unsigned long long)seen.used, (unsigned long long)seen.checked_pages,
			(unsigned long long)seen.republished,
			(unsigned long long)fz.balloon.stats.broken_rings,
			(unsigned long long)fz.balloon.stats.chains_waited,
			(unsigned long long)fz.balloon.stats.notify_yields,
			(unsigned long long)seen.max_ops, (unsigned long long)seen.max_mem,
			(unsigned long long)fz.balloon.stats.completions_after_reset,
			(unsigned long long)fz.renotify.calls,
			(unsigned long long)fz.renotify.delivered);
	fuzz_balloon__stop(&fz.balloon, &fz.loop, &fz.wiring);
	pthread_mutex_destroy(&vdev()->lock);
	return 0;
}

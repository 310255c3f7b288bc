/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-balloon (virtio 1.2 section 5.5, device id 5): inflate/deflate,
 * memory statistics, free page reporting and free page hinting, with every
 * discard going through the io_uring discard queue. The model is pure device logic over
 * guest memory and its queues: it registers no fd and owns no timer. Its
 * host (vmm/vm_devices.c) watches the discard queue's eventfd and runs the
 * stats timer, through struct balloon_host_ops. docs/virtio-balloon.md
 * explains the queue layout, the ordering rule and the counters.
 */
#ifndef MINI_VMM_VIRTIO_BALLOON_H
#define MINI_VMM_VIRTIO_BALLOON_H

#include "devices/balloon_stats.h"
#include "devices/discard/queue.h"
#include "devices/virtio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTIO_ID_BALLOON 5

/* Feature bits (5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0 /* not offered */
#define VIRTIO_BALLOON_F_STATS_VQ	1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3 /* offered with free-page-hinting=on */
#define VIRTIO_BALLOON_F_PAGE_POISON	4
#define VIRTIO_BALLOON_F_REPORTING	5

/* free_page_hint_cmd_id values with a meaning of their own (5.5.6.4); runs use >= 2. */
#define VIRTIO_BALLOON_CMD_ID_STOP 0
#define VIRTIO_BALLOON_CMD_ID_DONE 1

#define VIRTIO_BALLOON_PFN_SHIFT 12  /* inflate/deflate PFNs and num_pages: 4 KiB units */
#define BALLOON_QUEUE_SIZE	 256 /* QueueNumMax; Linux needs >= 32 for reporting */
#define BALLOON_CONFIG_SIZE	 16  /* num_pages, actual, free_page_hint_cmd_id, poison_val */
/*
 * Inflate/deflate: PFNs per chain we accept. Linux sends at most 256
 * (VIRTIO_BALLOON_ARRAY_PFNS_MAX), as do FreeBSD and Firecracker's limit;
 * a bigger chain is refused (too_large). It bounds one chain's work and
 * memory (docs/virtio-balloon.md, "Bounds").
 */
#define BALLOON_MAX_PFNS_PER_CHAIN 256
/* Discard ranges one chain can make: a PFN or a buffer each. */
#define BALLOON_MAX_RANGES_PER_CHAIN 256
/*
 * What the device's discard queue may hold for the guest at once (its
 * struct discard_limits; the bytes limit is the guest's RAM size). A chain
 * that would go past them waits, popped, until completions make room; the
 * queue it came from is not popped meanwhile. docs/threat-model.md.
 */
#define BALLOON_MAX_OPS_IN_FLIGHT 4096
#define BALLOON_MAX_MEM_IN_FLIGHT (512 * 1024) /* host heap bytes */
/*
 * Work per queue_notify call: at most this many chains, and no new chain
 * once this many discard ops went out in the call. The rest is picked up
 * in a later call, re-armed through the queue's notification (vdev->renotify).
 */
#define BALLOON_NOTIFY_BUDGET_CHAINS 16
#define BALLOON_NOTIFY_BUDGET_OPS    256
/* Stats: entries per buffer (the tags we keep: balloon_stats.h). */
#define BALLOON_STATS_MAX_ENTRIES 64
#define BALLOON_STAT_ENTRY_SIZE	  10 /* le16 tag + le64 value, packed */
/* stats-interval: at most one day. */
#define BALLOON_STATS_INTERVAL_MAX_S 86400

/* A queue's role; its index depends on the features negotiated. */
enum balloon_queue {
	BALLOON_Q_INFLATE = 0,
	BALLOON_Q_DEFLATE,
	BALLOON_Q_STATS,
	BALLOON_Q_FREE_PAGE,
	BALLOON_Q_REPORTING,
	BALLOON_Q__COUNT,
};

/*
 * The virtqueue index of `role` for negotiated `features`, or -1 if that
 * queue does not exist. Absent queues take no index: Linux's find_vqs skips
 * them, so with STATS_VQ and REPORTING the reporting queue is 3, with
 * REPORTING alone it is 2.
 */
int virtio_balloon__queue_index(uint64_t features, enum balloon_queue role);
/* How many queues exist for negotiated `features`. */
unsigned int virtio_balloon__num_queues(uint64_t features);

struct balloon_config {
	bool reporting;		       /* offer VIRTIO_BALLOON_F_REPORTING */
	bool deflate_on_oom;	       /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	bool free_page_hinting;	       /* offer VIRTIO_BALLOON_F_FREE_PAGE_HINT (off by default) */
	uint32_t stats_interval_s;     /* > 0: offer STATS_VQ and poll this often */
	uint64_t initial_target_bytes; /* balloon size asked for at start (num_pages * 4 KiB) */
	enum discard_method discard;   /* discard=: the method ... */
	enum discard_engine discard_engine; /* ... and what runs it (discard=sync) */
	/* Not an option: what its host runs first on the discard page worker (vmm/: its filter). */
	struct discard_worker_setup discard_worker;
	/*
	 * Not an option: the work per queue_notify call (default: the
	 * BALLOON_NOTIFY_BUDGET_* above). bench-discard --hostile sets them to
	 * UINT_MAX to measure the unbudgeted loop side by side with the real one;
	 * 0 is the default.
	 */
	unsigned int notify_budget_chains;
	unsigned int notify_budget_ops;
};

/* reporting=on, deflate-on-oom=on, free-page-hinting=off, stats off, size 0, discard=auto. */
void balloon_config__default(struct balloon_config *cfg);
/*
 * Parse "size=SIZE,deflate-on-oom=on|off,stats-interval=Ns,reporting=on|off,
 * free-page-hinting=on|off,discard=auto|madvise|remove|punch-hole|sync" on top of the defaults
 * already in *cfg. Every key optional; "" is valid. On error returns -EINVAL and writes a one-line
 * reason naming the key or value into err.
 */
int balloon_config__parse(const char *opts, struct balloon_config *cfg, char *err, size_t err_len);

/* Why a chain was refused (pushed back with len 0, nothing discarded). */
enum balloon_reject {
	BALLOON_REJ_VQ = 0,	  /* malformed chain, see the virtqueue's vq_stats */
	BALLOON_REJ_NOT_WRITABLE, /* reporting, hints: a device-readable buffer */
	BALLOON_REJ_NOT_READABLE, /* inflate/deflate/stats: a device-writable buffer */
	BALLOON_REJ_UNALIGNED,	  /* reporting, hints: address or length not 4 KiB aligned */
	BALLOON_REJ_OUT_OF_RAM,	  /* the discard queue refused a range */
	BALLOON_REJ_BAD_LENGTH,	  /* PFN array not a multiple of 4, stats not of 10,
				     a hint command not one 4-byte buffer */
	BALLOON_REJ_TOO_LARGE,	  /* more PFNs or stats entries than we accept */
	BALLOON_REJ_HOST,	  /* host-side failure (out of memory) */
	BALLOON_REJ_HOST_MEMORY,  /* a buffer the device reads could not be made present:
				     hugetlbfs with the host's pool empty (guest_mem__prefault) */
	BALLOON_REJ__COUNT,
};

const char *balloon_reject__name(enum balloon_reject r);

struct balloon_guest_stats {
	uint64_t val[BALLOON_STATS_TAGS];
	uint32_t valid; /* bit t: val[t] was sent in the latest buffer */
	uint64_t updates;
	uint64_t last_update_ns; /* CLOCK_MONOTONIC */
};

/* Cumulative counters. */
struct balloon_stats {
	uint64_t reports;	 /* reporting chains sent to the discard queue */
	uint64_t report_buffers; /* buffers (ranges) in them */
	uint64_t bytes_reported; /* what the guest said was free */
	uint64_t reports_done;	 /* used entries pushed after the discards completed */
	uint64_t poison_skipped; /* reports acknowledged without discard: poison_val != 0 */
	uint64_t bytes_poison_skipped;
	uint64_t rejected[BALLOON_REJ__COUNT];
	uint64_t inflate_chains;
	uint64_t inflate_pages; /* distinct valid PFNs discarded */
	uint64_t inflate_invalid_pfns;
	uint64_t inflate_duplicate_pfns; /* a PFN repeated in one chain: discarded once */
	uint64_t deflate_chains;
	uint64_t deflate_pages;
	uint64_t deflate_unrequested_pages; /* deflated while actual <= num_pages (OOM) */
	uint64_t stats_buffers;		    /* stats buffers parsed */
	uint64_t stats_unknown_tags;
	uint64_t stats_extra_buffers; /* a second buffer while one was held */
	uint64_t config_ro_writes;    /* writes to num_pages / cmd id, or poison w/o feature */
	uint64_t target_changes;
	uint64_t broken_rings;		  /* VQ_POP_BROKEN -> NEEDS_RESET */
	uint64_t completions_after_reset; /* discards finished during reset: not pushed */
	uint64_t ring_overlaps;		  /* chains naming pages of the queues' rings */
	uint64_t bytes_ring_kept;	  /* ... kept, not discarded (balloon_rings.h) */
	uint64_t chains_waited;		  /* held: the discard queue was at its limits */
	uint64_t notify_yields;		  /* a notify call stopped at its budget, re-armed */
	/* Free page hinting (balloon_hinting.c). */
	uint64_t hint_runs;	       /* runs the host started (a new command id) */
	uint64_t hint_cmds;	       /* command buffers from the driver */
	uint64_t hint_chains;	       /* hint chains sent to the discard queue */
	uint64_t hint_buffers;	       /* buffers (ranges) in them */
	uint64_t bytes_hinted;	       /* their bytes */
	uint64_t hints_done;	       /* hint chains acknowledged after their discards */
	uint64_t bytes_hint_discarded; /* their bytes */
	uint64_t hints_ignored;	       /* hints not for the current run: acknowledged, kept */
	uint64_t bytes_hints_ignored;  /* their bytes */
	uint64_t hint_done_deferred;   /* DONE waited for hint discards still in flight */
	uint64_t hint_kicks_direct;    /* free_page_vq kicks served on the kicking vCPU's thread */
	struct balloon_guest_stats guest;
};

/* The cookie of one chain in the discard queue: where to push it when done. */
struct balloon_inflight {
	struct virtio_balloon *b;
	uint16_t qidx;
	uint16_t head;
	enum balloon_queue role;
	uint64_t bytes; /* hints: what the chain named, for the counters */
};

/*
 * A chain of a discarding queue (inflate, reporting) on its way to the
 * discard queue. Its ranges are built here; if the queue is at its limits
 * the chain is held here and its virtqueue not popped further until it
 * went out (from a later notify call, re-armed by the completions).
 */
struct balloon_pending {
	struct discard_range *ranges; /* BALLOON_MAX_RANGES_PER_CHAIN entries */
	unsigned int nr_ranges;
	bool held;
	uint16_t head;
	uint32_t nr_bufs; /* for the counters, once it went out */
	uint64_t bytes;
};

/*
 * Free page hinting (5.5.6.4), as the host sees it: Firecracker's
 * GET /balloon/hinting/status fields.
 */
struct balloon_hint_status {
	uint32_t host_cmd;   /* what the host asked for last: a run id >= 2, STOP or DONE */
	uint32_t guest_cmd;  /* the last command id the driver sent, if guest_cmd_seen */
	bool guest_cmd_seen; /* since the device was activated */
};

/* Hinting's state (balloon_hinting.c), under vdev.lock like the rest. */
struct balloon_hinting {
	struct balloon_hint_status st;
	uint32_t last_run_id;  /* the last id handed out: ids are never reused */
	bool ack_on_stop;      /* the driver's STOP makes the device answer DONE */
	bool done_deferred;    /* DONE asked for, published once `inflight` is 0 */
	unsigned int inflight; /* hint chains in the discard queue */
};

/*
 * What the balloon asks of its host, which owns the fds and the event loop
 * (vmm/vm_devices.c; the tests' rigs). Called with vdev.lock held, on the
 * thread that activates or resets the device or sets the stats interval.
 */
struct balloon_host_ops {
	/*
	 * At activation. Until detach, call virtio_balloon__discards_ready()
	 * whenever the discard queue's eventfd (virtio_balloon__discard_eventfd())
	 * is readable, and virtio_balloon__stats_tick() whenever the stats
	 * timer fires. 0 or -errno after a log line.
	 */
	int (*attach)(void *opaque);
	/* At reset and exit: stop both. */
	void (*detach)(void *opaque);
	/* Fire the stats timer every interval_s seconds from now; 0 stops it. */
	void (*set_stats_timer)(void *opaque, uint32_t interval_s);
};

struct virtio_balloon {
	struct virtio_device vdev; /* vdev.priv == this */
	struct balloon_config cfg;
	const struct guest_mem *mem;
	struct discard_queue dq;
	uint32_t stats_interval_s;
	/* Its host: NULL (a test driving the model alone) delivers nothing. */
	const struct balloon_host_ops *host;
	void *host_opaque;

	/* Config space (5.5.4), host byte order here, little-endian on the wire. */
	uint32_t num_pages;
	uint32_t actual;
	uint32_t free_page_hint_cmd_id;
	uint32_t poison_val;

	/* Between activate and reset. */
	bool active;
	bool resetting;
	bool host_attached;	    /* attached to its host (host->attach succeeded) */
	int qidx[BALLOON_Q__COUNT]; /* queue index per role, -1 if absent */
	bool stats_held;	    /* the driver's stats buffer, kept until the next tick */
	uint16_t stats_head;

	/* Cookies for discard completions, one per (queue, head). */
	struct balloon_inflight inflight[BALLOON_Q__COUNT][BALLOON_QUEUE_SIZE];
	struct vq_chain *chain; /* scratch for pop */
	struct balloon_hinting hint;
	/* Inflate's, reporting's and hinting's chain on its way (ranges NULL for the others). */
	struct balloon_pending pending[BALLOON_Q__COUNT];
	struct discard_range *ranges_mem; /* the pending ranges, one allocation */

	struct balloon_stats stats;
};

/*
 * Set up the device model and its discard queue (which picks and verifies
 * the discard method, logged). vdev.lock is the transport's: call
 * virtio_mmio__init() on b->vdev afterwards; give it its host before
 * DRIVER_OK. 0 or -errno with a log line saying what to change.
 */
int virtio_balloon__init(struct virtio_balloon *b, const struct balloon_config *cfg,
			 const struct guest_mem *mem);
/* Give b its host (before DRIVER_OK). */
void virtio_balloon__set_host(struct virtio_balloon *b, const struct balloon_host_ops *host,
			      void *opaque);
/* Drain in-flight discards and free everything. The device must be quiet. */
void virtio_balloon__exit(struct virtio_balloon *b);

/* The host, on the device thread: the discard queue's eventfd is readable. Takes vdev.lock. */
void virtio_balloon__discards_ready(struct virtio_balloon *b);
/* The host, on the device thread: the stats timer fired. Takes vdev.lock. */
void virtio_balloon__stats_tick(struct virtio_balloon *b);
/* Whether the device offers STATS_VQ (fixed at init: stats-interval > 0). */
bool virtio_balloon__stats_offered(const struct virtio_balloon *b);

/*
 * Ask the guest to hold `bytes` in its balloon (num_pages = bytes / 4 KiB,
 * rounded down) and raise a config interrupt. -ERANGE if more than guest
 * RAM. Takes vdev.lock: call from any thread but the device's callbacks.
 */
int virtio_balloon__set_target(struct virtio_balloon *b, uint64_t bytes);
/*
 * Stats polling interval; 0 stops polling. -EOPNOTSUPP if the device was
 * created without stats (STATS_VQ not offered). Takes vdev.lock.
 */
int virtio_balloon__set_stats_interval(struct virtio_balloon *b, uint32_t secs);
/* What changes while the guest runs, read in one critical section so that it agrees. */
struct balloon_status {
	uint32_t stats_interval_s; /* 0: not polling */
	uint64_t target_bytes;	   /* num_pages * 4 KiB: what the host asks for */
	uint64_t actual_bytes;	   /* actual * 4 KiB: what the driver says it holds */
	struct balloon_stats stats;
	struct discard_stats discard; /* its discard queue's */
	struct balloon_hint_status hinting;
};

/* Takes vdev.lock. */
void virtio_balloon__get_status(struct virtio_balloon *b, struct balloon_status *out);

/* Whether the device offers FREE_PAGE_HINT (fixed at init: free-page-hinting=on). */
bool virtio_balloon__hinting_offered(const struct virtio_balloon *b);
/*
 * Start a free page hinting run (Firecracker's PATCH /balloon/hinting/start):
 * a new command id (>= 2, never reused) in config space and a config
 * interrupt. With acknowledge_on_stop, the driver's STOP at the end of its
 * run is answered with DONE, as stop() does. -EOPNOTSUPP if the device does
 * not offer hinting, -ENODEV before the driver set it up. Takes vdev.lock.
 */
int virtio_balloon__hinting_start(struct virtio_balloon *b, bool acknowledge_on_stop);
/*
 * End the run: the driver may take its hinted pages back
 * (PATCH /balloon/hinting/stop). DONE reaches config space only once every
 * hint discard in flight completed (5.5.6.4.2: nothing may change a hinted
 * page after DONE). Same errors as start. Takes vdev.lock.
 */
int virtio_balloon__hinting_stop(struct virtio_balloon *b);

/* What its discard queue chose at init (fixed from then on). */
static inline void virtio_balloon__discard_info(const struct virtio_balloon *b,
						struct discard_info *out)
{
	discard_queue__describe(&b->dq, out);
}

/* The discard queue's eventfd, which the host watches from attach to detach. */
static inline int virtio_balloon__discard_eventfd(const struct virtio_balloon *b)
{
	return discard_queue__eventfd(&b->dq);
}

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_fc_flow: the guest half of Firecracker's balloon workflow, driven
 * from the host by tests/kvm/host/fc_flow.py through the API alone:
 * mini-vmm starts with only an API socket, the host configures machine,
 * boot source and balloon (stats every second, free page reporting) and
 * starts the instance. This guest then needs exactly what that balloon
 * must offer (VERSION_1, STATS_VQ, DEFLATE_ON_OOM, REPORTING: a
 * configuration that did not reach the device fails negotiation), keeps a
 * statistics buffer with known figures on the stats queue (given back and
 * refilled at every tick), inflates to the target the host sets, reports a
 * free range, and idles serving statistics until the host's Shutdown
 * stops the VM (exit status 0): it prints PASS itself, before that.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_fc_flow";

#define QUEUE_SIZE    32
#define STATS_QSIZE   4
#define BALLOON_GPA   (16 * TINY_MIB) /* inflated pages */
#define TARGET_PAGES  1024	      /* 4 MiB: the host's PATCH /balloon amount_mib 4 */
#define PFNS_PER_BUF  256
#define REPORT_GPA    (64 * TINY_MIB) /* the range reported free */
#define REPORT_LEN    (4 * TINY_MIB)
#define FREE_BYTES    (100 * TINY_MIB) /* what the stats say: the host checks them */
#define TOTAL_BYTES   (120 * TINY_MIB)
#define IDLE_LIMIT_MS 120000

/* virtio 1.2 section 5.5.6.3: statistics tags. */
#define VIRTIO_BALLOON_S_MEMFREE 4
#define VIRTIO_BALLOON_S_MEMTOT	 5

struct stat_entry {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));

static const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_STATS_VQ) |
				 BIT64(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
				 BIT64(VIRTIO_BALLOON_F_REPORTING);

static struct tvq inflateq, statsq, reportq;
static struct stat_entry stats[2];
static uint32_t pfns[PFNS_PER_BUF];
static unsigned int stats_sent;

static void send_stats(void)
{
	const struct tbuf buf = {(uint64_t)stats, sizeof(stats), false};

	stats[0] = (struct stat_entry){VIRTIO_BALLOON_S_MEMFREE, FREE_BYTES};
	stats[1] = (struct stat_entry){VIRTIO_BALLOON_S_MEMTOT, TOTAL_BYTES};
	tvq_publish(&statsq, tvq_add_chain(&statsq, &buf, 1));
	tvq_kick(&statsq);
	stats_sent++;
}

/* The device gave the buffer back (a tick: it wants fresh figures): refill it. */
static void serve_stats(void)
{
	uint32_t id, len;

	if (*(volatile uint16_t *)&statsq.used->idx == statsq.used_seen)
		return;
	TINY_CHECK(tvq_wait_used(&statsq, &id, &len, 0) == 0, "stats: used entry vanished");
	send_stats();
}

static void idle_ms(uint32_t ms)
{
	uint32_t t = tiny_now_ms();

	while (tiny_now_ms() - t < ms)
		cpu_relax();
}

static void inflate_to_target(void)
{
	uint32_t start = tiny_now_ms();

	while (tvm_balloon_target() != TARGET_PAGES) {
		serve_stats();
		idle_ms(5);
		TINY_CHECK(tiny_now_ms() - start < TVQ_WAIT_MS,
			   "no balloon target of %u pages after %u ms (it is %u)", TARGET_PAGES,
			   TVQ_WAIT_MS, tvm_balloon_target());
	}
	tvm_write(VM_INTERRUPT_ACK, VM_INT_CONFIG);
	for (unsigned int chain = 0; chain < TARGET_PAGES / PFNS_PER_BUF; chain++) {
		const struct tbuf buf = {(uint64_t)pfns, sizeof(pfns), false};

		for (unsigned int i = 0; i < PFNS_PER_BUF; i++)
			pfns[i] = (uint32_t)((BALLOON_GPA >> BALLOON_PFN_SHIFT) +
					     chain * PFNS_PER_BUF + i);
		tvq_roundtrip(&inflateq, &buf, 1, "inflate");
	}
	tvm_write(VM_CONFIG + BALLOON_CFG_ACTUAL, TARGET_PAGES);
	tiny_printf("fc_flow: inflated %u pages\n", TARGET_PAGES);
}

static void report_free_range(void)
{
	const struct tbuf buf = {REPORT_GPA, REPORT_LEN, true};
	uint64_t left;

	tiny_fill_pages(REPORT_GPA, REPORT_LEN, 7);
	tvq_roundtrip(&reportq, &buf, 1, "report"); /* its used length is not ours to judge */
	left = tiny_count_nonzero(REPORT_GPA, REPORT_LEN);
	TINY_CHECK(left == 0, "report: %lu bytes still hold data after the ack", left);
	tiny_printf("fc_flow: report acked, 4 MiB zeroed\n");
}

int tiny_main(const struct tiny_boot *boot)
{
	uint32_t start;

	TINY_CHECK(tiny_ram_contains(boot, BALLOON_GPA, REPORT_GPA + REPORT_LEN - BALLOON_GPA),
		   "guest RAM does not cover [16, 68) MiB: mem_size_mib 128");
	TINY_CHECK(tvm_find(VIRTIO_ID_BALLOON) == 0, "no virtio-balloon (PUT /balloon missing?)");
	TINY_CHECK((tvm_device_features() & features) == features,
		   "the balloon offers 0x%lx, lacking some of 0x%lx: the API's configuration did "
		   "not reach the device",
		   tvm_device_features(), features);
	tvm_negotiate_or_fail(features);
	tvq_setup(&inflateq, 0, 0, QUEUE_SIZE);
	tvq_setup(&statsq, 1, 2, STATS_QSIZE);
	tvq_setup(&reportq, 2, balloon_reporting_vq(features), QUEUE_SIZE);
	tvm_driver_ok();
	send_stats();
	tiny_printf("fc_flow: ready, target %u pages\n", tvm_balloon_target());

	inflate_to_target();
	report_free_range();
	/* Give the host a refill or two to see (stats_polling_interval_s 1). */
	start = tiny_now_ms();
	while (stats_sent < 3 && tiny_now_ms() - start < TVQ_WAIT_MS) {
		serve_stats();
		idle_ms(5);
	}
	TINY_CHECK(stats_sent >= 3, "stats buffer not given back within %u ms", TVQ_WAIT_MS);
	tiny_printf("fc_flow: stats refilled %u times\n", stats_sent - 1);
	tiny_printf("PASS %s\n", tiny_name);
	/*
	 * The host pauses (PATCH /vm): the ticks must stop, then go on after
	 * Resumed; then it stops the VM (PUT /actions Shutdown).
	 */
	start = tiny_now_ms();
	for (unsigned int tick = 1; tiny_now_ms() - start < IDLE_LIMIT_MS; tick++) {
		uint32_t t = tiny_now_ms();

		tiny_printf("fc_flow: tick %u\n", tick);
		while (tiny_now_ms() - t < 100) {
			serve_stats();
			idle_ms(5);
		}
	}
	tiny_fail("no Shutdown from the host within %u ms", IDLE_LIMIT_MS);
	return 1;
}

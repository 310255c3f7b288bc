// SPDX-License-Identifier: GPL-2.0
/*
 * tiny_mmio_probe: the virtio-mmio transport against a driver that follows
 * the spec (virtio 1.2 sections 2.1, 2.2, 3.1 and 4.2) and one that does
 * not. Identity registers, feature negotiation, then hostile writes: features
 * without VERSION_1 or with bits never offered, queue registers outside the
 * FEATURES_OK..DRIVER_OK window, QueueSel past the last queue, QueueNum not a
 * power of two, illegal status transitions, config access out of range,
 * garbage in every register. After all that a clean reset and handshake must
 * give a working device: one free page report goes through end to end.
 */
#include "tiny_virtio.h"

const char tiny_name[] = "tiny_mmio_probe";

#define PROBE_REPORT_GPA (16 * TINY_MIB) /* 2 MiB-aligned, reported at the end */
#define PROBE_REPORT_LEN (2 * TINY_MIB)
#define PROBE_QUEUE_SIZE 32

static uint64_t rng = 0x243f6a8885a308d3UL;

/* xorshift64: deterministic garbage, so a failure reproduces. */
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void expect_status(uint32_t want, const char *what)
{
	uint32_t status = tvm_read(VM_STATUS);

	TINY_CHECK(status == want, "%s: Status reads 0x%x, expected 0x%x", what, status, want);
}

static void check_identity(const char *when)
{
	uint32_t magic = tvm_read(VM_MAGIC_VALUE);
	uint32_t version = tvm_read(VM_VERSION);
	uint32_t device_id = tvm_read(VM_DEVICE_ID);

	TINY_CHECK(magic == VM_MAGIC, "%s: MagicValue 0x%x", when, magic);
	TINY_CHECK(version == VM_VERSION_MODERN, "%s: Version %u, expected 2", when, version);
	TINY_CHECK(device_id == VIRTIO_ID_BALLOON, "%s: DeviceID %u, expected %u", when, device_id,
		   VIRTIO_ID_BALLOON);
}

/* Section 1: what the device is and what it offers. */
static uint64_t probe_identity(uint32_t *vendor)
{
	uint64_t offered;

	TINY_CHECK(tvm_find(VIRTIO_ID_BALLOON) == 0,
		   "no virtio-mmio window at 0x%lx with DeviceID %u (MagicValue there: 0x%x); "
		   "was mini-vmm started with --balloon-reporting?",
		   TINY_VIRTIO_MMIO, VIRTIO_ID_BALLOON, mmio_read32(TINY_VIRTIO_MMIO));
	check_identity("identity");
	*vendor = tvm_read(VM_VENDOR_ID);
	tiny_printf("%s: device at 0x%lx: magic 0x%x version %u device id %u vendor 0x%x\n",
		    tiny_name, tvm_base, tvm_read(VM_MAGIC_VALUE), tvm_read(VM_VERSION),
		    tvm_read(VM_DEVICE_ID), *vendor);

	/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, then read the features. */
	tvm_write(VM_STATUS, 0);
	expect_status(0, "reset");
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE);
	expect_status(VS_ACKNOWLEDGE, "ACKNOWLEDGE");
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE | VS_DRIVER);
	expect_status(VS_ACKNOWLEDGE | VS_DRIVER, "DRIVER");
	offered = tvm_device_features();
	tiny_printf("%s: device features 0x%lx\n", tiny_name, offered);
	TINY_CHECK(offered & BIT64(VIRTIO_F_VERSION_1), "VERSION_1 (bit 32) not offered");
	TINY_CHECK(offered & BIT64(VIRTIO_BALLOON_F_REPORTING),
		   "VIRTIO_BALLOON_F_REPORTING (bit 5) not offered");
	/* Words past the defined feature bits read 0 (4.2.2: DeviceFeaturesSel). */
	tvm_write(VM_DEVICE_FEATURES_SEL, 2);
	TINY_CHECK(tvm_read(VM_DEVICE_FEATURES) == 0, "DeviceFeatures word 2 reads 0x%x",
		   tvm_read(VM_DEVICE_FEATURES));
	tvm_write(VM_DEVICE_FEATURES_SEL, 0xffffffff);
	TINY_CHECK(tvm_read(VM_DEVICE_FEATURES) == 0, "DeviceFeatures word 0xffffffff reads 0x%x",
		   tvm_read(VM_DEVICE_FEATURES));
	return offered;
}

/* Section 2: feature sets the device must refuse at FEATURES_OK (2.2.1, 6.1). */
static void probe_bad_features(uint64_t offered)
{
	uint64_t unoffered = 0;
	uint32_t status;

	/* A modern device refuses a driver that does not accept VERSION_1. */
	status = tvm_negotiate(BIT64(VIRTIO_BALLOON_F_REPORTING));
	TINY_CHECK(!(status & VS_FEATURES_OK),
		   "FEATURES_OK accepted without VERSION_1 (Status 0x%x)", status);
	status = tvm_negotiate(0);
	TINY_CHECK(!(status & VS_FEATURES_OK), "FEATURES_OK accepted with no features (0x%x)",
		   status);

	/* Nor may the driver accept a feature the device did not offer. */
	for (unsigned int bit = 0; bit < 24; bit++) {
		if (!(offered & BIT64(bit))) {
			unoffered = BIT64(bit);
			break;
		}
	}
	if (unoffered) {
		status = tvm_negotiate(BIT64(VIRTIO_F_VERSION_1) | unoffered);
		TINY_CHECK(!(status & VS_FEATURES_OK),
			   "FEATURES_OK accepted with feature 0x%lx never offered (Status 0x%x)",
			   unoffered, status);
	}
	tiny_printf("%s: FEATURES_OK refused without VERSION_1 and with unoffered bit 0x%lx\n",
		    tiny_name, unoffered);

	/*
	 * VERSION_1 alone is a valid subset: FEATURES_OK sticks, and with no
	 * REPORTING only inflateq and deflateq exist (5.5.2).
	 */
	tvm_negotiate_or_fail(BIT64(VIRTIO_F_VERSION_1));
	tvm_write(VM_QUEUE_SEL, 1);
	TINY_CHECK(tvm_read(VM_QUEUE_NUM_MAX) != 0, "VERSION_1 only: deflateq has QueueNumMax 0");
	tvm_write(VM_QUEUE_SEL, 2);
	TINY_CHECK(tvm_read(VM_QUEUE_NUM_MAX) == 0,
		   "VERSION_1 only: queue 2 exists (QueueNumMax %u) though REPORTING was not "
		   "negotiated",
		   tvm_read(VM_QUEUE_NUM_MAX));
}

/* Section 3: status writes that skip or undo steps of 3.1.1 are refused. */
static void probe_bad_status(void)
{
	const uint32_t ack_drv = VS_ACKNOWLEDGE | VS_DRIVER;

	tvm_write(VM_STATUS, 0);
	expect_status(0, "reset");
	tvm_write(VM_STATUS, VS_DRIVER_OK);
	expect_status(0, "DRIVER_OK straight after reset");
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK);
	expect_status(0, "everything at once after reset");

	tvm_write(VM_STATUS, VS_ACKNOWLEDGE);
	tvm_write(VM_STATUS, ack_drv);
	expect_status(ack_drv, "ACKNOWLEDGE|DRIVER");
	tvm_write(VM_STATUS, ack_drv | VS_DRIVER_OK);
	expect_status(ack_drv, "DRIVER_OK before FEATURES_OK");
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE);
	expect_status(ack_drv, "clearing DRIVER");
	tvm_write(VM_STATUS, ack_drv | VS_DEVICE_NEEDS_RESET);
	expect_status(ack_drv, "driver setting DEVICE_NEEDS_RESET");
	tiny_printf("%s: illegal status transitions refused\n", tiny_name);
}

/*
 * Section 4, still at ACKNOWLEDGE|DRIVER: queue registers before
 * FEATURES_OK are ignored (4.2.3.2 comes after 3.1.1 step 6).
 */
static void probe_early_queue_writes(void)
{
	uint64_t desc, avail, used;

	tvq_slot_rings(0, &desc, &avail, &used);
	tvm_write(VM_QUEUE_SEL, 0);
	tvm_write(VM_QUEUE_NUM, 16);
	tvm_write(VM_QUEUE_DESC_LOW, (uint32_t)desc);
	tvm_write(VM_QUEUE_DRIVER_LOW, (uint32_t)avail);
	tvm_write(VM_QUEUE_DEVICE_LOW, (uint32_t)used);
	tvm_write(VM_QUEUE_READY, 1);
	TINY_CHECK(tvm_read(VM_QUEUE_READY) == 0,
		   "QueueReady set before FEATURES_OK (queue registers written too early must be "
		   "ignored)");
	tvm_write(VM_QUEUE_NOTIFY, 0);
	expect_status(VS_ACKNOWLEDGE | VS_DRIVER, "queue writes before FEATURES_OK");
	tiny_printf("%s: queue registers before FEATURES_OK ignored\n", tiny_name);
}

/* Section 5: the proper handshake, hostile queue selection and sizes. */
static void probe_queues(struct tvq *q, unsigned int rvq)
{
	static const uint32_t bad_sels[] = {3, 4, 7, 8, 31, 1024, 0xffff, 0x10000, 0xffffffff};
	const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_REPORTING);
	uint32_t max, desc_lo;

	tvm_write_driver_features(features);
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK);
	expect_status(VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK,
		      "FEATURES_OK with VERSION_1|REPORTING");
	/* After FEATURES_OK the features are fixed (2.2.1): a late write changes nothing. */
	tvm_write_driver_features(0);

	for (unsigned int i = 0; i < balloon_num_queues(features); i++) {
		tvm_write(VM_QUEUE_SEL, i);
		max = tvm_read(VM_QUEUE_NUM_MAX);
		TINY_CHECK(max && !(max & (max - 1)) && max <= 32768,
			   "queue %u: QueueNumMax %u is not a power of two in 1..32768", i, max);
		TINY_CHECK(tvm_read(VM_QUEUE_READY) == 0, "queue %u: QueueReady before setup", i);
	}
	for (unsigned int i = 0; i < sizeof(bad_sels) / sizeof(bad_sels[0]); i++) {
		tvm_write(VM_QUEUE_SEL, bad_sels[i]);
		TINY_CHECK(tvm_read(VM_QUEUE_NUM_MAX) == 0,
			   "QueueSel %u (past the last queue, %u): QueueNumMax %u", bad_sels[i],
			   balloon_num_queues(features) - 1, tvm_read(VM_QUEUE_NUM_MAX));
		tvm_write(VM_QUEUE_NUM, 16);
		tvm_write(VM_QUEUE_READY, 1);
		TINY_CHECK(tvm_read(VM_QUEUE_READY) == 0, "QueueSel %u: QueueReady reads 1",
			   bad_sels[i]);
		tvm_write(VM_QUEUE_NOTIFY, bad_sels[i]);
	}
	tiny_printf("%s: %u queues; QueueSel past the last gives QueueNumMax 0\n", tiny_name,
		    balloon_num_queues(features));

	/*
	 * QueueNum must be a power of two no larger than QueueNumMax (2.7,
	 * 4.2.2): the bad values are ignored and the good 32 stays. A device
	 * that took one would fail activation or walk a ring of the wrong size,
	 * and the report at the end would not come back.
	 */
	tvq_prepare(q, 0, rvq, PROBE_QUEUE_SIZE);
	max = tvm_read(VM_QUEUE_NUM_MAX);
	tvm_write(VM_QUEUE_NUM, PROBE_QUEUE_SIZE + 1);
	tvm_write(VM_QUEUE_NUM, 24);
	tvm_write(VM_QUEUE_NUM, 0);
	tvm_write(VM_QUEUE_NUM, max * 2);
	tvm_write(VM_QUEUE_NUM, 0xffffffff);
	tvq_ready(q);
	/* With QueueReady set the queue's layout is fixed: these are ignored too. */
	tvm_write(VM_QUEUE_NUM, PROBE_QUEUE_SIZE / 2);
	desc_lo = (uint32_t)(uint64_t)q->desc;
	tvm_write(VM_QUEUE_DESC_LOW, desc_lo + 0x1000);
	tvm_write(VM_QUEUE_DEVICE_LOW, 0xfff00000);
	tvm_write(VM_QUEUE_DEVICE_HIGH, 0xffffffff);
	TINY_CHECK(tvm_read(VM_QUEUE_READY) == 1, "QueueReady dropped by queue register writes");
}

/* Section 6: config space (4.2.2 Config, 5.5.4) and reads out of its range. */
static void probe_config(void)
{
	static const uint32_t oob[] = {0x110, 0x140, 0x200, 0x800, 0xff0, 0xffc};
	uint32_t gen = tvm_read(VM_CONFIG_GENERATION);
	uint32_t num_pages = tvm_read(VM_CONFIG + BALLOON_CFG_NUM_PAGES);
	uint32_t actual = tvm_read(VM_CONFIG + BALLOON_CFG_ACTUAL);

	tiny_printf("%s: config num_pages %u actual %u generation %u\n", tiny_name, num_pages,
		    actual, gen);
	/* The balloon's config is 4 le32 fields (5.5.4): 16 bytes, nothing behind it. */
	for (unsigned int i = 0; i < sizeof(oob) / sizeof(oob[0]); i++) {
		mmio_write32(tvm_base + oob[i], 0xdeadbeef);
		TINY_CHECK(mmio_read32(tvm_base + oob[i]) == 0,
			   "config read at 0x%x (out of range) gives 0x%x", oob[i],
			   mmio_read32(tvm_base + oob[i]));
	}
	TINY_CHECK(mmio_read64(tvm_base + 0xff8) == 0, "8-byte read at 0xff8 is not 0");
	TINY_CHECK(mmio_read8(tvm_base + 0xfff) == 0, "1-byte read at 0xfff is not 0");
	/* Narrow reads inside the config are allowed (4.2.2.2) and agree with wide ones. */
	TINY_CHECK(mmio_read8(tvm_base + VM_CONFIG) == (num_pages & 0xff),
		   "1-byte config read disagrees");
	TINY_CHECK(mmio_read16(tvm_base + VM_CONFIG + 2) == (num_pages >> 16),
		   "2-byte config read disagrees");
	/* The driver writes actual (5.5.6); it reads back. */
	tvm_write(VM_CONFIG + BALLOON_CFG_ACTUAL, 0);
	TINY_CHECK(tvm_read(VM_CONFIG + BALLOON_CFG_ACTUAL) == 0, "actual does not read back 0");
	TINY_CHECK(tvm_read(VM_CONFIG + BALLOON_CFG_NUM_PAGES) == num_pages,
		   "num_pages changed by a write to actual");
	tiny_printf("%s: config reads out of range give 0\n", tiny_name);
}

/* Section 7: garbage everywhere, in every width. */
static void probe_garbage(void)
{
	static const uint32_t ro[] = {VM_MAGIC_VALUE,
				      VM_VERSION,
				      VM_DEVICE_ID,
				      VM_VENDOR_ID,
				      VM_DEVICE_FEATURES,
				      VM_QUEUE_NUM_MAX,
				      VM_INTERRUPT_STATUS,
				      0x018,
				      0x01c,
				      0x028,
				      0x03c,
				      0x040,
				      0x048,
				      0x04c,
				      0x054,
				      0x068,
				      0x074,
				      0x0c0,
				      0x0f8,
				      VM_CONFIG_GENERATION};
	unsigned int writes = 0;

	for (unsigned int i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		tvm_write(ro[i], 0xffffffff);
		tvm_write(ro[i], 0xdeadbeef);
		writes += 2;
	}
	check_identity("after writes to read-only registers");

	for (unsigned int i = 0; i < 400; i++) {
		uint64_t r = rnd();
		uint32_t off = (uint32_t)(r >> 32) & 0x1fc; /* registers and the start of config */
		uint32_t val = (uint32_t)r;

		/* Some values are more interesting than random ones. */
		switch ((r >> 44) & 7) {
		case 0:
			val = 0;
			break;
		case 1:
			val = 0xffffffff;
			break;
		case 2:
			val &= 0xff;
			break;
		default:
			break;
		}
		switch ((r >> 48) & 7) {
		case 0:
			mmio_write8(tvm_base + off + ((r >> 52) & 3), (uint8_t)val);
			break;
		case 1:
			mmio_write16(tvm_base + off + ((r >> 52) & 2), (uint16_t)val);
			break;
		case 2:
			mmio_write64(tvm_base + (off & ~7u), (uint64_t)val << 32 | val);
			break;
		case 3:
			(void)mmio_read8(tvm_base + off + ((r >> 52) & 3));
			(void)mmio_read16(tvm_base + off + 1);
			(void)mmio_read64(tvm_base + off);
			break;
		default:
			tvm_write(off, val);
			break;
		}
		writes++;
	}
	check_identity("after random garbage");
	tiny_printf("%s: %u garbage accesses survived\n", tiny_name, writes);
}

/*
 * Section 8: DRIVER_OK over a queue whose rings the device cannot use. The
 * driver is wrong (2.7: rings in memory, aligned), but the device must not
 * touch memory outside guest RAM, nor leave the driver waiting on a queue it
 * silently ignores: it refuses DRIVER_OK or sets DEVICE_NEEDS_RESET.
 */
enum bad_ring {
	RING_NOTHING_WRITTEN, /* QueueReady without QueueNum or addresses */
	RING_OUTSIDE_RAM,
	RING_CROSSES_RAM_END,
	RING_MISALIGNED,
	RING__COUNT,
};

static void probe_bad_rings(uint64_t features, unsigned int rvq, uint64_t ram_end)
{
	static const char *const names[RING__COUNT] = {
		[RING_NOTHING_WRITTEN] = "QueueReady with no QueueNum or ring addresses",
		[RING_OUTSIDE_RAM] = "rings outside RAM",
		[RING_CROSSES_RAM_END] = "used ring crossing the end of RAM",
		[RING_MISALIGNED] = "descriptor table not 16-byte aligned",
	};

	for (unsigned int c = 0; c < RING__COUNT; c++) {
		uint64_t desc, avail, used;
		uint32_t status;

		tvm_negotiate_or_fail(features);
		tvq_slot_rings(2, &desc, &avail, &used);
		switch (c) {
		case RING_OUTSIDE_RAM:
			desc = 0x7f00000000UL;
			avail = 0x7f00001000UL;
			used = 0x7f00002000UL;
			break;
		case RING_CROSSES_RAM_END:
			used = ram_end - 64; /* the used ring of 32 entries is 262 bytes */
			break;
		case RING_MISALIGNED:
			desc += 8;
			break;
		default:
			break;
		}
		tvm_write(VM_QUEUE_SEL, rvq);
		if (c != RING_NOTHING_WRITTEN) {
			tvm_write(VM_QUEUE_NUM, PROBE_QUEUE_SIZE);
			tvm_write(VM_QUEUE_DESC_LOW, (uint32_t)desc);
			tvm_write(VM_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
			tvm_write(VM_QUEUE_DRIVER_LOW, (uint32_t)avail);
			tvm_write(VM_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
			tvm_write(VM_QUEUE_DEVICE_LOW, (uint32_t)used);
			tvm_write(VM_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
		}
		tvm_write(VM_QUEUE_READY, 1);
		tvm_write(VM_STATUS, VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK);
		status = tvm_read(VM_STATUS);
		tvm_write(VM_QUEUE_NOTIFY, rvq);
		check_identity(names[c]);
		if (c != RING_NOTHING_WRITTEN)
			TINY_CHECK(
				(status & VS_DEVICE_NEEDS_RESET) || !(status & VS_DRIVER_OK),
				"%s: DRIVER_OK accepted (Status 0x%x) on rings the device cannot "
				"use",
				names[c], status);
		/* 2.1.2: NEEDS_RESET after DRIVER_OK comes with a config change notification. */
		if ((status & VS_DEVICE_NEEDS_RESET) && (status & VS_DRIVER_OK))
			TINY_CHECK(tvm_read(VM_INTERRUPT_STATUS) & VM_INT_CONFIG,
				   "%s: DEVICE_NEEDS_RESET without a config interrupt (0x%x)",
				   names[c], tvm_read(VM_INTERRUPT_STATUS));
		/* 2.4: a reset returns the device to its initial state, nothing pending. */
		tvm_write(VM_STATUS, 0);
		expect_status(0, names[c]);
		TINY_CHECK(tvm_read(VM_INTERRUPT_STATUS) == 0,
			   "%s: InterruptStatus 0x%x after reset", names[c],
			   tvm_read(VM_INTERRUPT_STATUS));
		tiny_printf("%s: DRIVER_OK with %s: Status 0x%x\n", tiny_name, names[c], status);
	}
}

/* One free page report of 2 MiB: the pattern must be gone once it is acked. */
static void report_once(struct tvq *q, const char *what)
{
	const struct tbuf buf = {PROBE_REPORT_GPA, PROBE_REPORT_LEN, true};
	uint64_t left;

	tiny_fill_pages(PROBE_REPORT_GPA, PROBE_REPORT_LEN, 1);
	(void)tvq_roundtrip(q, &buf, 1, what);
	left = tiny_count_nonzero(PROBE_REPORT_GPA, PROBE_REPORT_LEN);
	TINY_CHECK(left == 0, "%s: %lu of %lu reported pages still hold data", what, left,
		   PROBE_REPORT_LEN / TINY_PAGE_SIZE);
	tvm_expect_interrupt(VM_INT_USED_RING, what);
}

int tiny_main(const struct tiny_boot *boot)
{
	const uint64_t features = BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_BALLOON_F_REPORTING);
	const unsigned int rvq = balloon_reporting_vq(features);
	struct tvq q;
	uint64_t offered;
	uint32_t vendor;

	TINY_CHECK(tiny_ram_contains(boot, PROBE_REPORT_GPA, PROBE_REPORT_LEN),
		   "guest RAM does not cover [0x%lx, +2 MiB): give more --memory",
		   PROBE_REPORT_GPA);

	offered = probe_identity(&vendor);
	TINY_CHECK(vendor == tvm_read(VM_VENDOR_ID), "VendorID changed between reads");
	probe_bad_features(offered);
	probe_bad_status();
	probe_early_queue_writes();
	probe_queues(&q, rvq);
	probe_config();
	tvm_driver_ok();
	/* The queue took size 32 and the addresses written before QueueReady. */
	report_once(&q, "report after hostile queue writes");
	tiny_printf("%s: device works after hostile setup: report acked, 2 MiB zeroed\n",
		    tiny_name);

	probe_garbage();
	probe_bad_rings(features, rvq, boot->low_ram_end);

	/* Recovery: a clean reset clears queue state, then the device must work again. */
	tvm_write(VM_STATUS, 0);
	expect_status(0, "reset after garbage");
	/* 2.4.1: a reset returns the device to its initial state: no interrupt pending. */
	TINY_CHECK(tvm_read(VM_INTERRUPT_STATUS) == 0, "InterruptStatus 0x%x after a reset",
		   tvm_read(VM_INTERRUPT_STATUS));
	tvm_write(VM_QUEUE_SEL, rvq);
	TINY_CHECK(tvm_read(VM_QUEUE_READY) == 0, "QueueReady survives a reset");
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE);
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE | VS_DRIVER);
	TINY_CHECK(tvm_device_features() == offered, "DeviceFeatures changed after garbage");
	tvm_write_driver_features(features);
	tvm_write(VM_STATUS, VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK);
	expect_status(VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK, "FEATURES_OK after garbage");
	tvq_setup(&q, 1, rvq, PROBE_QUEUE_SIZE);
	tvm_driver_ok();
	check_identity("after recovery");
	TINY_CHECK(tvm_read(VM_VENDOR_ID) == vendor, "VendorID changed");
	/* Drop a possibly stale interrupt left by the garbage, then prove a fresh one. */
	tvm_write(VM_INTERRUPT_ACK, VM_INT_USED_RING | VM_INT_CONFIG);
	report_once(&q, "report after reset");
	tiny_printf("%s: clean reset + handshake + queue setup + DRIVER_OK works, status 0x%x\n",
		    tiny_name, tvm_read(VM_STATUS));

	tvm_write(VM_STATUS, 0);
	expect_status(0, "final reset");
	return 0;
}

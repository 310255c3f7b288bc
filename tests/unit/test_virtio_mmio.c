// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-mmio transport driven through its bus handler, with a fake device
 * (id 5, up to 3 queues, 8 bytes of config): the init handshake and every
 * rule a driver could break, each checked against its counter.
 */
#include "fake_virtq.h"
#include "testlib.h"
#include "devices/virtio.h"
#include "devices/virtio_mmio.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Fake device features: bit 0 adds a third queue, bit 1 is offered but refused. */
#define FAKE_F_EXTRA_QUEUE 0
#define FAKE_F_REFUSED	   1
#define QSIZE_MAX	   16

struct fake_dev {
	struct virtio_device vdev;
	uint8_t config[8];
	int resets, activates, set_features_calls, irqs, kicks;
	unsigned int last_kick;
	int activate_ret;
};

static unsigned int fake_num_queues(struct virtio_device *vdev)
{
	return virtio__has_feature(vdev, FAKE_F_EXTRA_QUEUE) ? 3 : 2;
}

static uint64_t fake_get_features(struct virtio_device *vdev)
{
	return (1ULL << FAKE_F_EXTRA_QUEUE) | (1ULL << FAKE_F_REFUSED) |
	       (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << VIRTIO_F_INDIRECT_DESC);
}

static int fake_set_features(struct virtio_device *vdev, uint64_t features)
{
	struct fake_dev *d = vdev->priv;

	d->set_features_calls++;
	return (features >> FAKE_F_REFUSED) & 1 ? -EINVAL : 0;
}

static void fake_read_config(struct virtio_device *vdev, uint32_t off, void *data, uint32_t len)
{
	struct fake_dev *d = vdev->priv;

	CHECK(off + len <= sizeof(d->config)); /* the transport bounds-checked it */
	memcpy(data, d->config + off, len);
}

static void fake_write_config(struct virtio_device *vdev, uint32_t off, const void *data,
			      uint32_t len)
{
	struct fake_dev *d = vdev->priv;

	CHECK(off + len <= sizeof(d->config));
	memcpy(d->config + off, data, len);
}

static int fake_activate(struct virtio_device *vdev)
{
	struct fake_dev *d = vdev->priv;

	d->activates++;
	return d->activate_ret;
}

static void fake_reset(struct virtio_device *vdev)
{
	struct fake_dev *d = vdev->priv;

	d->resets++;
}

static const struct virtio_device_ops fake_ops = {
	.name = "fake",
	.device_id = 5,
	.max_queue_size = QSIZE_MAX,
	.num_queues = fake_num_queues,
	.get_features = fake_get_features,
	.set_features = fake_set_features,
	.config_size = 8,
	.read_config = fake_read_config,
	.write_config = fake_write_config,
	.activate = fake_activate,
	.reset = fake_reset,
};

static void fake_raise_irq(struct virtio_device *vdev, void *opaque)
{
	struct fake_dev *d = opaque;

	d->irqs++;
}

static void fake_kick(struct virtio_mmio_dev *m, unsigned int qidx, void *opaque)
{
	struct fake_dev *d = opaque;

	/* Called without vdev->lock: the device thread it wakes takes it. */
	CHECK_EQ(pthread_mutex_trylock(&d->vdev.lock), 0);
	pthread_mutex_unlock(&d->vdev.lock);
	d->kicks++;
	d->last_kick = qidx;
}

struct env {
	struct fake_dev dev;
	struct virtio_mmio_dev m;
	struct fake_ram ram;
	struct fake_virtq fq[3];
};

static void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	CHECK_EQ(fake_ram__init(&e->ram, FAKE_RAM_GPA, 256 * 1024), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(fake_virtq__init(&e->fq[i], &e->ram, 8), 0);
	memcpy(e->dev.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	e->dev.vdev.ops = &fake_ops;
	e->dev.vdev.priv = &e->dev;
	e->dev.vdev.mem = &e->ram.mem;
	e->dev.vdev.raise_irq = fake_raise_irq;
	e->dev.vdev.irq_opaque = &e->dev;
	CHECK_EQ(virtio_mmio__init(&e->m, &e->dev.vdev, 0xd0000000, 5), 0);
	e->m.kick = fake_kick;
	e->m.kick_opaque = &e->dev;
}

static void env_exit(struct env *e)
{
	virtio_mmio__exit(&e->m);
	fake_ram__exit(&e->ram);
}

static uint32_t rd(struct env *e, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	virtio_mmio__io(&e->m, off, &v, 4, false);
	return v;
}

static void wr(struct env *e, uint64_t off, uint32_t v)
{
	virtio_mmio__io(&e->m, off, &v, 4, true);
}

static uint64_t bad_total(const struct virtio_mmio_stats *s)
{
	return s->bad_access + s->bad_status_transition + s->queue_write_outside_window +
	       s->queue_write_while_ready + s->bad_queue_select + s->bad_queue_num +
	       s->features_write_refused + s->features_refused + s->config_out_of_range +
	       s->activate_failed;
}

static void write_features(struct env *e, uint64_t f)
{
	wr(e, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(e, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(e, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(e, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK: true if the device took them. */
static bool negotiate(struct env *e, uint64_t features)
{
	wr(e, VIRTIO_MMIO_STATUS, 0);
	wr(e, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(e, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	write_features(e, features);
	wr(e, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return rd(e, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK;
}

static void setup_queue(struct env *e, unsigned int q, const struct fake_virtq *fq)
{
	wr(e, VIRTIO_MMIO_QUEUE_SEL, q);
	CHECK_EQ(rd(e, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK_EQ(rd(e, VIRTIO_MMIO_QUEUE_NUM_MAX), QSIZE_MAX);
	wr(e, VIRTIO_MMIO_QUEUE_NUM, fq->size);
	wr(e, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)fq->desc_gpa);
	wr(e, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(fq->desc_gpa >> 32));
	wr(e, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)fq->avail_gpa);
	wr(e, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(fq->avail_gpa >> 32));
	wr(e, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)fq->used_gpa);
	wr(e, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(fq->used_gpa >> 32));
	wr(e, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(e, VIRTIO_MMIO_QUEUE_READY), 1);
}

static const uint32_t ALL_OK = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;

static void test_identity(void)
{
	struct env e;

	env_init(&e);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_VERSION_REG), 2);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_DEVICE_ID), 5);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_VENDOR_ID_REG), VIRTIO_MMIO_VENDOR_ID);
	CHECK(memcmp(&(uint32_t){VIRTIO_MMIO_VENDOR_ID}, "MVMM", 4) == 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_CONFIG_GENERATION), 0);

	/* 64 feature bits in two halves; VERSION_1 (bit 32) added by the transport. */
	wr(&e, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t)fake_get_features(NULL));
	wr(&e, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_DEVICE_FEATURES), 1);
	wr(&e, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	/* No shared memory regions: length -1 (4.2.2). */
	wr(&e, VIRTIO_MMIO_SHM_SEL, 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	CHECK_EQ(bad_total(&e.m.stats), 0);
	env_exit(&e);
}

static void test_handshake_and_use(void)
{
	struct env e;
	struct vq_chain *chain = malloc(sizeof(*chain));
	enum vq_error err;
	uint32_t id, len;

	env_init(&e);
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << FAKE_F_EXTRA_QUEUE) |
		     (1ULL << VIRTIO_F_EVENT_IDX);
	CHECK(negotiate(&e, f));
	CHECK_EQ(e.dev.vdev.features_acked, f);
	CHECK_EQ(e.dev.set_features_calls, 1);
	/* The extra queue exists now that its feature was accepted. */
	for (unsigned int q = 0; q < 3; q++)
		setup_queue(&e, q, &e.fq[q]);
	CHECK_EQ(e.dev.activates, 0);
	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), ALL_OK);
	CHECK_EQ(e.dev.activates, 1);
	for (unsigned int q = 0; q < 3; q++) {
		struct virtqueue *vq = &e.dev.vdev.queues[q];

		CHECK(vq->active);
		CHECK(vq->event_idx);
		CHECK(!vq->indirect_desc);
		CHECK_EQ(vq->size, 8);
		CHECK_EQ(vq->desc_gpa, e.fq[q].desc_gpa);
		CHECK_EQ(vq->avail_gpa, e.fq[q].avail_gpa);
		CHECK_EQ(vq->used_gpa, e.fq[q].used_gpa);
	}

	/* The driver adds a buffer to queue 2 and kicks; the device answers. */
	struct fake_buf b = {fake_ram__alloc(&e.ram, 64, 8), 64, true};
	int head = fake_virtq__add_chain(&e.fq[2], &b, 1);
	wr(&e, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	CHECK_EQ(e.dev.kicks, 1);
	CHECK_EQ(e.dev.last_kick, 2);
	CHECK_EQ(e.m.stats.notifies, 1);

	pthread_mutex_lock(&e.dev.vdev.lock);
	CHECK_EQ(virtqueue__pop(&e.dev.vdev.queues[2], chain, &err), VQ_POP_OK);
	CHECK_EQ(chain->head, head);
	virtqueue__push(&e.dev.vdev.queues[2], chain->head, 64);
	virtio__signal_used(&e.dev.vdev, 2);
	pthread_mutex_unlock(&e.dev.vdev.lock);
	CHECK_EQ(e.dev.irqs, 1);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED_RING);
	CHECK(fake_virtq__get_used(&e.fq[2], &id, &len));
	CHECK(id == (uint32_t)head && len == 64);

	/* A config change: new generation, config interrupt, both bits pending. */
	virtio__signal_config(&e.dev.vdev);
	CHECK_EQ(e.dev.irqs, 2);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED_RING | VIRTIO_INT_CONFIG);
	wr(&e, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED_RING);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	wr(&e, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* Suppressed by EVENT_IDX: no interrupt, no status bit. */
	fake_virtq__set_used_event(&e.fq[2], 100);
	pthread_mutex_lock(&e.dev.vdev.lock);
	virtqueue__push(&e.dev.vdev.queues[2], 0, 0);
	virtio__signal_used(&e.dev.vdev, 2);
	virtio__signal_used(&e.dev.vdev, 99); /* out of range: ignored */
	pthread_mutex_unlock(&e.dev.vdev.lock);
	CHECK_EQ(e.dev.irqs, 2);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	CHECK_EQ(bad_total(&e.m.stats), 0);
	free(chain);
	env_exit(&e);
}

static void test_features_refused(void)
{
	struct env e;

	env_init(&e);
	/* No VERSION_1: a legacy driver. */
	CHECK(!negotiate(&e, 1ULL << FAKE_F_EXTRA_QUEUE));
	CHECK_EQ(e.m.stats.features_refused, 1);
	CHECK_EQ(e.dev.set_features_calls, 0);
	CHECK_EQ(e.dev.vdev.features_acked, 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	/* ... so DRIVER_OK cannot follow. */
	wr(&e, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		   VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(e.m.stats.bad_status_transition, 1);
	CHECK_EQ(e.dev.activates, 0);

	/* A feature that was never offered. */
	CHECK(!negotiate(&e, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5)));
	CHECK_EQ(e.m.stats.features_refused, 2);
	CHECK(!negotiate(&e, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 63)));
	CHECK_EQ(e.m.stats.features_refused, 3);
	CHECK_EQ(e.dev.set_features_calls, 0);

	/* Offered, but the device says no to this combination. */
	CHECK(!negotiate(&e, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << FAKE_F_REFUSED)));
	CHECK_EQ(e.m.stats.features_refused, 4);
	CHECK_EQ(e.dev.set_features_calls, 1);
	CHECK_EQ(e.dev.vdev.features_acked, 0);

	/* The driver may try again without re-doing the handshake. */
	write_features(&e, 1ULL << VIRTIO_F_VERSION_1);
	wr(&e, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	CHECK(rd(&e, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	CHECK_EQ(e.dev.vdev.features_acked, 1ULL << VIRTIO_F_VERSION_1);

	/* After FEATURES_OK the features are frozen. */
	write_features(&e, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << FAKE_F_EXTRA_QUEUE));
	CHECK_EQ(e.m.stats.features_write_refused, 2);
	CHECK_EQ(e.m.driver_features, 1ULL << VIRTIO_F_VERSION_1);
	CHECK_EQ(e.dev.vdev.features_acked, 1ULL << VIRTIO_F_VERSION_1);

	/* And before DRIVER they are not open yet. */
	wr(&e, VIRTIO_MMIO_STATUS, 0);
	write_features(&e, 1ULL << VIRTIO_F_VERSION_1);
	CHECK_EQ(e.m.stats.features_write_refused, 4);
	CHECK_EQ(e.m.driver_features, 0);
	env_exit(&e);
}

static void test_status_transitions(void)
{
	static const struct {
		uint32_t from, to;
	} illegal[] = {
		{0, VIRTIO_STATUS_DRIVER},
		{0, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER}, /* two steps at once */
		{0, VIRTIO_STATUS_DRIVER_OK},
		{VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FEATURES_OK},
		{VIRTIO_STATUS_ACKNOWLEDGE, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER_OK},
		{VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_ACKNOWLEDGE},
		{VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER,
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK},
		{VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_DRIVER},
		{VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 0x10 | 3}, /* unknown bit */
	};
	struct env e;

	env_init(&e);
	for (size_t i = 0; i < sizeof(illegal) / sizeof(illegal[0]); i++) {
		/* Walk legally to `from`. */
		wr(&e, VIRTIO_MMIO_STATUS, 0);
		if (illegal[i].from)
			wr(&e, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
		if (illegal[i].from & VIRTIO_STATUS_DRIVER)
			wr(&e, VIRTIO_MMIO_STATUS,
			   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
		CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), illegal[i].from);
		wr(&e, VIRTIO_MMIO_STATUS, illegal[i].to);
		CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), illegal[i].from);
		CHECK_EQ(e.m.stats.bad_status_transition, i + 1);
	}

	/* DRIVER_OK cannot be removed once set. */
	CHECK(negotiate(&e, 1ULL << VIRTIO_F_VERSION_1));
	setup_queue(&e, 0, &e.fq[0]);
	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK);
	CHECK_EQ(e.dev.activates, 1);
	uint64_t before = e.m.stats.bad_status_transition;
	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK & ~VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), ALL_OK);
	CHECK_EQ(e.m.stats.bad_status_transition, before + 1);
	/* Writing the same value again changes nothing and activates nothing twice. */
	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK);
	CHECK_EQ(e.dev.activates, 1);
	CHECK_EQ(e.m.stats.bad_status_transition, before + 1);

	/* FAILED may be set at any time; afterwards only a reset helps. */
	wr(&e, VIRTIO_MMIO_STATUS, 0);
	wr(&e, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(&e, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FAILED);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FAILED);
	wr(&e, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FAILED);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FAILED);
	CHECK_EQ(e.m.stats.bad_status_transition, before + 2);
	wr(&e, VIRTIO_MMIO_STATUS, 0);
	wr(&e, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_FAILED);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), VIRTIO_STATUS_FAILED);
	CHECK_EQ(e.m.stats.bad_status_transition, before + 2);
	env_exit(&e);
}

static void test_queue_window(void)
{
	struct env e;
	struct virtqueue *vq0;

	env_init(&e);
	vq0 = &e.dev.vdev.queues[0];

	/* Before FEATURES_OK: every queue register write is ignored. */
	wr(&e, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(&e, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(&e, VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(&e, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(&e, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 1);
	wr(&e, VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x3000);
	wr(&e, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(e.m.stats.queue_write_outside_window, 5);
	CHECK_EQ(vq0->size, QSIZE_MAX);
	CHECK_EQ(vq0->desc_gpa, 0);
	CHECK_EQ(vq0->avail_gpa, 0);
	CHECK_EQ(vq0->used_gpa, 0);
	CHECK(!vq0->ready);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_QUEUE_READY), 0);

	/* In the window they work; queue 0 is set up, queue 1 left alone. */
	CHECK(negotiate(&e, 1ULL << VIRTIO_F_VERSION_1));
	setup_queue(&e, 0, &e.fq[0]);
	/* Its layout is frozen once it is ready. */
	wr(&e, VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(&e, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	CHECK_EQ(e.m.stats.queue_write_while_ready, 2);
	CHECK_EQ(vq0->size, 8);
	CHECK_EQ(vq0->desc_gpa, e.fq[0].desc_gpa);
	/* Un-readying it in the window is allowed, and ready again. */
	wr(&e, VIRTIO_MMIO_QUEUE_READY, 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(&e, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(&e, VIRTIO_MMIO_QUEUE_READY, 2); /* not a legal value */
	CHECK_EQ(e.m.stats.bad_access, 1);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_QUEUE_READY), 1);

	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK);
	CHECK(vq0->active);
	CHECK(!e.dev.vdev.queues[1].active); /* never made ready: not an error */
	CHECK_EQ(e.m.stats.activate_failed, 0);

	/* After DRIVER_OK: ignored again. */
	uint64_t outside = e.m.stats.queue_write_outside_window;
	wr(&e, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(&e, VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(&e, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(&e, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(e.m.stats.queue_write_outside_window, outside + 3);
	CHECK(!e.dev.vdev.queues[1].ready);
	CHECK_EQ(e.dev.vdev.queues[1].desc_gpa, 0);
	wr(&e, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(&e, VIRTIO_MMIO_QUEUE_READY, 0);
	CHECK_EQ(e.m.stats.queue_write_outside_window, outside + 4);
	CHECK(vq0->ready && vq0->active);

	/* After reset, clearing an already clear QueueReady is quietly fine (Linux teardown). */
	wr(&e, VIRTIO_MMIO_STATUS, 0);
	wr(&e, VIRTIO_MMIO_QUEUE_READY, 0);
	CHECK_EQ(e.m.stats.queue_write_outside_window, outside + 4);
	env_exit(&e);
}

static void test_queue_select_and_num(void)
{
	struct env e;

	env_init(&e);
	/* Without FAKE_F_EXTRA_QUEUE only queues 0 and 1 exist. */
	CHECK(negotiate(&e, 1ULL << VIRTIO_F_VERSION_1));
	static const uint32_t missing[] = {2, 3, VIRTIO_MAX_QUEUES, 1000, 0xffffffff};
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
		wr(&e, VIRTIO_MMIO_QUEUE_SEL, missing[i]);
		/* Probing is legal: a missing queue reads QueueNumMax 0 (4.2.3.2). */
		CHECK_EQ(rd(&e, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
		CHECK_EQ(rd(&e, VIRTIO_MMIO_QUEUE_READY), 0);
		CHECK_EQ(e.m.stats.bad_queue_select, 2 * i);
		/* Configuring it is not. */
		wr(&e, VIRTIO_MMIO_QUEUE_NUM, 4);
		wr(&e, VIRTIO_MMIO_QUEUE_READY, 1);
		CHECK_EQ(e.m.stats.bad_queue_select, 2 * i + 2);
	}
	/* Nothing leaked into the queue array, even past the queues that exist. */
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		CHECK(!e.dev.vdev.queues[q].ready);

	/* Notifying a missing queue: counted, no kick. */
	uint64_t sel = e.m.stats.bad_queue_select;
	wr(&e, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	wr(&e, VIRTIO_MMIO_QUEUE_NOTIFY, 0x10000);
	CHECK_EQ(e.m.stats.bad_queue_select, sel + 2);
	CHECK_EQ(e.dev.kicks, 0);
	wr(&e, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	CHECK_EQ(e.dev.kicks, 1);
	CHECK_EQ(e.dev.last_kick, 1);

	/* QueueNum: a power of two in 1..QueueNumMax. */
	wr(&e, VIRTIO_MMIO_QUEUE_SEL, 1);
	static const uint32_t bad_nums[] = {0, 3, 6, 12, 2 * QSIZE_MAX, 0x80000000, 0xffffffff};
	for (size_t i = 0; i < sizeof(bad_nums) / sizeof(bad_nums[0]); i++) {
		wr(&e, VIRTIO_MMIO_QUEUE_NUM, bad_nums[i]);
		CHECK_EQ(e.m.stats.bad_queue_num, i + 1);
		CHECK_EQ(e.dev.vdev.queues[1].size, QSIZE_MAX);
	}
	wr(&e, VIRTIO_MMIO_QUEUE_NUM, 1);
	CHECK_EQ(e.dev.vdev.queues[1].size, 1);
	wr(&e, VIRTIO_MMIO_QUEUE_NUM, QSIZE_MAX);
	CHECK_EQ(e.dev.vdev.queues[1].size, QSIZE_MAX);
	CHECK_EQ(e.m.stats.bad_queue_num, sizeof(bad_nums) / sizeof(bad_nums[0]));

	/* 64-bit ring addresses are assembled from both halves. */
	wr(&e, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x89abcdef);
	wr(&e, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0x01234567);
	CHECK_EQ(e.dev.vdev.queues[1].avail_gpa, 0x0123456789abcdefULL);
	wr(&e, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x1000);
	CHECK_EQ(e.dev.vdev.queues[1].avail_gpa, 0x0123456700001000ULL);
	env_exit(&e);
}

static void test_config_space(void)
{
	struct env e;
	uint64_t v64 = 0;
	uint32_t v32 = 0;
	uint16_t v16 = 0;
	uint8_t v8 = 0;

	env_init(&e);
	virtio_mmio__io(&e.m, 0x100, &v64, 8, false);
	CHECK_EQ(v64, 0x0807060504030201ULL);
	virtio_mmio__io(&e.m, 0x104, &v32, 4, false);
	CHECK_EQ(v32, 0x08070605);
	virtio_mmio__io(&e.m, 0x106, &v16, 2, false);
	CHECK_EQ(v16, 0x0807);
	virtio_mmio__io(&e.m, 0x107, &v8, 1, false);
	CHECK_EQ(v8, 0x08);
	v32 = 0xa1b2c3d4;
	virtio_mmio__io(&e.m, 0x100, &v32, 4, true);
	CHECK(memcmp(e.dev.config, "\xd4\xc3\xb2\xa1\x05\x06\x07\x08", 8) == 0);
	CHECK_EQ(bad_total(&e.m.stats), 0);

	/* Out of range: beyond config_size, or straddling its end. Reads give 0. */
	static const struct {
		uint64_t off;
		uint32_t len;
	} oob[] = {{0x108, 1}, {0x104, 8}, {0x10c, 4}, {0x108, 8}, {0x1fc, 4}, {0xffc, 4}};
	for (size_t i = 0; i < sizeof(oob) / sizeof(oob[0]); i++) {
		v64 = 0x5555555555555555ULL;
		virtio_mmio__io(&e.m, oob[i].off, &v64, oob[i].len, false);
		CHECK_EQ(v64 & (oob[i].len == 8 ? ~0ULL : (1ULL << (8 * oob[i].len)) - 1), 0);
		virtio_mmio__io(&e.m, oob[i].off, &v64, oob[i].len, true);
		CHECK_EQ(e.m.stats.config_out_of_range, 2 * i + 2);
	}
	CHECK(memcmp(e.dev.config, "\xd4\xc3\xb2\xa1\x05\x06\x07\x08", 8) == 0);

	/* Misaligned or odd-sized config accesses. */
	virtio_mmio__io(&e.m, 0x101, &v16, 2, false);
	virtio_mmio__io(&e.m, 0x102, &v32, 4, false);
	virtio_mmio__io(&e.m, 0x100, &v32, 3, false);
	CHECK_EQ(e.m.stats.bad_access, 3);
	env_exit(&e);
}

static void test_register_access_rules(void)
{
	struct env e;
	uint64_t v64 = 0x1234;
	uint16_t v16 = 0x1234;
	uint8_t v8 = 0x12;

	env_init(&e);
	/* Control registers: 32-bit aligned 4-byte only. */
	virtio_mmio__io(&e.m, VIRTIO_MMIO_MAGIC_VALUE, &v16, 2, false);
	CHECK_EQ(v16, 0);
	virtio_mmio__io(&e.m, VIRTIO_MMIO_MAGIC_VALUE, &v64, 8, false);
	CHECK_EQ(v64, 0);
	virtio_mmio__io(&e.m, VIRTIO_MMIO_MAGIC_VALUE + 1, &v8, 1, false);
	CHECK_EQ(v8, 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_MAGIC_VALUE + 2), 0);
	v16 = 1;
	virtio_mmio__io(&e.m, VIRTIO_MMIO_STATUS, &v16, 2, true);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(e.m.stats.bad_access, 5);

	/* Wrong direction and holes. */
	CHECK_EQ(rd(&e, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_INTERRUPT_ACK), 0);
	CHECK_EQ(rd(&e, 0x0c0), 0);
	wr(&e, VIRTIO_MMIO_MAGIC_VALUE, 0);
	wr(&e, VIRTIO_MMIO_QUEUE_NUM_MAX, 0);
	wr(&e, VIRTIO_MMIO_INTERRUPT_STATUS, 0);
	wr(&e, VIRTIO_MMIO_CONFIG_GENERATION, 0);
	wr(&e, 0x0f0, 0);
	CHECK_EQ(e.m.stats.bad_access, 14);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	env_exit(&e);
}

static void test_reset(void)
{
	struct env e;

	env_init(&e);
	CHECK(negotiate(&e, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << FAKE_F_EXTRA_QUEUE) |
				    (1ULL << VIRTIO_F_INDIRECT_DESC)));
	for (unsigned int q = 0; q < 3; q++)
		setup_queue(&e, q, &e.fq[q]);
	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK);
	CHECK(e.dev.vdev.queues[2].indirect_desc);
	virtio__signal_config(&e.dev.vdev);
	CHECK(rd(&e, VIRTIO_MMIO_INTERRUPT_STATUS) != 0);
	wr(&e, VIRTIO_MMIO_QUEUE_SEL, 2);
	wr(&e, VIRTIO_MMIO_STATUS, 0x7f); /* illegal: counted, must survive the reset */
	e.dev.vdev.queues[1].stats.errors[VQ_ERR_ZERO_LEN] = 3;

	/* negotiate() reset once already. */
	CHECK_EQ(e.m.stats.resets, 1);
	wr(&e, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(e.dev.resets, 2);
	CHECK_EQ(e.m.stats.resets, 2);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(e.dev.vdev.features_acked, 0);
	CHECK_EQ(e.m.driver_features, 0);
	CHECK_EQ(e.m.queue_sel, 0);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		const struct virtqueue *vq = &e.dev.vdev.queues[q];

		CHECK(!vq->ready && !vq->active);
		CHECK_EQ(vq->size, QSIZE_MAX);
		CHECK_EQ(vq->desc_gpa, 0);
	}
	/* 4.2.2.1: QueueReady reads 0 after reset. */
	CHECK_EQ(rd(&e, VIRTIO_MMIO_QUEUE_READY), 0);
	/* Counters are cumulative. */
	CHECK_EQ(e.m.stats.bad_status_transition, 1);
	CHECK_EQ(e.dev.vdev.queues[1].stats.errors[VQ_ERR_ZERO_LEN], 3);
	/* Without the extra feature, queue 2 is gone again. */
	wr(&e, VIRTIO_MMIO_QUEUE_SEL, 2);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);

	/* And the device can be brought up again. */
	CHECK(negotiate(&e, 1ULL << VIRTIO_F_VERSION_1));
	CHECK_EQ(e.m.stats.resets, 3);
	setup_queue(&e, 0, &e.fq[0]);
	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK);
	CHECK_EQ(e.dev.activates, 2);
	CHECK(e.dev.vdev.queues[0].active && !e.dev.vdev.queues[0].indirect_desc);
	env_exit(&e);
}

static void test_activation_failures(void)
{
	struct env e;

	/* A ready queue whose rings are outside RAM: NEEDS_RESET, config interrupt. */
	env_init(&e);
	CHECK(negotiate(&e, 1ULL << VIRTIO_F_VERSION_1));
	setup_queue(&e, 0, &e.fq[0]);
	wr(&e, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(&e, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(&e, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000); /* below the fake RAM */
	wr(&e, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)e.fq[1].avail_gpa);
	wr(&e, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)e.fq[1].used_gpa);
	wr(&e, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), ALL_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(e.m.stats.activate_failed, 1);
	CHECK_EQ(e.dev.vdev.queues[1].stats.errors[VQ_ERR_RING_OUT_OF_RAM], 1);
	CHECK_EQ(e.dev.activates, 0);
	CHECK_EQ(e.dev.irqs, 1);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	/* The driver echoing NEEDS_RESET back, or adding FAILED, is fine. */
	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	wr(&e, VIRTIO_MMIO_STATUS,
	   ALL_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS),
		 ALL_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED);
	CHECK_EQ(e.m.stats.bad_status_transition, 0);
	/* Reset clears it. */
	wr(&e, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS), 0);
	env_exit(&e);

	/* The device's own activate fails. */
	env_init(&e);
	e.dev.activate_ret = -ENOMEM;
	CHECK(negotiate(&e, 1ULL << VIRTIO_F_VERSION_1));
	setup_queue(&e, 0, &e.fq[0]);
	wr(&e, VIRTIO_MMIO_STATUS, ALL_OK);
	CHECK_EQ(e.dev.activates, 1);
	CHECK_EQ(e.m.stats.activate_failed, 1);
	CHECK(rd(&e, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* Set once, signalled once. */
	pthread_mutex_lock(&e.dev.vdev.lock);
	virtio__set_needs_reset(&e.dev.vdev, "again");
	pthread_mutex_unlock(&e.dev.vdev.lock);
	CHECK_EQ(e.dev.irqs, 1);
	env_exit(&e);

	/* Before DRIVER_OK: NEEDS_RESET and config changes raise no interrupt. */
	env_init(&e);
	virtio__set_needs_reset(&e.dev.vdev, "early");
	virtio__signal_config(&e.dev.vdev);
	CHECK_EQ(e.dev.irqs, 0);
	CHECK(rd(&e, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	/* The device's NEEDS_RESET survives the driver's next (legal) step. */
	wr(&e, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	CHECK_EQ(rd(&e, VIRTIO_MMIO_STATUS),
		 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(e.m.stats.bad_status_transition, 0);
	env_exit(&e);
}

static void test_init_and_cmdline(void)
{
	struct env e;
	char buf[64];

	env_init(&e);
	CHECK_EQ(virtio_mmio__cmdline(&e.m, buf, sizeof(buf)), 34);
	CHECK(strcmp(buf, "virtio_mmio.device=4K@0xd0000000:5") == 0);
	CHECK_EQ(virtio_mmio__cmdline(&e.m, buf, 34), -ENOSPC);
	CHECK_EQ(virtio_mmio__cmdline(&e.m, buf, 0), -ENOSPC);
	env_exit(&e);

	/* Bad ops tables are refused at setup, with a message. */
	struct virtio_device_ops ops = fake_ops;
	struct virtio_device vdev = {.ops = &ops};
	struct virtio_mmio_dev m;
	ops.max_queue_size = 12;
	CHECK_EQ(virtio_mmio__init(&m, &vdev, 0, 0), -EINVAL);
	ops.max_queue_size = 0;
	CHECK_EQ(virtio_mmio__init(&m, &vdev, 0, 0), -EINVAL);
	ops.max_queue_size = 2 * VIRTQ_MAX_SIZE;
	CHECK_EQ(virtio_mmio__init(&m, &vdev, 0, 0), -EINVAL);
	ops.max_queue_size = 16;
	ops.config_size = VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG + 1;
	CHECK_EQ(virtio_mmio__init(&m, &vdev, 0, 0), -EINVAL);
	vdev.ops = NULL;
	CHECK_EQ(virtio_mmio__init(&m, &vdev, 0, 0), -EINVAL);
}

int main(void)
{
	test_identity();
	test_handshake_and_use();
	test_features_refused();
	test_status_transitions();
	test_queue_window();
	test_queue_select_and_num();
	test_config_space();
	test_register_access_rules();
	test_reset();
	test_activation_failures();
	test_init_and_cmdline();
	return testlib_done("test_virtio_mmio");
}

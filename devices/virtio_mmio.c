// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-mmio transport, version 2 register layout (virtio 1.2 section 4.2.2).
 * See virtio_mmio.h for the rules it enforces.
 */
#include "devices/virtio_mmio.h"

#include "base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define STATUS_ACK	   VIRTIO_STATUS_ACKNOWLEDGE
#define STATUS_DRIVER	   VIRTIO_STATUS_DRIVER
#define STATUS_FEATURES_OK VIRTIO_STATUS_FEATURES_OK
#define STATUS_DRIVER_OK   VIRTIO_STATUS_DRIVER_OK
#define STATUS_FAILED	   VIRTIO_STATUS_FAILED
#define STATUS_NEEDS_RESET VIRTIO_STATUS_DEVICE_NEEDS_RESET

/*
 * The driver's side of device initialisation (3.1.1), one bit at a time, each
 * step keeping the bits already set. Writing 0 (reset) and adding FAILED
 * (2.1.1: the driver may give up at any point) are handled separately; no
 * other change is legal.
 */
static const struct {
	uint32_t from, to;
} legal_status_steps[] = {
	{0, STATUS_ACK},
	{STATUS_ACK, STATUS_ACK | STATUS_DRIVER},
	{STATUS_ACK | STATUS_DRIVER, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK},
	{STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK,
	 STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK},
};

static const char *dev_name(const struct virtio_mmio_dev *m)
{
	return m->vdev->ops->name ? m->vdev->ops->name : "virtio-mmio";
}

/* Queues that exist for the features accepted so far, never more than we have room for. */
static unsigned int num_queues(struct virtio_device *vdev)
{
	unsigned int n = vdev->ops->num_queues ? vdev->ops->num_queues(vdev) : 0;

	return n < VIRTIO_MAX_QUEUES ? n : VIRTIO_MAX_QUEUES;
}

/* The queue QueueSel names, or NULL if it does not exist. */
static struct virtqueue *selected_queue(struct virtio_mmio_dev *m)
{
	if (m->queue_sel >= num_queues(m->vdev))
		return NULL;
	return &m->vdev->queues[m->queue_sel];
}

static uint64_t offered_features(struct virtio_device *vdev)
{
	uint64_t f = vdev->ops->get_features ? vdev->ops->get_features(vdev) : 0;

	return f | (1ULL << VIRTIO_F_VERSION_1);
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Back to the state after power-on (4.2.2.1: QueueReady 0, InterruptStatus 0). */
static void reset_state(struct virtio_mmio_dev *m)
{
	struct virtio_device *vdev = m->vdev;

	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		virtqueue__reset(&vdev->queues[i]);
		/* The size the driver gets if it never writes QueueNum. */
		vdev->queues[i].size = vdev->ops->max_queue_size;
	}
	vdev->status = 0;
	vdev->features_acked = 0;
	vdev->features_offered = offered_features(vdev);
	vdev->interrupt_status = 0;
	m->device_features_sel = 0;
	m->driver_features_sel = 0;
	m->queue_sel = 0;
	m->driver_features = 0;
}

/* FEATURES_OK (3.1.1 step 5-6, 6.1): refuse by not setting the bit. */
static bool accept_features(struct virtio_mmio_dev *m)
{
	struct virtio_device *vdev = m->vdev;
	uint64_t f = m->driver_features;
	const char *why = NULL;

	if (!(f & (1ULL << VIRTIO_F_VERSION_1)))
		why = "VIRTIO_F_VERSION_1 not accepted (legacy drivers are not supported)";
	else if (f & ~vdev->features_offered)
		why = "features accepted that were not offered";
	else if (vdev->ops->set_features && vdev->ops->set_features(vdev, f))
		why = "the device refused the feature set";
	if (why) {
		m->stats.features_refused++;
		log_ratelimited(LOG_WARN, "%s: FEATURES_OK refused (features 0x%" PRIx64 "): %s",
				dev_name(m), f, why);
		return false;
	}
	vdev->features_acked = f;
	return true;
}

/* DRIVER_OK (3.1.1 step 8): activate the ready queues, then the device. */
static void activate_device(struct virtio_mmio_dev *m)
{
	struct virtio_device *vdev = m->vdev;
	bool event_idx = virtio__has_feature(vdev, VIRTIO_F_EVENT_IDX);
	bool indirect = virtio__has_feature(vdev, VIRTIO_F_INDIRECT_DESC);
	unsigned int n = num_queues(vdev);

	if (!vdev->mem) {
		m->stats.activate_failed++;
		virtio__set_needs_reset(vdev, "no guest memory attached (a wiring bug)");
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		/* A queue the driver did not set up stays off; it is not an error. */
		if (!vdev->queues[i].ready)
			continue;
		if (virtqueue__activate(&vdev->queues[i], vdev->mem, event_idx, indirect)) {
			m->stats.activate_failed++;
			virtio__set_needs_reset(vdev, "a queue's rings are not usable");
			return;
		}
	}
	if (vdev->ops->activate && vdev->ops->activate(vdev)) {
		m->stats.activate_failed++;
		virtio__set_needs_reset(vdev, "device activation failed");
	}
}

static bool legal_status_step(uint32_t from, uint32_t to)
{
	for (size_t i = 0; i < sizeof(legal_status_steps) / sizeof(legal_status_steps[0]); i++) {
		if (legal_status_steps[i].from == from && legal_status_steps[i].to == to)
			return true;
	}
	return false;
}

static void write_status(struct virtio_mmio_dev *m, uint32_t val)
{
	struct virtio_device *vdev = m->vdev;
	/* NEEDS_RESET belongs to the device: a driver echoing it back changes nothing. */
	uint32_t cur = vdev->status & ~STATUS_NEEDS_RESET;
	uint32_t new = val & ~STATUS_NEEDS_RESET;
	uint32_t added = new & ~cur;

	if (val == 0) {
		/* 2.4 / 4.2.2.1: reset. The device stops using the queues first. */
		if (vdev->ops->reset)
			vdev->ops->reset(vdev);
		reset_state(m);
		m->stats.resets++;
		return;
	}
	if (new == cur)
		return;
	if (new == (cur | STATUS_FAILED)) {
		log_ratelimited(LOG_WARN, "%s: the driver set FAILED (status 0x%x)", dev_name(m),
				cur);
		vdev->status |= STATUS_FAILED;
		return;
	}
	if (!legal_status_step(cur, new)) {
		m->stats.bad_status_transition++;
		log_ratelimited(LOG_WARN, "%s: illegal status transition 0x%x -> 0x%x ignored",
				dev_name(m), cur, new);
		return;
	}
	/* 3.1.1: the driver re-reads Status and sees FEATURES_OK missing. */
	if ((added & STATUS_FEATURES_OK) && !accept_features(m))
		return;
	vdev->status = new | (vdev->status & STATUS_NEEDS_RESET);
	if (added & STATUS_DRIVER_OK)
		activate_device(m);
}

/*
 * The queue a queue-configuration write applies to, or NULL (counted) if
 * such a write is not allowed now: only between FEATURES_OK and DRIVER_OK
 * (3.1.1 step 7), and only to a queue that exists.
 */
static struct virtqueue *queue_for_write(struct virtio_mmio_dev *m)
{
	uint32_t status = m->vdev->status;
	struct virtqueue *vq;

	if (!(status & STATUS_FEATURES_OK) || (status & (STATUS_DRIVER_OK | STATUS_FAILED))) {
		m->stats.queue_write_outside_window++;
		return NULL;
	}
	vq = selected_queue(m);
	if (!vq) {
		m->stats.bad_queue_select++;
		return NULL;
	}
	return vq;
}

/* Like queue_for_write, and the queue's layout may not change once it is ready. */
static struct virtqueue *queue_for_layout_write(struct virtio_mmio_dev *m)
{
	struct virtqueue *vq = queue_for_write(m);

	if (vq && vq->ready) {
		m->stats.queue_write_while_ready++;
		return NULL;
	}
	return vq;
}

static void set_low(uint64_t *v, uint32_t lo)
{
	*v = (*v & 0xffffffff00000000ULL) | lo;
}

static void set_high(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffULL) | ((uint64_t)hi << 32);
}

static uint32_t read_reg(struct virtio_mmio_dev *m, uint64_t offset)
{
	struct virtio_device *vdev = m->vdev;
	struct virtqueue *vq;

	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION_REG:
		return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return vdev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID_REG:
		return VIRTIO_MMIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (m->device_features_sel > 1)
			return 0; /* no feature bits above 63 */
		return (uint32_t)(vdev->features_offered >> (32 * m->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		/* 4.2.3.2: zero means "this queue is not available". */
		return selected_queue(m) ? vdev->ops->max_queue_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		vq = selected_queue(m);
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return vdev->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return vdev->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* 4.2.2: a non-existent shared memory region reads as length -1. */
		return 0xffffffff;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vdev->config_generation;
	default:
		m->stats.bad_access++;
		log_ratelimited(LOG_WARN, "%s: read of 0x%03" PRIx64 " ignored (not readable)",
				dev_name(m), offset);
		return 0;
	}
}

/* Returns the queue to kick, or -1. */
static int write_reg(struct virtio_mmio_dev *m, uint64_t offset, uint32_t val)
{
	struct virtio_device *vdev = m->vdev;
	struct virtqueue *vq;

	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->device_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->driver_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* 3.1.1 step 4: after DRIVER, before FEATURES_OK. */
		if (!(vdev->status & STATUS_DRIVER) ||
		    (vdev->status & (STATUS_FEATURES_OK | STATUS_FAILED))) {
			m->stats.features_write_refused++;
			break;
		}
		if (m->driver_features_sel == 0)
			set_low(&m->driver_features, val);
		else if (m->driver_features_sel == 1)
			set_high(&m->driver_features, val);
		/* Bits above 63 are never offered: a non-zero write fails at FEATURES_OK anyway. */
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		/*
		 * Not checked here: selecting a queue that does not exist is how a
		 * driver probes (QueueNumMax reads 0, 4.2.3.2). Every use checks it.
		 */
		m->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		vq = queue_for_layout_write(m);
		if (!vq)
			break;
		if (!is_pow2(val) || val > vdev->ops->max_queue_size) {
			m->stats.bad_queue_num++;
			log_ratelimited(LOG_WARN, "%s: QueueNum %u ignored (max %u, power of two)",
					dev_name(m), val, vdev->ops->max_queue_size);
			break;
		}
		vq->size = val;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (val > 1) {
			m->stats.bad_access++;
			break;
		}
		/* Clearing an already clear bit is a no-op (Linux does it on teardown, after
		 * reset). */
		vq = selected_queue(m);
		if (val == 0 && (!vq || !vq->ready))
			break;
		vq = queue_for_write(m);
		if (vq)
			vq->ready = val;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: {
		uint64_t *gpa;

		vq = queue_for_layout_write(m);
		if (!vq)
			break;
		if (offset < VIRTIO_MMIO_QUEUE_DRIVER_LOW)
			gpa = &vq->desc_gpa;
		else if (offset < VIRTIO_MMIO_QUEUE_DEVICE_LOW)
			gpa = &vq->avail_gpa;
		else
			gpa = &vq->used_gpa;
		if (offset & 4)
			set_high(gpa, val);
		else
			set_low(gpa, val);
		break;
	}
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index. */
		if (val >= num_queues(vdev)) {
			m->stats.bad_queue_select++;
			break;
		}
		m->stats.notifies++;
		return (int)val;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		vdev->interrupt_status &= ~val;
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(m, val);
		break;
	case VIRTIO_MMIO_SHM_SEL:
		break; /* no regions; the reads say so */
	default:
		m->stats.bad_access++;
		log_ratelimited(LOG_WARN,
				"%s: write of 0x%x to 0x%03" PRIx64 " ignored (not writable)",
				dev_name(m), val, offset);
		break;
	}
	return -1;
}

/* Device config space: 1/2/4/8 bytes, aligned to min(len, 4) (4.2.2.2). */
static void config_access(struct virtio_mmio_dev *m, uint32_t off, void *data, uint32_t len,
			  bool is_write)
{
	const struct virtio_device_ops *ops = m->vdev->ops;
	uint32_t align = len < 4 ? len : 4;

	if ((len != 1 && len != 2 && len != 4 && len != 8) || (off & (align - 1))) {
		m->stats.bad_access++;
		return;
	}
	if (off >= ops->config_size || len > ops->config_size - off) {
		m->stats.config_out_of_range++;
		log_ratelimited(LOG_WARN, "%s: config %s of %u bytes at %u ignored (size %u)",
				dev_name(m), is_write ? "write" : "read", len, off,
				ops->config_size);
		return;
	}
	if (!is_write) {
		if (ops->read_config)
			ops->read_config(m->vdev, off, data, len);
	} else if (ops->write_config) {
		ops->write_config(m->vdev, off, data, len);
	} else {
		m->stats.bad_access++; /* read-only config space */
	}
}

void virtio_mmio__io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct virtio_mmio_dev *m = opaque;
	struct virtio_device *vdev = m->vdev;
	int kick = -1;

	if (!is_write)
		memset(data, 0, len);

	pthread_mutex_lock(&vdev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		if (offset - VIRTIO_MMIO_CONFIG > UINT32_MAX)
			m->stats.config_out_of_range++;
		else
			config_access(m, (uint32_t)(offset - VIRTIO_MMIO_CONFIG), data, len,
				      is_write);
	} else if (len != 4 || (offset & 3)) {
		/* 4.2.2.2: control registers take 32-bit wide, aligned accesses only. */
		m->stats.bad_access++;
		log_ratelimited(LOG_WARN, "%s: %u-byte access at 0x%03" PRIx64 " ignored",
				dev_name(m), len, offset);
	} else if (is_write) {
		uint32_t val;

		memcpy(&val, data, 4); /* MMIO data is little-endian, like the x86 host */
		kick = write_reg(m, offset, val);
	} else {
		uint32_t val = read_reg(m, offset);

		memcpy(data, &val, 4);
	}
	pthread_mutex_unlock(&vdev->lock);

	/* Outside the lock: the kick may wake the device thread, which takes it. */
	if (kick >= 0 && m->kick)
		m->kick(m, (unsigned int)kick, m->kick_opaque);
}

int virtio_mmio__init(struct virtio_mmio_dev *m, struct virtio_device *vdev, uint64_t base,
		      uint32_t irq)
{
	const struct virtio_device_ops *ops = vdev->ops;
	const char *name;
	int ret;

	if (!ops) {
		log_error("virtio-mmio: device at 0x%" PRIx64 " has no ops table", base);
		return -EINVAL;
	}
	name = ops->name ? ops->name : "virtio";
	if (!is_pow2(ops->max_queue_size) || ops->max_queue_size > VIRTQ_MAX_SIZE) {
		log_error("virtio-mmio: %s: max_queue_size %u must be a power of two in 1..%u",
			  name, ops->max_queue_size, VIRTQ_MAX_SIZE);
		return -EINVAL;
	}
	if (ops->config_size > VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG) {
		log_error("virtio-mmio: %s: config_size %u does not fit the register window", name,
			  ops->config_size);
		return -EINVAL;
	}
	memset(m, 0, sizeof(*m));
	m->vdev = vdev;
	m->base = base;
	m->irq = irq;
	ret = pthread_mutex_init(&vdev->lock, NULL);
	if (ret) {
		log_error("virtio-mmio: %s: pthread_mutex_init: %s", name, strerror(ret));
		return -ret;
	}
	reset_state(m);
	return 0;
}

void virtio_mmio__exit(struct virtio_mmio_dev *m)
{
	pthread_mutex_destroy(&m->vdev->lock);
}

int virtio_mmio__cmdline(const struct virtio_mmio_dev *m, char *buf, size_t len)
{
	int n = snprintf(buf, len, "virtio_mmio.device=%uK@0x%" PRIx64 ":%u",
			 VIRTIO_MMIO_SIZE / 1024, m->base, m->irq);

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

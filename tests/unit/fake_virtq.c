// SPDX-License-Identifier: GPL-2.0
/* The driver's side of split virtqueues in plain memory. See fake_virtq.h. */
#include "fake_virtq.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fake_virtq: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

int fake_ram__init(struct fake_ram *ram, uint64_t gpa, uint64_t size)
{
	int ret;

	memset(ram, 0, sizeof(*ram));
	if (size == 0 || size % 4096)
		return -EINVAL;
	ram->buf = aligned_alloc(4096, size);
	if (!ram->buf)
		return -ENOMEM;
	memset(ram->buf, 0, size);
	guest_mem__init_empty(&ram->mem, 4096);
	ret = guest_mem__add_region(&ram->mem, gpa, ram->buf, size, -1, 0);
	if (ret) {
		free(ram->buf);
		ram->buf = NULL;
		return ret;
	}
	ram->gpa = gpa;
	ram->size = size;
	ram->next = gpa;
	return 0;
}

void fake_ram__exit(struct fake_ram *ram)
{
	guest_mem__exit(&ram->mem);
	free(ram->buf);
	memset(ram, 0, sizeof(*ram));
}

uint64_t fake_ram__alloc(struct fake_ram *ram, uint64_t len, uint64_t align)
{
	uint64_t start;

	if (!align || (align & (align - 1)))
		die("alignment %llu is not a power of two", (unsigned long long)align);
	start = (ram->next + align - 1) & ~(align - 1);
	if (start < ram->next || start > ram->gpa + ram->size || len > ram->gpa + ram->size - start)
		die("fake RAM of %llu bytes is full (asked for %llu)",
		    (unsigned long long)ram->size, (unsigned long long)len);
	ram->next = start + len;
	memset(ram->buf + (start - ram->gpa), 0, len);
	return start;
}

void *fake_ram__hva(const struct fake_ram *ram, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem__translate(&ram->mem, gpa, len);

	if (!p)
		die("[0x%llx, +%llu) is not in fake RAM", (unsigned long long)gpa,
		    (unsigned long long)len);
	return p;
}

int fake_virtq__init(struct fake_virtq *fq, struct fake_ram *ram, uint16_t size)
{
	memset(fq, 0, sizeof(*fq));
	if (size == 0 || (size & (size - 1)))
		return -EINVAL;
	fq->ram = ram;
	fq->size = size;
	/* Page-aligned, like Linux: more than the 16/2/4 bytes 2.7 asks for. */
	fq->desc_gpa = fake_ram__alloc(ram, (uint64_t)size * VIRTQ_DESC_SIZE, 4096);
	fq->avail_gpa = fake_ram__alloc(ram, VIRTQ_AVAIL_SIZE(size), 4096);
	fq->used_gpa = fake_ram__alloc(ram, VIRTQ_USED_SIZE(size), 4096);
	return 0;
}

void fake_virtq__setup(const struct fake_virtq *fq, struct virtqueue *vq)
{
	vq->size = fq->size;
	vq->desc_gpa = fq->desc_gpa;
	vq->avail_gpa = fq->avail_gpa;
	vq->used_gpa = fq->used_gpa;
	vq->ready = true;
}

int fake_virtq__activate(const struct fake_virtq *fq, struct virtqueue *vq, bool event_idx,
			 bool indirect_desc)
{
	virtqueue__reset(vq);
	fake_virtq__setup(fq, vq);
	return virtqueue__activate(vq, &fq->ram->mem, event_idx, indirect_desc);
}

void fake_virtq__write_desc(struct fake_virtq *fq, uint64_t table_gpa, uint16_t idx, uint64_t addr,
			    uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = {
		.addr = htole64(addr),
		.len = htole32(len),
		.flags = htole16(flags),
		.next = htole16(next),
	};

	memcpy(fake_ram__hva(fq->ram, table_gpa + (uint64_t)idx * VIRTQ_DESC_SIZE, sizeof(d)), &d,
	       sizeof(d));
}

void fake_virtq__set_desc(struct fake_virtq *fq, uint16_t idx, uint64_t addr, uint32_t len,
			  uint16_t flags, uint16_t next)
{
	if (idx >= fq->size)
		die("descriptor %u outside a table of %u", idx, fq->size);
	fake_virtq__write_desc(fq, fq->desc_gpa, idx, addr, len, flags, next);
}

static uint16_t *avail_u16(const struct fake_virtq *fq, uint64_t off)
{
	return fake_ram__hva(fq->ram, fq->avail_gpa + off, 2);
}

static uint16_t *used_u16(const struct fake_virtq *fq, uint64_t off)
{
	return fake_ram__hva(fq->ram, fq->used_gpa + off, 2);
}

void fake_virtq__set_avail_idx(struct fake_virtq *fq, uint16_t idx)
{
	fq->avail_idx = idx;
	/* Release: the ring entry and descriptors before the index, as a driver does. */
	__atomic_store_n(avail_u16(fq, 2), htole16(idx), __ATOMIC_RELEASE);
}

void fake_virtq__publish(struct fake_virtq *fq, uint16_t head)
{
	*avail_u16(fq, 4 + 2 * (uint64_t)(fq->avail_idx & (fq->size - 1))) = htole16(head);
	fake_virtq__set_avail_idx(fq, fq->avail_idx + 1);
}

void fake_virtq__set_avail_flags(struct fake_virtq *fq, uint16_t flags)
{
	*avail_u16(fq, 0) = htole16(flags);
}

void fake_virtq__set_used_event(struct fake_virtq *fq, uint16_t used_event)
{
	*avail_u16(fq, 4 + 2 * (uint64_t)fq->size) = htole16(used_event);
}

uint16_t fake_virtq__avail_event(const struct fake_virtq *fq)
{
	return le16toh(*used_u16(fq, 4 + 8 * (uint64_t)fq->size));
}

uint16_t fake_virtq__used_idx(const struct fake_virtq *fq)
{
	return le16toh(__atomic_load_n(used_u16(fq, 2), __ATOMIC_ACQUIRE));
}

uint16_t fake_virtq__used_flags(const struct fake_virtq *fq)
{
	return le16toh(*used_u16(fq, 0));
}

bool fake_virtq__get_used(struct fake_virtq *fq, uint32_t *id, uint32_t *len)
{
	uint32_t *elem;

	if (fake_virtq__used_idx(fq) == fq->last_used_idx)
		return false;
	elem = fake_ram__hva(
		fq->ram, fq->used_gpa + 4 + 8 * (uint64_t)(fq->last_used_idx & (fq->size - 1)), 8);
	*id = le32toh(elem[0]);
	*len = le32toh(elem[1]);
	fq->last_used_idx++;
	return true;
}

static uint16_t take_desc(struct fake_virtq *fq)
{
	uint16_t idx = fq->next_desc;

	fq->next_desc = (fq->next_desc + 1) & (fq->size - 1);
	return idx;
}

int fake_virtq__add_mixed(struct fake_virtq *fq, const struct fake_buf *direct, unsigned int nd,
			  const struct fake_buf *indirect, unsigned int ni)
{
	unsigned int total = nd + (ni ? 1 : 0);
	uint16_t head, idx, next;

	if (total == 0 || total > fq->size)
		die("a chain of %u descriptors does not fit a queue of %u", total, fq->size);
	head = idx = take_desc(fq);
	for (unsigned int i = 0; i < nd; i++) {
		bool last = i + 1 == total;
		uint16_t flags = direct[i].write ? VIRTQ_DESC_F_WRITE : 0;

		next = last ? 0 : take_desc(fq);
		fake_virtq__set_desc(fq, idx, direct[i].addr, direct[i].len,
				     flags | (last ? 0 : VIRTQ_DESC_F_NEXT), next);
		idx = next;
	}
	if (ni) {
		uint64_t table =
			fake_ram__alloc(fq->ram, (uint64_t)ni * VIRTQ_DESC_SIZE, VIRTQ_DESC_SIZE);

		for (unsigned int i = 0; i < ni; i++) {
			uint16_t flags = indirect[i].write ? VIRTQ_DESC_F_WRITE : 0;

			if (i + 1 < ni)
				flags |= VIRTQ_DESC_F_NEXT;
			fake_virtq__write_desc(fq, table, i, indirect[i].addr, indirect[i].len,
					       flags, i + 1 < ni ? i + 1 : 0);
		}
		fake_virtq__set_desc(fq, idx, table, ni * VIRTQ_DESC_SIZE, VIRTQ_DESC_F_INDIRECT,
				     0);
	}
	fake_virtq__publish(fq, head);
	return head;
}

int fake_virtq__add_chain(struct fake_virtq *fq, const struct fake_buf *bufs, unsigned int n)
{
	return fake_virtq__add_mixed(fq, bufs, n, NULL, 0);
}

int fake_virtq__add_indirect(struct fake_virtq *fq, const struct fake_buf *bufs, unsigned int n)
{
	return fake_virtq__add_mixed(fq, NULL, 0, bufs, n);
}

uint64_t fake_ram__put_le32(struct fake_ram *ram, const uint32_t *vals, unsigned int n)
{
	uint64_t gpa = fake_ram__alloc(ram, (uint64_t)n * 4, 4);
	uint32_t *p = fake_ram__hva(ram, gpa, (uint64_t)n * 4);

	for (unsigned int i = 0; i < n; i++)
		p[i] = htole32(vals[i]);
	return gpa;
}

static void renotify_note(struct virtio_device *vdev, unsigned int qidx, void *opaque)
{
	struct fake_renotify *rn = opaque;

	(void)vdev;
	if (qidx < VIRTIO_MAX_QUEUES)
		rn->pending[qidx] = true;
}

void fake_renotify__attach(struct fake_renotify *rn, struct virtio_device *vdev)
{
	memset(rn->pending, 0, sizeof(rn->pending));
	rn->vdev = vdev;
	vdev->renotify = renotify_note;
	vdev->renotify_opaque = rn;
}

void fake_renotify__run(struct fake_renotify *rn)
{
	for (bool again = true; again;) {
		again = false;
		for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
			if (!rn->pending[i])
				continue;
			rn->pending[i] = false;
			again = true;
			rn->vdev->ops->queue_notify(rn->vdev, i);
		}
	}
}

void fake_renotify__run_locked(struct fake_renotify *rn)
{
	pthread_mutex_lock(&rn->vdev->lock);
	fake_renotify__run(rn);
	pthread_mutex_unlock(&rn->vdev->lock);
}

void fake_renotify__kick(struct fake_renotify *rn, unsigned int qidx)
{
	pthread_mutex_lock(&rn->vdev->lock);
	rn->vdev->ops->queue_notify(rn->vdev, qidx);
	fake_renotify__run(rn);
	pthread_mutex_unlock(&rn->vdev->lock);
}

static uint64_t page_pattern(uint64_t gpa)
{
	return (gpa * 0x9e3779b97f4a7c15ULL) | 1;
}

void fake_ram__fill_pattern(struct fake_ram *ram, uint64_t gpa, uint64_t len)
{
	for (uint64_t a = gpa; a < gpa + len; a += 4096)
		*(volatile uint64_t *)fake_ram__hva(ram, a, 8) = page_pattern(a);
}

static uint64_t count_mismatches(struct fake_ram *ram, uint64_t gpa, uint64_t len, bool intact,
				 bool say_first)
{
	uint64_t bad = 0;

	for (uint64_t a = gpa; a < gpa + len; a += 4096) {
		uint64_t v = *(volatile uint64_t *)fake_ram__hva(ram, a, 8);

		if (intact ? v == page_pattern(a) : v == 0)
			continue;
		if (!bad++ && say_first)
			fprintf(stderr, "page %#llx: %s\n", (unsigned long long)a,
				intact ? "lost its content" : "not discarded");
	}
	return bad;
}

uint64_t fake_ram__mismatches(struct fake_ram *ram, uint64_t gpa, uint64_t len, bool intact)
{
	return count_mismatches(ram, gpa, len, intact, false);
}

bool fake_ram__pages_are(struct fake_ram *ram, uint64_t gpa, uint64_t len, bool intact)
{
	return count_mismatches(ram, gpa, len, intact, true) == 0;
}

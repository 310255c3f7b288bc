// SPDX-License-Identifier: GPL-2.0
/* Helpers shared by the fuzz harnesses. See fuzz_common.h. */
#include "fuzz_common.h"

#include "devices/virtqueue.h"

#include <endian.h>
#include <pthread.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void fuzz_fail(const char *file, int line, const char *cond)
{
	/* stderr may point to /dev/null (fuzz_quiet_logs): write to fd 2 itself. */
	dprintf(STDERR_FILENO, "%s:%d: FUZZ_ASSERT failed: %s\n", file, line, cond);
	abort();
}

const uint8_t *fin_bytes(struct fuzz_in *in, size_t max, size_t *len)
{
	const uint8_t *p = in->p;

	*len = max < in->n ? max : in->n;
	in->p += *len;
	in->n -= *len;
	return p;
}

void fuzz_ram__add(struct fuzz_ram *ram, uint64_t gpa, uint64_t size)
{
	void *hva;

	if (ram->nr >= FUZZ_MAX_REGIONS)
		fuzz_fail(__FILE__, __LINE__, "too many fuzz RAM regions");
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (hva == MAP_FAILED)
		fuzz_fail(__FILE__, __LINE__, "mmap of fuzz RAM failed");
	ram->gpa[ram->nr] = gpa;
	ram->size[ram->nr] = size;
	ram->hva[ram->nr] = hva;
	ram->nr++;
}

void fuzz_ram__reset(struct fuzz_ram *ram)
{
	guest_mem__init_empty(&ram->mem, 4096);
	for (unsigned int i = 0; i < ram->nr; i++) {
		madvise(ram->hva[i], ram->size[i], MADV_DONTNEED);
		if (guest_mem__add_region(&ram->mem, ram->gpa[i], ram->hva[i], ram->size[i], -1,
					  0) < 0)
			fuzz_fail(__FILE__, __LINE__, "guest_mem__add_region refused fuzz RAM");
	}
}

void fuzz_ram__scribble(struct fuzz_ram *ram, struct fuzz_in *in)
{
	uint32_t off = fin_u32(in) % ram->size[0];
	size_t n;
	const uint8_t *bytes = fin_bytes(in, fin_u8(in), &n);

	if (n > ram->size[0] - off)
		n = ram->size[0] - off;
	memcpy(ram->hva[0] + off, bytes, n);
}

void fuzz_quiet_logs(void)
{
	FILE *null;

	if (getenv("MINI_VMM_FUZZ_VERBOSE"))
		return;
	null = fopen("/dev/null", "w");
	if (null)
		stderr = null;
}

int fuzz_balloon__start(struct virtio_balloon *b, const struct balloon_config *cfg,
			const struct guest_mem *mem, struct event_loop *loop,
			struct balloon_wiring *w, struct discard_faults *faults)
{
	if (event_loop__init(loop) < 0)
		return -1;
	if (virtio_balloon__init(b, cfg, mem) < 0) {
		event_loop__exit(loop);
		return -1;
	}
	if (vm_devices__wire_balloon(w, b, loop) < 0) {
		virtio_balloon__exit(b);
		event_loop__exit(loop);
		return -1;
	}
	*faults = (struct discard_faults){0};
	b->dq.faults = faults;
	return 0;
}

void fuzz_balloon__stop(struct virtio_balloon *b, struct event_loop *loop, struct balloon_wiring *w)
{
	virtio_balloon__exit(b);
	vm_devices__unwire_balloon(w);
	event_loop__exit(loop);
}

static void fuzz_renotify__record(struct virtio_device *vdev, unsigned int qidx, void *opaque)
{
	struct fuzz_renotify *r = opaque;

	(void)vdev;
	r->calls++;
	if (qidx < 32)
		r->pending |= 1u << qidx;
}

void fuzz_renotify__wire(struct fuzz_renotify *r, struct virtio_device *vdev)
{
	*r = (struct fuzz_renotify){0};
	vdev->renotify = fuzz_renotify__record;
	vdev->renotify_opaque = r;
}

unsigned int fuzz_renotify__run(struct fuzz_renotify *r, unsigned int rounds,
				void (*kick)(unsigned int q))
{
	unsigned int n = 0;

	for (unsigned int round = 0; round < rounds && r->pending; round++) {
		uint32_t todo = r->pending;

		/* What the queues re-arm while they run waits for the next round. */
		r->pending = 0;
		for (unsigned int q = 0; q < 32; q++) {
			if (!(todo & (1u << q)))
				continue;
			kick(q);
			n++;
		}
	}
	r->delivered += n;
	return n;
}

int fuzz_balloon__open(struct virtio_balloon *b, const struct balloon_config *cfg,
		       const struct guest_mem *mem, struct event_loop *loop,
		       struct balloon_wiring *w, struct discard_faults *faults,
		       struct fuzz_renotify *r, uint64_t features)
{
	if (fuzz_balloon__start(b, cfg, mem, loop, w, faults) < 0)
		return -1;
	FUZZ_ASSERT(pthread_mutex_init(&b->vdev.lock, NULL) == 0);
	fuzz_renotify__wire(r, &b->vdev);
	FUZZ_ASSERT((features & ~b->vdev.ops->get_features(&b->vdev)) == 0);
	return 0;
}

void fuzz_vq__write_desc(uint8_t *table, uint16_t idx, uint64_t addr, uint32_t len, uint16_t flags,
			 uint16_t next)
{
	struct virtq_desc d = {htole64(addr), htole32(len), htole16(flags), htole16(next)};

	memcpy(table + (size_t)idx * VIRTQ_DESC_SIZE, &d, sizeof(d));
}

void fuzz_vq__kick(struct virtio_device *vdev, unsigned int q)
{
	pthread_mutex_lock(&vdev->lock);
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) && q < vdev->ops->num_queues(vdev) &&
	    vdev->queues[q].active)
		vdev->ops->queue_notify(vdev, q);
	pthread_mutex_unlock(&vdev->lock);
}

unsigned int fuzz_vq__bring_up(struct virtio_device *vdev, const struct guest_mem *mem,
			       uint64_t features, uint16_t qsize, uint64_t base, uint64_t stride)
{
	unsigned int nr;

	vdev->features_acked = features;
	nr = vdev->ops->num_queues(vdev);
	FUZZ_ASSERT(nr <= VIRTIO_MAX_QUEUES);
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	for (unsigned int q = 0; q < nr; q++) {
		struct virtqueue *vq = &vdev->queues[q];
		uint64_t rings = base + q * stride;

		virtqueue__reset(vq);
		vq->size = qsize;
		vq->desc_gpa = rings;
		vq->avail_gpa = rings + 0x1000;
		vq->used_gpa = rings + 0x2000;
		vq->ready = true;
		FUZZ_ASSERT(virtqueue__activate(vq, mem, features & (1ULL << VIRTIO_F_EVENT_IDX),
						features & (1ULL << VIRTIO_F_INDIRECT_DESC)) == 0);
	}
	vdev->status |= VIRTIO_STATUS_DRIVER_OK;
	if (vdev->ops->activate(vdev))
		vdev->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	return nr;
}

uint64_t fuzz_opt_features(uint8_t opt, const struct fuzz_opt_feature *map, unsigned int n)
{
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1;

	for (unsigned int i = 0; i < n; i++)
		if (!(opt & map[i].mask) == map[i].when_clear)
			features |= 1ULL << map[i].feature;
	return features;
}

uint16_t fuzz_qsize(struct fuzz_in *in)
{
	return (uint16_t)(1u << (fin_u8(in) % 9));
}

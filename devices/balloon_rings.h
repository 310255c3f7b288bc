/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a discard may not take: the pages of the device's own rings. A
 * guest may report (or inflate) the page holding a queue's descriptor
 * table, available or used ring. On anonymous and memfd RAM that only
 * costs the guest its ring (the page refaults as zeros). On hugetlbfs the
 * discard gives the huge page back to the host's pool, and the device's
 * next used-ring write (on the device thread or a vCPU) must fault a new
 * one in: if the pool is empty by then, that is SIGBUS in mini-vmm. So
 * before any discard, every range is cut around the discard granules
 * (4 KiB, or the huge page) that hold any byte of an active queue's rings:
 * those parts are kept resident, counted and logged, and the report still
 * completes (a discard is an offer, never a promise; docs/threat-model.md).
 * A legitimate driver never loses anything by this: a granule holding a
 * ring is in use, and reports are cut inward to whole free granules anyway.
 */
#ifndef MINI_VMM_BALLOON_RINGS_H
#define MINI_VMM_BALLOON_RINGS_H

#include "devices/discard/queue.h"
#include "devices/virtio.h"

#include <stdint.h>

/*
 * Cut ranges r[0..nr) around the granules holding the rings of vdev's
 * active queues. Pieces cut off a range's tail go to the end of r while
 * there is room (cap entries); without room they are kept too. Returns the
 * new number of ranges (possibly 0) and adds to *kept_bytes what will not
 * be discarded.
 */
unsigned int balloon_rings__exclude(const struct virtio_device *vdev, uint64_t granule,
				    struct discard_range *r, unsigned int nr, unsigned int cap,
				    uint64_t *kept_bytes);

#endif

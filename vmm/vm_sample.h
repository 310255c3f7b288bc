/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VM side of the control API: fills a struct vm_sample from the VM's
 * pieces, given as parameters so vm.c keeps its struct vm private. Safe to
 * call from the API's threads: guest RAM residency comes from the VM's
 * resident meter (at most one mincore() walk per max_age_ns, and never
 * under a device lock), the balloon is read under its vdev.lock (the same
 * short lock its device callbacks take).
 */
#ifndef MINI_VMM_VM_SAMPLE_H
#define MINI_VMM_VM_SAMPLE_H

#include "control/metrics.h"
#include "devices/virtio_balloon.h"
#include "vmm/resident_meter.h"

/*
 * Fill guest RAM and balloon fields of *s (balloon may be NULL). Leaves the
 * VM-wide ones (state, uptime, vcpus, event loop) to the caller.
 */
void vm_sample__fill(struct vm_sample *s, struct resident_meter *rm, uint64_t max_age_ns,
		     struct virtio_balloon *balloon);

#endif

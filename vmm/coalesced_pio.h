/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Coalesced port writes (KVM_CAP_COALESCED_PIO) for the UART's transmit
 * register: KVM appends the guest's `out` to a ring shared with user space
 * and resumes the guest at once, instead of an exit to mini-vmm per byte.
 * Linux's console prints a byte as an LSR read and a THR write, so its log
 * costs one exit per byte instead of two (docs/architecture.md, "Serial
 * output").
 *
 * Ordering: every vCPU exit drains the ring before it is handled, so a
 * device sees the coalesced writes and the exiting access in the order the
 * guest made them. A timer on the device thread drains what a guest wrote
 * before going idle (a halt stays in the kernel: no exit would drain it).
 *
 * The zone is only registered while `allowed` says so: the UART lets its
 * THR writes wait only while the THR-empty interrupt is off (IER.ETBEI),
 * because a coalesced write raises that interrupt only when it is drained.
 * After every access to the device's ports the vCPU re-checks, registers or
 * unregisters the zone, and drains again after unregistering (a write
 * another vCPU made in between).
 *
 * The ring is written by KVM, the bytes in it by the guest: each entry is
 * checked (port, size, direction) before it reaches the bus, and a drain
 * takes at most one ring's worth, so a guest writing without pause cannot
 * hold a drainer forever.
 */
#ifndef MINI_VMM_COALESCED_PIO_H
#define MINI_VMM_COALESCED_PIO_H

#include "vmm/bus.h"

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct coalesced_pio_stats {
	uint64_t writes;      /* coalesced writes handed to the bus */
	uint64_t drains;      /* drains that found at least one write */
	uint64_t registers;   /* zone registrations (the interrupt went off) */
	uint64_t unregisters; /* zone removals (the interrupt went on) */
	uint64_t bad_entries; /* ring entries outside the zone (counted, skipped) */
	uint64_t errors;      /* failed KVM_(UN)REGISTER_COALESCED_MMIO */
};

/* Register (on) or remove (off) the zone; 0 or -errno. KVM's ioctl, or a test's fake. */
typedef int (*coalesced_pio_zone_fn)(void *opaque, uint16_t port, uint16_t len, bool on);
/* Whether the device lets writes to the zone wait in the ring now. */
typedef bool (*coalesced_pio_allowed_fn)(void *opaque);

/* What the zone is and who answers for it; kept as given by coalesced_pio__init(). */
struct coalesced_pio_setup {
	struct kvm_coalesced_mmio_ring *ring; /* page KVM_CAP_COALESCED_MMIO of a vCPU's kvm_run */
	uint32_t ring_max;		      /* entries in the ring (KVM_COALESCED_MMIO_MAX) */
	struct bus *bus;
	uint16_t port, len;		/* the zone: writes to [port, port + len) */
	uint16_t dev_base, dev_len;	/* the device's ports: an access there re-checks */
	coalesced_pio_zone_fn set_zone; /* called with the lock held */
	void *zone_opaque;
	coalesced_pio_allowed_fn allowed; /* called with the lock held, must not drain */
	void *allowed_opaque;
};

struct coalesced_pio {
	pthread_mutex_t lock;		/* the ring's consumer side, `registered`, stats */
	struct coalesced_pio_setup cfg; /* cfg.ring NULL: not set up, or after __exit */
	bool registered;
	bool broken; /* a zone ioctl failed: stay unregistered, every write exits */
	struct coalesced_pio_stats stats;
};

/* Set up and register the zone if allowed. 0 or -errno (nothing registered then). */
int coalesced_pio__init(struct coalesced_pio *c, const struct coalesced_pio_setup *setup);
/* Remove the zone and drain what is left (after the vCPUs stopped). */
void coalesced_pio__exit(struct coalesced_pio *c);
/* Hand every write in the ring to the bus, in order, at most one ring's worth. Any thread. */
void coalesced_pio__drain(struct coalesced_pio *c);
/* After a vCPU's access to `port` was handled: register or remove the zone as allowed. */
void coalesced_pio__after_access(struct coalesced_pio *c, uint64_t port);
void coalesced_pio__get_stats(struct coalesced_pio *c, struct coalesced_pio_stats *out);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /dev/kvm and the VM file descriptor: API version and capability checks,
 * the in-kernel irqchip and PIT, memory slots, ioeventfd and irqfd.
 */
#ifndef MINI_VMM_KVM_H
#define MINI_VMM_KVM_H

#include "base/guest_mem.h"

#include <stdbool.h>
#include <stdint.h>

struct kvm {
	int sys_fd; /* /dev/kvm */
	int vm_fd;
	int vcpu_mmap_size;
	bool has_identity_map_addr;
	bool has_tsc_deadline; /* KVM_CAP_TSC_DEADLINE_TIMER: the LAPIC emulates TSC-deadline mode
				*/
	/* KVM_CAP_COALESCED_PIO: the page of a vCPU's kvm_run mapping holding the ring; 0: none */
	int coalesced_pio_page;
	struct kvm_cpuid2 *supported_cpuid; /* KVM_GET_SUPPORTED_CPUID, for every vCPU */
};

/* Open /dev/kvm and create a VM; every failure says what to fix. 0 or -errno. */
int kvm__init(struct kvm *kvm);
void kvm__exit(struct kvm *kvm);

/* Register every region of guest RAM as a KVM memory slot. */
int kvm__set_memory(struct kvm *kvm, const struct guest_mem *mem);

/* Level-triggered interrupt line (KVM_IRQ_LINE), e.g. for the 8250. */
int kvm__irq_line(struct kvm *kvm, uint32_t gsi, int level);
/* An eventfd that injects `gsi` when written (KVM_IRQFD). Returns the fd or -errno. */
int kvm__irqfd(struct kvm *kvm, uint32_t gsi);
/*
 * An eventfd that KVM signals on a 4-byte MMIO write of `datamatch` to
 * `addr` (KVM_IOEVENTFD), without a vCPU exit. Returns the fd or -errno.
 */
int kvm__ioeventfd_mmio(struct kvm *kvm, uint64_t addr, uint32_t datamatch);

/*
 * Let port writes to [port, port + len) wait in the coalesced ring (on) or
 * exit again (off): KVM_(UN)REGISTER_COALESCED_MMIO with pio = 1. 0 or -errno.
 */
int kvm__coalesced_pio_zone(struct kvm *kvm, uint16_t port, uint16_t len, bool on);

/* Whether this KVM emulates guest kernel code (kvm_pvm, see host-notes.md). */
bool kvm__host_is_emulating(void);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest-physical address map and the fixed I/O ports of mini-vmm (x86-64).
 * One place, so the e820 map, the loaders, the device registration and the
 * docs agree. See docs/architecture.md.
 */
#ifndef MINI_VMM_LAYOUT_H
#define MINI_VMM_LAYOUT_H

/* Low memory used by the boot protocol (all below 1 MiB, reserved in e820 where needed). */
#define LAYOUT_GDT_GPA		  0x500ULL
#define LAYOUT_PVH_START_INFO_GPA 0x6000ULL /* struct hvm_start_info + modules */
#define LAYOUT_ZERO_PAGE_GPA	  0x7000ULL /* struct boot_params for the 64-bit protocol */
#define LAYOUT_PML4_GPA		  0x9000ULL
#define LAYOUT_PDPT_GPA		  0xa000ULL
#define LAYOUT_PD_GPA		  0xb000ULL /* 4 pages: identity map of the first 4 GiB, 2 MiB pages */
#define LAYOUT_CMDLINE_GPA	  0x20000ULL
#define LAYOUT_CMDLINE_MAX	  0x10000ULL
#define LAYOUT_MEMMAP_GPA	  0x30000ULL /* PVH e820-style memory map */
#define LAYOUT_BOOT_STACK_GPA	  0x8ff0ULL
#define LAYOUT_EBDA_GPA		  0x9fc00ULL /* MP table lives here */
#define LAYOUT_EBDA_END		  0xa0000ULL
#define LAYOUT_HIMEM_START	  0x100000ULL /* 1 MiB: kernels load at or above */

/* The MMIO hole under 4 GiB: no RAM here, devices, IOAPIC and LAPIC live in it. */
#define LAYOUT_MMIO_HOLE_START	0xc0000000ULL
#define LAYOUT_MMIO_HOLE_END	0x100000000ULL
#define LAYOUT_VIRTIO_MMIO_BASE 0xd0000000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ULL /* per device */
#define LAYOUT_VIRTIO_MMIO_MAX	32
#define LAYOUT_VIRTIO_IRQ_BASE	5 /* first GSI for virtio-mmio devices */
#define LAYOUT_IOAPIC_GPA	0xfec00000ULL
#define LAYOUT_LAPIC_GPA	0xfee00000ULL
#define LAYOUT_KVM_IDENTITY_MAP 0xfffbc000ULL /* KVM_SET_IDENTITY_MAP_ADDR, 1 page */
#define LAYOUT_KVM_TSS		0xfffbd000ULL /* KVM_SET_TSS_ADDR, 3 pages */

/* Port I/O */
#define PORT_SERIAL_COM1 0x3f8
#define IRQ_SERIAL_COM1	 4
#define PORT_I8042_DATA	 0x60
#define PORT_I8042_CMD	 0x64
/*
 * The test device (devices/testdev.c). 0xf4 is the port QEMU's isa-debug-exit
 * uses by convention, so the same guest workload can stop QEMU too.
 *   0xf4 write v: stop the VM; v == 0 means pass (exit 0), else guest failure.
 *   0xf5 write v (32 bit): progress marker, bits 0-7 phase, bits 8-31 argument (MiB).
 *   0xf9 read (32 bit): the host's CLOCK_MONOTONIC in ms, wrapping every 49.7 days
 *        (compare two readings by unsigned subtraction). The tiny test guests bound
 *        their waits with it. Nothing on a PC lives at 0xf0-0xff (Linux reserves it
 *        as "fpu"), and this VMM has no other device there.
 */
#define PORT_TESTDEV_EXIT   0xf4
#define PORT_TESTDEV_MARKER 0xf5
#define PORT_TESTDEV_CLOCK  0xf9

/* Marker phases, shared with the guest workload patch (guest/patches). */
#define TESTDEV_PHASE_START    0 /* workload started; arg = MiB it will cycle */
#define TESTDEV_PHASE_TOUCHED  1 /* all pages touched; arg = MiB touched */
#define TESTDEV_PHASE_FREED    2 /* freed; arg = MiB freed */
#define TESTDEV_PHASE_SETTLED  3 /* page reporting settled; arg = MiB the guest saw reported */
#define TESTDEV_PHASE_VERIFIED 4 /* re-allocated and verified; arg = corrupted words (capped) */

#endif

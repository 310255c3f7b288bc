/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Intel MultiProcessor Specification 1.4 table (chapter 4) that tells a
 * guest without ACPI where its CPUs and its IOAPIC are and how ISA IRQs reach
 * the IOAPIC (Linux: CONFIG_X86_MPPARSE). It lives in the EBDA, at
 * LAYOUT_EBDA_GPA, which Linux scans ("last KiB of base memory") and which
 * the e820 map reserves.
 */
#ifndef MINI_VMM_MPTABLE_H
#define MINI_VMM_MPTABLE_H

#include "base/guest_mem.h"
#include "base/layout.h"

#include <stdint.h>

/* MP spec 1.4, 4.1: MP Floating Pointer Structure, 16 bytes, 16-byte aligned. */
struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;  /* the configuration table */
	uint8_t length;	   /* in 16-byte units: 1 */
	uint8_t spec_rev;  /* 4 = MP spec 1.4 */
	uint8_t checksum;  /* all 16 bytes sum to 0 */
	uint8_t feature1;  /* 0: a configuration table is present */
	uint8_t feature2;  /* bit 7 IMCRP: 0 = virtual wire mode */
	uint8_t feature3[3];
} __attribute__((packed));

/* 4.2: configuration table header, followed by the entries. */
struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* header + base entries */
	uint8_t spec_rev;
	uint8_t checksum; /* the `length` bytes sum to 0 */
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t entry_count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

enum mpc_entry_type {
	MPC_PROCESSOR = 0,
	MPC_BUS = 1,
	MPC_IOAPIC = 2,
	MPC_INTSRC = 3,
	MPC_LINTSRC = 4,
};

#define MPC_CPU_ENABLED	      (1 << 0)
#define MPC_CPU_BOOTPROCESSOR (1 << 1)
#define MPC_IOAPIC_ENABLED    (1 << 0)
#define MPC_IRQ_INT	      0
#define MPC_IRQ_NMI	      1
#define MPC_IRQ_EXTINT	      3
#define MPC_APIC_ALL	      0xff
#define MPC_IOAPIC_VERSION    0x11
#define MPC_LAPIC_VERSION     0x14 /* integrated xAPIC */
#define MPC_IOAPIC_PINS	      24   /* KVM's in-kernel IOAPIC */

struct mpc_cpu {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;
	uint32_t signature; /* CPUID family/model/stepping */
	uint32_t features;  /* CPUID.1:EDX */
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6]; /* "ISA   " */
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));

/* I/O interrupt (type 3) and local interrupt (type 4) assignment entries. */
struct mpc_intsrc {
	uint8_t type;
	uint8_t irq_type;
	uint16_t irq_flags; /* 0: polarity and trigger conform to the bus */
	uint8_t src_bus;
	uint8_t src_bus_irq;
	uint8_t dst_apic; /* IOAPIC id (type 3) or local APIC id, 0xff = all (type 4) */
	uint8_t dst_pin;  /* IOAPIC INTIN (type 3) or LINTIN (type 4) */
} __attribute__((packed));

/* Everything but the processor entries, then how many of those fit in the EBDA. */
#define MPTABLE_FIXED_SIZE                                                                         \
	(sizeof(struct mpf_intel) + sizeof(struct mpc_table) + sizeof(struct mpc_bus) +            \
	 sizeof(struct mpc_ioapic) + (MPC_IOAPIC_PINS + 2) * sizeof(struct mpc_intsrc))
#define MPTABLE_MAX_CPUS                                                                           \
	((LAYOUT_EBDA_END - LAYOUT_EBDA_GPA - MPTABLE_FIXED_SIZE) / sizeof(struct mpc_cpu))

/*
 * Write the floating pointer and the configuration table for `ncpus` CPUs
 * (APIC ids 0..ncpus-1, CPU 0 the BSP) at LAYOUT_EBDA_GPA. The IOAPIC gets
 * id ncpus. Returns 0, or -EINVAL if ncpus is 0 or above MPTABLE_MAX_CPUS
 * (37: what fits in the 1 KiB EBDA), -EFAULT if guest RAM lacks the EBDA.
 */
int mptable__write(const struct guest_mem *mem, unsigned int ncpus);

#endif

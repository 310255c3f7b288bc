// SPDX-License-Identifier: GPL-2.0
/*
 * Intel MP spec 1.4 table (see mptable.h). Linux reads it in
 * arch/x86/kernel/mpparse.c when there is no ACPI MADT: the processor entries
 * give it the APs to start, the IOAPIC entry and the I/O interrupt entries
 * route the ISA IRQs (serial on 4, virtio-mmio from LAYOUT_VIRTIO_IRQ_BASE).
 */
#include "vmm/mptable.h"

#include "base/log.h"

#include <errno.h>
#include <string.h>

_Static_assert(sizeof(struct mpf_intel) == 16, "MP spec 4.1");
_Static_assert(sizeof(struct mpc_table) == 44, "MP spec 4.2");
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP spec 4.3.1");
_Static_assert(sizeof(struct mpc_bus) == 8 && sizeof(struct mpc_ioapic) == 8 &&
		       sizeof(struct mpc_intsrc) == 8,
	       "MP spec 4.3.2-4.3.5");
/* APIC ids are 8 bits, 0xff is broadcast, and the IOAPIC takes id ncpus. */
_Static_assert(MPTABLE_MAX_CPUS >= 1 && MPTABLE_MAX_CPUS <= 254, "MP table CPU bound");

#define MPTABLE_SPEC_REV 4 /* MP spec 1.4 */
/* CPUID signature (family 6) and CPUID.1:EDX FPU|APIC, as Firecracker reports. */
#define MPC_CPU_SIGNATURE 0x600
#define MPC_CPU_FEATURES  ((1 << 0) | (1 << 9))
#define ISA_BUS_ID	  0

static uint8_t mp_checksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* Append one entry to the configuration table and count it. */
static void put_entry(uint8_t **p, uint16_t *entries, const void *entry, size_t size)
{
	memcpy(*p, entry, size);
	*p += size;
	(*entries)++;
}

int mptable__write(const struct guest_mem *mem, unsigned int ncpus)
{
	uint8_t buf[LAYOUT_EBDA_END - LAYOUT_EBDA_GPA];
	struct mpf_intel *mpf = (struct mpf_intel *)buf;
	struct mpc_table *mpc = (struct mpc_table *)(mpf + 1);
	uint8_t *p = (uint8_t *)(mpc + 1);
	const uint8_t ioapic_id = (uint8_t)ncpus;
	uint16_t entries = 0;

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS) {
		log_error("MP table: %u CPUs; between 1 and %zu fit in the EBDA", ncpus,
			  (size_t)MPTABLE_MAX_CPUS);
		return -EINVAL;
	}
	memset(buf, 0, sizeof(buf));

	for (unsigned int cpu = 0; cpu < ncpus; cpu++) {
		struct mpc_cpu e = {
			.type = MPC_PROCESSOR,
			.apic_id = (uint8_t)cpu,
			.apic_ver = MPC_LAPIC_VERSION,
			.flags = MPC_CPU_ENABLED | (cpu == 0 ? MPC_CPU_BOOTPROCESSOR : 0),
			.signature = MPC_CPU_SIGNATURE,
			.features = MPC_CPU_FEATURES,
		};

		put_entry(&p, &entries, &e, sizeof(e));
	}

	struct mpc_bus bus = {.type = MPC_BUS, .bus_id = ISA_BUS_ID};
	memcpy(bus.bus_type, "ISA   ", sizeof(bus.bus_type));
	put_entry(&p, &entries, &bus, sizeof(bus));

	struct mpc_ioapic ioapic = {
		.type = MPC_IOAPIC,
		.apic_id = ioapic_id,
		.apic_ver = MPC_IOAPIC_VERSION,
		.flags = MPC_IOAPIC_ENABLED,
		.addr = (uint32_t)LAYOUT_IOAPIC_GPA,
	};
	put_entry(&p, &entries, &ioapic, sizeof(ioapic));

	/* ISA IRQ n -> IOAPIC pin n: KVM's default GSI routing is the identity. */
	for (unsigned int irq = 0; irq < MPC_IOAPIC_PINS; irq++) {
		struct mpc_intsrc e = {
			.type = MPC_INTSRC,
			.irq_type = MPC_IRQ_INT,
			.src_bus = ISA_BUS_ID,
			.src_bus_irq = (uint8_t)irq,
			.dst_apic = ioapic_id,
			.dst_pin = (uint8_t)irq,
		};

		put_entry(&p, &entries, &e, sizeof(e));
	}

	/* Virtual wire: the PIC's ExtINT on LINT0, NMI on LINT1, of every local APIC. */
	static const uint8_t lint_types[2] = {MPC_IRQ_EXTINT, MPC_IRQ_NMI};
	for (unsigned int lint = 0; lint < 2; lint++) {
		struct mpc_intsrc e = {
			.type = MPC_LINTSRC,
			.irq_type = lint_types[lint],
			.src_bus = ISA_BUS_ID,
			.dst_apic = MPC_APIC_ALL,
			.dst_pin = (uint8_t)lint,
		};

		put_entry(&p, &entries, &e, sizeof(e));
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(p - (uint8_t *)mpc);
	mpc->spec_rev = MPTABLE_SPEC_REV;
	memcpy(mpc->oem, "MINIVMM ", sizeof(mpc->oem));
	memcpy(mpc->product, "MINI-VMM    ", sizeof(mpc->product));
	mpc->entry_count = entries;
	mpc->lapic = (uint32_t)LAYOUT_LAPIC_GPA;
	mpc->checksum = mp_checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(LAYOUT_EBDA_GPA + sizeof(*mpf));
	mpf->length = 1;
	mpf->spec_rev = MPTABLE_SPEC_REV;
	mpf->checksum = mp_checksum(mpf, sizeof(*mpf));

	if (guest_mem__write(mem, LAYOUT_EBDA_GPA, buf, (uint64_t)(p - buf)) < 0) {
		log_error("MP table: guest RAM does not cover the EBDA at %#llx", LAYOUT_EBDA_GPA);
		return -EFAULT;
	}
	return 0;
}

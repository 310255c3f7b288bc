// SPDX-License-Identifier: GPL-2.0
/*
 * MP table: parsed back the way Linux's mpparse.c reads it (floating pointer
 * in the last KiB of base memory, checksums, entries by type).
 */
#include "testlib.h"
#include "base/guest_mem.h"
#include "base/layout.h"
#include "vmm/mptable.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define LOW_RAM (1u << 20)

static uint8_t low_ram[LOW_RAM];

static uint8_t byte_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

struct parsed {
	unsigned int cpus, bsp_count, buses, ioapics, intsrcs, lintsrcs;
	uint8_t ioapic_id;
};

/* Find, verify and walk the table; every check is one Linux makes or relies on. */
static struct parsed parse(const struct guest_mem *mem, unsigned int ncpus)
{
	const uint8_t *base = guest_mem__translate(mem, LAYOUT_EBDA_GPA, 1024);
	struct parsed r = {0};
	struct mpf_intel mpf;
	struct mpc_table mpc;
	const uint8_t *p, *end;

	CHECK(base != NULL);
	memcpy(&mpf, base, sizeof(mpf));
	CHECK(memcmp(mpf.signature, "_MP_", 4) == 0);
	CHECK_EQ(mpf.length, 1);
	CHECK_EQ(mpf.spec_rev, 4);
	CHECK_EQ(byte_sum(base, 16), 0);
	CHECK_EQ(mpf.feature1, 0);

	CHECK(mpf.physptr >= LAYOUT_EBDA_GPA + 16);
	const uint8_t *t = guest_mem__translate(mem, mpf.physptr, sizeof(mpc));
	CHECK(t != NULL);
	memcpy(&mpc, t, sizeof(mpc));
	CHECK(memcmp(mpc.signature, "PCMP", 4) == 0);
	CHECK_EQ(mpc.spec_rev, 4);
	CHECK(mpf.physptr + mpc.length <= LAYOUT_EBDA_END);
	CHECK(guest_mem__translate(mem, mpf.physptr, mpc.length) != NULL);
	CHECK_EQ(byte_sum(t, mpc.length), 0);
	CHECK_EQ(mpc.lapic, LAYOUT_LAPIC_GPA);
	CHECK_EQ(mpc.entry_count, ncpus + 1 + 1 + 24 + 2);
	CHECK_EQ(mpc.length, 44 + 20 * ncpus + 8 + 8 + 26 * 8);

	p = t + sizeof(mpc);
	end = t + mpc.length;
	for (unsigned int i = 0; i < mpc.entry_count; i++) {
		CHECK(p < end);
		switch (*p) {
		case MPC_PROCESSOR: {
			struct mpc_cpu c;

			memcpy(&c, p, sizeof(c));
			CHECK_EQ(c.apic_id, r.cpus); /* APIC id = index */
			CHECK(c.flags & MPC_CPU_ENABLED);
			if (c.flags & MPC_CPU_BOOTPROCESSOR) {
				CHECK_EQ(c.apic_id, 0);
				r.bsp_count++;
			}
			r.cpus++;
			p += sizeof(c);
			break;
		}
		case MPC_BUS: {
			struct mpc_bus b;

			memcpy(&b, p, sizeof(b));
			CHECK(memcmp(b.bus_type, "ISA   ", 6) == 0);
			CHECK_EQ(b.bus_id, 0);
			r.buses++;
			p += sizeof(b);
			break;
		}
		case MPC_IOAPIC: {
			struct mpc_ioapic io;

			memcpy(&io, p, sizeof(io));
			CHECK_EQ(io.apic_ver, 0x11);
			CHECK_EQ(io.flags & 1, 1);
			CHECK_EQ(io.addr, LAYOUT_IOAPIC_GPA);
			r.ioapic_id = io.apic_id;
			r.ioapics++;
			p += sizeof(io);
			break;
		}
		case MPC_INTSRC: {
			struct mpc_intsrc s;

			memcpy(&s, p, sizeof(s));
			CHECK_EQ(s.irq_type, MPC_IRQ_INT);
			CHECK_EQ(s.src_bus, 0);
			CHECK_EQ(s.src_bus_irq, r.intsrcs); /* IRQ 0..23 in order */
			CHECK_EQ(s.dst_pin, s.src_bus_irq);
			CHECK_EQ(s.dst_apic, r.ioapic_id);
			r.intsrcs++;
			p += sizeof(s);
			break;
		}
		case MPC_LINTSRC: {
			struct mpc_intsrc s;

			memcpy(&s, p, sizeof(s));
			CHECK_EQ(s.irq_type, r.lintsrcs == 0 ? MPC_IRQ_EXTINT : MPC_IRQ_NMI);
			CHECK_EQ(s.dst_pin, r.lintsrcs);
			CHECK_EQ(s.dst_apic, 0xff);
			r.lintsrcs++;
			p += sizeof(s);
			break;
		}
		default:
			CHECK(!"unknown MP table entry type");
		}
	}
	CHECK(p == end);
	return r;
}

static void init_mem(struct guest_mem *mem)
{
	memset(low_ram, 0xcc, sizeof(low_ram));
	guest_mem__init_empty(mem, 4096);
	CHECK_EQ(guest_mem__add_region(mem, 0, low_ram, sizeof(low_ram), -1, 0), 0);
}

static void test_counts(void)
{
	const unsigned int counts[] = {1, 2, MPTABLE_MAX_CPUS};
	struct guest_mem mem;

	for (unsigned int i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		unsigned int n = counts[i];
		struct parsed r;

		init_mem(&mem);
		CHECK_EQ(mptable__write(&mem, n), 0);
		r = parse(&mem, n);
		CHECK_EQ(r.cpus, n);
		CHECK_EQ(r.bsp_count, 1);
		CHECK_EQ(r.buses, 1);
		CHECK_EQ(r.ioapics, 1);
		CHECK_EQ(r.ioapic_id, n); /* after the CPUs' APIC ids */
		CHECK_EQ(r.intsrcs, 24);
		CHECK_EQ(r.lintsrcs, 2);
		/* Nothing written outside the EBDA. */
		CHECK_EQ(low_ram[LAYOUT_EBDA_GPA - 1], 0xcc);
		CHECK_EQ(low_ram[LAYOUT_EBDA_END], 0xcc);
	}
	/* 1 KiB of EBDA holds the fixed part plus 37 processor entries. */
	CHECK_EQ(MPTABLE_MAX_CPUS, 37);
}

static void test_bounds(void)
{
	const unsigned int bad[] = {0, MPTABLE_MAX_CPUS + 1, 254, 255, 256, 100000};
	struct guest_mem mem;
	static uint8_t tiny[64 * 1024];

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		init_mem(&mem);
		CHECK_EQ(mptable__write(&mem, bad[i]), -EINVAL);
		CHECK_EQ(low_ram[LAYOUT_EBDA_GPA], 0xcc); /* untouched */
	}

	/* Guest RAM without an EBDA. */
	guest_mem__init_empty(&mem, 4096);
	CHECK_EQ(guest_mem__add_region(&mem, 0, tiny, sizeof(tiny), -1, 0), 0);
	CHECK_EQ(mptable__write(&mem, 1), -EFAULT);
}

int main(void)
{
	test_counts();
	test_bounds();
	return testlib_done("test_mptable");
}

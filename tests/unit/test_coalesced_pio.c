// SPDX-License-Identifier: GPL-2.0
/*
 * Coalesced port writes for the UART (vmm/coalesced_pio.c) against the real
 * 16550A model on a port bus, with KVM played by this file: a write to a
 * registered zone goes into the ring while there is room, anything else is
 * an exit, handled the way vcpu.c does (drain, dispatch, re-check the zone).
 */
#include "testlib.h"
#include "base/layout.h"
#include "devices/serial.h"
#include "vmm/bus.h"
#include "vmm/coalesced_pio.h"

#include <errno.h>
#include <string.h>

#define RING_PAGE 4096
#define COM1	  PORT_SERIAL_COM1

static union {
	struct kvm_coalesced_mmio_ring ring;
	char page[RING_PAGE];
} ring_page;

static struct serial serial;
static struct bus pio;
static struct coalesced_pio cpio;
static char out[256];
static size_t out_len;
static int irq_level;
static bool zone_on;
static int zone_calls;
static int zone_fail_on; /* fail the n-th zone call (1-based); 0: never */

static uint32_t ring_max(void)
{
	return (RING_PAGE - sizeof(struct kvm_coalesced_mmio_ring)) /
	       sizeof(struct kvm_coalesced_mmio);
}

static void on_output(void *opaque, const uint8_t *buf, size_t n)
{
	if (out_len + n < sizeof(out)) {
		memcpy(out + out_len, buf, n);
		out_len += n;
	}
}

static void set_irq(void *opaque, int level)
{
	irq_level = level;
}

static int fake_zone(void *opaque, uint16_t port, uint16_t len, bool on)
{
	CHECK_EQ(port, COM1 + UART_THR);
	CHECK_EQ(len, 1);
	if (++zone_calls == zone_fail_on)
		return -ENOMEM;
	zone_on = on;
	return 0;
}

static bool may_coalesce(void *opaque)
{
	return !serial__tx_irq_enabled(&serial);
}

/* What KVM does with an entry: append at `last` (the caller checked room and zone). */
static void ring_append(uint64_t addr, uint32_t len, uint32_t pio_flag, uint8_t byte)
{
	struct kvm_coalesced_mmio_ring *r = &ring_page.ring;
	struct kvm_coalesced_mmio *e = &r->coalesced_mmio[r->last];

	memset(e, 0, sizeof(*e));
	e->phys_addr = addr;
	e->len = len;
	e->pio = pio_flag;
	e->data[0] = byte;
	r->last = (r->last + 1) % ring_max();
}

static bool ring_has_room(void)
{
	const struct kvm_coalesced_mmio_ring *r = &ring_page.ring;

	return (r->last + 1) % ring_max() != r->first;
}

static uint32_t ring_used(void)
{
	const struct kvm_coalesced_mmio_ring *r = &ring_page.ring;

	return (r->last + ring_max() - r->first) % ring_max();
}

/* A vCPU's exit for a port access, as vcpu.c handles it. */
static void exit_io(uint16_t port, uint8_t *val, bool is_write)
{
	coalesced_pio__drain(&cpio);
	bus__dispatch(&pio, port, val, 1, is_write);
	coalesced_pio__after_access(&cpio, port);
}

static void guest_out(uint16_t port, uint8_t val)
{
	if (zone_on && port == COM1 + UART_THR && ring_has_room()) {
		ring_append(port, 1, 1, val);
		return;
	}
	exit_io(port, &val, true);
}

static uint8_t guest_in(uint16_t port)
{
	uint8_t val = 0;

	exit_io(port, &val, false);
	return val;
}

static void guest_puts(const char *s)
{
	while (*s)
		guest_out(COM1 + UART_THR, (uint8_t)*s++);
}

/* The serial's THR as vm.c sets it up, with this file's KVM. */
static struct coalesced_pio_setup thr_zone(void)
{
	return (struct coalesced_pio_setup){
		.ring = &ring_page.ring,
		.ring_max = ring_max(),
		.bus = &pio,
		.port = COM1 + UART_THR,
		.len = 1,
		.dev_base = COM1,
		.dev_len = SERIAL_PIO_LEN,
		.set_zone = fake_zone,
		.allowed = may_coalesce,
	};
}

static void setup(void)
{
	struct coalesced_pio_setup cs = thr_zone();

	memset(&ring_page, 0, sizeof(ring_page));
	out_len = 0;
	irq_level = 0;
	zone_on = false;
	zone_calls = 0;
	CHECK_EQ(serial__init(&serial, -1, set_irq, NULL), 0);
	serial__set_output_cb(&serial, on_output, NULL);
	bus__init(&pio, "pio");
	CHECK_EQ(bus__register(&pio, COM1, SERIAL_PIO_LEN, serial__io, &serial, "serial"), 0);
	CHECK_EQ(coalesced_pio__init(&cpio, &cs), 0);
}

static void teardown(void)
{
	coalesced_pio__exit(&cpio);
	serial__exit(&serial);
}

/* Linux's console: bytes wait in the ring, an LSR read (an exit) hands them over in order. */
static void test_order_through_exits(void)
{
	struct coalesced_pio_stats st;

	setup();
	CHECK(zone_on); /* IER is 0 at reset */
	guest_puts("boot");
	CHECK_EQ(out_len, 0);
	CHECK_EQ(ring_used(), 4);
	CHECK(guest_in(COM1 + UART_LSR) & UART_LSR_THRE);
	CHECK_EQ(out_len, 4);
	CHECK(memcmp(out, "boot", 4) == 0);
	/* A divisor write through DLAB lands in order too: after the bytes before it. */
	guest_puts("xy");
	guest_out(COM1 + UART_LCR, UART_LCR_DLAB); /* an exit: drains "xy" first */
	guest_out(COM1 + UART_DLL, 3);		   /* coalesced: port 0 with DLAB */
	guest_out(COM1 + UART_LCR, 0x03);
	CHECK_EQ(out_len, 6);
	CHECK(memcmp(out + 4, "xy", 2) == 0);
	guest_out(COM1 + UART_LCR, UART_LCR_DLAB);
	CHECK_EQ(guest_in(COM1 + UART_DLL), 3);
	guest_out(COM1 + UART_LCR, 0x03);
	coalesced_pio__get_stats(&cpio, &st);
	CHECK_EQ(st.writes, 7);
	CHECK_EQ(st.bad_entries, 0);
	teardown();
}

/* With THRI on, a write must exit: its interrupt cannot wait for a drain. */
static void test_thri_turns_the_zone_off(void)
{
	struct coalesced_pio_stats st;

	setup();
	guest_out(COM1 + UART_MCR, UART_MCR_OUT2);
	guest_puts("ab");
	guest_out(COM1 + UART_IER, UART_IER_ETBEI);
	CHECK(!zone_on);
	CHECK_EQ(out_len, 2); /* drained before the IER write */
	CHECK_EQ(irq_level, 1);
	CHECK_EQ(guest_in(COM1 + UART_IIR) & 0x0f, UART_IIR_THRI);
	CHECK_EQ(irq_level, 0);
	guest_puts("c"); /* exits: THR empties at once, THRE raised now */
	CHECK_EQ(out_len, 3);
	CHECK_EQ(irq_level, 1);
	guest_out(COM1 + UART_IER, 0);
	CHECK(zone_on);
	coalesced_pio__get_stats(&cpio, &st);
	CHECK_EQ(st.registers, 2);
	CHECK_EQ(st.unregisters, 1);
	teardown();
}

/*
 * Another vCPU's write lands in the ring between the IER write and the zone's
 * removal: removing the zone drains it, so its THRE interrupt is raised then
 * and not at some later exit.
 */
static void test_write_racing_the_removal(void)
{
	uint8_t ier = UART_IER_ETBEI, iir = 0;

	setup();
	guest_out(COM1 + UART_MCR, UART_MCR_OUT2);
	coalesced_pio__drain(&cpio);
	bus__dispatch(&pio, COM1 + UART_IER, &ier, 1, true);  /* vCPU 0 handles its IER write */
	bus__dispatch(&pio, COM1 + UART_IIR, &iir, 1, false); /* clears THRE (no zone check) */
	CHECK_EQ(iir & 0x0f, UART_IIR_THRI);
	CHECK_EQ(irq_level, 0);
	CHECK(zone_on);
	ring_append(COM1 + UART_THR, 1, 1, 'z');	     /* vCPU 1, still coalesced */
	coalesced_pio__after_access(&cpio, COM1 + UART_IER); /* vCPU 0: zone goes away */
	CHECK(!zone_on);
	CHECK_EQ(ring_used(), 0);
	CHECK_EQ(out_len, 1);
	CHECK_EQ(out[0], 'z');
	CHECK_EQ(irq_level, 1);
	teardown();
}

/* Entries that are not a 1..8-byte port write inside the zone are counted and skipped. */
static void test_bad_entries(void)
{
	struct coalesced_pio_stats st;

	setup();
	ring_append(COM1 + UART_THR, 1, 0, 'm');       /* MMIO */
	ring_append(COM1 + UART_IER, 1, 1, 0x0f);      /* outside the zone */
	ring_append(COM1 + UART_THR, 9, 1, 'l');       /* too long */
	ring_append(COM1 + UART_THR, 0, 1, 'e');       /* empty */
	ring_append(COM1 + UART_THR, 2, 1, 'w');       /* runs past the zone */
	ring_append(0xffffffffffffffffULL, 1, 1, 'o'); /* wraps */
	ring_append(COM1 + UART_THR, 1, 1, 'k');
	coalesced_pio__drain(&cpio);
	coalesced_pio__get_stats(&cpio, &st);
	CHECK_EQ(st.bad_entries, 6);
	CHECK_EQ(st.writes, 1);
	CHECK_EQ(out_len, 1);
	CHECK_EQ(out[0], 'k');
	CHECK_EQ(guest_in(COM1 + UART_IER), 0); /* the IER entry never reached the UART */
	teardown();
}

/* A full ring: KVM makes the next write an exit; nothing is lost or reordered. */
static void test_full_ring(void)
{
	char want[256];
	uint32_t n = ring_max() + 5;

	CHECK(n < sizeof(want));
	setup();
	for (uint32_t i = 0; i < n; i++) {
		want[i] = (char)('a' + i % 26);
		guest_out(COM1 + UART_THR, (uint8_t)want[i]);
	}
	guest_in(COM1 + UART_LSR);
	CHECK_EQ(out_len, n);
	CHECK(memcmp(out, want, n) == 0);
	teardown();
}

/* KVM refuses the zone: no coalescing at all (init fails); refuses removal: stays, counted. */
static void test_zone_errors(void)
{
	struct coalesced_pio_setup cs = thr_zone();
	struct coalesced_pio_stats st;

	zone_calls = 0;
	zone_fail_on = 1;
	CHECK_EQ(coalesced_pio__init(&cpio, &cs), -EIO);
	zone_fail_on = 2; /* the removal when THRI goes on */
	setup();
	guest_out(COM1 + UART_IER, UART_IER_ETBEI);
	coalesced_pio__get_stats(&cpio, &st);
	CHECK_EQ(st.errors, 1);
	CHECK_EQ(st.unregisters, 0);
	guest_out(COM1 + UART_IER, 0); /* broken: no more zone calls */
	CHECK_EQ(zone_calls, 2);
	zone_fail_on = 0;
	teardown();
}

int main(void)
{
	test_order_through_exits();
	test_thri_turns_the_zone_off();
	test_write_racing_the_removal();
	test_bad_entries();
	test_full_ring();
	test_zone_errors();
	return testlib_done("test_coalesced_pio");
}

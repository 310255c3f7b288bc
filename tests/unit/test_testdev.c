// SPDX-License-Identifier: GPL-2.0
/* The exit, marker and clock ports, through the port bus as the vCPU sees them. */
#include "testlib.h"
#include "devices/testdev.h"
#include "vmm/bus.h"
#include "base/clock.h"
#include "base/layout.h"

#include <string.h>
#include <time.h>

#define NS_PER_MS 1000000ULL

struct recorder {
	int exits;
	uint32_t code;
	int markers;
	unsigned int phase;
	uint32_t arg;
	uint64_t now_ns; /* what the fake clock says */
	int clock_reads;
};

static void on_exit_port(void *opaque, uint32_t code)
{
	struct recorder *r = opaque;

	r->exits++;
	r->code = code;
}

static void on_marker(void *opaque, unsigned int phase, uint32_t arg)
{
	struct recorder *r = opaque;

	r->markers++;
	r->phase = phase;
	r->arg = arg;
}

static uint64_t fake_clock(void *opaque)
{
	struct recorder *r = opaque;

	r->clock_reads++;
	return r->now_ns;
}

static void setup(struct bus *pio, struct testdev *t, struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	testdev__init(t, on_exit_port, on_marker, fake_clock, r);
	bus__init(pio, "pio");
	CHECK_EQ(bus__register(pio, TESTDEV_PIO_BASE, TESTDEV_PIO_LEN, testdev__io, t, "testdev"),
		 0);
}

static void test_exit_codes(void)
{
	struct recorder r;
	struct testdev t;
	struct bus pio;
	uint8_t b = 0;
	uint16_t h = 0x1234;
	uint32_t w = 0xdeadbeef;

	setup(&pio, &t, &r);
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_EXIT, &b, 1, true));
	CHECK_EQ(r.exits, 1);
	CHECK_EQ(r.code, 0);
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_EXIT, &h, 2, true));
	CHECK_EQ(r.code, 0x1234);
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_EXIT, &w, 4, true));
	CHECK_EQ(r.code, 0xdeadbeef);
	b = 3;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_EXIT, &b, 1, true));
	CHECK_EQ(r.code, 3);
	CHECK_EQ(r.exits, 4);
	CHECK_EQ(t.nr_exits, 4);
	CHECK_EQ(t.exit_code, 3);
	CHECK_EQ(r.markers, 0);

	/* Reads return 0 and stop nothing. */
	w = 0xffffffff;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_EXIT, &w, 4, false));
	CHECK_EQ(w, 0);
	CHECK_EQ(r.exits, 4);

	/* An 8-byte write is no port access a CPU makes: counted, not an exit. */
	uint64_t q = 0;
	testdev__exit_io(&t, 0, &q, 8, true);
	CHECK_EQ(r.exits, 4);
	CHECK_EQ(t.bad_access, 1);

	/* No callbacks: still counted. */
	testdev__init(&t, NULL, NULL, NULL, NULL);
	b = 0;
	testdev__exit_io(&t, 0, &b, 1, true);
	CHECK_EQ(t.nr_exits, 1);
}

static void test_markers(void)
{
	struct recorder r;
	struct testdev t;
	struct bus pio;
	unsigned int phase;
	uint32_t arg, v;

	setup(&pio, &t, &r);
	CHECK(!testdev__last_marker(&t, &phase, &arg));

	/* A 4-byte write at 0xf5 spans 0xf5..0xf8: the range must cover it. */
	v = (512u << 8) | TESTDEV_PHASE_TOUCHED;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_MARKER, &v, 4, true));
	CHECK_EQ(r.markers, 1);
	CHECK_EQ(r.phase, TESTDEV_PHASE_TOUCHED);
	CHECK_EQ(r.arg, 512);
	v = 0xffffff00u | TESTDEV_PHASE_VERIFIED;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_MARKER, &v, 4, true));
	CHECK_EQ(r.phase, TESTDEV_PHASE_VERIFIED);
	CHECK_EQ(r.arg, 0xffffff);
	CHECK_EQ(t.nr_markers, 2);
	CHECK(testdev__last_marker(&t, &phase, &arg));
	CHECK_EQ(phase, TESTDEV_PHASE_VERIFIED);
	CHECK_EQ(arg, 0xffffff);
	CHECK_EQ(r.exits, 0);

	/* Other widths at the marker port, and writes to the tail ports, are counted. */
	uint8_t b = TESTDEV_PHASE_START;
	uint16_t h = TESTDEV_PHASE_START;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_MARKER, &b, 1, true));
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_MARKER, &h, 2, true));
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_MARKER + 1, &b, 1, true));
	CHECK_EQ(t.bad_access, 3);
	CHECK_EQ(r.markers, 2);
	CHECK_EQ(r.exits, 0);
	v = 0x12345678;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_MARKER, &v, 4, false));
	CHECK_EQ(v, 0);
	CHECK_EQ(t.bad_access, 3);

	/* Past the marker's last byte is not ours. */
	CHECK(!bus__dispatch(&pio, TESTDEV_PIO_BASE + TESTDEV_PIO_LEN, &b, 1, true));
}

static uint32_t read_clock(struct bus *pio)
{
	uint32_t w = 0xdeadbeef;

	CHECK(bus__dispatch(pio, PORT_TESTDEV_CLOCK, &w, 4, false));
	return w;
}

static void test_clock(void)
{
	struct recorder r;
	struct testdev t;
	struct bus pio;
	uint32_t w, before;
	uint16_t h;
	uint8_t b;
	uint64_t q;

	setup(&pio, &t, &r);
	/* Milliseconds, rounded down. */
	r.now_ns = 1234 * NS_PER_MS + 999999;
	CHECK_EQ(read_clock(&pio), 1234);
	CHECK_EQ(r.clock_reads, 1);
	r.now_ns += 1;
	CHECK_EQ(read_clock(&pio), 1235);

	/* 32 bits that wrap after 2^32 ms: unsigned subtraction still gives the interval. */
	r.now_ns = (0xffffffffULL - 10) * NS_PER_MS;
	before = read_clock(&pio);
	CHECK_EQ(before, 0xffffffffu - 10);
	r.now_ns += 300 * NS_PER_MS;
	w = read_clock(&pio);
	CHECK_EQ(w, 289);
	CHECK_EQ((uint32_t)(w - before), 300);
	r.now_ns = (3ULL << 32) * NS_PER_MS + 7 * NS_PER_MS;
	CHECK_EQ(read_clock(&pio), 7);
	CHECK_EQ(t.bad_access, 0);

	/* Only a 4-byte read is a clock read: other widths read 0 and are counted. */
	b = 0xff;
	h = 0xffff;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_CLOCK, &b, 1, false));
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_CLOCK, &h, 2, false));
	CHECK_EQ(b, 0);
	CHECK_EQ(h, 0);
	q = ~0ULL;
	testdev__clock_io(&t, 0, &q, 8, false);
	CHECK_EQ(q, 0);
	CHECK_EQ(t.bad_access, 3);
	/* Writes to the clock change nothing and stop nothing; counted. */
	w = 0;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_CLOCK, &w, 4, true));
	b = 0;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_CLOCK, &b, 1, true));
	CHECK_EQ(t.bad_access, 5);
	CHECK_EQ(r.clock_reads, 5);
	CHECK_EQ(r.exits, 0);
	CHECK_EQ(r.markers, 0);
	CHECK_EQ(read_clock(&pio), 7);

	/* The clock's tail ports read 0 (uncounted), take no write, and end the range. */
	b = 0xff;
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_CLOCK + 1, &b, 1, false));
	CHECK_EQ(b, 0);
	CHECK_EQ(t.bad_access, 5);
	CHECK(bus__dispatch(&pio, PORT_TESTDEV_CLOCK + 3, &b, 1, true));
	CHECK_EQ(t.bad_access, 6);
	w = 0xffffffff;
	CHECK(!bus__dispatch(&pio, PORT_TESTDEV_CLOCK + 1, &w, 4, false));
	CHECK_EQ(w, 0xffffffff); /* unclaimed: all ones, as on real hardware */
	CHECK_EQ(TESTDEV_PIO_BASE + TESTDEV_PIO_LEN, PORT_TESTDEV_CLOCK + 4);

	/* No clock wired: reads 0, not a bad access. */
	testdev__init(&t, NULL, NULL, NULL, NULL);
	w = 0xffffffff;
	testdev__clock_io(&t, 0, &w, 4, false);
	CHECK_EQ(w, 0);
	CHECK_EQ(t.bad_access, 0);
}

static uint64_t host_clock(void *opaque)
{
	return clock__mono_ns();
}

/* The clock vm.c wires (clock__mono_ns): the host's monotonic time in milliseconds. */
static void test_host_clock(void)
{
	const struct timespec nap = {0, 20 * NS_PER_MS};
	struct testdev t;
	struct bus pio;
	uint32_t first, a, b, span;
	uint64_t t0, t1;

	testdev__init(&t, NULL, NULL, host_clock, NULL);
	bus__init(&pio, "pio");
	CHECK_EQ(bus__register(&pio, TESTDEV_PIO_BASE, TESTDEV_PIO_LEN, testdev__io, &t, "testdev"),
		 0);
	t0 = clock__mono_ns();
	a = read_clock(&pio);
	nanosleep(&nap, NULL);
	b = read_clock(&pio);
	t1 = clock__mono_ns();
	/* Both readings lie in [t0, t1], in order, the nap between them. */
	first = (uint32_t)(t0 / NS_PER_MS);
	span = (uint32_t)(t1 / NS_PER_MS - t0 / NS_PER_MS);
	CHECK((uint32_t)(a - first) <= span);
	CHECK((uint32_t)(b - first) <= span);
	CHECK((uint32_t)(b - a) >= 20);
	CHECK_EQ(t.bad_access, 0);
}

static void test_phase_names(void)
{
	CHECK(strcmp(testdev__phase_name(TESTDEV_PHASE_START), "start") == 0);
	CHECK(strcmp(testdev__phase_name(TESTDEV_PHASE_TOUCHED), "touched") == 0);
	CHECK(strcmp(testdev__phase_name(TESTDEV_PHASE_FREED), "freed") == 0);
	CHECK(strcmp(testdev__phase_name(TESTDEV_PHASE_SETTLED), "settled") == 0);
	CHECK(strcmp(testdev__phase_name(TESTDEV_PHASE_VERIFIED), "verified") == 0);
	CHECK(strcmp(testdev__phase_name(5), "unknown") == 0);
	CHECK(strcmp(testdev__phase_name(255), "unknown") == 0);
	CHECK(strcmp(testdev__phase_name(~0u), "unknown") == 0);
}

int main(void)
{
	test_exit_codes();
	test_markers();
	test_clock();
	test_host_clock();
	test_phase_names();
	return testlib_done("test_testdev");
}

// SPDX-License-Identifier: GPL-2.0
/* The exit and marker ports, through the port bus as the vCPU sees them. */
#include "testlib.h"
#include "devices/testdev.h"
#include "vmm/bus.h"
#include "vmm/layout.h"

#include <string.h>

struct recorder {
	int exits;
	uint32_t code;
	int markers;
	unsigned int phase;
	uint32_t arg;
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

static void setup(struct bus *pio, struct testdev *t, struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	testdev__init(t, on_exit_port, on_marker, r);
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
	testdev__init(&t, NULL, NULL, NULL);
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
	test_phase_names();
	return testlib_done("test_testdev");
}

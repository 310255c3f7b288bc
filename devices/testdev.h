/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The test device: the exit, progress-marker and clock ports of base/layout.h.
 *   PORT_TESTDEV_EXIT (0xf4)   write 1, 2 or 4 bytes v: exit_cb(v); 0 = pass.
 *   PORT_TESTDEV_MARKER (0xf5) write 4 bytes v: marker_cb(v & 0xff, v >> 8).
 *   PORT_TESTDEV_CLOCK (0xf9)  read 4 bytes: clock_cb() in ms, truncated to 32
 *                              bits (wraps every 49.7 days: guests compare two
 *                              readings by unsigned subtraction).
 * Other reads return 0. Other widths, and writes to the clock, are counted and
 * ignored (a wrong-width clock read returns 0).
 *
 * Register ONE range, [PORT_TESTDEV_EXIT, +TESTDEV_PIO_LEN), with testdev__io:
 * bus__dispatch() refuses an access that runs past the end of its range, so a
 * one-byte range at 0xf5 would never see the 4-byte marker write (0xf5..0xf8),
 * and 0xf4 cannot be a 4-byte range without overlapping 0xf5. The clock's four
 * bytes (0xf9..0xfc) follow the marker's in the same range.
 *   bus__register(pio, TESTDEV_PIO_BASE, TESTDEV_PIO_LEN, testdev__io, t, "testdev");
 */
#ifndef MINI_VMM_TESTDEV_H
#define MINI_VMM_TESTDEV_H

#include "base/layout.h"

#include <stdbool.h>
#include <stdint.h>

#define TESTDEV_PIO_BASE PORT_TESTDEV_EXIT
#define TESTDEV_PIO_LEN	 (PORT_TESTDEV_CLOCK + 4 - PORT_TESTDEV_EXIT) /* 0xf4..0xfc */

typedef void (*testdev_exit_fn)(void *opaque, uint32_t code);
typedef void (*testdev_marker_fn)(void *opaque, unsigned int phase, uint32_t arg);
/* A monotonic clock in ns; called from vCPU threads, so it must be thread-safe. */
typedef uint64_t (*testdev_clock_fn)(void *opaque);

/* Written by vCPU threads with atomics; read them with __atomic_load_n or after the vCPUs stop. */
struct testdev {
	testdev_exit_fn exit_cb;     /* may be NULL */
	testdev_marker_fn marker_cb; /* may be NULL */
	testdev_clock_fn clock_cb;   /* may be NULL: the clock port reads 0 */
	void *opaque;

	uint32_t last_marker; /* raw 32-bit value of the last marker write */
	uint64_t nr_markers;
	uint64_t nr_exits;
	uint32_t exit_code;  /* last value written to the exit port */
	uint64_t bad_access; /* wrong width, a write between the ports or to the clock */
};

void testdev__init(struct testdev *t, testdev_exit_fn exit_cb, testdev_marker_fn marker_cb,
		   testdev_clock_fn clock_cb, void *opaque);
/* bus_io_fn for [TESTDEV_PIO_BASE, +TESTDEV_PIO_LEN): dispatches on the port. */
void testdev__io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);
/* The three ports' handlers; offset is relative to each port. */
void testdev__exit_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);
void testdev__marker_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);
void testdev__clock_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);
/* "start", "touched", "freed", "settled", "verified", else "unknown". */
const char *testdev__phase_name(unsigned int phase);
/* The last marker, decoded. Returns false if none was written yet. */
bool testdev__last_marker(struct testdev *t, unsigned int *phase, uint32_t *arg);

#endif

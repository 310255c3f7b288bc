// SPDX-License-Identifier: GPL-2.0
/*
 * The test device: exit, progress-marker and clock ports (testdev.h has
 * the register contract).
 */
#include "devices/testdev.h"

#include "base/log.h"

#include <string.h>

static uint32_t testdev_value(const void *data, uint32_t len)
{
	uint8_t b[4] = {0};

	memcpy(b, data, len); /* little-endian, as port I/O data arrives */
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void testdev_store(void *data, uint32_t v)
{
	const uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			      (uint8_t)(v >> 24)};

	memcpy(data, b, sizeof(b)); /* little-endian, as port I/O data leaves */
}

static void testdev_bad(struct testdev *t, const char *what, uint64_t offset, uint32_t len,
			bool is_write)
{
	__atomic_add_fetch(&t->bad_access, 1, __ATOMIC_RELAXED);
	log_ratelimited(LOG_WARN, "testdev: ignoring %u-byte %s %s (offset %#llx)", len,
			is_write ? "write to" : "read of", what, (unsigned long long)offset);
}

void testdev__exit_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct testdev *t = opaque;
	uint32_t code;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset != 0 || (len != 1 && len != 2 && len != 4)) {
		testdev_bad(t, "the exit port", offset, len, true);
		return;
	}
	code = testdev_value(data, len);
	__atomic_store_n(&t->exit_code, code, __ATOMIC_RELAXED);
	__atomic_add_fetch(&t->nr_exits, 1, __ATOMIC_RELEASE);
	if (t->exit_cb)
		t->exit_cb(t->opaque, code);
}

void testdev__marker_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct testdev *t = opaque;
	uint32_t v;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset != 0 || len != 4) {
		testdev_bad(t, "the marker port", offset, len, true);
		return;
	}
	v = testdev_value(data, len);
	/* One 32-bit store keeps phase and argument of the same marker together. */
	__atomic_store_n(&t->last_marker, v, __ATOMIC_RELAXED);
	/* Release: a reader that sees the count also sees the marker. */
	__atomic_add_fetch(&t->nr_markers, 1, __ATOMIC_RELEASE);
	if (t->marker_cb)
		t->marker_cb(t->opaque, v & 0xff, v >> 8);
}

void testdev__clock_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct testdev *t = opaque;
	uint32_t ms = 0;

	if (is_write || offset != 0 || len != 4) {
		testdev_bad(t, "the clock port", offset, len, is_write);
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	/* Truncated to 32 bits: the guest compares two readings by unsigned subtraction. */
	if (t->clock_cb)
		ms = (uint32_t)(t->clock_cb(t->opaque) / 1000000);
	testdev_store(data, ms);
}

void testdev__io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct testdev *t = opaque;

	switch (offset + TESTDEV_PIO_BASE) {
	case PORT_TESTDEV_EXIT:
		testdev__exit_io(opaque, 0, data, len, is_write);
		break;
	case PORT_TESTDEV_MARKER:
		testdev__marker_io(opaque, 0, data, len, is_write);
		break;
	case PORT_TESTDEV_CLOCK:
		testdev__clock_io(opaque, 0, data, len, is_write);
		break;
	default: /* 0xf6..0xf8 and 0xfa..0xfc are only the tails of the 4-byte ports */
		if (is_write)
			testdev_bad(t, "a testdev port", offset, len, true);
		else
			memset(data, 0, len);
		break;
	}
}

bool testdev__last_marker(struct testdev *t, unsigned int *phase, uint32_t *arg)
{
	/* Acquire pairs with the release increment in testdev__marker_io(). */
	uint64_t n = __atomic_load_n(&t->nr_markers, __ATOMIC_ACQUIRE);
	uint32_t v = __atomic_load_n(&t->last_marker, __ATOMIC_RELAXED);

	if (!n)
		return false;
	*phase = v & 0xff;
	*arg = v >> 8;
	return true;
}

const char *testdev__phase_name(unsigned int phase)
{
	static const char *const names[] = {
		[TESTDEV_PHASE_START] = "start",       [TESTDEV_PHASE_TOUCHED] = "touched",
		[TESTDEV_PHASE_FREED] = "freed",       [TESTDEV_PHASE_SETTLED] = "settled",
		[TESTDEV_PHASE_VERIFIED] = "verified",
	};

	if (phase >= sizeof(names) / sizeof(names[0]) || !names[phase])
		return "unknown";
	return names[phase];
}

void testdev__init(struct testdev *t, testdev_exit_fn exit_cb, testdev_marker_fn marker_cb,
		   testdev_clock_fn clock_cb, void *opaque)
{
	memset(t, 0, sizeof(*t));
	t->exit_cb = exit_cb;
	t->marker_cb = marker_cb;
	t->clock_cb = clock_cb;
	t->opaque = opaque;
}

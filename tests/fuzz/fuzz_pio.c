// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: port I/O from the guest to the legacy devices, through the
 * port bus exactly as vm.c wires it: the 16550A serial port at 0x3f8
 * (devices/serial.c), the i8042 keyboard controller at 0x60/0x64
 * (devices/i8042.c), the test device at 0xf4..0xfc (devices/testdev.c), and
 * every port nobody claims. Host input on the serial port (stdin in
 * mini-vmm) is interleaved.
 *
 * Input: steps, each a u8 opcode:
 *   0 out: u16 port (bit 15 set: near a device, else any), u8 size, u32 value
 *   1 in:  u16 port, u8 size
 *   2 host serial input: u8 n, n bytes
 *   3 "rep outsb": u16 port, u8 count, count bytes (one dispatch per byte)
 *
 * Checked: no memory error or UB; reads of unclaimed ports are all ones;
 * the serial interrupt line only ever goes 0 -> 1 -> 0 (one call per change);
 * a 4-byte read of the test device's clock gives the clock's milliseconds
 * truncated to 32 bits (a fake clock here: 1.5 ms per reading, starting 16 ms
 * before the wrap).
 */
#include "fuzz_common.h"

#include "devices/i8042.h"
#include "devices/serial.h"
#include "devices/testdev.h"
#include "vmm/bus.h"
#include "base/layout.h"

#include <string.h>

#define MAX_STEPS 4096

static struct bus pio;
static struct serial serial;
static struct i8042 kbd;
static struct testdev testdev;
static int irq_level;
static unsigned int resets, exits, markers, clock_reads;
static uint64_t fake_now_ns;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

static void set_irq(void *opaque, int level)
{
	(void)opaque;
	/* serial.c calls only on a change of level. */
	FUZZ_ASSERT(level == 0 || level == 1);
	FUZZ_ASSERT(level != irq_level);
	irq_level = level;
}

static void on_reset(void *opaque)
{
	(void)opaque;
	resets++;
}

static void on_exit_port(void *opaque, uint32_t code)
{
	(void)opaque;
	(void)code;
	exits++;
}

static void on_marker(void *opaque, unsigned int phase, uint32_t arg)
{
	(void)opaque;
	(void)phase;
	(void)arg;
	markers++;
}

static uint64_t fake_clock(void *opaque)
{
	(void)opaque;
	clock_reads++;
	fake_now_ns += 1500000;
	return fake_now_ns;
}

/* Ports worth hitting: each device's range and its edges. */
static uint16_t pick_port(uint16_t raw)
{
	static const uint16_t near[] = {PORT_SERIAL_COM1, PORT_I8042_DATA, PORT_I8042_CMD,
					TESTDEV_PIO_BASE};

	if (!(raw & 0x8000))
		return raw;
	return (uint16_t)(near[raw % 4] + (int)((raw >> 2) % 12) - 2);
}

static uint32_t pick_size(uint8_t sel)
{
	static const uint32_t sizes[] = {1, 1, 1, 2, 4, 4, 8, 3};

	return sizes[sel % 8];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};

	irq_level = 0;
	fake_now_ns = 0xfffffff0ULL * 1000000; /* 16 ms before the 32-bit wrap */
	bus__init(&pio, "pio");
	FUZZ_ASSERT(serial__init(&serial, -1, set_irq, NULL) == 0);
	FUZZ_ASSERT(i8042__init(&kbd, on_reset, NULL) == 0);
	testdev__init(&testdev, on_exit_port, on_marker, fake_clock, NULL);
	FUZZ_ASSERT(bus__register(&pio, PORT_SERIAL_COM1, SERIAL_PIO_LEN, serial__io, &serial,
				  "serial") == 0);
	FUZZ_ASSERT(bus__register(&pio, PORT_I8042_DATA, 1, i8042__data_io, &kbd, "i8042") == 0);
	FUZZ_ASSERT(bus__register(&pio, PORT_I8042_CMD, 1, i8042__cmd_io, &kbd, "i8042") == 0);
	FUZZ_ASSERT(bus__register(&pio, TESTDEV_PIO_BASE, TESTDEV_PIO_LEN, testdev__io, &testdev,
				  "testdev") == 0);

	for (unsigned int step = 0; step < MAX_STEPS && !fin_empty(&in); step++) {
		uint8_t op = fin_u8(&in) % 4;

		if (op == 0 || op == 1) {
			uint16_t port = pick_port(fin_u16(&in));
			uint32_t len = pick_size(fin_u8(&in));
			uint8_t buf[8];
			uint64_t v = op == 0 ? fin_u32(&in) : 0;
			bool claimed;

			memcpy(buf, &v, sizeof(buf));
			claimed = bus__dispatch(&pio, port, buf, len, op == 0);
			if (!claimed && op == 1)
				for (uint32_t i = 0; i < len; i++)
					FUZZ_ASSERT(buf[i] == 0xff);
			if (op == 1 && port == PORT_TESTDEV_CLOCK && len == 4) {
				uint32_t ms;

				memcpy(&ms, buf, sizeof(ms));
				FUZZ_ASSERT(ms == (uint32_t)(fake_now_ns / 1000000));
			}
		} else if (op == 2) {
			size_t n;
			const uint8_t *bytes = fin_bytes(&in, fin_u8(&in), &n);

			serial__receive(&serial, bytes, n);
		} else {
			uint16_t port = pick_port(fin_u16(&in));
			size_t n;
			const uint8_t *bytes = fin_bytes(&in, fin_u8(&in), &n);

			for (size_t i = 0; i < n; i++) {
				uint8_t b = bytes[i];

				bus__dispatch(&pio, port, &b, 1, true);
			}
		}
	}
	if (getenv("MINI_VMM_FUZZ_VERBOSE")) {
		struct serial_stats st;

		serial__get_stats(&serial, &st);
		fprintf(stderr,
			"fuzz_pio: serial tx %llu rx %llu rx dropped %llu; i8042 resets %u; "
			"testdev "
			"exits %u markers %u clock reads %u; unclaimed %llu\n",
			(unsigned long long)st.tx_bytes, (unsigned long long)st.rx_bytes,
			(unsigned long long)st.rx_dropped, resets, exits, markers, clock_reads,
			(unsigned long long)pio.unhandled);
	}
	resets = exits = markers = clock_reads = 0;
	serial__exit(&serial);
	i8042__exit(&kbd);
	return 0;
}

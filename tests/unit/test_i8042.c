// SPDX-License-Identifier: GPL-2.0
/* The keyboard controller: 0xFE resets the CPU, Linux's probe gets its answers. */
#include "testlib.h"
#include "devices/i8042.h"
#include "vmm/bus.h"
#include "base/layout.h"

static int resets;

static void count_reset(void *opaque)
{
	CHECK(opaque == &resets);
	resets++;
}

static void cmd(struct i8042 *k, uint8_t c)
{
	i8042__cmd_io(k, 0, &c, 1, true);
}

static void data_wr(struct i8042 *k, uint8_t v)
{
	i8042__data_io(k, 0, &v, 1, true);
}

static uint8_t status(struct i8042 *k)
{
	uint8_t v = 0xaa;

	i8042__cmd_io(k, 0, &v, 1, false);
	return v;
}

static uint8_t data_rd(struct i8042 *k)
{
	uint8_t v = 0xaa;

	i8042__data_io(k, 0, &v, 1, false);
	return v;
}

static void test_reset_command(void)
{
	struct i8042 k;

	resets = 0;
	CHECK_EQ(i8042__init(&k, count_reset, &resets), 0);
	/* Commands that must not reset: the probe's, and the pulses that leave bit 0 high. */
	static const uint8_t harmless[] = {0x20, 0xa7, 0xa8, 0xaa, 0xab, 0xad, 0xae,
					   0xd0, 0xff, 0xfd, 0xf1, 0x00, 0x12};
	for (unsigned int i = 0; i < sizeof(harmless); i++) {
		cmd(&k, harmless[i]);
		data_rd(&k);
	}
	CHECK_EQ(resets, 0);
	/* Data bytes with no command pending go to the (absent) keyboard, even 0xfe. */
	data_wr(&k, 0xfe);
	CHECK_EQ(resets, 0);
	CHECK_EQ(k.stats.kbd_writes, 1);

	cmd(&k, I8042_CMD_RESET);
	CHECK_EQ(resets, 1);
	CHECK_EQ(k.stats.resets, 1);
	/* Writing the output port with bit 0 low holds the CPU in reset too. */
	cmd(&k, I8042_CMD_WRITE_OUTP);
	data_wr(&k, 0x02);
	CHECK_EQ(resets, 2);
	cmd(&k, I8042_CMD_WRITE_OUTP);
	data_wr(&k, 0x03);
	CHECK_EQ(resets, 2);
	i8042__exit(&k);

	/* No callback: a reset is counted, nothing crashes. */
	CHECK_EQ(i8042__init(&k, NULL, NULL), 0);
	cmd(&k, I8042_CMD_RESET);
	CHECK_EQ(k.stats.resets, 1);
	i8042__exit(&k);
}

static void test_probe_answers(void)
{
	struct i8042 k;

	resets = 0;
	CHECK_EQ(i8042__init(&k, count_reset, &resets), 0);
	/* Idle: output and input buffers empty. */
	CHECK_EQ(status(&k) & (I8042_STR_OBF | 0x02), 0);
	CHECK_EQ(data_rd(&k), 0);

	cmd(&k, I8042_CMD_SELF_TEST);
	CHECK(status(&k) & I8042_STR_OBF);
	CHECK_EQ(data_rd(&k), 0x55);
	CHECK_EQ(status(&k) & I8042_STR_OBF, 0);
	CHECK_EQ(data_rd(&k), 0);

	/* Read, write, read the command byte. */
	cmd(&k, I8042_CMD_READ_CTR);
	uint8_t ctr = data_rd(&k);
	CHECK(ctr & I8042_CTR_SYSFLAG);
	cmd(&k, I8042_CMD_WRITE_CTR);
	data_wr(&k, 0x61);
	cmd(&k, I8042_CMD_READ_CTR);
	CHECK_EQ(data_rd(&k), 0x61);
	cmd(&k, I8042_CMD_AUX_DISABLE);
	cmd(&k, I8042_CMD_KBD_DISABLE);
	cmd(&k, I8042_CMD_READ_CTR);
	CHECK_EQ(data_rd(&k), 0x61 | I8042_CTR_AUXDIS | I8042_CTR_KBDDIS);
	CHECK_EQ(k.stats.kbd_writes, 0);
	CHECK_EQ(resets, 0);
	i8042__exit(&k);
}

/* Two one-byte ranges: port 0x61 (PC speaker / PIT gate) stays someone else's. */
static void test_bus_ranges(void)
{
	struct i8042 k;
	struct bus pio;
	uint8_t v;
	uint32_t w = 0;

	resets = 0;
	CHECK_EQ(i8042__init(&k, count_reset, &resets), 0);
	bus__init(&pio, "pio");
	CHECK_EQ(bus__register(&pio, PORT_I8042_DATA, 1, i8042__data_io, &k, "i8042-data"), 0);
	CHECK_EQ(bus__register(&pio, PORT_I8042_CMD, 1, i8042__cmd_io, &k, "i8042-cmd"), 0);
	v = 0;
	CHECK(!bus__dispatch(&pio, 0x61, &v, 1, false));
	CHECK_EQ(v, 0xff);
	v = I8042_CMD_RESET;
	CHECK(bus__dispatch(&pio, PORT_I8042_CMD, &v, 1, true));
	CHECK_EQ(resets, 1);

	/* Wider accesses are counted and ignored. */
	w = I8042_CMD_RESET;
	i8042__cmd_io(&k, 0, &w, 2, true);
	i8042__data_io(&k, 0, &w, 4, false);
	CHECK_EQ(w, 0xffffffff);
	CHECK_EQ(k.stats.bad_access, 2);
	CHECK_EQ(resets, 1);
	i8042__exit(&k);
}

int main(void)
{
	test_reset_command();
	test_probe_answers();
	test_bus_ranges();
	return testlib_done("test_i8042");
}

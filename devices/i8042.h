/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Just enough of the PC keyboard controller (Intel 8042) for a guest to
 * reset the machine (Linux `reboot=k`: command 0xFE on port 0x64) and for
 * Linux's i8042 probe to finish quickly instead of timing out. There is no
 * keyboard or mouse behind it and it raises no interrupts.
 *
 * Register the two ports as two one-byte ranges, not one range 0x60..0x64:
 * the ports between (0x61, the PC speaker / PIT gate port Linux reads during
 * timer calibration) are not the controller's.
 *   bus__register(pio, PORT_I8042_DATA, 1, i8042__data_io, k, "i8042-data");
 *   bus__register(pio, PORT_I8042_CMD, 1, i8042__cmd_io, k, "i8042-cmd");
 */
#ifndef MINI_VMM_I8042_H
#define MINI_VMM_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Status register (port 0x64, read). */
#define I8042_STR_OBF	  0x01 /* output buffer full: port 0x60 has a byte */
#define I8042_STR_SYSFLAG 0x04 /* self-test passed (mirrors CTR bit 2) */
#define I8042_STR_CMDDAT  0x08 /* last write was to the command port */
#define I8042_STR_KEYLOCK 0x10 /* 1: keyboard not inhibited */

/* Controller command byte (CTR). */
#define I8042_CTR_KBDINT  0x01
#define I8042_CTR_AUXINT  0x02
#define I8042_CTR_SYSFLAG 0x04
#define I8042_CTR_KBDDIS  0x10
#define I8042_CTR_AUXDIS  0x20
#define I8042_CTR_XLATE	  0x40

/* Commands (port 0x64, write). */
#define I8042_CMD_READ_CTR    0x20
#define I8042_CMD_WRITE_CTR   0x60
#define I8042_CMD_AUX_DISABLE 0xa7
#define I8042_CMD_AUX_ENABLE  0xa8
#define I8042_CMD_AUX_TEST    0xa9
#define I8042_CMD_SELF_TEST   0xaa
#define I8042_CMD_KBD_TEST    0xab
#define I8042_CMD_KBD_DISABLE 0xad
#define I8042_CMD_KBD_ENABLE  0xae
#define I8042_CMD_READ_OUTP   0xd0
#define I8042_CMD_WRITE_OUTP  0xd1
#define I8042_CMD_RESET	      0xfe /* pulse output port bit 0: the CPU reset line */

struct i8042_stats {
	uint64_t resets;       /* times reset_cb was called */
	uint64_t unknown_cmds; /* commands ignored */
	uint64_t kbd_writes;   /* data bytes for the (absent) keyboard, ignored */
	uint64_t bad_access;   /* accesses wider than one byte, ignored */
};

struct i8042 {
	pthread_mutex_t lock;
	void (*reset_cb)(void *opaque); /* called without the lock held */
	void *opaque;

	uint8_t ctr;	     /* controller command byte */
	uint8_t outp;	     /* output port; bit 0 low holds the CPU in reset */
	uint8_t pending_cmd; /* command waiting for its data byte on port 0x60, or 0 */
	bool last_was_cmd;
	bool obf; /* `out` holds a byte for the guest */
	uint8_t out;

	struct i8042_stats stats;
};

/* reset_cb may be NULL. Returns 0 or -errno. */
int i8042__init(struct i8042 *k, void (*reset_cb)(void *opaque), void *opaque);
void i8042__exit(struct i8042 *k);
/* bus_io_fn for PORT_I8042_DATA (length 1). */
void i8042__data_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);
/* bus_io_fn for PORT_I8042_CMD (length 1). */
void i8042__cmd_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

#endif

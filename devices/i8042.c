// SPDX-License-Identifier: GPL-2.0
/*
 * A keyboard controller with no keyboard. Command set from the IBM PC/AT
 * technical reference (8042 "Keyboard Controller Commands"); the answers are
 * the ones Linux's drivers/input/serio/i8042.c checks during its probe. A
 * command we don't implement gets no reply, as on an AT-type controller
 * without that feature: Linux then times out (0.5 s per command), so guests
 * should boot with `i8042.noaux i8042.nomux i8042.dumbkbd` or without
 * CONFIG_SERIO_I8042.
 */
#include "devices/i8042.h"

#include "base/log.h"

#include <string.h>

#define I8042_CMD_WRITE_KBD_OBUF 0xd2 /* next data byte comes back on port 0x60 */
#define I8042_CMD_WRITE_AUX_OBUF 0xd3 /* the same as if from the aux port: no aux here */
#define I8042_CMD_WRITE_AUX	 0xd4 /* next data byte goes to the aux device: none here */
#define I8042_CMD_PULSE_MASK	 0xf0 /* 0xf0-0xff pulse output-port bits 3:0 that are 0 */

#define I8042_OUTP_RESET 0x01 /* active low: 0 holds the CPU in reset */
#define I8042_OUTP_A20	 0x02

#define I8042_SELF_TEST_OK	   0x55
#define I8042_PORT_TEST_OK	   0x00
#define I8042_PORT_CLOCK_STUCK_LOW 0x01 /* the aux port test's answer: no mouse wired */

static bool i8042_bad_access(struct i8042 *k, const char *port, void *data, uint32_t len,
			     bool is_write)
{
	if (len == 1)
		return false;
	pthread_mutex_lock(&k->lock);
	k->stats.bad_access++;
	pthread_mutex_unlock(&k->lock);
	log_ratelimited(LOG_WARN, "i8042: ignoring %u-byte %s of the %s port", len,
			is_write ? "write" : "read", port);
	if (!is_write)
		memset(data, 0xff, len);
	return true;
}

static void i8042_reply(struct i8042 *k, uint8_t byte)
{
	k->out = byte;
	k->obf = true;
}

/* Returns true if the command asks for a CPU reset. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->pending_cmd = 0;
	switch (cmd) {
	case I8042_CMD_READ_CTR:
		i8042_reply(k, k->ctr);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTP:
	case I8042_CMD_WRITE_KBD_OBUF:
	case I8042_CMD_WRITE_AUX_OBUF:
	case I8042_CMD_WRITE_AUX:
		k->pending_cmd = cmd;
		break;
	case I8042_CMD_AUX_DISABLE:
		k->ctr |= I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_ENABLE:
		k->ctr &= ~I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_TEST:
		i8042_reply(k, I8042_PORT_CLOCK_STUCK_LOW);
		break;
	case I8042_CMD_SELF_TEST:
		k->ctr |= I8042_CTR_SYSFLAG;
		i8042_reply(k, I8042_SELF_TEST_OK);
		break;
	case I8042_CMD_KBD_TEST:
		i8042_reply(k, I8042_PORT_TEST_OK);
		break;
	case I8042_CMD_KBD_DISABLE:
		k->ctr |= I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_KBD_ENABLE:
		k->ctr &= ~I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_READ_OUTP:
		i8042_reply(k, k->outp);
		break;
	default:
		/* 0xf0-0xff pulse the output-port lines whose bit is 0; bit 0 is reset. */
		if ((cmd & I8042_CMD_PULSE_MASK) == I8042_CMD_PULSE_MASK)
			return !(cmd & I8042_OUTP_RESET);
		k->stats.unknown_cmds++;
		log_ratelimited(LOG_DEBUG, "i8042: ignoring command %#x", cmd);
		break;
	}
	return false;
}

/* A data byte written to port 0x60. Returns true if it asks for a CPU reset. */
static bool i8042_data(struct i8042 *k, uint8_t val)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	switch (cmd) {
	case I8042_CMD_WRITE_CTR:
		k->ctr = val;
		return false;
	case I8042_CMD_WRITE_OUTP:
		k->outp = val;
		return !(val & I8042_OUTP_RESET);
	case I8042_CMD_WRITE_KBD_OBUF:
		i8042_reply(k, val);
		return false;
	case I8042_CMD_WRITE_AUX_OBUF:
	case I8042_CMD_WRITE_AUX:
		return false; /* no aux device */
	default:
		k->stats.kbd_writes++; /* a keyboard command; there is no keyboard */
		return false;
	}
}

static void i8042_finish(struct i8042 *k, bool reset)
{
	if (reset)
		k->stats.resets++;
	pthread_mutex_unlock(&k->lock);
	/* Outside the lock: the callback may stop vCPUs or re-init the machine. */
	if (reset && k->reset_cb)
		k->reset_cb(k->opaque);
}

void i8042__data_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;
	uint8_t *byte = data;
	bool reset = false;

	if (i8042_bad_access(k, "data", data, len, is_write))
		return;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->last_was_cmd = false;
		reset = i8042_data(k, *byte);
	} else {
		*byte = k->obf ? k->out : 0;
		k->obf = false;
	}
	i8042_finish(k, reset);
}

void i8042__cmd_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;
	uint8_t *byte = data;
	bool reset = false;

	if (i8042_bad_access(k, "command", data, len, is_write))
		return;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->last_was_cmd = true;
		reset = i8042_command(k, *byte);
	} else {
		/* The input buffer is always empty: commands complete at once. */
		*byte = I8042_STR_KEYLOCK;
		if (k->obf)
			*byte |= I8042_STR_OBF;
		if (k->ctr & I8042_CTR_SYSFLAG)
			*byte |= I8042_STR_SYSFLAG;
		if (k->last_was_cmd)
			*byte |= I8042_STR_CMDDAT;
	}
	i8042_finish(k, reset);
}

int i8042__init(struct i8042 *k, void (*reset_cb)(void *opaque), void *opaque)
{
	int err;

	memset(k, 0, sizeof(*k));
	k->reset_cb = reset_cb;
	k->opaque = opaque;
	/* As a PC BIOS leaves it: keyboard interrupt on, POST passed, scancode translation. */
	k->ctr = I8042_CTR_KBDINT | I8042_CTR_SYSFLAG | I8042_CTR_XLATE;
	k->outp = I8042_OUTP_RESET | I8042_OUTP_A20;
	err = pthread_mutex_init(&k->lock, NULL);
	return -err;
}

void i8042__exit(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

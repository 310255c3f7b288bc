/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Port-I/O and MMIO dispatch: a sorted table of [base, base+len) ranges, each
 * with a handler. vCPU threads call bus__dispatch() on KVM_EXIT_IO / _MMIO;
 * handlers do their own locking. Registration happens before vCPUs start.
 */
#ifndef MINI_VMM_BUS_H
#define MINI_VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_RANGES 64

/* offset is relative to the registered base; len is 1, 2, 4 or 8. */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_io_fn fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name; /* "pio" or "mmio", for logs */
	struct bus_range ranges[BUS_MAX_RANGES];
	unsigned int nr_ranges;
	uint64_t unhandled; /* accesses that hit no range (reads return all ones) */
};

void bus__init(struct bus *bus, const char *name);
/* -EEXIST on overlap, -ENOSPC when full, -EINVAL on an empty or wrapping range. */
int bus__register(struct bus *bus, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque,
		  const char *name);
/* true if a handler took it; else reads are filled with 0xff and counted. */
bool bus__dispatch(struct bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write);

#endif

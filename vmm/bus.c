// SPDX-License-Identifier: GPL-2.0
/*
 * Port-I/O and MMIO dispatch: the sorted range tables and bus__dispatch().
 */
#include "vmm/bus.h"

#include "base/log.h"

#include <errno.h>
#include <string.h>

void bus__init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int bus__register(struct bus *bus, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque,
		  const char *name)
{
	unsigned int i;
	uint64_t end;

	if (len == 0 || __builtin_add_overflow(base, len, &end))
		return -EINVAL;
	if (bus->nr_ranges >= BUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < bus->nr_ranges; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (base < r->base + r->len && r->base < end)
			return -EEXIST;
	}
	/* Keep the table sorted by base for the binary search in dispatch. */
	for (i = bus->nr_ranges; i > 0 && bus->ranges[i - 1].base > base; i--)
		bus->ranges[i] = bus->ranges[i - 1];
	bus->ranges[i] = (struct bus_range){
		.base = base,
		.len = len,
		.fn = fn,
		.opaque = opaque,
		.name = name,
	};
	bus->nr_ranges++;
	return 0;
}

bool bus__dispatch(struct bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write)
{
	unsigned int lo = 0, hi = bus->nr_ranges;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			/* An access straddling the end of a range is not the device's. */
			if (len > r->len - (addr - r->base))
				break;
			r->fn(r->opaque, addr - r->base, data, len, is_write);
			return true;
		}
	}
	__atomic_add_fetch(&bus->unhandled, 1, __ATOMIC_RELAXED);
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}

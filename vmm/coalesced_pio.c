// SPDX-License-Identifier: GPL-2.0
/*
 * The consumer side of KVM's coalesced-I/O ring for one port zone (see
 * coalesced_pio.h). KVM appends at `last` under its own lock and never
 * moves `first`; we take entries at `first` and advance it only after the
 * entry was handled, so a vCPU that finds first == last without the lock
 * knows every earlier write has reached the device.
 */
#include "vmm/coalesced_pio.h"

#include "base/log.h"

#include <errno.h>
#include <string.h>

static bool in_zone(const struct coalesced_pio *c, const struct kvm_coalesced_mmio *e)
{
	return e->pio == 1 && e->len >= 1 && e->len <= sizeof(e->data) &&
	       e->phys_addr >= c->cfg.port && e->phys_addr - c->cfg.port + e->len <= c->cfg.len;
}

static void drain_locked(struct coalesced_pio *c)
{
	struct kvm_coalesced_mmio_ring *ring = c->cfg.ring;
	uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE);
	uint64_t handled = 0;

	if (first >= c->cfg.ring_max) /* only we write `first`: never, but do not index with it */
		first = 0;
	for (uint32_t n = 0; n < c->cfg.ring_max; n++) {
		struct kvm_coalesced_mmio e;

		if (first == __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
			break;
		memcpy(&e, &ring->coalesced_mmio[first], sizeof(e));
		if (in_zone(c, &e)) {
			bus__dispatch(c->cfg.bus, e.phys_addr, e.data, e.len, true);
			handled++;
		} else {
			c->stats.bad_entries++;
			log_ratelimited(LOG_WARN,
					"coalesced I/O: skipping a ring entry outside the zone "
					"(%s %#llx, %u bytes)",
					e.pio ? "port" : "MMIO", (unsigned long long)e.phys_addr,
					e.len);
		}
		first = (first + 1) % c->cfg.ring_max;
		__atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
	}
	if (handled) {
		c->stats.writes += handled;
		c->stats.drains++;
	}
}

void coalesced_pio__drain(struct coalesced_pio *c)
{
	if (!c->cfg.ring)
		return;
	/* The common case, on every exit: nothing waits (see the top of the file). */
	if (__atomic_load_n(&c->cfg.ring->first, __ATOMIC_ACQUIRE) ==
	    __atomic_load_n(&c->cfg.ring->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&c->lock);
	drain_locked(c);
	pthread_mutex_unlock(&c->lock);
}

/* Called with the lock held. */
static void set_registered(struct coalesced_pio *c, bool on)
{
	int ret;

	if (c->broken || c->registered == on)
		return;
	ret = c->cfg.set_zone(c->cfg.zone_opaque, c->cfg.port, c->cfg.len, on);
	if (ret < 0) {
		c->stats.errors++;
		c->broken = true;
		log_error("coalesced I/O: %s the zone at port %#x: %s; %s",
			  on ? "registering" : "removing", c->cfg.port, strerror(-ret),
			  on ? "every write exits to mini-vmm from now on"
			     : "the device's interrupts wait for the next drain");
		return;
	}
	c->registered = on;
	if (on) {
		c->stats.registers++;
		return;
	}
	c->stats.unregisters++;
	/* A write another vCPU made before the zone went away. */
	drain_locked(c);
}

void coalesced_pio__after_access(struct coalesced_pio *c, uint64_t port)
{
	if (!c->cfg.ring || port < c->cfg.dev_base || port - c->cfg.dev_base >= c->cfg.dev_len)
		return;
	pthread_mutex_lock(&c->lock);
	set_registered(c, c->cfg.allowed(c->cfg.allowed_opaque));
	pthread_mutex_unlock(&c->lock);
}

int coalesced_pio__init(struct coalesced_pio *c, const struct coalesced_pio_setup *setup)
{
	int err;

	memset(c, 0, sizeof(*c));
	if (!setup->ring || setup->ring_max == 0 || setup->len == 0 || !setup->set_zone ||
	    !setup->allowed)
		return -EINVAL;
	err = pthread_mutex_init(&c->lock, NULL);
	if (err)
		return -err;
	c->cfg = *setup;
	pthread_mutex_lock(&c->lock);
	set_registered(c, c->cfg.allowed(c->cfg.allowed_opaque));
	err = c->broken ? -EIO : 0;
	pthread_mutex_unlock(&c->lock);
	if (err) {
		pthread_mutex_destroy(&c->lock);
		memset(c, 0, sizeof(*c));
	}
	return err;
}

void coalesced_pio__exit(struct coalesced_pio *c)
{
	if (!c->cfg.ring)
		return;
	pthread_mutex_lock(&c->lock);
	set_registered(c, false);
	drain_locked(c);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_destroy(&c->lock);
	c->cfg.ring = NULL;
}

void coalesced_pio__get_stats(struct coalesced_pio *c, struct coalesced_pio_stats *out)
{
	if (!c->cfg.ring) { /* never set up, or after __exit (no other thread then) */
		*out = c->stats;
		return;
	}
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}

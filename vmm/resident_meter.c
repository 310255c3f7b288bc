// SPDX-License-Identifier: GPL-2.0
/* Resident guest RAM at a bounded cost: see resident_meter.h. */
#include "vmm/resident_meter.h"

#include "base/clock.h"

#include <string.h>

void resident_meter__init(struct resident_meter *m, const struct guest_mem *mem)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->mem = mem;
	m->tokens = RESIDENT_METER_BURST;
	m->refill_ns = clock__mono_ns();
}

void resident_meter__exit(struct resident_meter *m)
{
	pthread_mutex_destroy(&m->lock);
}

/* The gap between two rationed walks: the interval, or more if walks are slow. */
static uint64_t refill_gap(const struct resident_meter *m)
{
	uint64_t duty = m->last_walk_ns * RESIDENT_METER_DUTY_DIVISOR;

	return duty > RESIDENT_METER_INTERVAL_NS ? duty : RESIDENT_METER_INTERVAL_NS;
}

/* Under the lock. At most RESIDENT_METER_BURST iterations. */
static void refill(struct resident_meter *m, uint64_t now)
{
	uint64_t gap = refill_gap(m);

	while (m->tokens < RESIDENT_METER_BURST && now - m->refill_ns >= gap) {
		m->tokens++;
		m->refill_ns += gap;
	}
	if (m->tokens == RESIDENT_METER_BURST)
		m->refill_ns = now; /* a full bucket does not bank time */
}

uint64_t resident_meter__read(struct resident_meter *m, uint64_t max_age_ns)
{
	uint64_t now, v, done;

	pthread_mutex_lock(&m->lock);
	now = clock__mono_ns(); /* under the lock: never older than refill_ns or value_ns */
	refill(m, now);
	if (m->have_value && now - m->value_ns <= max_age_ns) {
		m->stats.cached++;
		v = m->value;
		pthread_mutex_unlock(&m->lock);
		return v;
	}
	if (m->walking || !m->tokens) {
		m->stats.throttled++;
		v = m->value;
		pthread_mutex_unlock(&m->lock);
		return v;
	}
	m->tokens--;
	m->walking = true;
	pthread_mutex_unlock(&m->lock);

	v = guest_mem__resident_bytes(m->mem); /* outside the lock: others get the last value */
	done = clock__mono_ns();

	pthread_mutex_lock(&m->lock);
	m->walking = false;
	m->have_value = true;
	m->value = v;
	m->value_ns = now;
	m->last_walk_ns = done - now;
	m->stats.walks++;
	pthread_mutex_unlock(&m->lock);
	return v;
}

void resident_meter__get_stats(struct resident_meter *m, struct resident_meter_stats *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->stats;
	pthread_mutex_unlock(&m->lock);
}

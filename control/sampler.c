// SPDX-License-Identifier: GPL-2.0
/*
 * Samples of the VM. sampler__take() asks the VM for one (every request
 * that reports the VM takes its own); the sampler thread takes one every
 * interval, and on PUT /actions FlushMetrics, for the dashboard's history
 * (a ring of API_HISTORY_SAMPLES) and the --metrics-log timeline.
 */
#include "control/api_internal.h"

#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void sampler__take(struct api_server *srv, struct vm_sample *s)
{
	memset(s, 0, sizeof(*s));
	srv->ops->sample(srv->opaque, s);
	s->wall_ns = wall_ns();
	s->vm_id = srv->cfg.instance_id;
	s->vmm_version = srv->cfg.vmm_version;
}

/* ---- the sampler ---- */

static void record_sample(struct api_server *srv, const struct vm_sample *s)
{
	unsigned int last = (srv->hist_head + API_HISTORY_SAMPLES - 1) % API_HISTORY_SAMPLES;
	struct history_point *p = &srv->history[srv->hist_head];
	uint64_t v;

	/* Two samples in one millisecond (a flush right after a tick): keep the newer. */
	if (srv->hist_len && srv->history[last].t_ms == s->uptime_ns / 1000000ULL) {
		srv->hist_head = last;
		srv->hist_len--;
		p = &srv->history[last];
	}

	*p = (struct history_point){
		.t_ms = s->uptime_ns / 1000000ULL,
		.resident = s->guest_resident_bytes,
		.target = s->has_balloon ? s->balloon.target_bytes : UINT64_MAX,
		.actual = s->has_balloon ? s->balloon.actual_bytes : UINT64_MAX,
		.guest_free = metrics__guest_stat(s, VIRTIO_BALLOON_S_MEMFREE, &v) ? v : UINT64_MAX,
		.reported = s->has_balloon ? s->balloon.stats.bytes_reported : UINT64_MAX,
		.discarded = s->has_balloon ? s->balloon.discard.bytes_discarded : UINT64_MAX,
	};
	srv->hist_head = (srv->hist_head + 1) % API_HISTORY_SAMPLES;
	if (srv->hist_len < API_HISTORY_SAMPLES)
		srv->hist_len++;
}

/*
 * One sample per interval, on a fixed schedule (a slow sample does not
 * shift the next ones), plus one whenever PUT /actions FlushMetrics asks.
 */
static void *sampler_main(void *arg)
{
	struct api_server *srv = arg;
	uint64_t interval = (uint64_t)srv->cfg.interval_ms * 1000000ULL, next = clock__mono_ns();
	struct vm_sample s;
	struct timespec deadline;

	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping) {
		srv->sample_now = false;
		pthread_mutex_unlock(&srv->lock);
		/* Outside the lock: the sample walks guest RAM's residency (mincore). */
		sampler__take(srv, &s);
		metrics_log__sample(&srv->mlog, &s);
		pthread_mutex_lock(&srv->lock);
		record_sample(srv, &s);
		while (next <= clock__mono_ns())
			next += interval;
		deadline.tv_sec = (time_t)(next / 1000000000ULL);
		deadline.tv_nsec = (long)(next % 1000000000ULL);
		while (!srv->stopping && !srv->sample_now &&
		       pthread_cond_timedwait(&srv->cond, &srv->lock, &deadline) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

int sampler__init(struct api_server *srv)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&srv->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->cond, &ca);
	pthread_condattr_destroy(&ca);
	srv->history = calloc(API_HISTORY_SAMPLES, sizeof(*srv->history));
	return srv->history ? 0 : -ENOMEM;
}

int sampler__start(struct api_server *srv)
{
	int ret = pthread_create(&srv->sampler, NULL, sampler_main, srv);

	if (ret) {
		log_error("api: cannot start the sampler thread: %s", strerror(ret));
		return -ret;
	}
	srv->sampler_started = true;
	return 0;
}

void sampler__flush(struct api_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->sample_now = true;
	pthread_cond_signal(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

unsigned int sampler__history(struct api_server *srv, const uint64_t *after_ms,
			      struct history_point *out)
{
	unsigned int n = 0;

	pthread_mutex_lock(&srv->lock);
	for (unsigned int i = 0; i < srv->hist_len; i++) {
		const struct history_point *p =
			&srv->history[(srv->hist_head + API_HISTORY_SAMPLES - srv->hist_len + i) %
				      API_HISTORY_SAMPLES];

		if (!after_ms || p->t_ms > *after_ms)
			out[n++] = *p;
	}
	pthread_mutex_unlock(&srv->lock);
	return n;
}

void sampler__stop(struct api_server *srv)
{
	if (srv->sampler_started) {
		pthread_mutex_lock(&srv->lock);
		srv->stopping = true;
		pthread_cond_signal(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
		pthread_join(srv->sampler, NULL);
	}
	pthread_cond_destroy(&srv->cond);
	pthread_mutex_destroy(&srv->lock);
	free(srv->history);
}

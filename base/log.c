// SPDX-License-Identifier: GPL-2.0
/*
 * Logging to stderr: the level, the line format and the rate limiter
 * behind log_ratelimited(). The contract is log.h.
 */
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level current_level = LOG_INFO;
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

#define RATELIMIT_BURST	      10
#define RATELIMIT_INTERVAL_MS 5000

void log__set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log__get_level(void)
{
	return current_level;
}

void log__msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {
		[LOG_ERROR] = "error: ",
		[LOG_WARN] = "warning: ",
		[LOG_INFO] = "",
		[LOG_DEBUG] = "debug: ",
	};
	char buf[1024];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One fprintf per line so lines from different threads do not interleave. */
	fprintf(stderr, "mini-vmm: %s%s\n", prefix[level], buf);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool log__ratelimit_ok(struct log_ratelimit *rl, uint32_t *suppressed_out)
{
	uint64_t now = now_ms();
	bool ok = false;

	pthread_mutex_lock(&ratelimit_lock);
	*suppressed_out = 0;
	if (rl->printed < RATELIMIT_BURST) {
		rl->printed++;
		rl->last_ms = now;
		ok = true;
	} else if (now - rl->last_ms >= RATELIMIT_INTERVAL_MS) {
		rl->last_ms = now;
		*suppressed_out = rl->suppressed;
		rl->suppressed = 0;
		ok = true;
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&ratelimit_lock);
	return ok;
}

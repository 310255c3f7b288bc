// SPDX-License-Identifier: GPL-2.0
/*
 * Logging to stderr or --log-path: the level, the line format (a timestamp,
 * then "mini-vmm: ") and the rate limiter behind log_ratelimited(). The
 * contract is log.h.
 */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_INFO;
static int log_fd = STDERR_FILENO;
static struct timespec log_start;
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

/* The time lines count from: the process's start, near enough (before main()). */
__attribute__((constructor)) static void log_init_start(void)
{
	clock_gettime(CLOCK_MONOTONIC, &log_start);
}

int log__open_path(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	return 0;
}

int log__fd(void)
{
	return log_fd;
}

size_t log__stamp(char *buf, size_t size)
{
	struct timespec now;
	char digits[24];
	int64_t ns;
	uint64_t ms;
	size_t n = 0, len = 0;

	if (size < LOG_STAMP_MAX)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(now.tv_sec - log_start.tv_sec) * 1000000000 +
	     (now.tv_nsec - log_start.tv_nsec);
	ms = ns > 0 ? (uint64_t)ns / 1000000 : 0;
	/* By hand, not snprintf: the SIGSYS handler calls this (async-signal-safe). */
	do {
		digits[len++] = (char)('0' + ms % 10);
		ms /= 10;
	} while (ms || len < 4);
	buf[n++] = '[';
	for (size_t pad = len; pad < 8; pad++)
		buf[n++] = ' ';
	while (len > 3)
		buf[n++] = digits[--len];
	buf[n++] = '.';
	while (len)
		buf[n++] = digits[--len];
	buf[n++] = ']';
	buf[n++] = ' ';
	return n;
}

void log__msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {
		[LOG_ERROR] = "error: ",
		[LOG_WARN] = "warning: ",
		[LOG_INFO] = "",
		[LOG_DEBUG] = "debug: ",
	};
	char line[LOG_STAMP_MAX + 32 + 1024];
	size_t n;
	va_list ap;

	if (level > current_level)
		return;
	n = log__stamp(line, sizeof(line));
	n += (size_t)snprintf(line + n, 32, "mini-vmm: %s", prefix[level]);
	va_start(ap, fmt);
	/* Room for the newline kept; a longer message is cut at 1 KiB. */
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n += strlen(line + n);
	line[n++] = '\n';
	/*
	 * One write() per line: lines from different threads do not
	 * interleave, and with --log-path (O_APPEND) neither do lines of
	 * several processes sharing the file.
	 */
	if (write(log_fd, line, n) < 0) {
		/* Nowhere left to say it. */
	}
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

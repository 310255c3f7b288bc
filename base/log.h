/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging. Everything goes to stderr (or the file of --log-path) so the
 * guest console can own stdout. A line is
 *     [    1.234] mini-vmm: warning: <message>
 * the time in seconds since mini-vmm started (CLOCK_MONOTONIC, ms), then
 * "mini-vmm: " and "error: ", "warning: ", "debug: " or nothing for info.
 * Guest-caused problems use log_ratelimited() so a hostile guest cannot
 * flood the host's logs: the counter next to the call keeps the full count.
 */
#ifndef MINI_VMM_LOG_H
#define MINI_VMM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

void log__set_level(enum log_level level);
enum log_level log__get_level(void);
void log__msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Send every later line to the end of `path` (created 0640, O_APPEND)
 * instead of stderr. Call during setup, before any filtered thread: the
 * file is opened here, lines are only written later. 0 or -errno.
 */
int log__open_path(const char *path);

/* Where lines go: STDERR_FILENO or the --log-path file. */
int log__fd(void);

/*
 * Write the line's timestamp, "[    1.234] ", into buf (at least
 * LOG_STAMP_MAX bytes; not terminated). Async-signal-safe. Its length, or
 * 0 when buf is too small.
 */
#define LOG_STAMP_MAX 32
size_t log__stamp(char *buf, size_t size);

#define log_error(...) log__msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log__msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log__msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log__msg(LOG_DEBUG, __VA_ARGS__)

/*
 * A rate limit owned by one call site: at most `burst` messages, then one
 * message per `interval_ms`; suppressed messages are counted and reported
 * with the next one that gets through.
 */
struct log_ratelimit {
	uint64_t last_ms;
	uint32_t printed;
	uint32_t suppressed;
};

bool log__ratelimit_ok(struct log_ratelimit *rl, uint32_t *suppressed_out);

#define log_ratelimited(level, ...)                                                                \
	do {                                                                                       \
		static struct log_ratelimit _rl;                                                   \
		uint32_t _supp;                                                                    \
		if (log__ratelimit_ok(&_rl, &_supp)) {                                             \
			if (_supp)                                                                 \
				log__msg(level, "(%u similar messages suppressed)", _supp);        \
			log__msg(level, __VA_ARGS__);                                              \
		}                                                                                  \
	} while (0)

#endif

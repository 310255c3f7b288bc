/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The generic value parsers every layer's option strings use: sizes,
 * on/off switches, seconds. Pure, no logging: callers say what was wrong
 * in their own words (naming the flag or the key).
 */
#ifndef MINI_VMM_PARSE_H
#define MINI_VMM_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Parse "512M", "1G", "4096K", "1048576" (bytes). Suffixes K/M/G/T are binary,
 * case-insensitive, optionally followed by "iB" or "B". 0 or -EINVAL/-ERANGE.
 */
int parse__size(const char *s, uint64_t *out);

/* "on" or "off". 0 or -EINVAL. */
int parse__on_off(const char *s, bool *out);

/* "N" or "Ns": whole seconds, 0 to max. 0, -EINVAL or -ERANGE (more than max). */
int parse__seconds(const char *s, uint32_t max, uint32_t *out);

#endif

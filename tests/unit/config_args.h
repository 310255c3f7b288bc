/* SPDX-License-Identifier: GPL-2.0 */
/* Command lines for the config tests: a NULL-terminated list of arguments. */
#ifndef MINI_VMM_TEST_CONFIG_ARGS_H
#define MINI_VMM_TEST_CONFIG_ARGS_H

#include "vmm/config.h"

#include <stdarg.h>
#include <stddef.h>

/* config__parse() of "mini-vmm" a0 ... (at most 30 arguments, then NULL). */
int config_args__parse(struct vmm_config *cfg, char *err, size_t err_len, const char *a0, ...);
int config_args__vparse(struct vmm_config *cfg, char *err, size_t err_len, const char *a0,
			va_list ap);

#endif

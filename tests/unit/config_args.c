// SPDX-License-Identifier: GPL-2.0
/* See config_args.h. */
#include "config_args.h"

int config_args__vparse(struct vmm_config *cfg, char *err, size_t err_len, const char *a0,
			va_list ap)
{
	char *argv[32] = {"mini-vmm"};
	int argc = 1;

	for (const char *a = a0; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	argv[argc] = NULL;
	return config__parse(cfg, argc, argv, err, err_len);
}

int config_args__parse(struct vmm_config *cfg, char *err, size_t err_len, const char *a0, ...)
{
	va_list ap;
	int ret;

	va_start(ap, a0);
	ret = config_args__vparse(cfg, err, err_len, a0, ap);
	va_end(ap);
	return ret;
}

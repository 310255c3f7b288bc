// SPDX-License-Identifier: GPL-2.0
#include "testlib.h"

int testlib_checks;

int testlib_done(const char *name)
{
	printf("%s: %d checks passed\n", name, testlib_checks);
	return 0;
}

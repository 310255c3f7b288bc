// SPDX-License-Identifier: GPL-2.0
/* The guest command line: user options first, quirks only where not already set. */
#include "testlib.h"
#include "vmm/quirks.h"

#include <string.h>

int main(void)
{
	char buf[512];

	CHECK_EQ(quirks__build_cmdline(buf, sizeof(buf), "console=ttyS0", false, "dev=1"), 0);
	CHECK(strcmp(buf, "console=ttyS0 dev=1") == 0);

	CHECK_EQ(quirks__build_cmdline(buf, sizeof(buf), "console=ttyS0", true, NULL), 0);
	CHECK(strncmp(buf, "console=ttyS0 noxsave ", 22) == 0);
	CHECK(strstr(buf, "clearcpuid=popcnt") != NULL);
	CHECK(strstr(buf, "int3_selftest=off") != NULL);
	CHECK(strstr(buf, "tsc=reliable") != NULL);

	/* A user's own clearcpuid= wins; ours is not added a second time. */
	CHECK_EQ(quirks__build_cmdline(buf, sizeof(buf), "clearcpuid=cx16 nosmap", true, "d"), 0);
	CHECK(strstr(buf, "clearcpuid=popcnt") == NULL);
	CHECK(strstr(buf, "nosmap nosmap") == NULL);
	CHECK(strstr(buf, "noxsave") != NULL);
	CHECK(buf[strlen(buf) - 1] == 'd');

	/* Empty user line, and a buffer too small. */
	CHECK_EQ(quirks__build_cmdline(buf, sizeof(buf), NULL, false, "x"), 0);
	CHECK(strcmp(buf, "x") == 0);
	CHECK(quirks__build_cmdline(buf, 8, "console=ttyS0", false, NULL) < 0);
	CHECK(quirks__build_cmdline(buf, 40, "console=ttyS0", true, NULL) < 0);
	return testlib_done("test_quirks");
}

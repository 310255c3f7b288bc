// SPDX-License-Identifier: GPL-2.0
/* The generic value parsers (base/parse.c), including the garbage a user can type. */
#include "testlib.h"

#include "base/parse.h"

#include <errno.h>

static void test_sizes(void)
{
	uint64_t v;

	CHECK_EQ(parse__size("512M", &v), 0);
	CHECK_EQ(v, 512ULL << 20);
	CHECK_EQ(parse__size("2g", &v), 0);
	CHECK_EQ(v, 2ULL << 30);
	CHECK_EQ(parse__size("4096K", &v), 0);
	CHECK_EQ(v, 4096ULL << 10);
	CHECK_EQ(parse__size("1048576", &v), 0);
	CHECK_EQ(v, 1048576);
	CHECK_EQ(parse__size("1GiB", &v), 0);
	CHECK_EQ(v, 1ULL << 30);
	CHECK_EQ(parse__size("64MB", &v), 0);
	CHECK_EQ(v, 64ULL << 20);
	CHECK(parse__size("", &v) < 0);
	CHECK(parse__size("M", &v) < 0);
	CHECK(parse__size("-1G", &v) < 0);
	CHECK(parse__size("12X", &v) < 0);
	CHECK(parse__size("12MM", &v) < 0);
	CHECK(parse__size(" 12M", &v) < 0);
	CHECK(parse__size("99999999999999999999", &v) < 0);
	CHECK(parse__size("17000000T", &v) < 0); /* overflows 64 bits */
	CHECK(parse__size(NULL, &v) < 0);
}

static void test_on_off(void)
{
	bool v = false;

	CHECK_EQ(parse__on_off("on", &v), 0);
	CHECK(v);
	CHECK_EQ(parse__on_off("off", &v), 0);
	CHECK(!v);
	CHECK_EQ(parse__on_off("ON", &v), -EINVAL);
	CHECK_EQ(parse__on_off("1", &v), -EINVAL);
	CHECK_EQ(parse__on_off("", &v), -EINVAL);
	CHECK(!v);
}

static void test_seconds(void)
{
	uint32_t v = 7;

	CHECK_EQ(parse__seconds("0", 60, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(parse__seconds("5s", 60, &v), 0);
	CHECK_EQ(v, 5);
	CHECK_EQ(parse__seconds("60", 60, &v), 0);
	CHECK_EQ(v, 60);
	CHECK_EQ(parse__seconds("61", 60, &v), -ERANGE);
	CHECK_EQ(parse__seconds("99999999999999999999", 60, &v), -ERANGE);
	CHECK_EQ(parse__seconds("", 60, &v), -EINVAL);
	CHECK_EQ(parse__seconds("s", 60, &v), -EINVAL);
	CHECK_EQ(parse__seconds("-1", 60, &v), -EINVAL);
	CHECK_EQ(parse__seconds("5ms", 60, &v), -EINVAL);
	CHECK_EQ(parse__seconds("5 s", 60, &v), -EINVAL);
	CHECK_EQ(v, 60);
}

int main(void)
{
	test_sizes();
	test_on_off();
	test_seconds();
	return testlib_done("test_parse");
}

// SPDX-License-Identifier: GPL-2.0
/*
 * base/log.c: the line format (a timestamp, then "mini-vmm: " and the level),
 * --log-path appending to a file instead of stderr, the stamp's digits.
 */
#include "base/log.h"
#include "testlib.h"

#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void stderr_child(void *arg)
{
	(void)arg;
	log_warn("to stderr %d", 1);
	log_debug("not shown at info");
}

/* Every line of text matches re; returns the number of lines. */
static int lines_matching(const char *text, const char *re)
{
	regex_t rx;
	char line[2048];
	int n = 0;

	CHECK_EQ(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	while (*text) {
		size_t len = strcspn(text, "\n");

		CHECK(len < sizeof(line));
		memcpy(line, text, len);
		line[len] = '\0';
		if (regexec(&rx, line, 0, NULL, 0) != 0) {
			fprintf(stderr, "line does not match /%s/: '%s'\n", re, line);
			CHECK(0);
		}
		n++;
		text += len + (text[len] == '\n');
	}
	regfree(&rx);
	return n;
}

static void test_stderr_format(void)
{
	char err[1024];

	CHECK_EQ(testlib__run_captured(stderr_child, NULL, 10, err, sizeof(err)), 0);
	CHECK_EQ(lines_matching(err, "^\\[ {4}0\\.[0-9]{3}\\] mini-vmm: warning: to stderr 1$"), 1);
}

static void test_log_path(void)
{
	char path[] = "/tmp/mini-vmm-test-log-XXXXXX";
	char text[4096];
	int fd = mkstemp(path);
	ssize_t got;

	CHECK(fd >= 0);
	/* Appends: what the file held stays. */
	CHECK_EQ(write(fd, "earlier line\n", 13), 13);
	CHECK_EQ(log__open_path(path), 0);
	CHECK(log__fd() != STDERR_FILENO);
	log_error("first %s", "line");
	log_info("second");
	/* A message longer than the line buffer is cut, still one line. */
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	log_info("%s", text);
	got = pread(fd, text, sizeof(text) - 1, 0);
	CHECK(got > 0);
	text[got] = '\0';
	CHECK(strncmp(text, "earlier line\n", 13) == 0);
	CHECK(strstr(text + 13, "] mini-vmm: error: first line\n"));
	CHECK(strstr(text + 13, "] mini-vmm: second\n"));
	CHECK_EQ(
		lines_matching(text + 13,
			       "^\\[ +[0-9]+\\.[0-9]{3}\\] mini-vmm: (error: )?[a-z ]+$|x{1000,}$"),
		3);
	CHECK(log__open_path("/nonexistent-dir/log") < 0);
	close(fd);
	unlink(path);
}

static void test_stamp(void)
{
	char buf[LOG_STAMP_MAX];
	struct timespec ts = {.tv_sec = 1, .tv_nsec = 300 * 1000000};
	size_t n;

	CHECK_EQ(log__stamp(buf, LOG_STAMP_MAX - 1), 0);
	nanosleep(&ts, NULL);
	n = log__stamp(buf, sizeof(buf));
	CHECK_EQ(n, 12);
	buf[n] = '\0';
	/* "[    1.3xx] ": at least 1.3 s since the process started, under 10 s. */
	CHECK(buf[0] == '[' && buf[4] == ' ' && buf[5] >= '1' && buf[5] <= '9');
	CHECK(buf[6] == '.' && buf[10] == ']' && buf[11] == ' ');
}

int main(void)
{
	test_stderr_format();
	test_stamp();
	test_log_path();
	return testlib_done("test_log");
}

// SPDX-License-Identifier: GPL-2.0
/* Command-line parsing, including the garbage a user can type. */
#include "config_args.h"
#include "testlib.h"
#include "vmm/config.h"

#include <stdarg.h>
#include <string.h>

/* Every caller's err is a char[256]. */
#define parse(cfg, err, ...) config_args__parse(cfg, err, sizeof(err), __VA_ARGS__)

static void test_cli(void)
{
	struct vmm_config cfg;
	char err[256];

	CHECK_EQ(parse(&cfg, err, "--kernel", "vmlinux", NULL), 0);
	CHECK_EQ(cfg.mem_size, 512ULL << 20);
	CHECK_EQ(cfg.cpus, 1);
	CHECK(cfg.host_quirks);
	CHECK(!cfg.balloon);

	CHECK_EQ(parse(&cfg, err, "--kernel", "k", "--memory", "256M", "--cpus", "2", "--cmdline",
		       "console=ttyS0", "--memory-backend", "memfd", "--serial", "file:/tmp/x",
		       "--balloon-reporting", "--no-host-quirks", NULL),
		 0);
	CHECK_EQ(cfg.mem_size, 256ULL << 20);
	CHECK_EQ(cfg.cpus, 2);
	CHECK_EQ(cfg.mem_backend, GUEST_MEM_MEMFD);
	CHECK_EQ(cfg.serial, SERIAL_FILE);
	CHECK(strcmp(cfg.serial_path, "/tmp/x") == 0);
	CHECK(cfg.balloon && cfg.balloon_reporting);
	CHECK(!cfg.host_quirks);
	CHECK(strcmp(cfg.cmdline, "console=ttyS0") == 0);

	CHECK_EQ(parse(&cfg, err, "--help", NULL), 0);
	CHECK(cfg.show_help);

	/* Each bad input is refused with a message naming the flag. */
	CHECK(parse(&cfg, err, NULL) < 0);
	CHECK(strstr(err, "--kernel") != NULL);
	CHECK(parse(&cfg, err, "--kernel", "k", "--cpus", "0", NULL) < 0);
	CHECK(strstr(err, "--cpus") != NULL);
	CHECK(parse(&cfg, err, "--kernel", "k", "--cpus", "33", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--cpus", "2x", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--cpus", "-1", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--memory", "1M", NULL) < 0);
	CHECK(strstr(err, "--memory") != NULL);
	CHECK(parse(&cfg, err, "--kernel", "k", "--memory", "100000001", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--memory-backend", "tmpfs", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--serial", "file:", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--bogus", NULL) < 0);
	CHECK(strstr(err, "--bogus") != NULL);
	CHECK(parse(&cfg, err, "--kernel", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "extra", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--log-level", "loud", NULL) < 0);
}

/* --id: Firecracker's rule (1-64 of letters, digits, '-'), its default name. */
static void test_id(void)
{
	struct vmm_config cfg;
	char err[256];
	char long_id[CONFIG_ID_MAX + 2];

	CHECK_EQ(parse(&cfg, err, "--kernel", "k", NULL), 0);
	CHECK(strcmp(cfg.id, "anonymous-instance") == 0);
	CHECK_EQ(parse(&cfg, err, "--kernel", "k", "--id", "vm-01-Web", NULL), 0);
	CHECK(strcmp(cfg.id, "vm-01-Web") == 0);
	memset(long_id, 'a', CONFIG_ID_MAX);
	long_id[CONFIG_ID_MAX] = '\0';
	CHECK_EQ(parse(&cfg, err, "--kernel", "k", "--id", long_id, NULL), 0);
	long_id[CONFIG_ID_MAX] = 'a';
	long_id[CONFIG_ID_MAX + 1] = '\0';
	CHECK(parse(&cfg, err, "--kernel", "k", "--id", long_id, NULL) < 0);
	CHECK(strstr(err, "--id") != NULL);
	CHECK(parse(&cfg, err, "--kernel", "k", "--id", "", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--id", "vm_1", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--id", "a\"b", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--id", "vm 1", NULL) < 0);
}

/* --api-socket, --metrics-listen, --metrics-log, --metrics-interval (docs/api.md). */
static void test_api_flags(void)
{
	struct vmm_config cfg;
	char err[256];

	CHECK_EQ(parse(&cfg, err, "--kernel", "k", NULL), 0);
	CHECK(!cfg.api_socket && !cfg.metrics_listen && !cfg.metrics_log);
	CHECK_EQ(cfg.metrics_interval_ms, 0);
	CHECK_EQ(parse(&cfg, err, "--kernel", "k", "--api-socket", "/run/vm.sock",
		       "--metrics-listen", "127.0.0.1:9100", "--metrics-log", "t.jsonl",
		       "--metrics-interval", "500ms", NULL),
		 0);
	CHECK(strcmp(cfg.api_socket, "/run/vm.sock") == 0);
	CHECK(strcmp(cfg.metrics_listen, "127.0.0.1:9100") == 0);
	CHECK(strcmp(cfg.metrics_log, "t.jsonl") == 0);
	CHECK_EQ(cfg.metrics_interval_ms, 500);
	CHECK_EQ(parse(&cfg, err, "--kernel", "k", "--metrics-listen", "[::1]:0", NULL), 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--metrics-listen", "localhost:9100", NULL) < 0);
	CHECK(strstr(err, "--metrics-listen"));
	CHECK(parse(&cfg, err, "--kernel", "k", "--metrics-listen", "127.0.0.1", NULL) < 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--metrics-interval", "10ms", NULL) < 0);
	CHECK(strstr(err, "--metrics-interval"));
	CHECK(parse(&cfg, err, "--kernel", "k", "--api-socket", NULL) < 0);
}

static void test_log_and_seccomp(void)
{
	struct vmm_config cfg;
	char err[256];

	CHECK_EQ(parse(&cfg, err, "--kernel", "k", NULL), 0);
	CHECK(!cfg.log_path);
	CHECK_EQ(cfg.seccomp, SECCOMP_MODE_TRAP); /* confined unless asked otherwise */
	CHECK_EQ(parse(&cfg, err, "--kernel", "k", "--log-path", "/var/log/vm0.log", NULL), 0);
	CHECK(strcmp(cfg.log_path, "/var/log/vm0.log") == 0);
	CHECK(parse(&cfg, err, "--kernel", "k", "--log-path", "", NULL) < 0);
	CHECK(strstr(err, "--log-path"));
	CHECK_EQ(parse(&cfg, err, "--kernel", "k", "--no-seccomp", NULL), 0);
	CHECK_EQ(cfg.seccomp, SECCOMP_MODE_OFF);
	CHECK_EQ(parse(&cfg, err, "--kernel", "k", "--seccomp", "log", NULL), 0);
	CHECK_EQ(cfg.seccomp, SECCOMP_MODE_LOG);
	CHECK_EQ(parse(&cfg, err, "--kernel", "k", "--seccomp", "off", "--seccomp", "on", NULL), 0);
	CHECK_EQ(cfg.seccomp, SECCOMP_MODE_TRAP);
	CHECK(parse(&cfg, err, "--kernel", "k", "--seccomp", "2", NULL) < 0);
	CHECK(strstr(err, "--seccomp"));
}

int main(void)
{
	test_cli();
	test_id();
	test_api_flags();
	test_log_and_seccomp();
	return testlib_done("test_config");
}

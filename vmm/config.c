// SPDX-License-Identifier: GPL-2.0
/*
 * The command line -> struct vmm_config. Pure: unit-tested and fuzzed.
 */
#include "vmm/config.h"

#include "base/parse.h"
#include "control/api.h"
#include "control/metrics.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEMORY,
	OPT_CPUS,
	OPT_MEMORY_BACKEND,
	OPT_SERIAL,
	OPT_NO_HOST_QUIRKS,
	OPT_BALLOON,
	OPT_BALLOON_REPORTING,
	OPT_API_SOCKET,
	OPT_METRICS_LISTEN,
	OPT_METRICS_LOG,
	OPT_METRICS_INTERVAL,
	OPT_LOG_LEVEL,
	OPT_VERSION,
	OPT_ID,
	OPT_CONFIG_FILE,
	OPT_NO_API,
	OPT_LOG_PATH,
	OPT_SECCOMP,
	OPT_NO_SECCOMP,
	OPT_NO_SERIAL_COALESCING,
};

static const struct option long_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"memory-backend", required_argument, NULL, OPT_MEMORY_BACKEND},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"no-host-quirks", no_argument, NULL, OPT_NO_HOST_QUIRKS},
	{"no-serial-coalescing", no_argument, NULL, OPT_NO_SERIAL_COALESCING},
	{"balloon", required_argument, NULL, OPT_BALLOON},
	{"balloon-reporting", no_argument, NULL, OPT_BALLOON_REPORTING},
	{"api-socket", required_argument, NULL, OPT_API_SOCKET},
	{"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
	{"metrics-log", required_argument, NULL, OPT_METRICS_LOG},
	{"metrics-interval", required_argument, NULL, OPT_METRICS_INTERVAL},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{"id", required_argument, NULL, OPT_ID},
	{"api-sock", required_argument, NULL, OPT_API_SOCKET}, /* Firecracker's spelling */
	{"config-file", required_argument, NULL, OPT_CONFIG_FILE},
	{"no-api", no_argument, NULL, OPT_NO_API},
	{"log-path", required_argument, NULL, OPT_LOG_PATH},
	{"seccomp", required_argument, NULL, OPT_SECCOMP},
	{"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
	{NULL, 0, NULL, 0},
};

static int parse_log_level(const char *s, enum log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Firecracker's rule for an instance id: 1 to 64 ASCII letters, digits and '-'. */
static bool id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > CONFIG_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static int parse_one(struct vmm_config *cfg, int opt, const char *arg, char *err, size_t err_len)
{
	char *end;
	unsigned long n;

	switch (opt) {
	case OPT_KERNEL:
		cfg->kernel = arg;
		return 0;
	case OPT_INITRD:
		cfg->initrd = arg;
		return 0;
	case OPT_CMDLINE:
		cfg->cmdline = arg;
		return 0;
	case OPT_MEMORY:
		if (parse__size(arg, &cfg->mem_size) < 0 || cfg->mem_size < (16ULL << 20))
			return usage_error(err, err_len,
					   "--memory '%s': expected a size of at least 16M, like "
					   "512M or 2G",
					   arg);
		if (cfg->mem_size % 4096)
			return usage_error(err, err_len,
					   "--memory '%s': must be a multiple of 4 KiB", arg);
		return 0;
	case OPT_CPUS:
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || *end || !isdigit((unsigned char)*arg) || n < 1 || n > CONFIG_MAX_CPUS)
			return usage_error(err, err_len, "--cpus '%s': expected 1 to %d", arg,
					   CONFIG_MAX_CPUS);
		cfg->cpus = (unsigned int)n;
		return 0;
	case OPT_MEMORY_BACKEND:
		if (guest_mem__parse_backend(arg, &cfg->mem_backend) < 0)
			return usage_error(err, err_len,
					   "--memory-backend '%s': expected anon, memfd, hugetlbfs "
					   "or thp",
					   arg);
		return 0;
	case OPT_SERIAL:
		if (strcmp(arg, "stdio") == 0) {
			cfg->serial = SERIAL_STDIO;
		} else if (strcmp(arg, "none") == 0) {
			cfg->serial = SERIAL_NONE;
		} else if (strncmp(arg, "file:", 5) == 0 && arg[5]) {
			cfg->serial = SERIAL_FILE;
			cfg->serial_path = arg + 5;
		} else {
			return usage_error(err, err_len,
					   "--serial '%s': expected stdio, none or file:PATH", arg);
		}
		return 0;
	case OPT_NO_HOST_QUIRKS:
		cfg->host_quirks = false;
		return 0;
	case OPT_NO_SERIAL_COALESCING:
		cfg->serial_coalescing = false;
		return 0;
	case OPT_BALLOON:
		cfg->balloon = true;
		cfg->balloon_opts = arg;
		return 0;
	case OPT_BALLOON_REPORTING:
		cfg->balloon = true;
		cfg->balloon_reporting = true;
		return 0;
	case OPT_API_SOCKET:
		cfg->api_socket = arg;
		return 0;
	case OPT_METRICS_LISTEN: {
		struct sockaddr_storage ss;
		socklen_t len;

		if (api__parse_listen(arg, &ss, &len) < 0)
			return usage_error(err, err_len,
					   "--metrics-listen '%s': expected ADDRESS:PORT, like "
					   "127.0.0.1:9100 or [::1]:9100",
					   arg);
		cfg->metrics_listen = arg;
		return 0;
	}
	case OPT_METRICS_LOG:
		cfg->metrics_log = arg;
		return 0;
	case OPT_METRICS_INTERVAL:
		if (metrics__parse_interval(arg, &cfg->metrics_interval_ms) < 0)
			return usage_error(err, err_len,
					   "--metrics-interval '%s': expected 100ms to 3600s, like "
					   "500ms or 2s",
					   arg);
		return 0;
	case OPT_LOG_LEVEL:
		if (parse_log_level(arg, &cfg->log_level) < 0)
			return usage_error(err, err_len,
					   "--log-level '%s': expected error, warn, info or debug",
					   arg);
		return 0;
	case 'h':
		cfg->show_help = true;
		return 0;
	case OPT_VERSION:
		cfg->show_version = true;
		return 0;
	case OPT_ID:
		if (!id_valid(arg))
			return usage_error(err, err_len,
					   "--id '%s': expected 1 to %d letters, digits or '-'",
					   arg, CONFIG_ID_MAX);
		cfg->id = arg;
		return 0;
	case OPT_CONFIG_FILE:
		cfg->config_file = arg;
		return 0;
	case OPT_NO_API:
		cfg->no_api = true;
		return 0;
	case OPT_LOG_PATH:
		if (!*arg)
			return usage_error(err, err_len, "--log-path: expected a file name");
		cfg->log_path = arg;
		return 0;
	case OPT_SECCOMP:
		if (seccomp__parse_mode(arg, &cfg->seccomp) < 0)
			return usage_error(err, err_len, "--seccomp '%s': expected on, log or off",
					   arg);
		return 0;
	case OPT_NO_SECCOMP:
		cfg->seccomp = SECCOMP_MODE_OFF;
		return 0;
	default:
		return usage_error(err, err_len, "unknown option (see mini-vmm --help)");
	}
}

static const char *option_name(int opt)
{
	for (const struct option *o = long_options; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

/* The flags a --config-file's sections replace. */
static bool guest_option(int opt)
{
	return opt == OPT_KERNEL || opt == OPT_INITRD || opt == OPT_CMDLINE || opt == OPT_MEMORY ||
	       opt == OPT_CPUS || opt == OPT_BALLOON || opt == OPT_BALLOON_REPORTING;
}

/*
 * Where the guest's configuration comes from: the flags (--kernel), a
 * --config-file, or the API before boot (--api-socket alone), as Firecracker.
 */
static int check_sources(const struct vmm_config *cfg, char *err, size_t err_len)
{
	if (cfg->no_api && !cfg->config_file)
		return usage_error(err, err_len, "--no-api requires --config-file");
	if (cfg->no_api && cfg->api_socket)
		return usage_error(err, err_len, "--no-api and --api-socket: choose one");
	if (cfg->config_file && cfg->guest_flag)
		return usage_error(err, err_len,
				   "--%s: the guest is described by --config-file; give its "
				   "sections there",
				   cfg->guest_flag);
	if (!cfg->kernel && !cfg->config_file && !cfg->api_socket)
		return usage_error(
			err, err_len,
			"--kernel PATH is required, or --config-file FILE, or "
			"--api-socket PATH to configure it through the API (see mini-vmm "
			"--help)");
	return 0;
}

int config__parse(struct vmm_config *cfg, int argc, char **argv, char *err, size_t err_len)
{
	int opt, ret;

	*cfg = (struct vmm_config){
		.id = CONFIG_DEFAULT_ID,
		.mem_size = 512ULL << 20,
		.cpus = 1,
		.mem_backend = GUEST_MEM_ANON,
		.serial = SERIAL_STDIO,
		.host_quirks = true,
		.serial_coalescing = true,
		.log_level = LOG_INFO,
		.seccomp = SECCOMP_MODE_TRAP,
	};
	err[0] = '\0';
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		if (opt == '?')
			return usage_error(err, err_len,
					   "unknown option '%s' (see mini-vmm --help)",
					   argv[optind - 1]);
		if (opt == ':')
			return usage_error(err, err_len, "option '%s' needs a value",
					   argv[optind - 1]);
		ret = parse_one(cfg, opt, optarg, err, err_len);
		if (ret < 0)
			return ret;
		if (!cfg->guest_flag && guest_option(opt))
			cfg->guest_flag = option_name(opt);
	}
	if (optind < argc)
		return usage_error(err, err_len, "unexpected argument '%s' (see mini-vmm --help)",
				   argv[optind]);
	if (cfg->show_help || cfg->show_version)
		return 0;
	return check_sources(cfg, err, err_len);
}

void config__usage(FILE *out)
{
	fputs("Usage: mini-vmm --kernel PATH [options]\n"
	      "       mini-vmm --config-file FILE [--no-api | --api-socket PATH] [options]\n"
	      "       mini-vmm --api-socket PATH [options]   (configured through the API)\n"
	      "\n"
	      "Boots a Linux guest under KVM. The guest console is on stdout (and stdin is its\n"
	      "input); mini-vmm's own messages go to stderr (or --log-path).\n"
	      "\n"
	      "Guest:\n"
	      "  --kernel PATH          vmlinux (ELF, PVH entry or 64-bit entry) or bzImage\n"
	      "  --initrd PATH          initramfs to load\n"
	      "  --cmdline STRING       kernel command line (virtio-mmio devices and host\n"
	      "                         quirks are appended)\n"
	      "  --memory SIZE          guest RAM, K/M/G suffixes (default 512M)\n"
	      "  --cpus N               vCPUs, 1-32 (default 1)\n"
	      "  --memory-backend TYPE  anon (default, private anonymous), memfd (shared),\n"
	      "                         hugetlbfs (2 MiB pages, needs vm.nr_hugepages), thp\n"
	      "  --serial MODE          stdio (default), file:PATH, or none\n"
	      "  --no-host-quirks       do not add the guest options an emulating KVM needs\n"
	      "  --no-serial-coalescing every serial byte exits to mini-vmm (default: THR\n"
	      "                         writes wait in KVM's ring while THRI is off)\n"
	      "\n"
	      "Memory reclamation (virtio-balloon on virtio-mmio):\n"
	      "  --balloon-reporting    balloon with free page reporting and defaults\n"
	      "  --balloon OPTS         size=SIZE,deflate-on-oom=on|off,stats-interval=Ns,\n"
	      "                         reporting=on|off,free-page-hinting=on|off,\n"
	      "                         discard=auto|madvise|remove|punch-hole|sync\n"
	      "                         (see docs/virtio-balloon.md)\n"
	      "\n"
	      "Control API and metrics (see docs/api.md):\n"
	      "  --api-socket PATH      HTTP/1.1 + JSON control API on a Unix socket (0600):\n"
	      "                         Firecracker's /balloon endpoints, /balloon/reporting,\n"
	      "                         /vm, /actions, /metrics (tools/mini-vmm-ctl)\n"
	      "  --metrics-listen ADDR:PORT\n"
	      "                         read-only HTTP for Prometheus (/metrics) and a live\n"
	      "                         dashboard (/dashboard), e.g. 127.0.0.1:9100\n"
	      "  --metrics-log PATH     JSON-lines timeline, one sample per interval\n"
	      "                         (tools/plot-reclaim turns it into a chart)\n"
	      "  --metrics-interval T   sampling interval, 100ms to 3600s (default 1s)\n"
	      "  --api-sock PATH        the same as --api-socket (Firecracker's spelling)\n"
	      "\n"
	      "Firecracker's way (see docs/api.md, \"Before boot\"):\n"
	      "  --api-socket PATH alone   wait for PUT /machine-config, /boot-source,\n"
	      "                         /balloon, then PUT /actions InstanceStart\n"
	      "  --config-file FILE     the guest from Firecracker's JSON format (sections\n"
	      "                         boot-source, machine-config, balloon); boots at once\n"
	      "  --no-api               no API socket (requires --config-file)\n"
	      "\n"
	      "Other:\n"
	      "  --id ID                the VM's identity in logs, the API and metrics: 1-64\n"
	      "                         letters, digits or '-' (default anonymous-instance)\n"
	      "  --log-level LEVEL      error, warn, info (default) or debug\n"
	      "  --log-path FILE        append mini-vmm's messages to FILE instead of stderr\n"
	      "  --seccomp MODE         on (default): each thread's system call filter;\n"
	      "                         log: forbidden calls are only logged (audit);\n"
	      "                         off: no filters. log and off are UNSAFE: debugging only\n"
	      "  --no-seccomp           the same as --seccomp off (UNSAFE)\n"
	      "  -h, --help             this text\n"
	      "  --version              print the version\n"
	      "\n"
	      "Exit status:\n"
	      "  0    the guest powered off or reset, or its exit port said pass\n"
	      "  1    VMM error (the message says what to fix)\n"
	      "  2    bad command line\n"
	      "  3    the guest reported failure through the exit port (0xf4)\n"
	      "  4    the guest triple-faulted\n"
	      "  5    fatal vCPU exit (emulation failure, failed entry, unknown exit)\n"
	      "  128+N  stopped by signal N (SIGINT, SIGTERM)\n",
	      out);
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The command line, parsed into a plain struct (pure: unit-tested and fuzzable). */
#ifndef MINI_VMM_CONFIG_H
#define MINI_VMM_CONFIG_H

#include "base/guest_mem.h"
#include "base/log.h"
#include "base/version.h" /* MINI_VMM_VERSION */
#include "vmm/seccomp.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_CPUS 32 /* the MP table in the EBDA holds 37 */
/* The VM's identity when none is given: Firecracker's default. */
#define CONFIG_DEFAULT_ID "anonymous-instance"
#define CONFIG_ID_MAX	  64

enum serial_mode {
	SERIAL_STDIO = 0,
	SERIAL_FILE,
	SERIAL_NONE,
};

struct vmm_config {
	const char *id; /* --id: 1-64 of [A-Za-z0-9-] (Firecracker's rule), or the default */
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	unsigned int cpus;
	enum guest_mem_backend mem_backend;
	enum serial_mode serial;
	const char *serial_path;
	bool host_quirks;
	bool serial_coalescing;	      /* off: --no-serial-coalescing (vmm/coalesced_pio.h) */
	bool balloon;		      /* --balloon or --balloon-reporting given */
	bool balloon_reporting;	      /* --balloon-reporting */
	const char *balloon_opts;     /* --balloon OPTS, parsed by the balloon */
	const char *api_socket;	      /* --api-socket PATH (docs/api.md) */
	const char *metrics_listen;   /* --metrics-listen ADDR:PORT */
	const char *metrics_log;      /* --metrics-log PATH */
	uint32_t metrics_interval_ms; /* --metrics-interval; 0: the API's default (1 s) */
	enum log_level log_level;
	const char *log_path;	   /* --log-path FILE: log lines appended there, not on stderr */
	enum seccomp_mode seccomp; /* --seccomp on|log|off, --no-seccomp (off): debugging only */
	bool show_help;
	bool show_version;
	/* Firecracker's way (docs/api.md, "Before boot"): */
	const char *config_file; /* --config-file FILE: its JSON format (vmm/vm_config.c) */
	bool no_api;		 /* --no-api: requires --config-file */
	const char *guest_flag;	 /* the first flag describing the guest, without "--" */
	char *owned[4];		 /* strings set by the API or --config-file (vm_config__release) */
};

/*
 * Parse argv into *cfg. On a usage error returns -EINVAL after writing a
 * one-line reason into err (which names the flag to fix).
 */
int config__parse(struct vmm_config *cfg, int argc, char **argv, char *err, size_t err_len);

/* The --help text. */
void config__usage(FILE *out);

#endif

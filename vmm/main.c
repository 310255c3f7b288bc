// SPDX-License-Identifier: GPL-2.0
/* mini-vmm: a small KVM VMM built around memory reclamation. See README.md. */
#include "base/log.h"
#include "base/version.h"
#include "vmm/config.h"
#include "vmm/seccomp.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vm_config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct vmm_config cfg;
	char err[512];
	int ret;

	if (config__parse(&cfg, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "mini-vmm: %s\n", err);
		return VMM_EXIT_USAGE;
	}
	if (cfg.show_help) {
		config__usage(stdout);
		return VMM_EXIT_OK;
	}
	if (cfg.show_version) {
		printf("mini-vmm %s\n", version__string());
		return VMM_EXIT_OK;
	}
	log__set_level(cfg.log_level);
	if (cfg.log_path) {
		ret = log__open_path(cfg.log_path);
		if (ret < 0) {
			fprintf(stderr, "mini-vmm: --log-path %s: %s\n", cfg.log_path,
				strerror(-ret));
			return VMM_EXIT_ERROR;
		}
	}
	seccomp__set_mode(cfg.seccomp);
	if (cfg.seccomp == SECCOMP_MODE_OFF)
		log_warn("seccomp off (--no-seccomp): UNSAFE, for debugging only: every thread may "
			 "make any system call; a guest that takes over one has the whole process");
	else if (cfg.seccomp == SECCOMP_MODE_LOG)
		log_warn("seccomp in log mode: UNSAFE, for debugging only: forbidden system calls "
			 "run, and the kernel only logs them (audit, dmesg)");
	/* Checked before /dev/kvm is opened: what is wrong is said first (exit 2). */
	if ((cfg.config_file && vm_config__load_file(&cfg, err, sizeof(err)) < 0) ||
	    (cfg.kernel && vm_config__validate(&cfg, err, sizeof(err)) < 0)) {
		log_error("%s", err);
		vm_config__release(&cfg);
		return VMM_EXIT_USAGE;
	}
	ret = vm__run(&cfg);
	vm_config__release(&cfg);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/* mini-vmm: a small KVM VMM built around memory reclamation. See README.md. */
#include "base/log.h"
#include "vmm/config.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vm_config.h"

#include <stdio.h>

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
		printf("mini-vmm %s\n", MINI_VMM_VERSION);
		return VMM_EXIT_OK;
	}
	log__set_level(cfg.log_level);
	/* Checked before /dev/kvm is opened: what is wrong is said first (exit 2). */
	if ((cfg.config_file && vm_config__load_file(&cfg, err, sizeof(err)) < 0) ||
	    (cfg.kernel && vm_config__validate(&cfg, err, sizeof(err)) < 0)) {
		fprintf(stderr, "mini-vmm: %s\n", err);
		vm_config__release(&cfg);
		return VMM_EXIT_USAGE;
	}
	ret = vm__run(&cfg);
	vm_config__release(&cfg);
	return ret;
}

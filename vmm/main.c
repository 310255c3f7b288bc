// SPDX-License-Identifier: GPL-2.0
/* mini-vmm: a small KVM VMM built around memory reclamation. See README.md. */
#include "base/log.h"
#include "base/version.h"
#include "vmm/config.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	struct vmm_config cfg;
	char err[256];

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
	return vm__run(&cfg);
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VM: assembles KVM, guest RAM, the buses, the devices and the vCPUs from
 * a vmm_config, runs the device event loop on the calling thread until the
 * guest or a signal stops it, and tears everything down in order.
 */
#ifndef MINI_VMM_VM_H
#define MINI_VMM_VM_H

#include "vmm/config.h"

/*
 * Build, boot and run the guest. Returns the process exit status (vcpu.h).
 * Without cfg->kernel the API (cfg->api_socket) fills cfg before boot.
 */
int vm__run(struct vmm_config *cfg);

#endif

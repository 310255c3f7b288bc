/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host quirks. On an emulation-limited KVM (the kvm_pvm module, see
 * docs/host-quirks.md) the guest kernel must avoid the instructions KVM's
 * emulator lacks; mini-vmm adds the guest options that do so, says so once,
 * and --no-host-quirks turns it off.
 */
#ifndef MINI_VMM_QUIRKS_H
#define MINI_VMM_QUIRKS_H

#include <stdbool.h>

/* The guest command-line options an emulating host needs (a static string). */
const char *quirks__emulating_host_cmdline(void);

/*
 * Build the final guest command line into buf: the user's, then the host
 * quirks (if `emulating`), then `devices` (virtio_mmio.device=...). Options
 * the user set already are not repeated. 0, or -ENOSPC if it does not fit.
 */
int quirks__build_cmdline(char *buf, unsigned long len, const char *user, bool emulating,
			  const char *devices);

#endif

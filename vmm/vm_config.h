/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One VM configuration (struct vmm_config), three sources: the command line
 * (config.c), a --config-file in Firecracker's format, and the API before
 * InstanceStart (vm_preboot.c). Whatever filled it, vm_config__validate()
 * checks it once, before /dev/kvm is opened.
 */
#ifndef MINI_VMM_VM_CONFIG_H
#define MINI_VMM_VM_CONFIG_H

#include "vmm/config.h"

#include <stddef.h>

struct api_vm_config; /* control/api.h: Firecracker's sections */

/*
 * Apply the sections of c that are set (each field already checked by its
 * parser); strings are copied. 0, or -EINVAL / -ENOMEM with err.
 */
int vm_config__apply(struct vmm_config *cfg, const struct api_vm_config *c, char *err,
		     size_t err_len);
/* cfg as Firecracker's sections (strings malloc'd: api_vm_config__release). 0 or -ENOMEM. */
int vm_config__export(const struct vmm_config *cfg, struct api_vm_config *out);
/* Read, parse and apply cfg->config_file. 0, or -errno with err naming the file and field. */
int vm_config__load_file(struct vmm_config *cfg, char *err, size_t err_len);
/*
 * Everything that can be checked without KVM: a kernel that exists, is
 * readable and is an ELF or a bzImage; an initrd that is readable; the
 * balloon's options; its size against guest RAM; the command line's
 * length. 0, or -EINVAL with err naming the field (and its flag).
 */
int vm_config__validate(const struct vmm_config *cfg, char *err, size_t err_len);
/* Free the strings the API or a config file set. */
void vm_config__release(struct vmm_config *cfg);

#endif

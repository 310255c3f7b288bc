// SPDX-License-Identifier: GPL-2.0
/*
 * Least privilege: drop every capability, from every set, and forbid
 * regaining any (privs.h says when).
 */
#include "vmm/privs.h"

#include "base/log.h"

#include <cap-ng.h>
#include <errno.h>
#include <sys/prctl.h>

int privs__drop_all(void)
{
	int ret;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_error("prctl(PR_SET_NO_NEW_PRIVS): %m");
		return -errno;
	}
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE)
		return 0; /* Unprivileged already (e.g. a kvm group member). */
	capng_clear(CAPNG_SELECT_BOTH);
	ret = capng_apply(CAPNG_SELECT_BOTH);
	if (ret < 0) {
		log_error("libcap-ng: dropping capabilities failed (capng_apply %d)", ret);
		return -EPERM;
	}
	log_debug("dropped all capabilities (effective, permitted, inheritable, bounding)");
	return 0;
}

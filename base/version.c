// SPDX-License-Identifier: GPL-2.0
/*
 * The version strings of base/version.h. MINI_VMM_GIT_DESCRIBE comes from
 * <build>/generated/base/version_git.h, which cmake/git-describe.cmake
 * rewrites at every build when the checkout's `git describe` changed.
 */
#include "base/version.h"

#include "base/version_git.h"

const char *version__git_describe(void)
{
	return MINI_VMM_GIT_DESCRIBE;
}

const char *version__string(void)
{
	static const char with_git[] = MINI_VMM_VERSION " (git " MINI_VMM_GIT_DESCRIBE ")";

	return MINI_VMM_GIT_DESCRIBE[0] ? with_git : MINI_VMM_VERSION;
}

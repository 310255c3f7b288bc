// SPDX-License-Identifier: GPL-2.0
/*
 * Host quirks: the guest options an emulation-limited KVM needs
 * (docs/host-quirks.md).
 */
#include "vmm/quirks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * Each option hides an instruction KVM's emulator cannot run (host-notes.md):
 * xsave/xrstor (FPU init), smap/smep (clac/stac in uaccess), popcnt (hweight
 * alternatives), cmpxchg16b (SLUB fast path), int3 (the alternatives
 * self-test; the option comes from guest/patches/0001), fwait (tsc=reliable: a
 * busy host makes the clocksource watchdog distrust the TSC and start a
 * kernel thread whose exit runs fwait in fpu__drop; see docs/host-quirks.md).
 */
static const char emulating_host_cmdline[] =
	"noxsave nosmap nosmep clearcpuid=popcnt,cx16,xsave,avx,avx2,avx512f,smap,smep "
	"int3_selftest=off tsc=reliable";

const char *quirks__emulating_host_cmdline(void)
{
	return emulating_host_cmdline;
}

/* Whether the option `key` (the part before '=') appears as a word in `cmdline`. */
static bool has_option(const char *cmdline, const char *key, size_t key_len)
{
	const char *p = cmdline;

	while (p && *p) {
		while (*p == ' ')
			p++;
		if (strncmp(p, key, key_len) == 0 &&
		    (p[key_len] == '=' || p[key_len] == ' ' || p[key_len] == '\0'))
			return true;
		p = strchr(p, ' ');
	}
	return false;
}

static int append(char *buf, unsigned long len, size_t *used, const char *word, size_t n)
{
	size_t need = n + (*used ? 1 : 0);

	if (*used + need + 1 > len)
		return -ENOSPC;
	if (*used)
		buf[(*used)++] = ' ';
	memcpy(buf + *used, word, n);
	*used += n;
	buf[*used] = '\0';
	return 0;
}

int quirks__build_cmdline(char *buf, unsigned long len, const char *user, bool emulating,
			  const char *devices)
{
	size_t used = 0;
	int ret = 0;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	if (user && *user)
		ret = append(buf, len, &used, user, strlen(user));
	if (!ret && emulating) {
		const char *p = emulating_host_cmdline;

		while (!ret && *p) {
			size_t n = strcspn(p, " ");
			size_t key_len = strcspn(p, "= ");

			if (!has_option(user, p, key_len))
				ret = append(buf, len, &used, p, n);
			p += n;
			while (*p == ' ')
				p++;
		}
	}
	if (!ret && devices && *devices)
		ret = append(buf, len, &used, devices, strlen(devices));
	return ret;
}

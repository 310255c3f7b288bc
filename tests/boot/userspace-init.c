// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the user-space boot test: proves the normal initramfs path works
 * (kernel -> initramfs -> a user-space process making system calls), then
 * reboots, which with reboot=k stops mini-vmm through the i8042 with status 0.
 */
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	printf("mini-vmm-init: user space is running as pid %d\n", (int)getpid());
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT);
	printf("mini-vmm-init: reboot failed\n");
	return 1;
}

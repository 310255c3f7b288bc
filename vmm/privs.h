/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Least privilege: once every device, socket and mapping is set up, mini-vmm
 * needs no capability at all (KVM, io_uring and discards work on fds it
 * already holds), so it drops them all, from every set, and forbids regaining
 * any through exec.
 */
#ifndef MINI_VMM_PRIVS_H
#define MINI_VMM_PRIVS_H

int privs__drop_all(void);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Least privilege, part two (privs.h is part one): once setup is done, each
 * thread of mini-vmm may make only the system calls its role needs, checked
 * by a seccomp filter that thread installs on itself (libseccomp). Filters
 * are per thread (no TSYNC): a vCPU thread may KVM_RUN, the device thread may
 * epoll_wait, the API thread may accept(); none of them may open a file,
 * create a socket, exec, ptrace, map executable memory or issue any ioctl
 * but the few KVM and terminal requests listed in seccomp.c.
 *
 * Where to call it (docs/threat-model.md, "System calls"):
 *   - a vCPU thread: first thing in its thread function, before KVM_RUN;
 *   - the API thread: first thing in its thread function, before it serves
 *     (threads it creates inherit the filter);
 *   - the discard queue's page worker: first thing in its thread function
 *     (its queue's struct discard_worker_setup, from the balloon's config);
 *   - the main thread, which runs the device event loop: after every other
 *     thread was created, right before event_loop__run(). A thread created
 *     after that would inherit the device filter on top of its own.
 *
 * A forbidden call (SECCOMP_MODE_TRAP, the default) raises SIGSYS; the
 * handler writes one line naming the thread's role and the system call
 * number to stderr and ends the process with SECCOMP_EXIT_STATUS, so a
 * missing entry is diagnosable rather than a silent kill.
 */
#ifndef MINI_VMM_SECCOMP_H
#define MINI_VMM_SECCOMP_H

enum seccomp_role {
	SECCOMP_ROLE_VCPU = 0, /* KVM_RUN loop and the exit handlers (device MMIO/PIO emulation) */
	SECCOMP_ROLE_DEVICE,   /* the main thread: device event loop, then teardown */
	SECCOMP_ROLE_API,      /* the HTTP API thread (libmicrohttpd) */
	SECCOMP_ROLE_DISCARD,  /* the discard queue's page worker (devices/discard/worker.c) */
	SECCOMP_ROLE__COUNT,
};

enum seccomp_mode {
	SECCOMP_MODE_TRAP = 0, /* forbidden call: log it, exit with SECCOMP_EXIT_STATUS */
	SECCOMP_MODE_LOG,      /* forbidden call: allowed, but logged by the kernel (audit) */
	SECCOMP_MODE_OFF,      /* no filter (debugging) */
};

/* 128 + SIGSYS, what a shell reports for a process killed by SIGSYS. */
#define SECCOMP_EXIT_STATUS 159

/*
 * Once, first thing in the process, before any other thread exists and
 * before any filter: settle what the C library would otherwise do lazily,
 * on whichever thread first needs it, which a guest can choose. glibc's
 * malloc makes two such calls: the first shrink of a thread arena's heap
 * opens /proc/sys/vm/overcommit_memory (arena.c, check_may_shrink_heap),
 * and the first allocation needing a 9th arena asks for the CPU count
 * (opening /sys/devices/system/cpu/online in glibc 2.36, sched_getaffinity
 * in others). With one arena (M_ARENA_MAX 1) there is neither:
 * every thread allocates from the main arena, which grows and shrinks with
 * brk, allowed to every role. 0, or -errno with a log line. Sanitizer
 * builds bring their own allocator: nothing to do there.
 */
int seccomp__prepare_process(void);

/* "vcpu", "device", "api", "discard". */
const char *seccomp__role_name(enum seccomp_role role);

/* For every later seccomp__install() in the process. Default SECCOMP_MODE_TRAP. */
void seccomp__set_mode(enum seccomp_mode mode);
/* "on" (trap), "log", "off". 0 or -EINVAL. */
int seccomp__parse_mode(const char *s, enum seccomp_mode *out);

/*
 * Let the device thread remove files in one directory at teardown (the API
 * socket): unlinkat(dirfd, name, 0) with exactly this dirfd, an O_PATH
 * descriptor of the directory opened during setup. Seccomp cannot check
 * paths; it can check the descriptor, so nothing outside that directory can
 * be removed. Call before seccomp__install(SECCOMP_ROLE_DEVICE); -1 (the
 * default) allows nothing.
 */
void seccomp__allow_unlinkat(int dirfd);

/*
 * Let the discard page worker call process_madvise() on this pidfd only
 * (the process's own, opened during setup). Call before
 * seccomp__install(SECCOMP_ROLE_DISCARD); -1 (the default) allows none.
 */
void seccomp__allow_process_madvise(int pidfd);

/*
 * Install `role`'s allow-list on the calling thread (and on threads it
 * creates later). Sets no_new_privs. 0, or -errno with a log line (e.g. a
 * kernel without seccomp filters: -EINVAL/-ENOSYS).
 */
int seccomp__install(enum seccomp_role role);

#endif

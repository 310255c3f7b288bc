// SPDX-License-Identifier: GPL-2.0
/*
 * Per-thread seccomp allow-lists (see seccomp.h). The lists come from
 * `strace -f` of the kvm-tier guests and the patched Linux guest, and from
 * reading the paths each role can reach after setup:
 *
 *  vCPU:   KVM_RUN and the exit handlers. An MMIO write can activate or
 *          reset the balloon (epoll_ctl, timerfd_settime, io_uring_enter,
 *          a synchronous discard), a port write can stop the VM (tgkill of
 *          the other vCPUs), the serial port polls and writes its output fd,
 *          the test device's marker samples RSS (mincore), a fatal exit
 *          reads the bytes at RIP (MADV_POPULATE_READ first on hugetlbfs).
 *  device: the event loop (epoll_wait, read/write on eventfds, timerfd,
 *          signalfd), discard completions and their synchronous retries,
 *          guest buffers populated before they are read (hugetlbfs), then
 *          teardown (close, munmap, unregistering the io_uring eventfd,
 *          restoring the terminal, logging the vCPUs' state).
 *  API:    libmicrohttpd on a listening socket made during setup: accept,
 *          receive, send, its poll/epoll and thread machinery; the balloon
 *          calls it makes (timerfd_settime, an irqfd write, mincore).
 *
 * Arguments are checked where that is cheap and meaningful: ioctl request
 * numbers, no PROT_EXEC in mmap/mprotect, madvise advice, the fallocate
 * mode, tgkill signals, clone only for threads. Nothing may open a file,
 * create a socket or a new io_uring, exec, fork or ptrace.
 *
 * io_uring requests run in the kernel on the ring's behalf and are NOT
 * checked by seccomp; docs/threat-model.md says what bounds them.
 */
#define _GNU_SOURCE
#include "vmm/seccomp.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#ifndef MADV_REMOVE
#define MADV_REMOVE 9
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* Sanitizer builds (MINI_VMM_SANITIZE): their runtime needs more, see add_sanitizer_rules(). */
#if defined(__SANITIZE_ADDRESS__)
#define SECCOMP_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECCOMP_SANITIZER_BUILD 1
#endif
#endif

#define R_VCPU	  (1u << SECCOMP_ROLE_VCPU)
#define R_DEVICE  (1u << SECCOMP_ROLE_DEVICE)
#define R_API	  (1u << SECCOMP_ROLE_API)
#define R_DISCARD (1u << SECCOMP_ROLE_DISCARD)
#define R_ALL	  (R_VCPU | R_DEVICE | R_API | R_DISCARD)

/* System calls allowed with any arguments. */
static const struct {
	int nr;
	unsigned int roles;
} plain_rules[] = {
	/* Every thread: I/O on fds it already holds, locks, time, memory, exit. */
	{SCMP_SYS(read), R_ALL},
	{SCMP_SYS(write), R_ALL},
	{SCMP_SYS(writev), R_ALL},
	{SCMP_SYS(poll), R_ALL},
	{SCMP_SYS(futex), R_ALL},
	{SCMP_SYS(clock_gettime), R_ALL}, /* the vDSO's fallback */
	{SCMP_SYS(gettimeofday), R_ALL},
	{SCMP_SYS(nanosleep), R_ALL},
	{SCMP_SYS(clock_nanosleep), R_ALL},
	{SCMP_SYS(sched_yield), R_ALL},
	{SCMP_SYS(getpid), R_ALL}, /* pthread_kill, raise */
	{SCMP_SYS(gettid), R_ALL},
	{SCMP_SYS(rt_sigprocmask), R_ALL},
	{SCMP_SYS(rt_sigreturn), R_ALL},
	{SCMP_SYS(restart_syscall), R_ALL},
	{SCMP_SYS(munmap), R_ALL},
	{SCMP_SYS(mremap), R_ALL},
	{SCMP_SYS(brk), R_ALL},
	{SCMP_SYS(exit), R_ALL},
	{SCMP_SYS(exit_group), R_ALL},

	/* Balloon work: activation/reset wiring, the stats timer, RSS samples. */
	{SCMP_SYS(epoll_ctl), R_VCPU | R_DEVICE | R_API},
	{SCMP_SYS(timerfd_settime), R_VCPU | R_DEVICE | R_API},
	{SCMP_SYS(mincore), R_VCPU | R_DEVICE | R_API},
	/* Discards: submit and reap (the ring exists already; no io_uring_setup). */
	{SCMP_SYS(io_uring_enter), R_VCPU | R_DEVICE},

	/* The device thread: its loop and teardown. */
	{SCMP_SYS(epoll_wait), R_DEVICE | R_API},
	{SCMP_SYS(epoll_pwait), R_DEVICE | R_API},
	{SCMP_SYS(close), R_DEVICE | R_API},
	{SCMP_SYS(shutdown), R_DEVICE | R_API}, /* stopping the API daemon from the main thread */

	/* The API thread: libmicrohttpd on the listening socket made during setup. */
	{SCMP_SYS(accept), R_API},
	{SCMP_SYS(accept4), R_API},
	{SCMP_SYS(recvfrom), R_API},
	{SCMP_SYS(recvmsg), R_API},
	{SCMP_SYS(sendto), R_API},
	{SCMP_SYS(sendmsg), R_API},
	{SCMP_SYS(getsockopt), R_API},
	{SCMP_SYS(setsockopt), R_API},
	{SCMP_SYS(getsockname), R_API},
	{SCMP_SYS(getpeername), R_API},
	{SCMP_SYS(select), R_API},
	{SCMP_SYS(pselect6), R_API},
	{SCMP_SYS(ppoll), R_API},
	{SCMP_SYS(epoll_create1), R_API},
	{SCMP_SYS(eventfd2), R_API},
	{SCMP_SYS(pipe2), R_API},
	{SCMP_SYS(getrandom), R_API},
	{SCMP_SYS(set_robust_list), R_API}, /* new connection threads */
	{SCMP_SYS(rseq), R_API},
	{SCMP_SYS(rt_sigaction), R_API}, /* glibc's first pthread_create in a process */
	/* process_* metrics: re-reading /proc/self files opened before confinement. */
	{SCMP_SYS(pread64), R_API},
	{SCMP_SYS(lseek), R_API},
	{SCMP_SYS(getdents64), R_API},
};

/* ioctl requests, by role. Compared on the low 32 bits (the kernel's `unsigned int cmd`). */
static const struct {
	unsigned long req;
	unsigned int roles;
} ioctl_rules[] = {
	{KVM_RUN, R_VCPU},
	{KVM_GET_REGS, R_VCPU | R_DEVICE},  /* fatal-exit report; vCPU state at teardown */
	{KVM_GET_SREGS, R_VCPU | R_DEVICE}, /* same */
	{KVM_TRANSLATE,
	 R_VCPU | R_DEVICE},	       /* fatal-exit report; a running guest's stack at teardown */
	{KVM_GET_VCPU_EVENTS, R_VCPU}, /* fatal-exit report: the event being delivered */
	{KVM_GET_MP_STATE, R_DEVICE},  /* vCPU state at teardown */
	{KVM_IRQ_LINE, R_VCPU | R_DEVICE}, /* serial interrupt: guest output, host input */
	{KVM_IRQ_LINE_STATUS, R_VCPU | R_DEVICE},
	/* The serial's coalesced zone: THRI on/off (a vCPU), removed at teardown (device). */
	{KVM_REGISTER_COALESCED_MMIO, R_VCPU},
	{KVM_UNREGISTER_COALESCED_MMIO, R_VCPU | R_DEVICE},
	{TCGETS, R_DEVICE}, /* restoring the terminal at teardown */
	{TCSETS, R_DEVICE},
	{TCSETSW, R_DEVICE},
	{TCSETSF, R_DEVICE},
};

/* madvise advice: what discards and glibc's allocator use. */
static const int madvise_ok[] = {MADV_DONTNEED, MADV_FREE, MADV_REMOVE};
/* tgkill: the vCPU kick (vcpu.c VCPU_KICK_SIGNAL) and abort(). */
static const int tgkill_ok[] = {SIGUSR1, SIGABRT};

static enum seccomp_mode current_mode = SECCOMP_MODE_TRAP;
static int unlinkat_dirfd = -1;
static int process_madvise_pidfd = -1;
static __thread int thread_role = -1;
static pthread_once_t sigsys_once = PTHREAD_ONCE_INIT;
static int sigsys_err;

static const char *const role_names[SECCOMP_ROLE__COUNT] = {
	[SECCOMP_ROLE_VCPU] = "vcpu",
	[SECCOMP_ROLE_DEVICE] = "device",
	[SECCOMP_ROLE_API] = "api",
	[SECCOMP_ROLE_DISCARD] = "discard",
};

const char *seccomp__role_name(enum seccomp_role role)
{
	if ((unsigned int)role >= SECCOMP_ROLE__COUNT)
		return "unknown";
	return role_names[role];
}

void seccomp__set_mode(enum seccomp_mode mode)
{
	current_mode = mode;
}

void seccomp__allow_unlinkat(int dirfd)
{
	unlinkat_dirfd = dirfd;
}

void seccomp__allow_process_madvise(int pidfd)
{
	process_madvise_pidfd = pidfd;
}

int seccomp__prepare_process(void)
{
#if defined(__GLIBC__) && !defined(SECCOMP_SANITIZER_BUILD)
	/*
	 * One arena, the main one: no thread arena's heap ever shrinks (so
	 * glibc never needs /proc/sys/vm/overcommit_memory), and the arena
	 * limit is fixed here (so glibc never asks for the CPU count). The
	 * cost is one lock for every thread's malloc; mini-vmm's threads
	 * allocate rarely (a report, a request), and tcache takes most small
	 * allocations without the lock.
	 */
	if (mallopt(M_ARENA_MAX, 1) != 1) {
		log_error("seccomp: mallopt(M_ARENA_MAX, 1) failed");
		return -EINVAL;
	}
#endif
	return 0;
}

int seccomp__parse_mode(const char *s, enum seccomp_mode *out)
{
	if (strcmp(s, "on") == 0)
		*out = SECCOMP_MODE_TRAP;
	else if (strcmp(s, "log") == 0)
		*out = SECCOMP_MODE_LOG;
	else if (strcmp(s, "off") == 0)
		*out = SECCOMP_MODE_OFF;
	else
		return -EINVAL;
	return 0;
}

/* Async-signal-safe pieces for the SIGSYS handler: no stdio, no malloc. */
static size_t put_str(char *buf, size_t n, size_t size, const char *s)
{
	while (*s && n + 1 < size)
		buf[n++] = *s++;
	return n;
}

static size_t put_uint(char *buf, size_t n, size_t size, unsigned long v)
{
	char digits[24];
	int i = 0;

	do {
		digits[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i && n + 1 < size)
		buf[n++] = digits[--i];
	return n;
}

/*
 * A forbidden system call. Say which one and from which role, then end the
 * process: the syscall did not run, and carrying on without it would only
 * hide the problem (or the attack).
 */
static void sigsys_handler(int sig, siginfo_t *si, void *ucontext)
{
	char buf[320 + LOG_STAMP_MAX];
	size_t n = 0;
	int role = thread_role;

	(void)sig;
	(void)ucontext;
	n = log__stamp(buf, sizeof(buf));
	n = put_str(buf, n, sizeof(buf), "mini-vmm: error: seccomp: the ");
	n = put_str(buf, n, sizeof(buf),
		    role >= 0 ? seccomp__role_name((enum seccomp_role)role) : "unknown");
	n = put_str(buf, n, sizeof(buf), " thread made system call ");
	n = put_uint(buf, n, sizeof(buf), (unsigned long)si->si_syscall);
	n = put_str(buf, n, sizeof(buf),
		    ", which its filter forbids; stopping. (Name it with `scmp_sys_resolver ");
	n = put_uint(buf, n, sizeof(buf), (unsigned long)si->si_syscall);
	n = put_str(buf, n, sizeof(buf),
		    "`; if mini-vmm really needs it, add it to vmm/seccomp.c, or run with "
		    "--seccomp log to find all.)\n");
	if (write(log__fd(), buf, n) < 0) {
		/* Nothing else to try. */
	}
	_exit(SECCOMP_EXIT_STATUS);
}

static void install_sigsys_handler(void)
{
	struct sigaction sa = {.sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO};

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		sigsys_err = -errno;
}

static struct scmp_arg_cmp arg_eq(unsigned int arg, uint64_t val)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_EQ, .datum_a = val};
}

static struct scmp_arg_cmp arg_masked_eq(unsigned int arg, uint64_t mask, uint64_t val)
{
	return (struct scmp_arg_cmp){
		.arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = val};
}

static int allow(scmp_filter_ctx ctx, int nr, unsigned int nargs, const struct scmp_arg_cmp *args)
{
	int ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, nargs, args);

	if (ret < 0) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		log_error("seccomp: cannot add a rule for %s: %s", name ? name : "?",
			  strerror(-ret));
		free(name);
	}
	return ret;
}

/*
 * The sanitizer runtime reports errors and leaks from inside the filtered
 * threads: it reads /proc/self/maps and the binary to symbolize, and the
 * leak checker stops the world with a ptrace()ing helper thread. Test
 * builds only; a release build has none of this.
 */
static int add_sanitizer_rules(scmp_filter_ctx ctx)
{
#ifdef SECCOMP_SANITIZER_BUILD
	static const int extra[] = {
		/* Reports: symbolizing reads /proc/self/maps and the binaries. */
		SCMP_SYS(open),
		SCMP_SYS(openat),
		SCMP_SYS(close),
		SCMP_SYS(lseek),
		SCMP_SYS(readlink),
		SCMP_SYS(fstat),
		SCMP_SYS(newfstatat),
		SCMP_SYS(fcntl),
		/* LeakSanitizer's stop-the-world: a clone()d tracer ptrace()s every thread. */
		SCMP_SYS(clone),
		SCMP_SYS(ptrace),
		SCMP_SYS(wait4),
		SCMP_SYS(prctl),
		SCMP_SYS(getppid),
		SCMP_SYS(rt_sigaction),
		SCMP_SYS(sigaltstack),
		SCMP_SYS(getdents),
		SCMP_SYS(getdents64),
		/* Thread start and exit: the CPU count. */
		SCMP_SYS(sched_getaffinity),
	};
	/* Thread start and exit: shadow and fake stacks. */
	static const int madvise_extra[] = {MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP,
					    MADV_DODUMP};
	struct scmp_arg_cmp a;
	int ret;

	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		ret = allow(ctx, extra[i], 0, NULL);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; i < sizeof(madvise_extra) / sizeof(madvise_extra[0]); i++) {
		a = arg_eq(2, (uint64_t)madvise_extra[i]);
		ret = allow(ctx, SCMP_SYS(madvise), 1, &a);
		if (ret < 0)
			return ret;
	}
	/* Whether stderr is a terminal (colours). */
	a = arg_masked_eq(1, 0xffffffffULL, TCGETS);
	return allow(ctx, SCMP_SYS(ioctl), 1, &a);
#else
	(void)ctx;
	return 0;
#endif
}

static int add_rules(scmp_filter_ctx ctx, enum seccomp_role role)
{
	const unsigned int me = 1u << role;
	struct scmp_arg_cmp a[3];
	int ret;

	for (size_t i = 0; i < sizeof(plain_rules) / sizeof(plain_rules[0]); i++) {
		if ((plain_rules[i].roles & me) &&
		    (ret = allow(ctx, plain_rules[i].nr, 0, NULL)) < 0)
			return ret;
	}
	for (size_t i = 0; i < sizeof(ioctl_rules) / sizeof(ioctl_rules[0]); i++) {
		if (!(ioctl_rules[i].roles & me))
			continue;
		a[0] = arg_masked_eq(1, 0xffffffffULL, ioctl_rules[i].req);
		if ((ret = allow(ctx, SCMP_SYS(ioctl), 1, a)) < 0)
			return ret;
	}
	/* Memory: never executable (no new code after setup). */
	a[0] = arg_masked_eq(2, PROT_EXEC, 0);
	if ((ret = allow(ctx, SCMP_SYS(mmap), 1, a)) < 0 ||
	    (ret = allow(ctx, SCMP_SYS(mprotect), 1, a)) < 0)
		return ret;
	for (size_t i = 0; i < sizeof(madvise_ok) / sizeof(madvise_ok[0]); i++) {
		a[0] = arg_eq(2, (uint64_t)madvise_ok[i]);
		if ((ret = allow(ctx, SCMP_SYS(madvise), 1, a)) < 0)
			return ret;
	}
	for (size_t i = 0; i < sizeof(tgkill_ok) / sizeof(tgkill_ok[0]); i++) {
		a[0] = arg_eq(2, (uint64_t)tgkill_ok[i]);
		if ((ret = allow(ctx, SCMP_SYS(tgkill), 1, a)) < 0)
			return ret;
	}
	if (role == SECCOMP_ROLE_VCPU || role == SECCOMP_ROLE_DEVICE ||
	    role == SECCOMP_ROLE_DISCARD) {
		/* Discards: punch a hole, nothing else (no growing or zeroing files). */
		a[0] = arg_eq(1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
		if ((ret = allow(ctx, SCMP_SYS(fallocate), 1, a)) < 0)
			return ret;
	}
	if (role == SECCOMP_ROLE_DISCARD && process_madvise_pidfd >= 0) {
		/*
		 * Batches of small discards: process_madvise() on the process's
		 * own pidfd (opened at setup; no role may call pidfd_open), with
		 * the two discarding advices and no flags.
		 */
		static const int advice[] = {MADV_DONTNEED, MADV_REMOVE};

		for (size_t i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
			a[0] = arg_masked_eq(0, 0xffffffffULL, (uint64_t)process_madvise_pidfd);
			a[1] = arg_eq(3, (uint64_t)advice[i]);
			a[2] = arg_eq(4, 0);
			if ((ret = allow(ctx, SCMP_SYS(process_madvise), 3, a)) < 0)
				return ret;
		}
	}
	if (role == SECCOMP_ROLE_VCPU || role == SECCOMP_ROLE_DEVICE) {
		/*
		 * Reading a guest buffer on hugetlbfs RAM: its huge pages populated
		 * first (base/guest_mem.c guest_mem__prefault), by the device thread
		 * (PFN arrays, stats, indirect tables), or by a vCPU (the balloon's
		 * queues when no device thread takes them; the bytes at RIP of a
		 * dying guest).
		 */
		a[0] = arg_eq(2, MADV_POPULATE_READ);
		if ((ret = allow(ctx, SCMP_SYS(madvise), 1, a)) < 0)
			return ret;
		/*
		 * Submitting discards: the thread itself (pid 0) switches between
		 * SCHED_OTHER and SCHED_BATCH so new io-wq workers are born BATCH
		 * (devices/discard/ring.c submit_ring). Nothing else, no other thread.
		 */
		a[0] = arg_eq(0, 0);
		if ((ret = allow(ctx, SCMP_SYS(sched_getscheduler), 1, a)) < 0)
			return ret;
		a[1] = arg_eq(1, SCHED_OTHER);
		if ((ret = allow(ctx, SCMP_SYS(sched_setscheduler), 2, a)) < 0)
			return ret;
		a[1] = arg_eq(1, SCHED_BATCH);
		if ((ret = allow(ctx, SCMP_SYS(sched_setscheduler), 2, a)) < 0)
			return ret;
	}
	if (role == SECCOMP_ROLE_DEVICE) {
		/* Teardown takes the ring's eventfd back; no other registration. */
		a[0] = arg_eq(1, IORING_UNREGISTER_EVENTFD);
		if ((ret = allow(ctx, SCMP_SYS(io_uring_register), 1, a)) < 0)
			return ret;
		/* Teardown removes the API socket, in its directory only. */
		if (unlinkat_dirfd >= 0) {
			a[0] = arg_masked_eq(0, 0xffffffffULL, (uint64_t)unlinkat_dirfd);
			a[1] = arg_eq(2, 0);
			if ((ret = allow(ctx, SCMP_SYS(unlinkat), 2, a)) < 0)
				return ret;
		}
	}
	if (role == SECCOMP_ROLE_API) {
		static const int fcntl_ok[] = {F_GETFL, F_SETFL, F_GETFD, F_SETFD};

		for (size_t i = 0; i < sizeof(fcntl_ok) / sizeof(fcntl_ok[0]); i++) {
			a[0] = arg_eq(1, (uint64_t)fcntl_ok[i]);
			if ((ret = allow(ctx, SCMP_SYS(fcntl), 1, a)) < 0)
				return ret;
		}
		/* Threads (a connection thread), never processes. */
		a[0] = arg_masked_eq(0, CLONE_THREAD, CLONE_THREAD);
		if ((ret = allow(ctx, SCMP_SYS(clone), 1, a)) < 0)
			return ret;
		a[0] = arg_eq(0, PR_SET_NAME);
		if ((ret = allow(ctx, SCMP_SYS(prctl), 1, a)) < 0)
			return ret;
		/*
		 * clone3 passes its flags in memory, out of seccomp's reach: make it
		 * fail with ENOSYS so glibc's pthread_create falls back to clone.
		 */
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
		if (ret < 0)
			return ret;
	}
	return add_sanitizer_rules(ctx);
}

int seccomp__install(enum seccomp_role role)
{
	scmp_filter_ctx ctx;
	int ret;

	if ((unsigned int)role >= SECCOMP_ROLE__COUNT)
		return -EINVAL;
	if (current_mode == SECCOMP_MODE_OFF) {
		log_debug("seccomp: off; the %s thread runs unfiltered", seccomp__role_name(role));
		return 0;
	}
	pthread_once(&sigsys_once, install_sigsys_handler);
	if (sigsys_err) {
		log_error("seccomp: cannot install the SIGSYS handler: %s", strerror(-sigsys_err));
		return sigsys_err;
	}
	ctx = seccomp_init(current_mode == SECCOMP_MODE_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	if (!ctx) {
		log_error("seccomp: seccomp_init failed (out of memory?)");
		return -ENOMEM;
	}
	ret = add_rules(ctx, role);
	if (ret == 0) {
		ret = seccomp_load(ctx);
		if (ret < 0)
			log_error("seccomp: loading the %s filter failed: %s (a kernel without "
				  "CONFIG_SECCOMP_FILTER? --no-seccomp runs without filters, "
				  "unsafely)",
				  seccomp__role_name(role), strerror(-ret));
	}
	seccomp_release(ctx);
	if (ret < 0)
		return ret;
	thread_role = (int)role;
	log_debug("seccomp: %s filter installed (%s)", seccomp__role_name(role),
		  current_mode == SECCOMP_MODE_LOG ? "log only" : "forbidden calls stop mini-vmm");
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The per-thread seccomp allow-lists (vmm/seccomp.c), each case in a child
 * process so a refused call cannot take the test down with it:
 *  - what every role needs keeps working (I/O, locks, time, memory);
 *  - a forbidden call (socket, openat, execve) ends the process with
 *    SECCOMP_EXIT_STATUS and a line naming the role and the call number;
 *  - argument checks: KVM ioctls by role, no PROT_EXEC, madvise advice
 *    (MADV_POPULATE_READ on the device and vCPU threads alone),
 *    fallocate mode, tgkill signals, threads but no fork, clone3 -> ENOSYS;
 *  - filters are per thread: another thread of the process is not affected;
 *  - teardown may unlinkat() in the API socket's directory and nowhere else;
 *  - log and off modes let the call through;
 *  - the balloon's real paths run under the filters of the threads that run
 *    them: activation, reports, completions, reset and teardown under
 *    "device" and "vcpu", with io_uring and with synchronous discards;
 *  - the discard queue's page worker frees pages under its own "discard"
 *    filter (process_madvise with the discarding advices only).
 * Skips (77) where the kernel has no seccomp filters.
 */
#define _GNU_SOURCE
#include "devices/virtio_balloon.h"
#include "balloon_rig.h"
#include "fake_virtq.h"
#include "testlib.h"
#include "base/event_loop.h"
#include "vmm/seccomp.h"
#include "vmm/vm_devices.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Sanitizer builds (SANITIZER_BUILD, testlib.h) allow their runtime more (seccomp.c
 * add_sanitizer_rules). */

#define CHILD_INSTALL_FAILED 100
#define CHILD_WRONG_RESULT   101

struct outcome {
	int status; /* wait status */
	char err[4096];
};

struct child_filter {
	enum seccomp_role role;
	enum seccomp_mode mode;
	void (*fn)(void);
};

static void filtered_child(void *arg)
{
	const struct child_filter *c = arg;

	seccomp__set_mode(c->mode);
	if (seccomp__install(c->role) < 0)
		_exit(CHILD_INSTALL_FAILED);
	c->fn();
}

/* Run fn() in a child with `role`'s filter installed (mode first). */
static void run_child(enum seccomp_role role, enum seccomp_mode mode, void (*fn)(void),
		      struct outcome *out)
{
	struct child_filter c = {.role = role, .mode = mode, .fn = fn};

	out->status = testlib__run_captured(filtered_child, &c, 30, out->err, sizeof(out->err));
}

static void expect_ok(enum seccomp_role role, void (*fn)(void), const char *what)
{
	struct outcome o;

	run_child(role, SECCOMP_MODE_TRAP, fn, &o);
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0) {
		fprintf(stderr, "%s under the %s filter: status 0x%x, stderr:\n%s\n", what,
			seccomp__role_name(role), o.status, o.err);
		CHECK(0);
	}
}

/* The call is refused: exit status 159 and the SIGSYS handler's line naming it. */
static void expect_refused(enum seccomp_role role, void (*fn)(void), long nr, const char *what)
{
	char needle[128];
	struct outcome o;

	run_child(role, SECCOMP_MODE_TRAP, fn, &o);
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != SECCOMP_EXIT_STATUS) {
		fprintf(stderr, "%s under the %s filter: expected exit %d, got status 0x%x:\n%s\n",
			what, seccomp__role_name(role), SECCOMP_EXIT_STATUS, o.status, o.err);
		CHECK(0);
	}
	snprintf(needle, sizeof(needle), "seccomp: the %s thread made system call %ld,",
		 seccomp__role_name(role), nr);
	if (!strstr(o.err, needle)) {
		fprintf(stderr, "%s: no '%s' in:\n%s\n", what, needle, o.err);
		CHECK(0);
	}
}

/* ---- bodies run in the child ---- */

static void basics(void)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts;
	void *big;

	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	usleep(1000);
	big = malloc(8 << 20); /* mmap + munmap */
	if (!big)
		_exit(CHILD_WRONG_RESULT);
	memset(big, 1, 8 << 20);
	free(big);
	(void)getpid();
	fprintf(stderr, "logging works\n");
}

static void do_socket(void)
{
	socket(AF_INET, SOCK_STREAM, 0);
}

static void __attribute__((unused)) do_openat(void)
{
	open("/etc/hostname", O_RDONLY);
}

static void do_execve(void)
{
	char *argv[] = {"/bin/true", NULL};

	execve(argv[0], argv, environ);
}

static void do_kvm_create_vm(void)
{
	ioctl(-1, KVM_CREATE_VM, 0);
}

static void do_kvm_run_badf(void)
{
	/* Allowed for vCPUs: the kernel, not the filter, says EBADF. */
	if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF)
		_exit(CHILD_WRONG_RESULT);
}

static void do_tcsets_badf(void)
{
	struct termios t;

	memset(&t, 0, sizeof(t));
	if (ioctl(-1, TCSETS, &t) != -1 || errno != EBADF)
		_exit(CHILD_WRONG_RESULT);
}

static void do_mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void do_mprotect_exec(void)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));

	mprotect(page, sizeof(page), PROT_READ | PROT_EXEC);
}

static void do_madvise_dontfork(void)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));

	madvise(page, sizeof(page), MADV_DONTFORK);
}

static void do_madvise_dontneed(void)
{
	uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(CHILD_WRONG_RESULT);
	p[0] = 1;
	if (madvise(p, 4096, MADV_DONTNEED) < 0 || p[0] != 0)
		_exit(CHILD_WRONG_RESULT);
}

/* What guest_mem__prefault does before the device reads hugetlbfs RAM. */
static void do_madvise_populate_read(void)
{
	uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || madvise(p, 4096, MADV_POPULATE_READ) < 0)
		_exit(CHILD_WRONG_RESULT);
}

static void do_madvise_populate_write(void)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));

	madvise(page, sizeof(page), MADV_POPULATE_WRITE);
}

static void do_fallocate_grow(void)
{
	fallocate(-1, 0, 0, 4096);
}

static void do_fallocate_punch_badf(void)
{
	if (fallocate(-1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) != -1 ||
	    errno != EBADF)
		_exit(CHILD_WRONG_RESULT);
}

static void do_tgkill_term(void)
{
	syscall(SYS_tgkill, getpid(), gettid(), SIGTERM);
}

static void __attribute__((unused)) do_fork(void)
{
	fork();
}

static void *thread_noop(void *arg)
{
	return arg;
}

static void do_thread(void)
{
	pthread_t t;

	/* clone3 says ENOSYS, glibc falls back to clone(CLONE_THREAD...), allowed. */
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		_exit(CHILD_WRONG_RESULT);
	if (pthread_create(&t, NULL, thread_noop, NULL) || pthread_join(t, NULL))
		_exit(CHILD_WRONG_RESULT);
}

static void do_socket_must_work(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		_exit(CHILD_WRONG_RESULT);
	close(fd);
}

/* ---- teardown's one unlinkat ---- */

static char unlink_dir[64];
static int unlink_dirfd = -1;

static void do_unlinkat_allowed(void)
{
	if (unlinkat(unlink_dirfd, "api.sock", 0) < 0)
		_exit(CHILD_WRONG_RESULT);
}

static void do_unlink_path(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/other", unlink_dir);
	unlink(path);
}

static void do_unlinkat_cwd(void)
{
	unlinkat(AT_FDCWD, "other", 0);
}

static void test_unlinkat(void)
{
	char path[128];
	int fd;

	snprintf(unlink_dir, sizeof(unlink_dir), "/tmp/test_seccomp.XXXXXX");
	CHECK(mkdtemp(unlink_dir) != NULL);
	for (unsigned int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", unlink_dir, i ? "other" : "api.sock");
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		CHECK(fd >= 0);
		close(fd);
	}
	unlink_dirfd = open(unlink_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(unlink_dirfd >= 0);
	seccomp__allow_unlinkat(unlink_dirfd);
	expect_ok(SECCOMP_ROLE_DEVICE, do_unlinkat_allowed, "unlinkat(the socket's dirfd)");
	snprintf(path, sizeof(path), "%s/api.sock", unlink_dir);
	CHECK(access(path, F_OK) != 0); /* removed */
	expect_refused(SECCOMP_ROLE_DEVICE, do_unlink_path, SYS_unlink, "unlink(path)");
	expect_refused(SECCOMP_ROLE_DEVICE, do_unlinkat_cwd, SYS_unlinkat, "unlinkat(AT_FDCWD)");
	expect_refused(SECCOMP_ROLE_VCPU, do_unlinkat_allowed, SYS_unlinkat, "unlinkat on a vCPU");
	snprintf(path, sizeof(path), "%s/other", unlink_dir);
	CHECK(access(path, F_OK) == 0); /* still there */
	unlink(path);
	seccomp__allow_unlinkat(-1);
	close(unlink_dirfd);
	rmdir(unlink_dir);
}

/* ---- per-thread filters ---- */

static int per_thread_pipe[2];

static void *filtered_thread(void *arg)
{
	char c = 1;

	(void)arg;
	if (seccomp__install(SECCOMP_ROLE_VCPU) < 0)
		_exit(CHILD_INSTALL_FAILED);
	if (write(per_thread_pipe[1], &c, 1) != 1)
		_exit(CHILD_WRONG_RESULT);
	/* Wait for the unfiltered main thread to prove it still may, then try. */
	if (read(per_thread_pipe[0], &c, 1) != 1)
		_exit(CHILD_WRONG_RESULT);
	socket(AF_INET, SOCK_STREAM, 0);
	_exit(CHILD_WRONG_RESULT); /* not reached: refused */
}

static void test_per_thread(void)
{
	struct outcome o;
	int pfd[2];
	pid_t pid;
	ssize_t n, total = 0;

	CHECK_EQ(pipe(pfd), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		pthread_t t;
		char c;
		int fd;

		dup2(pfd[1], STDERR_FILENO);
		alarm(30);
		if (pipe(per_thread_pipe) || pthread_create(&t, NULL, filtered_thread, NULL))
			_exit(CHILD_WRONG_RESULT);
		if (read(per_thread_pipe[0], &c, 1) != 1)
			_exit(CHILD_WRONG_RESULT);
		fd = socket(AF_INET, SOCK_STREAM, 0); /* this thread has no filter */
		if (fd < 0)
			_exit(CHILD_WRONG_RESULT);
		close(fd);
		if (write(per_thread_pipe[1], &c, 1) != 1)
			_exit(CHILD_WRONG_RESULT);
		pthread_join(t, NULL);
		_exit(CHILD_WRONG_RESULT);
	}
	close(pfd[1]);
	memset(o.err, 0, sizeof(o.err));
	while ((n = read(pfd[0], o.err + total, sizeof(o.err) - 1 - (size_t)total)) > 0)
		total += n;
	close(pfd[0]);
	CHECK_EQ(waitpid(pid, &o.status, 0), pid);
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != SECCOMP_EXIT_STATUS) {
		fprintf(stderr, "per-thread: status 0x%x:\n%s\n", o.status, o.err);
		CHECK(0);
	}
	CHECK(strstr(o.err, "the vcpu thread made system call 41,") != NULL);
}

/* ---- the balloon's real paths under the filters ---- */

#define MiB (1ULL << 20)

static void pump(struct virtio_balloon *b)
{
	balloon_rig__discards_turn(b, 50);
}

/*
 * A device at FEATURES_OK whose activation, reports, completions, reset and
 * teardown all happen after `role`'s filter is installed, as they do in
 * mini-vmm (activation and reset on a vCPU, the rest on the device thread;
 * here one thread does both with each filter in turn).
 */
static enum discard_engine balloon_engine;

static void balloon_work(enum seccomp_role role)
{
	static struct fake_ram ram;
	static struct virtio_balloon b;
	static struct fake_virtq fq[4];
	static struct event_loop loop;
	static struct balloon_wiring wiring;
	static struct discard_faults faults;
	struct virtio_device *vdev = &b.vdev;
	struct balloon_config cfg;
	uint64_t pool;
	uint32_t id, len;

	balloon_config__default(&cfg);
	cfg.discard_engine = balloon_engine;
	cfg.stats_interval_s = 1;
	if (fake_ram__init(&ram, FAKE_RAM_GPA, 32 * MiB) || event_loop__init(&loop) ||
	    virtio_balloon__init(&b, &cfg, &ram.mem) || pthread_mutex_init(&vdev->lock, NULL))
		_exit(CHILD_WRONG_RESULT);
	if (vm_devices__wire_balloon(&wiring, &b, &loop))
		_exit(CHILD_WRONG_RESULT);
	b.dq.faults = &faults;
	vdev->features_acked = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_BALLOON_F_REPORTING) |
			       (1ULL << VIRTIO_BALLOON_F_STATS_VQ);
	for (unsigned int i = 0; i < 4; i++) {
		if (fake_virtq__init(&fq[i], &ram, 64) ||
		    fake_virtq__activate(&fq[i], &vdev->queues[i], false, false))
			_exit(CHILD_WRONG_RESULT);
	}
	pool = fake_ram__alloc(&ram, 8 * MiB, 2 * MiB);
	memset(fake_ram__hva(&ram, pool, 8 * MiB), 0x5a, 8 * MiB);

	if (seccomp__install(role) < 0)
		_exit(CHILD_INSTALL_FAILED);

	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_lock(&vdev->lock);
	if (vdev->ops->activate(vdev)) /* epoll_ctl, timerfd_settime */
		_exit(CHILD_WRONG_RESULT);
	pthread_mutex_unlock(&vdev->lock);
	for (unsigned int r = 0; r < 3; r++) {
		struct fake_buf buf[] = {{pool + r * 2 * MiB, 2 * MiB, true}};

		fake_virtq__add_chain(&fq[3], buf, 1);
		pthread_mutex_lock(&vdev->lock);
		vdev->ops->queue_notify(vdev, 3); /* io_uring_enter or madvise */
		pthread_mutex_unlock(&vdev->lock);
		for (int i = 0; i < 200 && !fake_virtq__get_used(&fq[3], &id, &len); i++)
			pump(&b);
		if (*(uint64_t *)fake_ram__hva(&ram, pool + r * 2 * MiB, 8) != 0)
			_exit(CHILD_WRONG_RESULT); /* not discarded */
	}
	/*
	 * An inflate chain as Linux sends it, 256 PFNs, here in falling order
	 * with gaps: sorted, merged and discarded under the filter. (glibc's
	 * qsort asked sysinfo() there in kvm/tiny_inflate; this process does
	 * not show it, so that stays the kvm tier's to catch.)
	 */
	{
		uint64_t arr = fake_ram__alloc(&ram, 256 * 4, 4);
		uint32_t *pfns = fake_ram__hva(&ram, arr, 256 * 4);
		struct fake_buf buf[] = {{arr, 256 * 4, false}};

		for (unsigned int i = 0; i < 256; i++)
			pfns[i] = (uint32_t)((pool + 6 * MiB) >> 12) + 2 * (255 - i);
		fake_virtq__add_chain(&fq[0], buf, 1);
		pthread_mutex_lock(&vdev->lock);
		vdev->ops->queue_notify(vdev, 0);
		pthread_mutex_unlock(&vdev->lock);
		for (int i = 0; i < 200 && !fake_virtq__get_used(&fq[0], &id, &len); i++)
			pump(&b);
		if (b.stats.inflate_pages != 256 ||
		    *(uint64_t *)fake_ram__hva(&ram, pool + 6 * MiB, 8) != 0)
			_exit(CHILD_WRONG_RESULT);
	}
	/* One more in flight, held, then the driver resets: drain. */
	faults.hold_completions = true;
	{
		struct fake_buf buf[] = {{pool + 6 * MiB, 2 * MiB, true}};

		fake_virtq__add_chain(&fq[3], buf, 1);
	}
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->queue_notify(vdev, 3);
	vdev->ops->reset(vdev); /* drain, epoll_ctl DEL, timerfd disarm */
	pthread_mutex_unlock(&vdev->lock);
	if (b.stats.completions_after_reset != 1 || b.stats.reports != 4)
		_exit(CHILD_WRONG_RESULT);
	virtio_balloon__exit(&b); /* io_uring_unregister_eventfd, munmap, close */
	fprintf(stderr, "balloon work done under the %s filter\n", seccomp__role_name(role));
}

/* ---- the page worker ---- */

static int own_pidfd = -1;   /* opened before any filter: pidfd_open is never allowed */
static int other_pidfd = -1; /* the same process through another descriptor: not allowed */

static void do_process_madvise_fd(int pidfd, int advice)
{
	uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iovec iov = {p, 4096};

	if (p == MAP_FAILED)
		_exit(CHILD_WRONG_RESULT);
	p[0] = 1;
	syscall(SYS_process_madvise, pidfd, &iov, 1, advice, 0U);
}

static void do_process_madvise_dontneed(void)
{
	do_process_madvise_fd(own_pidfd, MADV_DONTNEED);
}

static void do_process_madvise_cold(void)
{
	do_process_madvise_fd(own_pidfd, MADV_COLD);
}

static void do_process_madvise_other_fd(void)
{
	do_process_madvise_fd(other_pidfd, MADV_DONTNEED);
}

static void on_page_worker_done(void *cookie, const struct discard_result *res)
{
	(void)res;
	(*(int *)cookie)++;
}

/* The queue's worker setup: counts the threads it confined (opaque). */
static int confine_worker(void *opaque, int pidfd)
{
	int ret;

	seccomp__allow_process_madvise(pidfd);
	ret = seccomp__install(SECCOMP_ROLE_DISCARD);
	if (ret == 0)
		__atomic_fetch_add((int *)opaque, 1, __ATOMIC_RELAXED);
	return ret;
}

/*
 * A queue whose page worker installs the discard filter frees scattered
 * pages (process_madvise or per-page madvise; punch-hole for memfd); a
 * forbidden call there would end the child with SIGSYS's status. The
 * setup is the queue's own: each worker runs it once, and a queue created
 * without one does not run another queue's.
 */
static void page_worker_work(void)
{
	static const enum guest_mem_backend backends[] = {GUEST_MEM_ANON, GUEST_MEM_MEMFD};
	static struct discard_range r[300];
	static int confined;
	const struct discard_worker_setup setup = {.fn = confine_worker, .opaque = &confined};
	struct discard_queue plain;
	struct guest_mem plain_mem;

	seccomp__set_mode(SECCOMP_MODE_TRAP);
	for (unsigned int k = 0; k < 2; k++) {
		struct discard_queue dq;
		struct guest_mem mem;
		uint8_t *hva;
		int calls = 0;

		if (guest_mem__init(&mem, 4 * MiB, backends[k]) < 0 ||
		    discard_queue__init(&dq, &mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0,
					&setup) < 0 ||
		    !dq.worker || __atomic_load_n(&confined, __ATOMIC_RELAXED) != (int)k + 1)
			_exit(CHILD_WRONG_RESULT);
		hva = guest_mem__translate(&mem, 0, 4 * MiB);
		for (unsigned int i = 0; i < 300; i++) {
			r[i] = (struct discard_range){(uint64_t)i * 2 * 4096, 4096};
			hva[r[i].gpa] = 1;
		}
		if (discard_queue__submit(&dq, r, 300, on_page_worker_done, &calls) < 0)
			_exit(CHILD_WRONG_RESULT);
		discard_queue__drain(&dq);
		if (calls != 1 || dq.stats.page_batches != 2 ||
		    dq.stats.bytes_discarded != 300 * 4096)
			_exit(CHILD_WRONG_RESULT);
		for (unsigned int i = 0; i < 300; i++)
			if (hva[r[i].gpa] != 0)
				_exit(CHILD_WRONG_RESULT);
		discard_queue__exit(&dq);
		guest_mem__exit(&mem);
	}
	/* Another queue, no setup: its worker runs, and nobody's filter is installed for it. */
	if (guest_mem__init(&plain_mem, 4 * MiB, GUEST_MEM_ANON) < 0 ||
	    discard_queue__init(&plain, &plain_mem, DISCARD_METHOD_AUTO, DISCARD_ENGINE_URING, 0,
				NULL) < 0 ||
	    !plain.worker || __atomic_load_n(&confined, __ATOMIC_RELAXED) != 2)
		_exit(CHILD_WRONG_RESULT);
	discard_queue__exit(&plain);
	guest_mem__exit(&plain_mem);
	fprintf(stderr, "page worker done\n");
}

static void balloon_work_device(void)
{
	balloon_work(SECCOMP_ROLE_DEVICE);
}

static void balloon_work_vcpu(void)
{
	balloon_work(SECCOMP_ROLE_VCPU);
}

/* The work installs the filter itself, after setup: run the child unfiltered. */
static void expect_balloon_ok(void (*fn)(void), const char *what)
{
	struct outcome o;

	run_child(SECCOMP_ROLE_DEVICE, SECCOMP_MODE_OFF, fn, &o);
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0) {
		fprintf(stderr, "%s: status 0x%x, stderr:\n%s\n", what, o.status, o.err);
		CHECK(0);
	}
	CHECK(strstr(o.err, "balloon work done") != NULL);
}

int main(void)
{
	struct outcome o;

	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		SKIP("this kernel has no seccomp (prctl PR_GET_SECCOMP: %s)", strerror(errno));

	CHECK_EQ(strcmp(seccomp__role_name(SECCOMP_ROLE_VCPU), "vcpu"), 0);
	CHECK_EQ(strcmp(seccomp__role_name(SECCOMP_ROLE__COUNT), "unknown"), 0);
	CHECK_EQ(seccomp__install(SECCOMP_ROLE__COUNT), -EINVAL);

	for (int r = 0; r < SECCOMP_ROLE__COUNT; r++) {
		enum seccomp_role role = (enum seccomp_role)r;

		expect_ok(role, basics, "basics");
		expect_refused(role, do_socket, SYS_socket, "socket()");
		expect_refused(role, do_execve, SYS_execve, "execve()");
		expect_refused(role, do_kvm_create_vm, SYS_ioctl, "KVM_CREATE_VM");
		expect_ok(role, do_madvise_dontneed, "madvise(MADV_DONTNEED)");
		expect_refused(role, do_mmap_exec, SYS_mmap, "mmap(PROT_EXEC)");
		expect_refused(role, do_mprotect_exec, SYS_mprotect, "mprotect(PROT_EXEC)");
		expect_refused(role, do_madvise_dontfork, SYS_madvise, "madvise(MADV_DONTFORK)");
		expect_refused(role, do_madvise_populate_write, SYS_madvise,
			       "madvise(MADV_POPULATE_WRITE)");
		if (role == SECCOMP_ROLE_DEVICE || role == SECCOMP_ROLE_VCPU)
			expect_ok(role, do_madvise_populate_read, "madvise(MADV_POPULATE_READ)");
		else
			expect_refused(role, do_madvise_populate_read, SYS_madvise,
				       "madvise(MADV_POPULATE_READ)");
		expect_refused(role, do_tgkill_term, SYS_tgkill, "tgkill(SIGTERM)");
#ifndef SANITIZER_BUILD
		/* The sanitizer runtime needs these two (seccomp.c add_sanitizer_rules). */
		expect_refused(role, do_openat, SYS_openat, "open()");
		expect_refused(role, do_fork, SYS_clone, "fork()");
#endif
	}
	/* KVM ioctls by role. */
	expect_ok(SECCOMP_ROLE_VCPU, do_kvm_run_badf, "KVM_RUN");
	expect_refused(SECCOMP_ROLE_DEVICE, do_kvm_run_badf, SYS_ioctl, "KVM_RUN on the device");
	expect_refused(SECCOMP_ROLE_API, do_kvm_run_badf, SYS_ioctl, "KVM_RUN on the API");
	expect_ok(SECCOMP_ROLE_DEVICE, do_tcsets_badf, "TCSETS on the device");
	expect_refused(SECCOMP_ROLE_VCPU, do_tcsets_badf, SYS_ioctl, "TCSETS on a vCPU");
	/* Discards punch holes; nothing else. */
	expect_ok(SECCOMP_ROLE_DEVICE, do_fallocate_punch_badf, "fallocate(PUNCH_HOLE)");
	expect_refused(SECCOMP_ROLE_DEVICE, do_fallocate_grow, SYS_fallocate, "fallocate(0)");
	expect_refused(SECCOMP_ROLE_API, do_fallocate_punch_badf, SYS_fallocate,
		       "fallocate on the API");
	/* Batches of small discards: the page worker alone, discarding advice only. */
	own_pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0U);
	other_pidfd = dup(own_pidfd);
	CHECK(own_pidfd >= 0 && other_pidfd >= 0);
	seccomp__allow_process_madvise(own_pidfd);
	expect_ok(SECCOMP_ROLE_DISCARD, do_process_madvise_dontneed,
		  "process_madvise(MADV_DONTNEED)");
	expect_refused(SECCOMP_ROLE_DISCARD, do_process_madvise_cold, SYS_process_madvise,
		       "process_madvise(MADV_COLD)");
	expect_refused(SECCOMP_ROLE_DISCARD, do_process_madvise_other_fd, SYS_process_madvise,
		       "process_madvise on another pidfd");
	expect_refused(SECCOMP_ROLE_DEVICE, do_process_madvise_dontneed, SYS_process_madvise,
		       "process_madvise on the device");
	expect_ok(SECCOMP_ROLE_DISCARD, do_fallocate_punch_badf, "fallocate(PUNCH_HOLE)");
	expect_refused(SECCOMP_ROLE_DISCARD, do_fallocate_grow, SYS_fallocate, "fallocate(0)");
	expect_refused(SECCOMP_ROLE_DISCARD, do_kvm_run_badf, SYS_ioctl, "KVM_RUN on the worker");
	{
		struct outcome o;

		run_child(SECCOMP_ROLE_DEVICE, SECCOMP_MODE_OFF, page_worker_work, &o);
		if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0 ||
		    !strstr(o.err, "page worker done")) {
			fprintf(stderr, "page worker under its filter: status 0x%x, stderr:\n%s\n",
				o.status, o.err);
			CHECK(0);
		}
	}
	/* Threads on the API thread, via the clone fallback. */
	expect_ok(SECCOMP_ROLE_API, do_thread, "pthread_create");

	test_per_thread();
	test_unlinkat();

	/* Log and off let the call through. */
	run_child(SECCOMP_ROLE_VCPU, SECCOMP_MODE_LOG, do_socket_must_work, &o);
	CHECK(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
	run_child(SECCOMP_ROLE_VCPU, SECCOMP_MODE_OFF, do_socket_must_work, &o);
	CHECK(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);

	/* The balloon's paths, with io_uring and with synchronous discards. */
	balloon_engine = DISCARD_ENGINE_URING;
	expect_balloon_ok(balloon_work_device, "balloon under the device filter (io_uring)");
	expect_balloon_ok(balloon_work_vcpu, "balloon under the vcpu filter (io_uring)");
	balloon_engine = DISCARD_ENGINE_SYNC;
	expect_balloon_ok(balloon_work_device, "balloon under the device filter (sync)");
	expect_balloon_ok(balloon_work_vcpu, "balloon under the vcpu filter (sync)");
	return testlib_done("test_seccomp");
}

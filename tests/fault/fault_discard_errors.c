// SPDX-License-Identifier: GPL-2.0
/*
 * Discards that fail: EINVAL, ENOMEM and EAGAIN, first attempt and retry,
 * synchronous and through io_uring. The rule under test (devices/discard/queue.c
 * discard_op__complete): a failed op is retried once synchronously; if the retry fails
 * too the range is acknowledged WITHOUT discard -- the guest gets its report
 * back (no hang), keeps its data (no loss: nothing was zeroed), and the
 * counters say so (op_errors, sync_retries, acked_without_discard and its
 * bytes). Afterwards the device serves the next report normally.
 *
 * Where the errors come from:
 *   - EINVAL: the kernel, for real: MADV_DONTNEED on mlock()ed memory;
 *   - ENOMEM: the kernel, for real: MADV_DONTNEED on a range with a hole in
 *     the host mapping;
 *   - EAGAIN (and the others on the synchronous path): the madvise wrapper of
 *     fault_rig.c; on the io_uring path the first failure comes from the
 *     inject_ring_failures hook, which can only say -EIO (see docs/fuzzing.md,
 *     "Hooks").
 */
#define _GNU_SOURCE
#include "fault_rig.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The system calls themselves: ASan's mlock()/munlock() interceptors do nothing. */
static int lock_range(void *p, size_t len)
{
	return (int)syscall(SYS_mlock, p, len);
}

static int unlock_range(void *p, size_t len)
{
	return (int)syscall(SYS_munlock, p, len);
}

struct expect {
	uint64_t op_errors, sync_retries, acked_without_discard, bytes_acked_without_discard;
	uint64_t bytes_discarded;
};

static struct expect before(struct rig *r)
{
	struct discard_stats ds;

	rig_stats(r, NULL, &ds);
	return (struct expect){ds.op_errors, ds.sync_retries, ds.acked_without_discard,
			       ds.bytes_acked_without_discard, ds.bytes_discarded};
}

/* One report of [gpa, gpa+len), acked (len 0) within 5 s; then the counter deltas. */
static void report_and_check_content(struct rig *r, uint64_t gpa, uint64_t len, bool discarded,
				     uint64_t op_errors, uint64_t retries_failed, const char *what,
				     bool check_content)
{
	struct expect b = before(r), a;
	struct fake_buf buf[] = {{gpa, (uint32_t)len, true}};
	uint32_t id, n;
	int head;

	rig_fill(r, gpa, len);
	head = fake_virtq__add_chain(&r->fq[RIG_Q_REPORT], buf, 1);
	rig_kick(r, RIG_Q_REPORT);
	if (!rig_wait_used(r, RIG_Q_REPORT, &id, &n, 5000)) {
		fprintf(stderr, "%s: report never acknowledged\n", what);
		CHECK(0);
	}
	CHECK_EQ(id, head);
	CHECK_EQ(n, 0);
	a = before(r);
	printf("  %-44s op_errors +%llu, retries +%llu, acked without discard +%llu (%llu KiB)\n",
	       what, (unsigned long long)(a.op_errors - b.op_errors),
	       (unsigned long long)(a.sync_retries - b.sync_retries),
	       (unsigned long long)(a.acked_without_discard - b.acked_without_discard),
	       (unsigned long long)((a.bytes_acked_without_discard -
				     b.bytes_acked_without_discard) >>
				    10));
	CHECK_EQ(a.op_errors - b.op_errors, op_errors);
	CHECK_EQ(a.sync_retries - b.sync_retries, op_errors);
	CHECK_EQ(a.acked_without_discard - b.acked_without_discard, retries_failed);
	CHECK_EQ(a.bytes_acked_without_discard - b.bytes_acked_without_discard,
		 retries_failed ? len : 0);
	CHECK_EQ(a.bytes_discarded - b.bytes_discarded, discarded ? len : 0);
	/* Discarded: zero. Not discarded: every word as the guest left it. */
	if (check_content)
		CHECK_EQ(rig_check(r, gpa, len, !discarded), 0);
}

static void report_and_check(struct rig *r, uint64_t gpa, uint64_t len, bool discarded,
			     uint64_t op_errors, uint64_t retries_failed, const char *what)
{
	report_and_check_content(r, gpa, len, discarded, op_errors, retries_failed, what, true);
}

static void test_sync(void)
{
	static const int errs[] = {EINVAL, ENOMEM, EAGAIN};
	struct rig r;

	printf("discard=sync, errors from the madvise wrapper:\n");
	rig_init(&r, DISCARD_ENGINE_SYNC);
	for (unsigned int i = 0; i < 3; i++) {
		char what[64];

		/* First attempt and retry fail: acknowledged without discard. */
		fault_inject.fail_errno = errs[i];
		fault_inject.fail_count = 2;
		snprintf(what, sizeof(what), "%s twice:", strerror(errs[i]));
		report_and_check(&r, r.pool, 2 * MiB, false, 1, 1, what);
		/* Only the first attempt fails: the retry discards. */
		fault_inject.fail_count = 1;
		snprintf(what, sizeof(what), "%s once:", strerror(errs[i]));
		report_and_check(&r, r.pool + 4 * MiB, 2 * MiB, true, 1, 0, what);
	}
	CHECK_EQ(fault_inject.failed, 9);
	rig_expect_healthy(&r, r.pool + 8 * MiB, 4 * MiB);
	rig_exit(&r);
}

static void test_uring(void)
{
	uint64_t gpa;
	uint8_t *hva;
	struct rig r;
	void *back;

	printf("discard via io_uring, errors from the kernel and the hooks:\n");
	rig_init(&r, DISCARD_ENGINE_URING);
	CHECK_EQ(r.b.dq.engine, DISCARD_ENGINE_URING);

	/* EINVAL, for real: the kernel refuses MADV_DONTNEED on locked pages. */
	gpa = r.pool;
	hva = fake_ram__hva(&r.ram, gpa, 2 * MiB);
	if (lock_range(hva, 2 * MiB) == 0) {
		report_and_check(&r, gpa, 2 * MiB, false, 1, 1, "mlocked range (EINVAL twice):");
		CHECK_EQ(unlock_range(hva, 2 * MiB), 0);
	} else {
		printf("  mlock: %s: EINVAL-from-the-kernel case skipped\n", strerror(errno));
	}

	/* ENOMEM, for real: a hole in the host mapping under the guest's range. */
	gpa = r.pool + 4 * MiB;
	hva = fake_ram__hva(&r.ram, gpa, 2 * MiB);
	CHECK_EQ(munmap(hva + MiB, 64 * 1024), 0);
	/* The mapped parts are discarded, the hole fails: the op fails as a whole. */
	{
		struct expect b = before(&r);
		struct fake_buf buf[] = {{gpa, 1 * MiB, true}, {gpa + MiB, 64 * 1024, true}};
		uint32_t id, n;
		int head;

		rig_fill(&r, gpa, MiB);
		head = fake_virtq__add_chain(&r.fq[RIG_Q_REPORT], buf, 2);
		rig_kick(&r, RIG_Q_REPORT);
		CHECK(rig_wait_used(&r, RIG_Q_REPORT, &id, &n, 5000));
		CHECK_EQ(id, head);
		struct expect a = before(&r);
		printf("  %-44s op_errors +%llu, acked without discard +%llu\n",
		       "unmapped hole (ENOMEM twice):",
		       (unsigned long long)(a.op_errors - b.op_errors),
		       (unsigned long long)(a.acked_without_discard - b.acked_without_discard));
		CHECK_EQ(a.op_errors - b.op_errors, 1);
		CHECK_EQ(a.acked_without_discard - b.acked_without_discard, 1);
	}
	back = mmap(hva + MiB, 64 * 1024, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(back == hva + MiB);

	/* EAGAIN on the retry after a failed ring op (-EIO from the hook). */
	pthread_mutex_lock(&r.b.vdev.lock);
	r.faults.inject_ring_failures = 1;
	pthread_mutex_unlock(&r.b.vdev.lock);
	fault_inject.fail_errno = EAGAIN;
	fault_inject.fail_count = 1;
	/*
	 * The hook fails an op the kernel did carry out: the counters say "not
	 * discarded" but the pages are gone. Only the counters are checked then.
	 */
	report_and_check_content(&r, r.pool + 8 * MiB, 2 * MiB, false, 1, 1,
				 "ring op EIO, retry EAGAIN:", false);
	/* A failed ring op whose retry works: discarded after all. */
	pthread_mutex_lock(&r.b.vdev.lock);
	r.faults.inject_ring_failures = 1;
	pthread_mutex_unlock(&r.b.vdev.lock);
	report_and_check(&r, r.pool + 12 * MiB, 2 * MiB, true, 1, 0, "ring op EIO, retry ok:");
	/* Both hooks: the retry fails with the hook's -EIO. */
	pthread_mutex_lock(&r.b.vdev.lock);
	r.faults.inject_ring_failures = 1;
	r.faults.inject_retry_failures = 1;
	pthread_mutex_unlock(&r.b.vdev.lock);
	report_and_check_content(&r, r.pool + 16 * MiB, 2 * MiB, false, 1, 1,
				 "ring op EIO, retry EIO:", false);

	/* One report, three ranges, one failing: acknowledged once, the rest discarded. */
	{
		struct fake_buf buf[] = {{r.pool + 20 * MiB, 2 * MiB, true},
					 {r.pool + 24 * MiB, 2 * MiB, true},
					 {r.pool + 28 * MiB, 2 * MiB, true}};
		uint8_t *locked = fake_ram__hva(&r.ram, r.pool + 24 * MiB, 2 * MiB);
		struct expect b = before(&r), a;
		uint32_t id, n;
		int head;

		if (lock_range(locked, 2 * MiB) == 0) {
			for (unsigned int i = 0; i < 3; i++)
				rig_fill(&r, buf[i].addr, buf[i].len);
			head = fake_virtq__add_chain(&r.fq[RIG_Q_REPORT], buf, 3);
			rig_kick(&r, RIG_Q_REPORT);
			CHECK(rig_wait_used(&r, RIG_Q_REPORT, &id, &n, 5000));
			CHECK_EQ(id, head);
			CHECK(rig_no_used_for(&r, RIG_Q_REPORT, 50)); /* exactly one entry */
			a = before(&r);
			CHECK_EQ(a.acked_without_discard - b.acked_without_discard, 1);
			CHECK_EQ(a.bytes_discarded - b.bytes_discarded, 4 * MiB);
			CHECK_EQ(rig_check(&r, r.pool + 20 * MiB, 2 * MiB, false), 0);
			CHECK_EQ(rig_check(&r, r.pool + 24 * MiB, 2 * MiB, true), 0);
			CHECK_EQ(rig_check(&r, r.pool + 28 * MiB, 2 * MiB, false), 0);
			unlock_range(locked, 2 * MiB);
			printf("  %-44s 4 MiB discarded, 2 MiB kept, one used entry\n",
			       "three ranges, the middle one locked:");
		}
	}
	rig_expect_healthy(&r, r.pool + 32 * MiB, 4 * MiB);
	rig_exit(&r);
}

int main(void)
{
	rig_watchdog(120, "fault_discard_errors");
	test_sync();
	test_uring();
	return testlib_done("fault_discard_errors");
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The host's huge page pool runs dry under the device's reads (hugetlbfs,
 * docs/threat-model.md): guest RAM as on hugetlbfs (prefault_reads), the
 * device thread populating each buffer it reads with MADV_POPULATE_READ
 * through the rig's madvise wrapper, which fails it with EFAULT, as the
 * kernel does when no huge page can be had.
 *  - without prefault_reads (every other backend): no population at all;
 *  - with it: one per chain the device reads, none for a report's buffers
 *    (discarded, never read);
 *  - a failed one refuses the chain: an inflate PFN array, an indirect
 *    table; each acknowledged with len 0, counted (host_memory), logged
 *    (rate limited), nothing discarded;
 *  - the device goes on: a report and an inflate are served after.
 * The device thread runs in a child whose stderr is kept: the log lines.
 */
#define _GNU_SOURCE
#include "fault_rig.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>

static struct rig rig;

static unsigned int populates(void)
{
	return __atomic_load_n(&fault_inject.populates, __ATOMIC_RELAXED);
}

static void set_prefault(struct rig *r, bool on)
{
	pthread_mutex_lock(&r->b.vdev.lock);
	r->ram.mem.prefault_reads = on;
	pthread_mutex_unlock(&r->b.vdev.lock);
}

/* Add, kick, wait: the used element must be `head` with len 0. */
static void roundtrip(struct rig *r, unsigned int q, int head)
{
	uint32_t id, len;

	rig_kick(r, q);
	CHECK(rig_wait_used(r, q, &id, &len, 5000));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
}

static void fail_next_populate(void)
{
	__atomic_store_n(&fault_inject.fail_errno, EFAULT, __ATOMIC_RELAXED);
	__atomic_store_n(&fault_inject.fail_count, 1, __ATOMIC_RELAXED);
}

/* The chain at `head` came back refused: the n-th failed population, host_memory. */
static void expect_refused(struct rig *r, unsigned int q, int head, unsigned int n)
{
	struct balloon_stats bs;

	roundtrip(r, q, head);
	CHECK_EQ(fault_inject.failed, n);
	rig_stats(r, &bs, NULL);
	CHECK_EQ(bs.rejected[BALLOON_REJ_HOST_MEMORY], n);
}

static void scenario(void *arg)
{
	struct rig *r = arg;
	struct balloon_stats bs;
	uint64_t page, arr, report = 0;
	uint32_t pfn;
	unsigned int p0;
	int head;

	rig_init(r, DISCARD_ENGINE_URING);
	page = r->pool;
	report = r->pool + 4 * MiB;
	pfn = htole32((uint32_t)(page >> 12));
	arr = fake_ram__put_le32(&r->ram, &pfn, 1);
	struct fake_buf pfns[] = {{arr, 4, false}};

	/* Not hugetlbfs: a deflate reads its array without a system call. */
	p0 = populates();
	head = fake_virtq__add_chain(&r->fq[RIG_Q_DEFLATE], pfns, 1);
	roundtrip(r, RIG_Q_DEFLATE, head);
	CHECK_EQ(populates(), p0);

	/* hugetlbfs: one population per chain read, none for a report. */
	set_prefault(r, true);
	head = fake_virtq__add_chain(&r->fq[RIG_Q_DEFLATE], pfns, 1);
	roundtrip(r, RIG_Q_DEFLATE, head);
	CHECK_EQ(populates(), p0 + 1);
	rig_expect_healthy(r, report, 2 * MiB);
	CHECK_EQ(populates(), p0 + 1);

	/* The pool is empty: the inflate is refused, its page kept. */
	rig_fill(r, page, 4096);
	fail_next_populate();
	head = fake_virtq__add_chain(&r->fq[RIG_Q_INFLATE], pfns, 1);
	expect_refused(r, RIG_Q_INFLATE, head, 1);
	rig_stats(r, &bs, NULL);
	CHECK_EQ(bs.inflate_chains, 0);
	CHECK_EQ(rig_check(r, page, 4096, true), 0);

	/* An indirect table: refused before it is read, the report's range kept. */
	struct fake_buf rep[] = {{report, 2 * MiB, true}};

	rig_fill(r, report, 2 * MiB);
	fail_next_populate();
	head = fake_virtq__add_indirect(&r->fq[RIG_Q_REPORT], rep, 1);
	expect_refused(r, RIG_Q_REPORT, head, 2);
	rig_stats(r, &bs, NULL);
	CHECK_EQ(bs.rejected[BALLOON_REJ_VQ], 0);
	CHECK_EQ(rig_check(r, report, 2 * MiB, true), 0);

	/* The pool has pages again: both kinds of chain are served. */
	head = fake_virtq__add_indirect(&r->fq[RIG_Q_REPORT], rep, 1);
	roundtrip(r, RIG_Q_REPORT, head);
	CHECK_EQ(rig_check(r, report, 2 * MiB, false), 0);
	head = fake_virtq__add_chain(&r->fq[RIG_Q_INFLATE], pfns, 1);
	roundtrip(r, RIG_Q_INFLATE, head);
	CHECK_EQ(rig_check(r, page, 4096, false), 0);
	rig_stats(r, &bs, NULL);
	CHECK_EQ(bs.inflate_chains, 1);
	CHECK_EQ(bs.rejected[BALLOON_REJ_HOST_MEMORY], 2);
	CHECK_EQ(bs.broken_rings, 0);
	CHECK_EQ(rig_read32(r, VIRTIO_MMIO_STATUS), 0xf);
	rig_exit(r);
	printf("fault_host_memory: %d checks passed in the device's process\n", testlib_checks);
	fflush(stdout);
}

static void expect_log(const char *err, const char *line)
{
	if (!strstr(err, line)) {
		fprintf(stderr, "missing log line '%s' in:\n%s\n", line, err);
		CHECK(0);
	}
}

int main(void)
{
	static char err[64 * 1024];
	int status = testlib__run_captured(scenario, &rig, 60, err, sizeof(err));

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "the device's process ended with status 0x%x:\n%s\n", status, err);
		CHECK(0);
	}
	expect_log(err, "inflateq chain refused (host_memory)");
	expect_log(err, "reporting_vq chain refused (host_memory)");
	expect_log(err, "virtqueue: chain at head");
	expect_log(err, "to read a guest buffer: Bad address");
	return testlib_done("fault_host_memory");
}

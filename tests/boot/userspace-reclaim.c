// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the user-space reclaim test (userspace-reclaim-test.sh): free page
 * reporting as a guest service sees it, on a stock or a patched kernel.
 *
 * Where the in-kernel workload (guest/patches/0003) allocates buddy blocks,
 * this program does what a service does: mmap() anonymous memory, use it,
 * munmap() it. munmap() hands the pages back to the buddy allocator, they
 * merge into 4 MiB blocks, and page reporting reports them to the balloon,
 * whose VMM discards them. Then it maps the same amount again and checks:
 *
 *   - every fresh page reads zero where it was not written (the kernel
 *     zeroed it; anything else is stale data from a discard gone wrong);
 *   - the pattern written into every fresh page is still there after a
 *     pause (a discard that lands after the guest reused the page would
 *     zero it);
 *   - a kept set, mapped first and never freed, still holds its pattern in
 *     every page (the host may never discard memory in use).
 *
 * One 64-bit word per 4 KiB page carries a pattern (enough for the host to
 * back the page and to tell kept, zeroed and overwritten apart), plus the
 * page's last word as the "still zero" probe.
 *
 * Progress goes to the test device like the in-kernel workload's markers
 * (base/layout.h TESTDEV_PHASE_*: outl(phase | arg << 8, 0xf5)), so mini-vmm
 * prints its reclaim: summary for this run too; the verdict goes to the
 * exit port 0xf4 (0 pass). Both need ioperm(), i.e. CONFIG_X86_IOPL_IOPERM
 * in the guest kernel. Console lines start with "mvmm_user: ".
 *
 * Parameters, from /proc/cmdline (docs/guest-kernel.md):
 *   mvmm_user.mib=N         MiB to map, touch, free and map again (160)
 *   mvmm_user.keep_mib=N    MiB mapped first and never freed (8)
 *   mvmm_user.settle_ms=N   wait after the free for page reporting (8000)
 *   mvmm_user.recheck_ms=N  wait before re-checking the new pattern (1000)
 *   mvmm_user.meminfo_ms=N  0, or print the guest's free memory every N ms
 *                           from a child process ("mem free_kib=... t_ms=...":
 *                           the guest's own in-use line for bench-reclaim)
 *   mvmm_user.small_kib=N   0 (whole mappings, above), or the many-small-frees
 *                           shape: malloc() chunks of 1..N KiB, free them in
 *                           random order but one in small_keep, malloc_trim()
 *   mvmm_user.small_keep=N  in the small shape, one chunk in N is kept (64)
 *   mvmm_user.report_order=N  0-10: the smallest free block page reporting
 *                           hands over, 2^N pages, written to sysfs before the
 *                           workload (Linux 6.1 sets the page_reporting_order
 *                           parameter itself when the balloon registers, so
 *                           the command line cannot); unset: the kernel's
 *                           (pageblock_order: 10, 4 MiB, in our guest, which
 *                           has no CONFIG_HUGETLB_PAGE)
 * User space cannot see what was reported, so the SETTLED marker carries 0
 * and settle_ms must cover the guest's reporting delay (2 s stock).
 *
 * Static and never sanitized (tests/boot/CMakeLists.txt). As pid 1 it must
 * never exit: it always ends by stopping the VM.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* The test device (base/layout.h; devices/testdev.c). */
#define PORT_EXIT   0xf4
#define PORT_MARKER 0xf5
#define PORTS_USED  5 /* 0xf4, and the 32-bit marker at 0xf5-0xf8 */

/* Marker phases, the same numbers as base/layout.h TESTDEV_PHASE_*. */
enum phase {
	PHASE_START = 0,    /* arg: MiB it will cycle */
	PHASE_TOUCHED = 1,  /* arg: MiB touched */
	PHASE_FREED = 2,    /* arg: MiB freed */
	PHASE_SETTLED = 3,  /* arg: MiB seen reported: 0, user space cannot tell */
	PHASE_VERIFIED = 4, /* arg: corrupted words */
};
#define MARKER_ARG_MAX 0xffffffu

/* Per-set magics: a word from one set never passes as another set's. */
#define FIRST_MAGIC  0x6d766d6d75310000ull /* "mvmmu1" */
#define SECOND_MAGIC 0x6d766d6d75320000ull /* "mvmmu2" */
#define KEPT_MAGIC   0x6b6570747573ull	   /* "keptus" */

#define MAX_CORRUPT_LOGS 16
#define CMDLINE_MAX	 4096

struct params {
	unsigned int mib;
	unsigned int keep_mib;
	unsigned int settle_ms;
	unsigned int recheck_ms;
	unsigned int meminfo_ms;
	unsigned int small_kib;
	unsigned int small_keep;
	unsigned int report_order; /* REPORT_ORDER_UNSET: leave the kernel's */
};

#define REPORT_ORDER_UNSET 0xffffffffu
#define REPORT_ORDER_MAX   10 /* MAX_ORDER - 1 in Linux 6.1 */
#define REPORT_ORDER_PARAM "/sys/module/page_reporting/parameters/page_reporting_order"

struct param_spec {
	const char *name;
	unsigned int *value;
	unsigned int min, max;
};

/* A mapping of pages, one checked word at the start of each and one at the end. */
struct page_set {
	const char *name;
	uint64_t magic;
	uint8_t *base;
	size_t pages;
};

/* Words checked, and what they held. */
struct counts {
	unsigned long checked;
	unsigned long pattern;
	unsigned long zero;
	unsigned long corrupted;
};

static bool have_ports;
static size_t page_size;
static unsigned int corrupt_logged;
static struct timespec t_start;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("mvmm_user: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static unsigned long elapsed_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (unsigned long)((now.tv_sec - t_start.tv_sec) * 1000 +
			       (now.tv_nsec - t_start.tv_nsec) / 1000000);
}

static unsigned long free_mib(void)
{
	struct sysinfo si;

	if (sysinfo(&si) != 0)
		return 0;
	return (unsigned long)((uint64_t)si.freeram * si.mem_unit >> 20);
}

static unsigned long free_kib(void)
{
	struct sysinfo si;

	if (sysinfo(&si) != 0)
		return 0;
	return (unsigned long)((uint64_t)si.freeram * si.mem_unit >> 10);
}

/*
 * The guest's free blocks per zone and order (/proc/buddyinfo), one line per
 * zone: after the settle wait it shows whether what stayed unreported is in
 * blocks page reporting would take (order 9 and up) or in smaller pieces.
 */
static void say_buddyinfo(void)
{
	char line[256];
	FILE *f = fopen("/proc/buddyinfo", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		say("buddyinfo %s", line);
	}
	fclose(f);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void mark(enum phase phase, unsigned long arg)
{
	if (arg > MARKER_ARG_MAX)
		arg = MARKER_ARG_MAX;
	if (have_ports)
		outl((unsigned int)phase | (unsigned int)arg << 8, PORT_MARKER);
}

/*
 * Stop the VM with the verdict; never returns (pid 1 must not exit). The exit
 * port stops mini-vmm at once; without it, reboot() does, through the i8042
 * with reboot=k (status 0, so the host script must also see the result line).
 */
static void __attribute__((noreturn)) stop_vm(bool pass)
{
	/* The serial driver sends from its interrupt: let the last line out. */
	tcdrain(STDOUT_FILENO);
	sleep_ms(100);
	if (have_ports)
		outb(pass ? 0 : 1, PORT_EXIT);
	sync();
	reboot(RB_AUTOBOOT);
	say("error: reboot failed: %s; parking", strerror(errno));
	for (;;)
		pause();
}

static void __attribute__((noreturn)) fail_setup(const char *why)
{
	say("result=fail corrupted=0 reason=%s", why);
	stop_vm(false);
}

/* --- parameters --------------------------------------------------------- */

static bool parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (unsigned int)v;
	return true;
}

/* Applies every mvmm_user.* word of /proc/cmdline; false (with a line) on a bad one. */
static bool read_params(struct params *p)
{
	const struct param_spec specs[] = {
		{"mib", &p->mib, 1, MARKER_ARG_MAX},
		{"keep_mib", &p->keep_mib, 0, MARKER_ARG_MAX},
		{"settle_ms", &p->settle_ms, 0, 3600000},
		{"recheck_ms", &p->recheck_ms, 0, 3600000},
		{"meminfo_ms", &p->meminfo_ms, 0, 60000},
		{"small_kib", &p->small_kib, 0, 120},
		{"small_keep", &p->small_keep, 1, 1000000},
		{"report_order", &p->report_order, 0, REPORT_ORDER_MAX},
	};
	static const char prefix[] = "mvmm_user.";
	char buf[CMDLINE_MAX], *word, *save = NULL;
	size_t n;
	FILE *f;

	f = fopen("/proc/cmdline", "r");
	if (!f) {
		say("error: cannot open /proc/cmdline: %s", strerror(errno));
		return false;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';

	for (word = strtok_r(buf, " \t\n", &save); word; word = strtok_r(NULL, " \t\n", &save)) {
		const struct param_spec *spec = NULL;
		char *eq;
		size_t i;

		if (strncmp(word, prefix, sizeof(prefix) - 1) != 0)
			continue;
		word += sizeof(prefix) - 1;
		eq = strchr(word, '=');
		if (eq)
			*eq = '\0';
		for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
			if (strcmp(word, specs[i].name) == 0)
				spec = &specs[i];
		if (!spec) {
			say("error: unknown parameter %s%s (known: mib keep_mib settle_ms "
			    "recheck_ms meminfo_ms small_kib small_keep report_order)",
			    prefix, word);
			return false;
		}
		if (!eq || !parse_uint(eq + 1, spec->min, spec->max, spec->value)) {
			say("error: %s%s=%s: want a decimal number in %u..%u", prefix, word,
			    eq ? eq + 1 : "", spec->min, spec->max);
			return false;
		}
	}
	return true;
}

/*
 * Page reporting's order, through sysfs: the smallest free block the guest
 * reports is 2^order pages. Prints the order before and after; false (with
 * a line) when it cannot be set.
 */
static bool set_report_order(unsigned int order)
{
	char before[32] = "?";
	FILE *f;

	if (mkdir("/sys", 0555) != 0 && errno != EEXIST) {
		say("error: mkdir /sys: %s", strerror(errno));
		return false;
	}
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0 && errno != EBUSY) {
		say("error: mount sysfs on /sys: %s", strerror(errno));
		return false;
	}
	f = fopen(REPORT_ORDER_PARAM, "r");
	if (f) {
		if (!fgets(before, sizeof(before), f))
			snprintf(before, sizeof(before), "?");
		before[strcspn(before, "\n")] = '\0';
		fclose(f);
	}
	f = fopen(REPORT_ORDER_PARAM, "w");
	if (f && fprintf(f, "%u\n", order) < 0) {
		fclose(f);
		f = NULL;
	}
	if (!f || fclose(f) != 0) {
		say("error: cannot write %u to %s: %s (CONFIG_SYSFS, CONFIG_PAGE_REPORTING?)",
		    order, REPORT_ORDER_PARAM, strerror(errno));
		return false;
	}
	say("report_order=%u (was %s): free blocks of %u KiB and up are reported", order, before,
	    (1u << order) * (unsigned int)(page_size >> 10));
	return true;
}

/* --- page sets ---------------------------------------------------------- */

static volatile uint64_t *head_word(const struct page_set *s, size_t i)
{
	return (volatile uint64_t *)(s->base + i * page_size);
}

static volatile uint64_t *tail_word(const struct page_set *s, size_t i)
{
	return (volatile uint64_t *)(s->base + (i + 1) * page_size - sizeof(uint64_t));
}

/* Unique per page and set: multiplying by an odd constant is a bijection. */
static uint64_t pattern(const struct page_set *s, size_t i)
{
	return s->magic ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull);
}

static void log_corruption(const struct page_set *s, const char *word, size_t i, uint64_t val,
			   uint64_t expected)
{
	if (corrupt_logged >= MAX_CORRUPT_LOGS)
		return;
	corrupt_logged++;
	say("corrupt set=%s page=%zu word=%s value=%#" PRIx64 " expected=%#" PRIx64, s->name, i,
	    word, val, expected);
}

static bool map_set(struct page_set *s, const char *name, uint64_t magic, unsigned int mib)
{
	size_t len = (size_t)mib << 20;
	void *p;

	s->name = name;
	s->magic = magic;
	s->pages = len / page_size;
	s->base = NULL;
	if (!len)
		return true;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		say("error: mmap of %u MiB for the %s set failed: %s", mib, name, strerror(errno));
		return false;
	}
	s->base = p;
	return true;
}

static bool unmap_set(struct page_set *s)
{
	if (s->base && munmap(s->base, s->pages * page_size) != 0) {
		say("error: munmap of the %s set failed: %s", s->name, strerror(errno));
		return false;
	}
	s->base = NULL;
	return true;
}

/*
 * Writes each page's pattern into its first word (the write faults in a page
 * the kernel just zeroed), then reads its last word, which nobody wrote: it
 * must be zero.
 */
static void touch_set(const struct page_set *s, struct counts *c)
{
	size_t i;

	for (i = 0; i < s->pages; i++) {
		uint64_t val;

		*head_word(s, i) = pattern(s, i);
		val = *tail_word(s, i);
		c->checked++;
		if (!val) {
			c->zero++;
		} else {
			c->corrupted++;
			log_corruption(s, "fresh", i, val, 0);
		}
	}
}

/* Every page must still hold its pattern in the first word and zero in the last. */
static void check_set(const struct page_set *s, struct counts *c)
{
	size_t i;

	for (i = 0; i < s->pages; i++) {
		uint64_t head = *head_word(s, i), tail = *tail_word(s, i);

		c->checked += 2;
		if (head == pattern(s, i)) {
			c->pattern++;
		} else {
			c->corrupted++;
			log_corruption(s, "pattern", i, head, pattern(s, i));
		}
		if (tail) {
			c->corrupted++;
			log_corruption(s, "zero", i, tail, 0);
		}
	}
}

/* --- the run ------------------------------------------------------------ */

/* Returns the corrupted words, or -1 if a step failed (a line says which). */
static long run(const struct params *p)
{
	struct page_set kept, first, second;
	struct counts c_first = {0}, c_new = {0}, c_re = {0}, c_kept = {0};
	unsigned long corrupted;

	say("start mib=%u keep_mib=%u settle_ms=%u recheck_ms=%u free_mib=%lu t_ms=%lu", p->mib,
	    p->keep_mib, p->settle_ms, p->recheck_ms, free_mib(), elapsed_ms());
	mark(PHASE_START, p->mib);

	if (!map_set(&kept, "kept", KEPT_MAGIC, p->keep_mib))
		return -1;
	touch_set(&kept, &c_kept);
	if (!map_set(&first, "first", FIRST_MAGIC, p->mib))
		return -1;
	touch_set(&first, &c_first);
	check_set(&first, &c_first); /* it held its data while in use */
	say("touched mib=%u checked=%lu corrupted=%lu free_mib=%lu t_ms=%lu", p->mib,
	    c_first.checked, c_first.corrupted, free_mib(), elapsed_ms());
	mark(PHASE_TOUCHED, p->mib);

	if (!unmap_set(&first))
		return -1;
	say("freed mib=%u free_mib=%lu t_ms=%lu", p->mib, free_mib(), elapsed_ms());
	mark(PHASE_FREED, p->mib);

	/* User space cannot see what was reported: wait settle_ms, send 0. */
	sleep_ms(p->settle_ms);
	say("settled waited_ms=%u reported_mib=unknown t_ms=%lu", p->settle_ms, elapsed_ms());
	mark(PHASE_SETTLED, 0);
	say_buddyinfo();

	if (!map_set(&second, "second", SECOND_MAGIC, p->mib))
		return -1;
	touch_set(&second, &c_new);
	say("reallocated mib=%u checked=%lu zero=%lu corrupted=%lu free_mib=%lu", p->mib,
	    c_new.checked, c_new.zero, c_new.corrupted, free_mib());
	sleep_ms(p->recheck_ms);
	check_set(&second, &c_re);
	say("rechecked after_ms=%u checked=%lu pattern=%lu corrupted=%lu", p->recheck_ms,
	    c_re.checked, c_re.pattern, c_re.corrupted);
	check_set(&kept, &c_kept);
	say("kept checked=%lu corrupted=%lu", c_kept.checked, c_kept.corrupted);

	corrupted = c_first.corrupted + c_new.corrupted + c_re.corrupted + c_kept.corrupted;
	mark(PHASE_VERIFIED, corrupted);
	return (long)corrupted;
}

/* --- the guest's in-use line (meminfo_ms) -------------------------------- */

static pid_t sampler = -1;

/*
 * A child that prints the guest's free memory every period, stamped with the
 * same clock as the other lines: the host subtracts it from guest RAM to get
 * what the guest has in use (bench-reclaim's excess RSS-time). Forked before
 * any set is mapped, so it shares almost nothing with the parent.
 */
static void start_sampler(unsigned int period_ms)
{
	pid_t pid;

	if (!period_ms)
		return;
	pid = fork();
	if (pid < 0) {
		say("error: fork of the meminfo sampler failed: %s", strerror(errno));
		fail_setup("sampler");
	}
	if (pid > 0) {
		sampler = pid;
		return;
	}
	for (;;) {
		say("mem free_kib=%lu t_ms=%lu", free_kib(), elapsed_ms());
		sleep_ms(period_ms);
	}
}

static void stop_sampler(void)
{
	if (sampler > 0) {
		kill(sampler, SIGKILL);
		sampler = -1;
	}
}

/* --- the many-small-frees shape (small_kib) ------------------------------- */

/*
 * A service's heap instead of whole mappings: malloc() chunks of 1..small_kib
 * KiB (below glibc's mmap threshold, so all of them come from the brk heap),
 * free all but one in small_keep in random order, and malloc_trim(0), which
 * gives the free whole pages inside the heap back to the kernel. The kept
 * chunks stay scattered through the heap: the pages the kernel gets back are
 * interleaved with live ones, the fragmentation a real service leaves.
 * "freed" is what the guest kernel got back (its free memory before and after),
 * not the bytes the program freed, which glibc may keep.
 *
 * Malloc'ed memory is not zeroed by glibc where it reuses its own free lists,
 * so there is no zero check here: one word per KiB carries a pattern, checked
 * after the touch, after the re-allocation and a pause, and in the kept chunks
 * at the end.
 */
struct chunk {
	uint8_t *p;
	uint32_t len;
	bool kept;
};

#define SMALL_STRIDE 1024u

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t chunk_pattern(uint64_t magic, size_t i, size_t off)
{
	return magic ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)off << 40);
}

static void chunk_fill(struct chunk *c, size_t i, uint64_t magic)
{
	size_t off;

	for (off = 0; off + sizeof(uint64_t) <= c->len; off += SMALL_STRIDE)
		*(volatile uint64_t *)(c->p + off) = chunk_pattern(magic, i, off);
}

static void chunk_check(const struct chunk *c, size_t i, uint64_t magic, const char *set,
			struct counts *n)
{
	size_t off;

	for (off = 0; off + sizeof(uint64_t) <= c->len; off += SMALL_STRIDE) {
		uint64_t val = *(volatile uint64_t *)(c->p + off);
		uint64_t want = chunk_pattern(magic, i, off);

		n->checked++;
		if (val == want) {
			n->pattern++;
			continue;
		}
		n->corrupted++;
		if (corrupt_logged < MAX_CORRUPT_LOGS) {
			corrupt_logged++;
			say("corrupt set=%s chunk=%zu offset=%zu value=%#" PRIx64
			    " expected=%#" PRIx64,
			    set, i, off, val, want);
		}
	}
}

/* Returns the corrupted words, or -1 if a step failed (a line says which). */
static long run_small(const struct params *p)
{
	struct counts c_first = {0}, c_new = {0}, c_re = {0}, c_kept = {0};
	uint64_t want = (uint64_t)p->mib << 20, total = 0, freed_bytes = 0;
	size_t n = 0, cap = (size_t)(want / 1024) + 1, i, kept = 0;
	unsigned long free_before, free_after, freed_mib, corrupted;
	struct chunk *chunks;
	size_t *order;

	/* Fixed thresholds: every chunk from the heap, no trim but ours. */
	if (!mallopt(M_MMAP_THRESHOLD, 128 * 1024) || !mallopt(M_TRIM_THRESHOLD, 128 * 1024)) {
		say("error: mallopt failed");
		return -1;
	}
	/* Bookkeeping outside the heap, so it does not pin heap pages. */
	chunks = mmap(NULL, cap * sizeof(*chunks), PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	order = mmap(NULL, cap * sizeof(*order), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (chunks == MAP_FAILED || order == MAP_FAILED) {
		say("error: mmap of the chunk table failed: %s", strerror(errno));
		return -1;
	}

	say("start mib=%u small_kib=%u small_keep=%u settle_ms=%u recheck_ms=%u free_mib=%lu "
	    "t_ms=%lu",
	    p->mib, p->small_kib, p->small_keep, p->settle_ms, p->recheck_ms, free_mib(),
	    elapsed_ms());
	mark(PHASE_START, p->mib);

	while (total < want && n < cap) {
		uint32_t len = (uint32_t)(1024 + rng() % ((uint64_t)p->small_kib * 1024 - 1023));

		len &= ~15u;
		chunks[n].p = malloc(len);
		if (!chunks[n].p) {
			say("error: malloc of %u bytes failed after %zu chunks", len, n);
			return -1;
		}
		chunks[n].len = len;
		chunks[n].kept = (n % p->small_keep) == p->small_keep / 2;
		chunk_fill(&chunks[n], n, FIRST_MAGIC);
		total += len;
		n++;
	}
	for (i = 0; i < n; i++)
		chunk_check(&chunks[i], i, FIRST_MAGIC, "first", &c_first);
	say("touched mib=%u chunks=%zu checked=%lu corrupted=%lu free_mib=%lu t_ms=%lu", p->mib, n,
	    c_first.checked, c_first.corrupted, free_mib(), elapsed_ms());
	mark(PHASE_TOUCHED, p->mib);

	/* Free in random order, all but the kept ones, then give pages back. */
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n; i > 1; i--) {
		size_t j = (size_t)(rng() % i), t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	free_before = free_kib();
	for (i = 0; i < n; i++) {
		struct chunk *c = &chunks[order[i]];

		if (c->kept) {
			kept++;
			continue;
		}
		free(c->p);
		c->p = NULL;
		freed_bytes += c->len;
	}
	malloc_trim(0);
	free_after = free_kib();
	freed_mib = free_after > free_before ? (free_after - free_before) >> 10 : 0;
	say("freed mib=%lu chunks_mib=%" PRIu64 " kept_chunks=%zu free_mib=%lu t_ms=%lu", freed_mib,
	    freed_bytes >> 20, kept, free_after >> 10, elapsed_ms());
	mark(PHASE_FREED, freed_mib);

	sleep_ms(p->settle_ms);
	say("settled waited_ms=%u reported_mib=unknown t_ms=%lu", p->settle_ms, elapsed_ms());
	mark(PHASE_SETTLED, 0);
	say_buddyinfo();

	/* The same sizes again, in the same order, with a new pattern. */
	for (i = 0; i < n; i++) {
		struct chunk *c = &chunks[i];

		if (c->kept)
			continue;
		c->p = malloc(c->len);
		if (!c->p) {
			say("error: malloc of %u bytes failed again", c->len);
			return -1;
		}
		chunk_fill(c, i, SECOND_MAGIC);
	}
	for (i = 0; i < n; i++)
		if (!chunks[i].kept)
			chunk_check(&chunks[i], i, SECOND_MAGIC, "second", &c_new);
	say("reallocated mib=%u checked=%lu zero=0 corrupted=%lu free_mib=%lu", p->mib,
	    c_new.checked, c_new.corrupted, free_mib());
	sleep_ms(p->recheck_ms);
	for (i = 0; i < n; i++)
		if (!chunks[i].kept)
			chunk_check(&chunks[i], i, SECOND_MAGIC, "second", &c_re);
	say("rechecked after_ms=%u checked=%lu pattern=%lu corrupted=%lu", p->recheck_ms,
	    c_re.checked, c_re.pattern, c_re.corrupted);
	for (i = 0; i < n; i++)
		if (chunks[i].kept)
			chunk_check(&chunks[i], i, FIRST_MAGIC, "kept", &c_kept);
	say("kept checked=%lu corrupted=%lu", c_kept.checked, c_kept.corrupted);

	corrupted = c_first.corrupted + c_new.corrupted + c_re.corrupted + c_kept.corrupted;
	mark(PHASE_VERIFIED, corrupted);
	return (long)corrupted;
}

int main(void)
{
	struct params p = {
		.mib = 160,
		.keep_mib = 8,
		.settle_ms = 8000,
		.recheck_ms = 1000,
		.small_keep = 64,
		.report_order = REPORT_ORDER_UNSET,
	};
	long corrupted;
	long ps;

	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	say("user space is running as pid %d", (int)getpid());

	if (ioperm(PORT_EXIT, PORTS_USED, 1) != 0) {
		say("error: ioperm(%#x, %d) failed: %s: the guest kernel needs "
		    "CONFIG_X86_IOPL_IOPERM=y (guest/kernel.config) to reach the test device",
		    PORT_EXIT, PORTS_USED, strerror(errno));
		fail_setup("ioperm");
	}
	have_ports = true;

	if (mkdir("/proc", 0555) != 0 && errno != EEXIST) {
		say("error: mkdir /proc: %s", strerror(errno));
		fail_setup("proc");
	}
	if (mount("proc", "/proc", "proc", 0, NULL) != 0 && errno != EBUSY) {
		say("error: mount proc on /proc: %s", strerror(errno));
		fail_setup("proc");
	}
	if (!read_params(&p))
		fail_setup("parameters");
	ps = sysconf(_SC_PAGESIZE);
	if (ps < (long)(2 * sizeof(uint64_t))) {
		say("error: page size %ld", ps);
		fail_setup("page-size");
	}
	page_size = (size_t)ps;
	if (p.report_order != REPORT_ORDER_UNSET && !set_report_order(p.report_order))
		fail_setup("report-order");

	start_sampler(p.meminfo_ms);
	corrupted = p.small_kib ? run_small(&p) : run(&p);
	stop_sampler();
	if (corrupted < 0)
		fail_setup("setup");
	say("result=%s corrupted=%ld mib=%u keep_mib=%u t_ms=%lu", corrupted ? "fail" : "pass",
	    corrupted, p.mib, p.keep_mib, elapsed_ms());
	stop_vm(corrupted == 0);
}

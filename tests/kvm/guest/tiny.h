/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The runtime of the tiny test guests (tests/kvm): freestanding C, no libc.
 * A guest talks to the host only through port I/O (COM1 for text, the test
 * device's exit port to stop with pass/fail, its clock port to bound waits)
 * and MMIO to virtio devices.
 *
 * Kept small and simple on purpose: on hosts where KVM emulates guest
 * kernel-mode code (docs: host notes), every instruction costs ~0.5 us, so
 * the guests touch one word per page and never loop over whole pages.
 */
#ifndef TINY_H
#define TINY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* From base/layout.h; repeated so the guests build without the VMM's headers. */
#define TINY_PORT_SERIAL    0x3f8
#define TINY_PORT_EXIT	    0xf4 /* write v: stop the VM, 0 = pass */
#define TINY_PORT_MARKER    0xf5 /* write 32-bit v: progress marker */
#define TINY_PORT_CLOCK	    0xf9 /* read 32 bits: host CLOCK_MONOTONIC in ms, wrapping */
#define TINY_ZERO_PAGE_GPA  0x7000UL
#define TINY_IMAGE_GPA	    0x100000UL
#define TINY_VIRTIO_MMIO    0xd0000000UL /* first virtio-mmio window */
#define TINY_VIRTIO_MMIO_SZ 0x1000UL
#define TINY_VIRTIO_MMIO_NR 32

#define TINY_PAGE_SIZE 4096UL
#define TINY_MIB       (1UL << 20)

/* Exit codes written to the exit port (non-zero = fail; mini-vmm exits 3). */
#define TINY_EXIT_PASS	    0
#define TINY_EXIT_FAIL	    1
#define TINY_EXIT_EXCEPTION 0x80 /* | vector */

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* In a polling loop: tells the CPU (and a hypervisor's pause-loop exiting) we spin. */
static inline void cpu_relax(void)
{
	asm volatile("pause" : : : "memory");
}

/* Compiler barrier. x86 is TSO: the ring protocol needs no fence instruction. */
static inline void barrier(void)
{
	asm volatile("" : : : "memory");
}

static inline uint8_t mmio_read8(uint64_t gpa)
{
	return *(volatile uint8_t *)gpa;
}

static inline uint16_t mmio_read16(uint64_t gpa)
{
	return *(volatile uint16_t *)gpa;
}

static inline uint32_t mmio_read32(uint64_t gpa)
{
	return *(volatile uint32_t *)gpa;
}

static inline uint64_t mmio_read64(uint64_t gpa)
{
	return *(volatile uint64_t *)gpa;
}

static inline void mmio_write8(uint64_t gpa, uint8_t v)
{
	*(volatile uint8_t *)gpa = v;
}

static inline void mmio_write16(uint64_t gpa, uint16_t v)
{
	*(volatile uint16_t *)gpa = v;
}

static inline void mmio_write32(uint64_t gpa, uint32_t v)
{
	*(volatile uint32_t *)gpa = v;
}

static inline void mmio_write64(uint64_t gpa, uint64_t v)
{
	*(volatile uint64_t *)gpa = v;
}

/* Guest RAM, one word at a time (identity mapped: virtual == physical). */
static inline uint64_t ram_read64(uint64_t gpa)
{
	return *(volatile uint64_t *)gpa;
}

static inline void ram_write64(uint64_t gpa, uint64_t v)
{
	*(volatile uint64_t *)gpa = v;
}

/* What the boot protocol told us: the e820 map of the zero page. */
struct tiny_e820 {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

#define TINY_E820_MAX 16

struct tiny_boot {
	uint64_t zero_page;
	unsigned int nr_e820;
	struct tiny_e820 e820[TINY_E820_MAX];
	uint64_t low_ram_end; /* end of the usable e820 range that holds the image */
};

/* Each guest defines these. */
extern const char tiny_name[];
int tiny_main(const struct tiny_boot *boot);

/* printf subset: %s %c %d %u %x %p, l/ll, width and 0 padding, %%. */
void tiny_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tiny_vprintf(const char *fmt, va_list ap);

/* Writes `code` to the exit port. Never returns. */
__attribute__((noreturn)) void tiny_exit(uint8_t code);
/* Prints "FAIL <name>: <message>" and exits with TINY_EXIT_FAIL. */
__attribute__((noreturn, format(printf, 1, 2))) void tiny_fail(const char *fmt, ...);

/* Progress marker on port 0xf5 (bits 0-7 phase, 8-31 argument). */
static inline void tiny_marker(uint8_t phase, uint32_t arg)
{
	outl(TINY_PORT_MARKER, (arg << 8) | phase);
}

/*
 * Time, for bounding waits. A loop count bounds nothing: under an emulating
 * KVM a guest runs ~2-3 M instructions/s, under one that runs it natively a
 * thousand times more, while the device answers in host time either way.
 * The clock is the host's CLOCK_MONOTONIC in ms, 32 bits that wrap every
 * 49.7 days: only differences of two readings (unsigned subtraction) count.
 * Each reading is a VM exit to mini-vmm: microseconds natively, more nested.
 */
static inline uint32_t tiny_now_ms(void)
{
	return inl(TINY_PORT_CLOCK);
}

/*
 * A time bound for a polling loop. tiny_wait_over() pauses, and reads the
 * clock only every `stride` calls: TINY_STRIDE_POLL for loops that poll
 * guest memory (a few thousand polls take microseconds natively and
 * milliseconds emulated), TINY_STRIDE_EXIT for loops that already exit on
 * every iteration (an MMIO register read). Once over, it stays over; test
 * the condition once more before failing, as a stalled vCPU may have slept
 * through both the deadline and the event:
 *
 *	tiny_wait_start(&w, 60000, TINY_STRIDE_POLL);
 *	while (!done())
 *		if (tiny_wait_over(&w) && !done())
 *			tiny_fail("... after %u ms", w.waited_ms);
 */
#define TINY_STRIDE_POLL 4096
#define TINY_STRIDE_EXIT 16

struct tiny_wait {
	uint32_t start_ms;
	uint32_t limit_ms;
	uint32_t waited_ms; /* at the last clock reading */
	uint32_t stride;
	uint32_t countdown; /* calls left until the next clock reading */
};

void tiny_wait_start(struct tiny_wait *w, uint32_t limit_ms, uint32_t stride);
bool tiny_wait_over(struct tiny_wait *w);

#define TINY_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			tiny_fail(__VA_ARGS__);                                                    \
	} while (0)

/* Whether [gpa, gpa + len) lies inside one usable (type 1) e820 range. */
bool tiny_ram_contains(const struct tiny_boot *boot, uint64_t gpa, uint64_t len);

/*
 * One word per page: write a value unique to the page (its address mixed
 * with `seed`), and count the pages whose word is not what is expected.
 */
uint64_t tiny_pattern(uint64_t gpa, uint64_t seed);
void tiny_fill_pages(uint64_t gpa, uint64_t len, uint64_t seed);
/* Pages in [gpa, gpa+len) whose word differs from the pattern (seed) or from 0 (zero). */
uint64_t tiny_count_unpatterned(uint64_t gpa, uint64_t len, uint64_t seed);
uint64_t tiny_count_nonzero(uint64_t gpa, uint64_t len);

/* gcc may emit calls to these even with -fno-builtin. */
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);

#endif

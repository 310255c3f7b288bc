// SPDX-License-Identifier: GPL-2.0
/*
 * The tiny guests' runtime: entry, serial output, exit, exceptions, the e820
 * map, time-bounded waits and one-word-per-page memory patterns.
 */
#include "tiny.h"

/* Offsets in struct boot_params (Linux Documentation/arch/x86/zero-page.rst). */
#define ZP_E820_ENTRIES 0x1e8
#define ZP_E820_TABLE	0x2d0
#define E820_ENTRY_SIZE 20
#define E820_RAM	1

void *memset(void *s, int c, size_t n)
{
	volatile uint8_t *p = s;

	while (n--)
		*p++ = (uint8_t)c;
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	volatile uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

static void serial_putc(char c)
{
	/* mini-vmm's 8250 transmits at once: THR is always empty, no LSR poll needed. */
	if (c == '\n')
		outb(TINY_PORT_SERIAL, '\r');
	outb(TINY_PORT_SERIAL, (uint8_t)c);
}

static void put_str(const char *s, int width, bool left)
{
	int len = 0;

	if (!s)
		s = "(null)";
	while (s[len])
		len++;
	for (; !left && width > len; width--)
		serial_putc(' ');
	for (const char *p = s; *p; p++)
		serial_putc(*p);
	for (; left && width > len; width--)
		serial_putc(' ');
}

static void put_num(uint64_t v, unsigned int base, bool neg, int width, char pad)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	for (; width > n; width--)
		serial_putc(pad);
	while (n)
		serial_putc(buf[--n]);
}

void tiny_vprintf(const char *fmt, va_list ap)
{
	for (const char *p = fmt; *p; p++) {
		int width = 0, lng = 0;
		bool left = false;
		char pad = ' ';
		uint64_t u;
		int64_t s;

		if (*p != '%') {
			serial_putc(*p);
			continue;
		}
		p++;
		if (*p == '-') {
			left = true;
			p++;
		}
		if (*p == '0') {
			pad = '0';
			p++;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		while (*p == 'l') {
			lng++;
			p++;
		}
		switch (*p) {
		case 'd':
			s = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(s < 0 ? -(uint64_t)s : (uint64_t)s, 10, s < 0, width, pad);
			break;
		case 'u':
		case 'x':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			put_num(u, *p == 'u' ? 10 : 16, false, width, pad);
			break;
		case 'p':
			serial_putc('0');
			serial_putc('x');
			put_num((uint64_t)va_arg(ap, void *), 16, false, width, pad);
			break;
		case 's':
			put_str(va_arg(ap, const char *), width, left);
			break;
		case 'c':
			serial_putc((char)va_arg(ap, int));
			break;
		case '%':
			serial_putc('%');
			break;
		case '\0':
			return;
		default:
			serial_putc('?');
			break;
		}
	}
}

void tiny_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tiny_vprintf(fmt, ap);
	va_end(ap);
}

void tiny_exit(uint8_t code)
{
	for (;;)
		outb(TINY_PORT_EXIT, code);
}

void tiny_fail(const char *fmt, ...)
{
	va_list ap;

	tiny_printf("FAIL %s: ", tiny_name);
	va_start(ap, fmt);
	tiny_vprintf(fmt, ap);
	va_end(ap);
	tiny_printf("\n");
	tiny_exit(TINY_EXIT_FAIL);
}

/* What start.S's exception stubs leave on the stack. */
struct tiny_exc_frame {
	uint64_t vector;
	uint64_t error_code;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

void tiny_exception(const struct tiny_exc_frame *f);

void tiny_exception(const struct tiny_exc_frame *f)
{
	uint64_t cr2;

	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	tiny_printf("FAIL %s: exception %lu (error code 0x%lx) at rip %lx, rsp %lx, cr2 %lx\n",
		    tiny_name, f->vector, f->error_code, f->rip, f->rsp, cr2);
	tiny_exit(TINY_EXIT_EXCEPTION | (uint8_t)f->vector);
}

void tiny_wait_start(struct tiny_wait *w, uint32_t limit_ms, uint32_t stride)
{
	w->start_ms = tiny_now_ms();
	w->limit_ms = limit_ms;
	w->waited_ms = 0;
	w->stride = stride ? stride : 1;
	w->countdown = w->stride;
}

bool tiny_wait_over(struct tiny_wait *w)
{
	if (w->waited_ms >= w->limit_ms)
		return true;
	cpu_relax();
	if (--w->countdown)
		return false;
	w->countdown = w->stride;
	/* Unsigned subtraction: right across the clock's 32-bit wrap. */
	w->waited_ms = tiny_now_ms() - w->start_ms;
	return w->waited_ms >= w->limit_ms;
}

static void read_e820(struct tiny_boot *boot)
{
	const uint8_t *zp = (const uint8_t *)boot->zero_page;
	unsigned int n = zp[ZP_E820_ENTRIES];

	if (n > TINY_E820_MAX)
		n = TINY_E820_MAX;
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *e = zp + ZP_E820_TABLE + i * E820_ENTRY_SIZE;
		struct tiny_e820 *out = &boot->e820[i];

		memcpy(&out->addr, e, 8);
		memcpy(&out->size, e + 8, 8);
		memcpy(&out->type, e + 16, 4);
		if (out->type == E820_RAM && out->addr <= TINY_IMAGE_GPA &&
		    TINY_IMAGE_GPA - out->addr < out->size)
			boot->low_ram_end = out->addr + out->size;
	}
	boot->nr_e820 = n;
}

bool tiny_ram_contains(const struct tiny_boot *boot, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < boot->nr_e820; i++) {
		const struct tiny_e820 *e = &boot->e820[i];

		if (e->type == E820_RAM && gpa >= e->addr && gpa - e->addr <= e->size &&
		    len <= e->size - (gpa - e->addr))
			return true;
	}
	return false;
}

uint64_t tiny_pattern(uint64_t gpa, uint64_t seed)
{
	return (gpa ^ 0x5eed5eed00000000UL) + seed * 0x9e3779b97f4a7c15UL;
}

/* The pattern goes into the first and the last word of each page. */
#define LAST_WORD (TINY_PAGE_SIZE - 8)

void tiny_fill_pages(uint64_t gpa, uint64_t len, uint64_t seed)
{
	for (uint64_t a = gpa; a < gpa + len; a += TINY_PAGE_SIZE) {
		ram_write64(a, tiny_pattern(a, seed));
		ram_write64(a + LAST_WORD, tiny_pattern(a + LAST_WORD, seed));
	}
}

uint64_t tiny_count_unpatterned(uint64_t gpa, uint64_t len, uint64_t seed)
{
	uint64_t bad = 0;

	for (uint64_t a = gpa; a < gpa + len; a += TINY_PAGE_SIZE)
		if (ram_read64(a) != tiny_pattern(a, seed) ||
		    ram_read64(a + LAST_WORD) != tiny_pattern(a + LAST_WORD, seed))
			bad++;
	return bad;
}

uint64_t tiny_count_nonzero(uint64_t gpa, uint64_t len)
{
	uint64_t bad = 0;

	for (uint64_t a = gpa; a < gpa + len; a += TINY_PAGE_SIZE)
		if (ram_read64(a) != 0 || ram_read64(a + LAST_WORD) != 0)
			bad++;
	return bad;
}

void tiny_entry(uint64_t zero_page);

void tiny_entry(uint64_t zero_page)
{
	static struct tiny_boot boot;
	int ret;

	boot.zero_page = zero_page;
	tiny_printf("%s: started, zero page at %lx\n", tiny_name, zero_page);
	/* An unclaimed port reads all ones; the clock does so for 1 ms in 49.7 days. */
	TINY_CHECK(tiny_now_ms() != 0xffffffff || tiny_now_ms() != 0xffffffff,
		   "port 0x%x reads all ones: no test device clock, the waits would never end",
		   TINY_PORT_CLOCK);
	read_e820(&boot);
	for (unsigned int i = 0; i < boot.nr_e820; i++)
		tiny_printf("%s: e820 [%09lx, %09lx) type %u\n", tiny_name, boot.e820[i].addr,
			    boot.e820[i].addr + boot.e820[i].size, boot.e820[i].type);
	TINY_CHECK(boot.low_ram_end, "no usable e820 range holds the image at %lx", TINY_IMAGE_GPA);
	ret = tiny_main(&boot);
	if (ret)
		tiny_fail("tiny_main returned %d", ret);
	tiny_printf("PASS %s\n", tiny_name);
	tiny_exit(TINY_EXIT_PASS);
}

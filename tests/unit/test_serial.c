// SPDX-License-Identifier: GPL-2.0
/* The 16550A model: registers, FIFO, interrupt rules Linux relies on, output sinks. */
#define _GNU_SOURCE
#include "testlib.h"
#include "devices/serial.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

struct irq_probe {
	int level;
	int calls;
};

static void probe_set_irq(void *opaque, int level)
{
	struct irq_probe *p = opaque;

	p->level = level;
	p->calls++;
}

static void wr(struct serial *s, unsigned int reg, uint8_t val)
{
	serial__io(s, reg, &val, 1, true);
}

static uint8_t rd(struct serial *s, unsigned int reg)
{
	uint8_t val = 0xaa;

	serial__io(s, reg, &val, 1, false);
	return val;
}

static int make_pipe(int fds[2])
{
	CHECK_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	return 0;
}

static void test_thr_reaches_fd(void)
{
	struct serial s;
	struct serial_stats st;
	int fds[2];
	char buf[16];

	make_pipe(fds);
	CHECK_EQ(serial__init(&s, fds[1], NULL, NULL), 0);
	for (const char *p = "hi\n"; *p; p++)
		wr(&s, UART_THR, *p);
	CHECK_EQ(read(fds[0], buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "hi\n", 3) == 0);
	serial__get_stats(&s, &st);
	CHECK_EQ(st.tx_bytes, 3);
	CHECK_EQ(st.tx_dropped, 0);
	serial__exit(&s);
	close(fds[0]);
	close(fds[1]);
}

static off_t file_size(int fd)
{
	struct stat st;

	CHECK_EQ(fstat(fd, &st), 0);
	return st.st_size;
}

/* A regular file gets whole lines (or full buffers), serial__flush() the rest. */
static void test_file_sink_by_lines(void)
{
	char path[] = "/tmp/test_serial.XXXXXX", back[SERIAL_FILE_BUF + 16];
	struct serial_stats st;
	struct serial s;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unlink(path);
	CHECK_EQ(serial__init(&s, fd, NULL, NULL), 0);
	wr(&s, UART_THR, 'a');
	wr(&s, UART_THR, 'b');
	CHECK_EQ(file_size(fd), 0);
	wr(&s, UART_THR, '\n');
	CHECK_EQ(file_size(fd), 3);
	wr(&s, UART_THR, 'c');
	serial__flush(&s);
	CHECK_EQ(file_size(fd), 4);
	serial__flush(&s); /* nothing left: no write */
	CHECK_EQ(file_size(fd), 4);
	/* No line end: written when the buffer fills, the rest at exit. */
	for (int i = 0; i < SERIAL_FILE_BUF + 10; i++)
		wr(&s, UART_THR, 'x');
	CHECK_EQ(file_size(fd), 4 + SERIAL_FILE_BUF);
	serial__get_stats(&s, &st);
	CHECK_EQ(st.tx_bytes, 4 + SERIAL_FILE_BUF + 10);
	CHECK_EQ(st.tx_dropped, 0);
	serial__exit(&s);
	CHECK_EQ(file_size(fd), 4 + SERIAL_FILE_BUF + 10);
	CHECK_EQ(pread(fd, back, 5, 0), 5);
	CHECK(memcmp(back, "ab\ncx", 5) == 0);
	close(fd);
}

struct tee {
	uint8_t buf[64];
	size_t n;
};

static void tee_output(void *opaque, const uint8_t *buf, size_t n)
{
	struct tee *t = opaque;

	memcpy(t->buf + t->n, buf, n);
	t->n += n;
}

static void test_output_cb_and_no_fd(void)
{
	struct serial s;
	struct tee tee = {.n = 0};

	CHECK_EQ(serial__init(&s, -1, NULL, NULL), 0);
	serial__set_output_cb(&s, tee_output, &tee);
	wr(&s, UART_THR, 'o');
	wr(&s, UART_THR, 'k');
	CHECK_EQ(tee.n, 2);
	CHECK(memcmp(tee.buf, "ok", 2) == 0);
	serial__exit(&s);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A reader that stopped reading must not stall the vCPU: bytes are dropped and counted. */
static void test_full_fd_drops(void)
{
	static char fill[1 << 16];
	struct serial s;
	struct serial_stats st;
	struct tee tee = {.n = 0};
	int fds[2];
	uint64_t t0;

	make_pipe(fds);
	fcntl(fds[1], F_SETPIPE_SZ, 4096);
	while (write(fds[1], fill, sizeof(fill)) > 0)
		;
	CHECK_EQ(errno, EAGAIN);
	/* A blocking fd too: poll() keeps the write from blocking. */
	CHECK_EQ(fcntl(fds[1], F_SETFL, 0), 0);

	CHECK_EQ(serial__init(&s, fds[1], NULL, NULL), 0);
	serial__set_output_cb(&s, tee_output, &tee);
	t0 = now_ms();
	for (int i = 0; i < 10; i++)
		wr(&s, UART_THR, 'x');
	/* One wait of SERIAL_OUT_STALL_MS, then no more waiting while stalled. */
	CHECK(now_ms() - t0 < 10 * SERIAL_OUT_STALL_MS);
	serial__get_stats(&s, &st);
	CHECK_EQ(st.tx_bytes, 10);
	CHECK_EQ(st.tx_dropped, 10);
	CHECK_EQ(tee.n, 10); /* the second sink still got everything */

	/* Once the reader drains the pipe, output flows again. */
	while (read(fds[0], fill, sizeof(fill)) == (ssize_t)sizeof(fill))
		;
	wr(&s, UART_THR, 'y');
	serial__get_stats(&s, &st);
	CHECK_EQ(st.tx_dropped, 10);
	CHECK_EQ(read(fds[0], fill, 1), 1);
	CHECK_EQ(fill[0], 'y');
	serial__exit(&s);
	close(fds[0]);
	close(fds[1]);
}

static void test_reset_values_and_dlab(void)
{
	struct serial s;

	CHECK_EQ(serial__init(&s, -1, NULL, NULL), 0);
	CHECK_EQ(rd(&s, UART_IER), 0);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_NO_INT);
	CHECK_EQ(rd(&s, UART_LCR), 0);
	CHECK_EQ(rd(&s, UART_MCR), 0);
	CHECK_EQ(rd(&s, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	CHECK_EQ(rd(&s, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);

	/* Linux's autoconfig scratch test: IER bits 7:4 read back 0. */
	wr(&s, UART_IER, 0xff);
	CHECK_EQ(rd(&s, UART_IER), 0x0f);
	wr(&s, UART_IER, 0);

	/* DLAB=1: offsets 0 and 1 are the divisor latch, not THR/IER. */
	wr(&s, UART_LCR, UART_LCR_DLAB | 0x03);
	wr(&s, UART_DLL, 0x01);
	wr(&s, UART_DLM, 0x02);
	CHECK_EQ(rd(&s, UART_DLL), 0x01);
	CHECK_EQ(rd(&s, UART_DLM), 0x02);
	wr(&s, UART_LCR, 0x03);
	CHECK_EQ(rd(&s, UART_LCR), 0x03);
	CHECK_EQ(rd(&s, UART_IER), 0);
	wr(&s, UART_IER, UART_IER_ERBFI);
	wr(&s, UART_LCR, UART_LCR_DLAB);
	CHECK_EQ(rd(&s, UART_DLM), 0x02); /* IER write did not touch DLM */
	CHECK_EQ(rd(&s, UART_DLL), 0x01);
	wr(&s, UART_LCR, 0);
	CHECK_EQ(rd(&s, UART_IER), UART_IER_ERBFI);

	wr(&s, UART_SCR, 0x5a);
	CHECK_EQ(rd(&s, UART_SCR), 0x5a);

	/* FIFO enable shows as IIR bits 7:6; bit 5 (16750 64-byte FIFO) stays 0. */
	wr(&s, UART_IER, 0);
	wr(&s, UART_FCR, UART_FCR_ENABLE | 0x20);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_FIFO_BITS | UART_IIR_NO_INT);
	wr(&s, UART_FCR, 0);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_NO_INT);
	serial__exit(&s);
}

static void test_rx_fifo(void)
{
	struct serial s;
	struct serial_stats st;
	uint8_t in[SERIAL_RX_FIFO_SIZE + 10];

	CHECK_EQ(serial__init(&s, -1, NULL, NULL), 0);
	wr(&s, UART_FCR, UART_FCR_ENABLE);
	CHECK_EQ(serial__receive(&s, (const uint8_t *)"abc", 3), 3);
	CHECK_EQ(rd(&s, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	CHECK_EQ(rd(&s, UART_RBR), 'a');
	CHECK_EQ(rd(&s, UART_RBR), 'b');
	CHECK_EQ(rd(&s, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	CHECK_EQ(rd(&s, UART_RBR), 'c');
	CHECK_EQ(rd(&s, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);

	/* Overflow: 64 kept in order, the rest dropped and counted, LSR.OE once. */
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	CHECK_EQ(serial__receive(&s, in, sizeof(in)), SERIAL_RX_FIFO_SIZE);
	serial__get_stats(&s, &st);
	CHECK_EQ(st.rx_bytes, 3 + SERIAL_RX_FIFO_SIZE);
	CHECK_EQ(st.rx_dropped, 10);
	CHECK_EQ(rd(&s, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_OE | UART_LSR_DR);
	CHECK_EQ(rd(&s, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_DR);
	for (int i = 0; i < SERIAL_RX_FIFO_SIZE; i++)
		CHECK_EQ(rd(&s, UART_RBR), i);
	CHECK_EQ(rd(&s, UART_LSR) & UART_LSR_DR, 0);
	CHECK_EQ(rd(&s, UART_RBR), 0); /* empty FIFO */

	/* FCR bit 1 clears the receive FIFO. */
	serial__receive(&s, (const uint8_t *)"zz", 2);
	wr(&s, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
	CHECK_EQ(rd(&s, UART_LSR) & UART_LSR_DR, 0);
	serial__exit(&s);
}

static void test_irq_rx(void)
{
	struct irq_probe irq = {0};
	struct serial s;

	CHECK_EQ(serial__init(&s, -1, probe_set_irq, &irq), 0);
	wr(&s, UART_FCR, UART_FCR_ENABLE | 0x80); /* trigger level 8 */
	wr(&s, UART_IER, UART_IER_ERBFI);
	serial__receive(&s, (const uint8_t *)"x", 1);
	/* Pending in IIR, but OUT2 gates the line like on a PC. */
	CHECK_EQ(irq.calls, 0);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_FIFO_BITS | UART_IIR_TIMEOUT);
	wr(&s, UART_MCR, UART_MCR_OUT2);
	CHECK_EQ(irq.level, 1);
	CHECK_EQ(irq.calls, 1);
	/* Reading IIR does not clear a receive interrupt; draining RBR does. */
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_FIFO_BITS | UART_IIR_TIMEOUT);
	CHECK_EQ(irq.level, 1);
	CHECK_EQ(rd(&s, UART_RBR), 'x');
	CHECK_EQ(irq.level, 0);
	CHECK_EQ(irq.calls, 2);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_FIFO_BITS | UART_IIR_NO_INT);

	/* At the trigger level it is "received data available". */
	serial__receive(&s, (const uint8_t *)"12345678", 8);
	CHECK_EQ(irq.level, 1);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_FIFO_BITS | UART_IIR_RDI);
	/* Masking ERBFI drops the line with data still queued. */
	wr(&s, UART_IER, 0);
	CHECK_EQ(irq.level, 0);
	wr(&s, UART_IER, UART_IER_ERBFI);
	CHECK_EQ(irq.level, 1);
	/* Dropping OUT2 drops the line too. */
	wr(&s, UART_MCR, 0);
	CHECK_EQ(irq.level, 0);
	wr(&s, UART_MCR, UART_MCR_OUT2);
	CHECK_EQ(irq.level, 1);
	wr(&s, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
	CHECK_EQ(irq.level, 0);

	/* Overrun with ELSI: line status outranks received data; reading LSR clears it. */
	wr(&s, UART_IER, UART_IER_ERBFI | UART_IER_ELSI);
	for (int i = 0; i <= SERIAL_RX_FIFO_SIZE; i++)
		serial__receive(&s, (const uint8_t *)"r", 1);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_FIFO_BITS | UART_IIR_RLSI);
	CHECK(rd(&s, UART_LSR) & UART_LSR_OE);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_FIFO_BITS | UART_IIR_RDI);
	serial__exit(&s);
}

static void test_irq_thre(void)
{
	struct irq_probe irq = {0};
	struct serial s;

	CHECK_EQ(serial__init(&s, -1, probe_set_irq, &irq), 0);
	wr(&s, UART_MCR, UART_MCR_OUT2);
	CHECK_EQ(irq.calls, 0);

	/* Enabling ETBEI with THR empty raises THRE at once (Linux's UART_BUG_THRE test). */
	wr(&s, UART_IER, UART_IER_ETBEI);
	CHECK_EQ(irq.level, 1);
	/* Reading IIR when THRE is the source clears it. */
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_THRI);
	CHECK_EQ(irq.level, 0);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_NO_INT);
	/* Re-enabling re-arms it: write 0 then ETBEI again, as Linux does. */
	wr(&s, UART_IER, 0);
	wr(&s, UART_IER, UART_IER_ETBEI);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_THRI);
	/* Rewriting IER with ETBEI already set is not an edge. */
	wr(&s, UART_IER, UART_IER_ETBEI);
	CHECK_EQ(irq.level, 0);
	/* A THR write empties at once, so THRE comes back. */
	wr(&s, UART_THR, 'a');
	CHECK_EQ(irq.level, 1);
	/* Disabling ETBEI lowers the line. */
	wr(&s, UART_IER, 0);
	CHECK_EQ(irq.level, 0);

	/* Received data outranks THRE; reading IIR then leaves THRE pending. */
	wr(&s, UART_IER, UART_IER_ETBEI | UART_IER_ERBFI);
	serial__receive(&s, (const uint8_t *)"q", 1);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_RDI);
	CHECK_EQ(rd(&s, UART_RBR), 'q');
	CHECK_EQ(irq.level, 1);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_THRI);
	CHECK_EQ(irq.level, 0);
	int calls = irq.calls;
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_NO_INT);
	CHECK_EQ(irq.calls, calls); /* set_irq only on changes */
	serial__exit(&s);
}

static void test_loopback(void)
{
	struct irq_probe irq = {0};
	struct serial s;
	struct serial_stats st;
	int fds[2];
	char c;

	make_pipe(fds);
	CHECK_EQ(serial__init(&s, fds[1], probe_set_irq, &irq), 0);
	/* Linux's autoconfig check: MCR = LOOP|OUT2|RTS reads back MSR 7:4 = 0x90. */
	wr(&s, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
	CHECK_EQ(rd(&s, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_CTS);
	wr(&s, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	uint8_t msr = rd(&s, UART_MSR);
	CHECK_EQ(msr & 0xf0, UART_MSR_DSR | UART_MSR_RI);
	CHECK_EQ(msr & 0x0f, UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD);
	CHECK_EQ(rd(&s, UART_MSR) & 0x0f, 0); /* deltas clear on read */
	wr(&s, UART_MCR, UART_MCR_LOOP);
	CHECK_EQ(rd(&s, UART_MSR), UART_MSR_TERI | UART_MSR_DDSR);

	/* Transmitted bytes come back on RBR and never reach out_fd. */
	wr(&s, UART_IER, UART_IER_ERBFI);
	wr(&s, UART_THR, 'L');
	CHECK_EQ(rd(&s, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_RDI);
	/* OUT2 is a pin, forced inactive in loopback: no interrupt leaves the chip. */
	wr(&s, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2);
	CHECK_EQ(irq.calls, 0);
	CHECK_EQ(rd(&s, UART_RBR), 'L');
	CHECK_EQ(read(fds[0], &c, 1), -1);
	CHECK_EQ(errno, EAGAIN);
	/* The serial input is disconnected in loopback. */
	CHECK_EQ(serial__receive(&s, (const uint8_t *)"h", 1), 0);
	CHECK_EQ(rd(&s, UART_LSR) & UART_LSR_DR, 0);
	serial__get_stats(&s, &st);
	CHECK_EQ(st.tx_bytes, 0);
	CHECK_EQ(st.rx_dropped, 1);

	/* Leaving loopback: the cable's DCD/DSR/CTS again, output to the fd. */
	wr(&s, UART_MCR, UART_MCR_OUT2);
	CHECK_EQ(rd(&s, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	wr(&s, UART_THR, 'T');
	CHECK_EQ(read(fds[0], &c, 1), 1);
	CHECK_EQ(c, 'T');
	serial__exit(&s);
	close(fds[0]);
	close(fds[1]);
}

static void test_modem_status_irq(void)
{
	struct irq_probe irq = {0};
	struct serial s;

	CHECK_EQ(serial__init(&s, -1, probe_set_irq, &irq), 0);
	wr(&s, UART_IER, UART_IER_EDSSI);
	wr(&s, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_MSI);
	rd(&s, UART_MSR);
	CHECK_EQ(rd(&s, UART_IIR), UART_IIR_NO_INT);
	serial__exit(&s);
}

static void test_bad_widths(void)
{
	struct irq_probe irq = {0};
	struct serial s;
	struct serial_stats st;
	uint32_t v = 0x41414141;
	uint16_t h = 0x4242;
	int fds[2];
	char c;

	make_pipe(fds);
	CHECK_EQ(serial__init(&s, fds[1], probe_set_irq, &irq), 0);
	serial__io(&s, UART_THR, &v, 4, true);
	serial__io(&s, UART_SCR, &h, 2, true);
	serial__io(&s, UART_LCR, &v, 4, false);
	CHECK_EQ(v, 0xffffffff);
	serial__io(&s, SERIAL_PIO_LEN, &c, 1, false); /* beyond the registers */
	serial__get_stats(&s, &st);
	CHECK_EQ(st.bad_access, 4);
	CHECK_EQ(st.tx_bytes, 0);
	CHECK_EQ(rd(&s, UART_SCR), 0);
	CHECK_EQ(read(fds[0], &c, 1), -1);
	CHECK_EQ(irq.calls, 0);
	serial__exit(&s);
	close(fds[0]);
	close(fds[1]);
}

#define STREAM_BYTES 20000

/* The event-loop thread feeds input while the "vCPU" drains it: nothing lost or reordered. */
static void *feed_input(void *opaque)
{
	struct serial *s = opaque;

	for (unsigned int i = 0; i < STREAM_BYTES;) {
		uint8_t byte = (uint8_t)(i * 7);

		if (serial__receive(s, &byte, 1) == 1)
			i++;
		else
			sched_yield(); /* FIFO full: the overrun is counted, retry */
	}
	return NULL;
}

static void test_concurrent_receive(void)
{
	struct serial s;
	struct serial_stats st;
	pthread_t feeder;

	CHECK_EQ(serial__init(&s, -1, NULL, NULL), 0);
	wr(&s, UART_FCR, UART_FCR_ENABLE);
	CHECK_EQ(pthread_create(&feeder, NULL, feed_input, &s), 0);
	for (unsigned int i = 0; i < STREAM_BYTES;) {
		if (!(rd(&s, UART_LSR) & UART_LSR_DR))
			continue;
		CHECK_EQ(rd(&s, UART_RBR), (uint8_t)(i * 7));
		i++;
	}
	CHECK_EQ(pthread_join(feeder, NULL), 0);
	serial__get_stats(&s, &st);
	CHECK_EQ(st.rx_bytes, STREAM_BYTES);
	serial__exit(&s);
}

int main(void)
{
	test_thr_reaches_fd();
	test_output_cb_and_no_fd();
	test_file_sink_by_lines();
	test_full_fd_drops();
	test_reset_values_and_dlab();
	test_rx_fifo();
	test_irq_rx();
	test_irq_thre();
	test_loopback();
	test_modem_status_irq();
	test_bad_widths();
	test_concurrent_receive();
	return testlib_done("test_serial");
}

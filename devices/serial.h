/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A 16550A-compatible UART, as Linux's 8250 driver probes and drives it
 * (register map and interrupt rules from the NS PC16550D datasheet).
 *
 * Pure model: the vCPU thread calls serial__io() from the bus, the event-loop
 * thread calls serial__receive() with host input; a mutex inside serialises
 * the two. Transmission is instantaneous: THR is empty again as soon as a
 * byte is written, so LSR.THRE and LSR.TEMT always read 1.
 *
 * Register on the port bus at PORT_SERIAL_COM1 with length SERIAL_PIO_LEN.
 */
#ifndef MINI_VMM_SERIAL_H
#define MINI_VMM_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_PIO_LEN	    8
#define SERIAL_RX_FIFO_SIZE 64
#define SERIAL_OUT_STALL_MS 20	 /* longest wait for out_fd before a byte is dropped */
#define SERIAL_FILE_BUF	    4096 /* a file sink is written a line at a time (serial__flush) */

/* Register offsets (DLAB = LCR bit 7 selects DLL/DLM at 0 and 1). */
#define UART_RBR 0 /* read, DLAB=0 */
#define UART_THR 0 /* write, DLAB=0 */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1 /* DLAB=0 */
#define UART_DLM 1 /* DLAB=1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_ERBFI 0x01 /* received data available */
#define UART_IER_ETBEI 0x02 /* transmitter holding register empty */
#define UART_IER_ELSI  0x04 /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */

#define UART_IIR_NO_INT	   0x01
#define UART_IIR_MSI	   0x00
#define UART_IIR_THRI	   0x02
#define UART_IIR_RDI	   0x04
#define UART_IIR_RLSI	   0x06
#define UART_IIR_TIMEOUT   0x0c
#define UART_IIR_FIFO_BITS 0xc0

#define UART_FCR_ENABLE	   0x01
#define UART_FCR_CLEAR_RX  0x02
#define UART_FCR_CLEAR_TX  0x04
#define UART_FCR_TRIG_MASK 0xc0

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS  0x10
#define UART_MSR_DSR  0x20
#define UART_MSR_RI   0x40
#define UART_MSR_DCD  0x80

struct serial_stats {
	uint64_t tx_bytes;   /* bytes the guest sent out (loopback excluded) */
	uint64_t tx_dropped; /* bytes out_fd would not take in time, or write errors */
	uint64_t rx_bytes;   /* host bytes accepted into the RX FIFO */
	uint64_t rx_dropped; /* host or loopback bytes lost to a full RX FIFO */
	uint64_t bad_access; /* accesses wider than one byte (ignored) */
};

typedef void (*serial_irq_fn)(void *opaque, int level);
typedef void (*serial_output_fn)(void *opaque, const uint8_t *buf, size_t n);

struct serial {
	pthread_mutex_t lock;	  /* register state, RX FIFO, IRQ level */
	pthread_mutex_t out_lock; /* the output sinks, so a slow out_fd never holds up `lock` */

	int out_fd;	  /* -1: no fd sink */
	bool out_stalled; /* last byte was dropped: don't wait for out_fd again until it drains */
	bool out_is_file; /* a regular file: always writable, so no poll() per byte */
	uint8_t file_buf[SERIAL_FILE_BUF]; /* a file sink's bytes not written yet (out_lock) */
	size_t file_buf_len;
	serial_output_fn on_output;
	void *output_opaque;

	serial_irq_fn set_irq; /* called with `lock` held, only on level changes */
	void *irq_opaque;
	int irq_level;

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;	   /* FIFO enable + trigger bits as last written */
	uint8_t lsr_err;   /* sticky LSR error bits (OE), cleared by reading LSR */
	uint8_t msr_delta; /* MSR bits 0-3, cleared by reading MSR */
	bool thr_ipending; /* THRE interrupt armed, see serial.c */

	uint8_t rx_fifo[SERIAL_RX_FIFO_SIZE];
	unsigned int rx_head, rx_count;

	struct serial_stats stats;
};

/*
 * out_fd gets every transmitted byte (may be -1). set_irq may be NULL; it is
 * called with the serial's lock held and must not call back into it.
 * Returns 0 or -errno.
 */
int serial__init(struct serial *s, int out_fd, serial_irq_fn set_irq, void *irq_opaque);
void serial__exit(struct serial *s);
/* A second sink for transmitted bytes (e.g. a console log). Set before vCPUs run. */
void serial__set_output_cb(struct serial *s, serial_output_fn on_output, void *opaque);
/* bus_io_fn for [PORT_SERIAL_COM1, +SERIAL_PIO_LEN). */
void serial__io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);
/*
 * Write out what a file sink holds. Bytes for a regular file are written a
 * line at a time (at '\n' or a full buffer), not one system call per byte:
 * the owner calls this every few ms so a line without its end still shows
 * up, and serial__exit() writes the rest.
 */
void serial__flush(struct serial *s);
/* Host input. Returns how many bytes fit in the RX FIFO; the rest are dropped and counted. */
size_t serial__receive(struct serial *s, const uint8_t *buf, size_t len);
/*
 * Whether the THR-empty interrupt is enabled (IER.ETBEI). While it is off a
 * THR write has no effect the guest can see before its next access to the
 * UART, so the VMM may let THR writes wait (vmm/coalesced_pio.h).
 */
bool serial__tx_irq_enabled(struct serial *s);
/* A consistent copy of the counters. */
void serial__get_stats(struct serial *s, struct serial_stats *out);

#endif

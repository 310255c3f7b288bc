// SPDX-License-Identifier: GPL-2.0
/*
 * 16550A UART model. Register semantics follow the NS PC16550D datasheet
 * ("Register Description", "Interrupt Identification Register", table IV
 * "Interrupt Control Functions"); the probing it has to survive is Linux's
 * drivers/tty/serial/8250 autoconfig() and serial8250_do_startup().
 */
#include "devices/serial.h"

#include "base/log.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UART_IER_MASK	       0x0f /* bits 4-7 read 0 on a 16550A (Linux tests this: XScale UUE) */
#define UART_MCR_MASK	       0x1f /* bit 5 is the 16750's AFE: absent here */
#define UART_OUT_EINTR_RETRIES 8

/* Receive FIFO trigger levels selected by FCR bits 7:6. */
static unsigned int serial_rx_trigger(const struct serial *s)
{
	static const unsigned int levels[4] = {1, 4, 8, 14};

	if (!(s->fcr & UART_FCR_ENABLE))
		return 1;
	return levels[(s->fcr & UART_FCR_TRIG_MASK) >> 6];
}

/*
 * The highest-priority pending, enabled interrupt, as IIR bits 3:0.
 * Priority: line status > received data (or character timeout) > THR empty > modem status.
 *
 * We have no timers, so the character-timeout interrupt (data below the trigger
 * level, nothing received for four character times) is reported at once: the
 * guest sees the same interrupt, only sooner.
 */
static uint8_t serial_pending_id(const struct serial *s)
{
	if ((s->ier & UART_IER_ELSI) && s->lsr_err)
		return UART_IIR_RLSI;
	if ((s->ier & UART_IER_ERBFI) && s->rx_count) {
		if ((s->fcr & UART_FCR_ENABLE) && s->rx_count < serial_rx_trigger(s))
			return UART_IIR_TIMEOUT;
		return UART_IIR_RDI;
	}
	if ((s->ier & UART_IER_ETBEI) && s->thr_ipending)
		return UART_IIR_THRI;
	if ((s->ier & UART_IER_EDSSI) && s->msr_delta)
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

/*
 * On a PC the UART's INTR pin reaches the PIC through a buffer enabled by the
 * OUT2 pin. In loopback mode the modem-control pins are forced inactive, so
 * OUT2 is off and no interrupt leaves the chip even though IIR still reports it.
 */
static void serial_update_irq(struct serial *s)
{
	int level = serial_pending_id(s) != UART_IIR_NO_INT &&
		    (s->mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) == UART_MCR_OUT2;

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->set_irq)
		s->set_irq(s->irq_opaque, level);
}

/* MSR bits 7:4. Outside loopback the "cable" always has DCD, DSR and CTS asserted. */
static uint8_t serial_modem_lines(const struct serial *s)
{
	uint8_t lines = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	/* Loopback wiring: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	if (s->mcr & UART_MCR_DTR)
		lines |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_RTS)
		lines |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_OUT1)
		lines |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		lines |= UART_MSR_DCD;
	return lines;
}

static void serial_set_mcr(struct serial *s, uint8_t val)
{
	uint8_t before = serial_modem_lines(s), after, changed;

	s->mcr = val & UART_MCR_MASK;
	after = serial_modem_lines(s);
	changed = before ^ after;
	if (changed & UART_MSR_CTS)
		s->msr_delta |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		s->msr_delta |= UART_MSR_DDSR;
	if (changed & UART_MSR_DCD)
		s->msr_delta |= UART_MSR_DDCD;
	/* TERI is the trailing edge of RI only. */
	if ((before & UART_MSR_RI) && !(after & UART_MSR_RI))
		s->msr_delta |= UART_MSR_TERI;
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/* A full FIFO is an overrun: the new byte is lost and LSR.OE is set. */
static bool serial_rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_count == SERIAL_RX_FIFO_SIZE) {
		s->lsr_err |= UART_LSR_OE;
		s->stats.rx_dropped++;
		return false;
	}
	s->rx_fifo[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO_SIZE] = byte;
	s->rx_count++;
	return true;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx_fifo[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO_SIZE;
	s->rx_count--;
	return byte;
}

static void serial_set_fcr(struct serial *s, uint8_t val)
{
	/* Toggling FIFO enable resets both FIFOs; TX has none to reset here. */
	if ((val ^ s->fcr) & UART_FCR_ENABLE)
		serial_rx_clear(s);
	if (val & UART_FCR_CLEAR_RX)
		serial_rx_clear(s);
	/* The other FCR bits cannot be written while bit 0 is 0. */
	s->fcr = (val & UART_FCR_ENABLE) ? (val & (UART_FCR_ENABLE | UART_FCR_TRIG_MASK)) : 0;
}

/*
 * Waits at most wait_ms for fd to take one byte. poll() first so a blocking
 * fd (a pipe whose reader stalled, a tty on hold) cannot block the vCPU:
 * POLLOUT on a pipe guarantees room for PIPE_BUF bytes.
 */
static bool serial_write_byte(int fd, uint8_t byte, int wait_ms)
{
	for (int tries = 0; tries < UART_OUT_EINTR_RETRIES; tries++) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		ssize_t n;
		int r;

		r = poll(&pfd, 1, wait_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || !(pfd.revents & POLLOUT))
			return false;
		n = write(fd, &byte, 1);
		if (n == 1)
			return true;
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		return false;
	}
	return false;
}

static void serial_note_dropped(struct serial *s, uint64_t n)
{
	s->stats.tx_dropped += n;
	if (!s->out_stalled)
		log_ratelimited(LOG_WARN,
				"serial: console output fd %d not writable, dropping bytes",
				s->out_fd);
	s->out_stalled = true;
}

/* Called with out_lock held: the file sink's buffer, all of it or what the file takes. */
static void serial_flush_file(struct serial *s)
{
	size_t done = 0;

	while (done < s->file_buf_len) {
		ssize_t n = write(s->out_fd, s->file_buf + done, s->file_buf_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done < s->file_buf_len)
		serial_note_dropped(s, s->file_buf_len - done);
	else
		s->out_stalled = false;
	s->file_buf_len = 0;
}

/* Called with out_lock held. */
static void serial_emit(struct serial *s, uint8_t byte)
{
	s->stats.tx_bytes++;
	if (s->on_output)
		s->on_output(s->output_opaque, &byte, 1);
	if (s->out_fd < 0)
		return;
	/*
	 * A regular file gets whole lines: one system call per line instead of
	 * one per byte. Each system call costs, and in the nested host (where
	 * the tests and benchmarks run) a file on the shared checkout is a
	 * round trip to the outer host per call: per byte, the early log's
	 * flush at console registration was the longest step of a boot
	 * (docs/benchmarks.md).
	 */
	if (s->out_is_file) {
		s->file_buf[s->file_buf_len++] = byte;
		if (byte == '\n' || s->file_buf_len == sizeof(s->file_buf))
			serial_flush_file(s);
		return;
	}
	if (serial_write_byte(s->out_fd, byte,
			      /* Once a byte was dropped, don't wait until out_fd drains. */
			      s->out_stalled ? 0 : SERIAL_OUT_STALL_MS)) {
		s->out_stalled = false;
		return;
	}
	serial_note_dropped(s, 1);
}

void serial__flush(struct serial *s)
{
	pthread_mutex_lock(&s->out_lock);
	if (s->file_buf_len)
		serial_flush_file(s);
	pthread_mutex_unlock(&s->out_lock);
}

/* Returns true if `val` must be transmitted (THR write outside loopback). */
static bool serial_write_reg(struct serial *s, unsigned int reg, uint8_t val)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_THR:
		if (dlab) {
			s->dll = val;
			return false;
		}
		/*
		 * Transmission is instantaneous, so THR is empty again at once:
		 * the write clears the THRE interrupt and the emptying re-arms it.
		 */
		s->thr_ipending = true;
		if (s->mcr & UART_MCR_LOOP) {
			serial_rx_push(s, val);
			return false;
		}
		return true;
	case UART_IER:
		if (dlab) {
			s->dlm = val;
			return false;
		}
		/*
		 * Enabling ETBEI while THR is empty raises THRE at once; Linux's
		 * startup test (UART_BUG_THRE / UART_BUG_TXEN) depends on it.
		 */
		if ((val & UART_IER_ETBEI) && !(s->ier & UART_IER_ETBEI))
			s->thr_ipending = true;
		s->ier = val & UART_IER_MASK;
		return false;
	case UART_FCR:
		serial_set_fcr(s, val);
		return false;
	case UART_LCR:
		s->lcr = val;
		return false;
	case UART_MCR:
		serial_set_mcr(s, val);
		return false;
	case UART_SCR:
		s->scr = val;
		return false;
	default: /* LSR, MSR: read-only (LSR writes are a factory test mode) */
		return false;
	}
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t val;

	switch (reg) {
	case UART_RBR:
		return dlab ? s->dll : serial_rx_pop(s);
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		val = serial_pending_id(s);
		/* Reading IIR clears the THRE interrupt only when it is the one reported. */
		if (val == UART_IIR_THRI)
			s->thr_ipending = false;
		if (s->fcr & UART_FCR_ENABLE)
			val |= UART_IIR_FIFO_BITS;
		return val;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		val = UART_LSR_THRE | UART_LSR_TEMT | s->lsr_err;
		if (s->rx_count)
			val |= UART_LSR_DR;
		s->lsr_err = 0;
		return val;
	case UART_MSR:
		val = serial_modem_lines(s) | s->msr_delta;
		s->msr_delta = 0;
		return val;
	default: /* UART_SCR */
		return s->scr;
	}
}

void serial__io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct serial *s = opaque;
	uint8_t *byte = data;
	bool transmit = false;

	if (len != 1 || offset >= SERIAL_PIO_LEN) {
		pthread_mutex_lock(&s->lock);
		s->stats.bad_access++;
		pthread_mutex_unlock(&s->lock);
		log_ratelimited(LOG_WARN, "serial: ignoring %u-byte %s at offset %#llx", len,
				is_write ? "write" : "read", (unsigned long long)offset);
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}

	pthread_mutex_lock(&s->lock);
	if (is_write)
		transmit = serial_write_reg(s, offset, *byte);
	else
		*byte = serial_read_reg(s, offset);
	serial_update_irq(s);
	if (!transmit) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	/*
	 * Take out_lock before dropping lock: bytes reach the sinks in the order
	 * their THR writes were made, and a slow out_fd only holds out_lock, so
	 * serial__receive() on the event-loop thread is never stuck behind it.
	 */
	pthread_mutex_lock(&s->out_lock);
	pthread_mutex_unlock(&s->lock);
	serial_emit(s, *byte);
	pthread_mutex_unlock(&s->out_lock);
}

size_t serial__receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t accepted = 0;

	pthread_mutex_lock(&s->lock);
	if (s->mcr & UART_MCR_LOOP) {
		/* Loopback disconnects the serial input pin from the receiver. */
		s->stats.rx_dropped += len;
	} else {
		for (size_t i = 0; i < len; i++)
			accepted += serial_rx_push(s, buf[i]);
		s->stats.rx_bytes += accepted;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return accepted;
}

bool serial__tx_irq_enabled(struct serial *s)
{
	bool on;

	pthread_mutex_lock(&s->lock);
	on = s->ier & UART_IER_ETBEI;
	pthread_mutex_unlock(&s->lock);
	return on;
}

void serial__get_stats(struct serial *s, struct serial_stats *out)
{
	pthread_mutex_lock(&s->lock);
	pthread_mutex_lock(&s->out_lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->out_lock);
	pthread_mutex_unlock(&s->lock);
}

void serial__set_output_cb(struct serial *s, serial_output_fn on_output, void *opaque)
{
	pthread_mutex_lock(&s->out_lock);
	s->on_output = on_output;
	s->output_opaque = opaque;
	pthread_mutex_unlock(&s->out_lock);
}

int serial__init(struct serial *s, int out_fd, serial_irq_fn set_irq, void *irq_opaque)
{
	struct stat st;
	int err;

	memset(s, 0, sizeof(*s));
	s->out_fd = out_fd;
	s->out_is_file = out_fd >= 0 && fstat(out_fd, &st) == 0 && S_ISREG(st.st_mode);
	s->set_irq = set_irq;
	s->irq_opaque = irq_opaque;
	/* Reset state (datasheet table "UART Reset Configuration"); divisor 12 = 9600 baud. */
	s->dll = 12;
	err = pthread_mutex_init(&s->lock, NULL);
	if (err)
		return -err;
	err = pthread_mutex_init(&s->out_lock, NULL);
	if (err) {
		pthread_mutex_destroy(&s->lock);
		return -err;
	}
	return 0;
}

void serial__exit(struct serial *s)
{
	serial__flush(s);
	pthread_mutex_destroy(&s->out_lock);
	pthread_mutex_destroy(&s->lock);
}

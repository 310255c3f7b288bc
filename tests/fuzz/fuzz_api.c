// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the control API and the metrics listener (control/ on
 * libmicrohttpd), end to end: each input is the raw bytes a client sends on
 * one connection -- request line, headers, body, pipelined requests, bad
 * chunking, lies about Content-Length, anything. The API's request handling
 * is not a pure function (it runs inside MHD's callbacks), so the harness
 * runs the real server, in-process, behind a fake VM (vm_control_ops that
 * accept or refuse like the VM's), and talks to it over its real sockets.
 *
 * Input: u8 listener (bit 0: 0 the Unix API socket, 1 the TCP metrics
 * listener), then the bytes to send. The harness sends them, half-closes,
 * and reads the answer (see exchange()).
 *
 * Checked: no memory error or UB in the server's threads (ASan watches the
 * whole process); every answer is empty or an HTTP/1.x status line with a
 * 3-digit code; the server keeps accepting connections, and every 64 inputs
 * a plain GET /vm gets its 200 within 3 s.
 *
 * The socket lives in a private /tmp/mini-vmm-fuzz-api.XXXXXX directory,
 * which must stay until the last input: every exchange connects to it by
 * path, so it cannot be unlinked right after bind(). An atexit() handler
 * stops the server (which unlinks the socket) and removes the directory; it
 * runs when the replay driver returns from main() and when libFuzzer ends a
 * run (-max_total_time, -runs: it calls exit()). A crash or an interrupt
 * (libFuzzer's _Exit) leaves the directory behind with the finding.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include "control/api.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_MAX (1u << 20)

static struct api_server *srv;
static char sock_dir[] = "/tmp/mini-vmm-fuzz-api.XXXXXX";
static char sock_path[108];
static uint16_t metrics_port;
static char answer[ANSWER_MAX];
static uint64_t target_bytes;
static uint32_t stats_interval;

static void fake_sample(void *opaque, struct vm_sample *s)
{
	(void)opaque;
	s->uptime_ns = 12345678900ULL;
	s->state = VM_RUN_STATE_RUNNING;
	s->vcpus = 2;
	s->guest_memory_bytes = 256ULL << 20;
	s->guest_resident_bytes = 100ULL << 20;
	strcpy(s->memory_backend, "anon");
	s->has_balloon = true;
	s->balloon.deflate_on_oom = true;
	s->balloon.reporting = true;
	s->balloon.stats_enabled = true;
	s->balloon.stats_interval_s = __atomic_load_n(&stats_interval, __ATOMIC_RELAXED);
	s->balloon.target_bytes = __atomic_load_n(&target_bytes, __ATOMIC_RELAXED);
	s->balloon.actual_bytes = s->balloon.target_bytes / 2;
	strcpy(s->balloon.discard_method, "madvise");
	strcpy(s->balloon.discard_engine, "io_uring");
	s->balloon.discard_granule_bytes = 4096;
	s->balloon.stats.reports = 7;
	s->balloon.stats.guest.valid = 0x31;
	s->balloon.stats.guest.val[4] = 64ULL << 20;
	s->balloon.discard.report_latency.count = 3;
	s->balloon.discard.report_latency.buckets[4] = 3;
}

static int fake_set_target(void *opaque, uint64_t bytes)
{
	(void)opaque;
	if (bytes > (256ULL << 20))
		return -ERANGE;
	__atomic_store_n(&target_bytes, bytes, __ATOMIC_RELAXED);
	return 0;
}

static int fake_set_stats_interval(void *opaque, uint32_t secs)
{
	(void)opaque;
	__atomic_store_n(&stats_interval, secs, __ATOMIC_RELAXED);
	return 0;
}

static void fake_shutdown(void *opaque)
{
	(void)opaque; /* the fuzzer keeps going */
}

static const struct vm_control_ops fake_ops = {
	.sample = fake_sample,
	.set_balloon_target = fake_set_target,
	.set_stats_interval = fake_set_stats_interval,
	.request_shutdown = fake_shutdown,
};

/* atexit(): the server's threads stop before the directory goes away. */
static void cleanup_server(void)
{
	api__stop(srv); /* unlinks the socket */
	srv = NULL;
	rmdir(sock_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct api_config cfg = {
		.metrics_listen = "127.0.0.1:0",
		.interval_ms = 3600 * 1000, /* the sampler stays out of the way */
		.timeout_s = 2,
		.vmm_version = "fuzz",
	};

	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	if (!mkdtemp(sock_dir))
		fuzz_fail(__FILE__, __LINE__, "mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", sock_dir);
	cfg.socket_path = sock_path;
	if (api__start(&srv, &cfg, &fake_ops, NULL) < 0 || !srv) {
		rmdir(sock_dir);
		fuzz_fail(__FILE__, __LINE__, "api__start");
	}
	if (atexit(cleanup_server) != 0) {
		cleanup_server();
		fuzz_fail(__FILE__, __LINE__, "atexit");
	}
	metrics_port = api__metrics_port(srv);
	return 0;
}

static int connect_to(bool metrics)
{
	int fd;

	if (metrics) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(metrics_port)};

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(fd);
			fd = -1;
		}
	} else {
		struct sockaddr_un a = {.sun_family = AF_UNIX};

		strcpy(a.sun_path, sock_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(fd);
			fd = -1;
		}
	}
	return fd;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Send `len` bytes on a new connection, half-close, and read the answer
 * until the server closes, or 30 ms pass after the last byte (MHD keeps a
 * half-closed keep-alive connection open until its timeout), or `first_ms`
 * pass without any (an incomplete request: the 408 comes only at the
 * timeout). Returns the bytes read.
 */
static size_t exchange(bool metrics, const uint8_t *p, size_t len, int first_ms)
{
	size_t sent = 0, got = 0;
	uint64_t last = now_ms();
	int fd = connect_to(metrics);

	FUZZ_ASSERT(fd >= 0); /* the server must still accept */
	/* The server may answer and close early: EPIPE is fine. */
	while (sent < len) {
		ssize_t n = send(fd, p + sent, len - sent, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int wait = got ? 30 : first_ms;
		ssize_t n;

		if (poll(&pfd, 1, wait) <= 0 && now_ms() - last >= (uint64_t)wait)
			break;
		n = recv(fd, answer + got, sizeof(answer) - 1 - got, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		if (n < 0)
			continue;
		got += (size_t)n;
		last = now_ms();
		if (got == sizeof(answer) - 1)
			got = 0; /* a huge answer (the dashboard): keep reading, keep the tail */
	}
	close(fd);
	answer[got] = '\0';
	return got;
}

static void check_status_line(size_t got)
{
	if (got < 12 || answer[0] != 'H')
		return;
	FUZZ_ASSERT(strncmp(answer, "HTTP/1.", 7) == 0);
	FUZZ_ASSERT(answer[9] >= '1' && answer[9] <= '5');
	FUZZ_ASSERT(answer[10] >= '0' && answer[10] <= '9');
	FUZZ_ASSERT(answer[11] >= '0' && answer[11] <= '9');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char probe[] = "GET /vm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static unsigned int runs;
	struct fuzz_in in = {data, size};
	bool metrics = fin_u8(&in) & 1;

	check_status_line(exchange(metrics, in.p, in.n, 100));
	/* Now and then: the server still answers a plain request, in time. */
	if (++runs % 64 == 0) {
		size_t got = exchange(false, (const uint8_t *)probe, sizeof(probe) - 1, 3000);

		FUZZ_ASSERT(got >= 12 && strncmp(answer, "HTTP/1.1 200", 12) == 0);
	}
	return 0;
}

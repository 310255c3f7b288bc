// SPDX-License-Identifier: GPL-2.0
/*
 * The standard process_* metrics, as Prometheus's client libraries define
 * them (client_golang's process collector: the same names, units and
 * sources), for the mini-vmm process: CPU seconds, resident and virtual
 * memory in bytes, open and maximum file descriptors, start time.
 *
 * All of it comes from /proc/self. The API's threads run under a seccomp
 * allow-list that opens no file, so the files are opened once at init (on
 * the thread that starts the API, before confinement) and re-read at each
 * scrape: pread() at offset 0 for stat and limits, lseek() + getdents64()
 * for the fd directory. The boot time (/proc/stat's btime) does not change
 * and is read once.
 */
#define _GNU_SOURCE
#include "control/metrics.h"

#include "base/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS_PER_S ((uint64_t)1000000000)

int metrics_process__parse_stat(const char *text, struct process_stat *out)
{
	/* The comm (field 2) is in parentheses and may hold anything: start after the last ')'. */
	const char *p = strrchr(text, ')');
	uint64_t v[24] = {0};
	unsigned int field = 3;
	char *end;

	if (!p || p[1] != ' ')
		return -EINVAL;
	p += 2;
	/* Field 3 is the state, a letter; then numbers up to field 24 (rss). */
	while (*p && *p != ' ')
		p++;
	for (field = 4; field <= 24; field++) {
		if (*p != ' ')
			return -EINVAL;
		p++;
		errno = 0;
		/* Some fields are signed (priority, nice, cutime): only unsigned ones are kept. */
		if (*p == '-') {
			strtoll(p, &end, 10);
			v[field - 1] = 0;
		} else {
			v[field - 1] = strtoull(p, &end, 10);
		}
		if (end == p || errno)
			return -EINVAL;
		p = end;
	}
	out->utime_ticks = v[13];
	out->stime_ticks = v[14];
	out->start_ticks = v[21];
	out->vsize_bytes = v[22];
	out->rss_pages = v[23];
	return 0;
}

int metrics_process__parse_max_fds(const char *text, uint64_t *out)
{
	const char *p = strstr(text, "\nMax open files");
	char *end;

	if (!p)
		return -EINVAL;
	p += strlen("\nMax open files");
	while (*p == ' ')
		p++;
	if (strncmp(p, "unlimited", 9) == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	errno = 0;
	*out = strtoull(p, &end, 10);
	return end == p || errno ? -EINVAL : 0;
}

/* btime of /proc/stat: seconds since the epoch at boot. 0 if not found. */
static uint64_t read_boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	unsigned long long btime = 0;
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0)
		if (sscanf(line, "btime %llu", &btime) == 1)
			break;
	free(line);
	fclose(f);
	return btime;
}

int metrics_process__init(struct metrics_process *p)
{
	*p = (struct metrics_process){
		.stat_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC),
		.limits_fd = open("/proc/self/limits", O_RDONLY | O_CLOEXEC),
		.fd_dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
		.boot_time_s = read_boot_time(),
		.ticks_per_s = sysconf(_SC_CLK_TCK),
		.page_size = sysconf(_SC_PAGESIZE),
	};
	if (p->stat_fd < 0 || p->limits_fd < 0 || p->fd_dir < 0 || !p->boot_time_s ||
	    p->ticks_per_s <= 0 || p->page_size <= 0) {
		int err = errno;

		log_warn("metrics: /proc/self is not readable (%s): no process_* metrics",
			 strerror(err));
		metrics_process__close(p);
		return -(err ? err : EIO);
	}
	return 0;
}

void metrics_process__close(struct metrics_process *p)
{
	if (p->stat_fd >= 0)
		close(p->stat_fd);
	if (p->limits_fd >= 0)
		close(p->limits_fd);
	if (p->fd_dir >= 0)
		close(p->fd_dir);
	p->stat_fd = p->limits_fd = p->fd_dir = -1;
}

/* The whole of a small /proc file, NUL-terminated. false if it could not be read. */
static bool read_at_start(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* Entries of /proc/self/fd but "." and "..": our open fds (this directory's one included). */
static bool count_fds(int dir, uint64_t *out)
{
	char buf[4096];
	uint64_t n = 0;
	ssize_t got;

	if (lseek(dir, 0, SEEK_SET) < 0)
		return false;
	while ((got = getdents64(dir, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < got;) {
			const struct dirent64 *d = (const struct dirent64 *)(buf + off);

			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				n++;
			off += d->d_reclen;
		}
	}
	if (got < 0)
		return false;
	*out = n;
	return true;
}

static void gauge(struct metrics_out *o, const char *name, const char *help, uint64_t v)
{
	metrics_out__family(o, name, "gauge", help);
	metrics_out__begin(o, name);
	metrics_out__end_u64(o, v);
}

void metrics_process__format(struct metrics_process *p, struct metrics_out *o)
{
	uint64_t hz = (uint64_t)p->ticks_per_s, v;
	struct process_stat st;
	char buf[4096];

	if (p->stat_fd < 0)
		return;
	if (read_at_start(p->stat_fd, buf, sizeof(buf)) &&
	    metrics_process__parse_stat(buf, &st) == 0) {
		uint64_t cpu = st.utime_ticks + st.stime_ticks;

		metrics_out__family(o, "process_cpu_seconds_total", "counter",
				    "Total user and system CPU time spent in seconds.");
		metrics_out__begin(o, "process_cpu_seconds_total");
		metrics_out__end_seconds(o, cpu / hz * NS_PER_S + cpu % hz * NS_PER_S / hz);
		gauge(o, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
		      st.vsize_bytes);
		gauge(o, "process_resident_memory_bytes", "Resident memory size in bytes.",
		      st.rss_pages * (uint64_t)p->page_size);
		metrics_out__family(o, "process_start_time_seconds", "gauge",
				    "Start time of the process since unix epoch in seconds.");
		metrics_out__begin(o, "process_start_time_seconds");
		metrics_out__end_seconds(o, p->boot_time_s * NS_PER_S +
						    st.start_ticks / hz * NS_PER_S +
						    st.start_ticks % hz * NS_PER_S / hz);
	}
	if (count_fds(p->fd_dir, &v))
		gauge(o, "process_open_fds", "Number of open file descriptors.", v);
	if (read_at_start(p->limits_fd, buf, sizeof(buf)) &&
	    metrics_process__parse_max_fds(buf, &v) == 0)
		gauge(o, "process_max_fds", "Maximum number of open file descriptors.", v);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Starting and stopping the control plane (api.h): the sockets and the
 * --metrics-log file first, on the caller's thread; then one setup thread
 * that confines itself (api_config.confine) and creates every API thread,
 * the listeners' and the sampler, so they inherit its confinement and its
 * signal mask. Stopping joins them all and removes the socket file.
 */
#define _GNU_SOURCE
#include "control/api_internal.h"

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* What the setup thread gets: the sockets made on the caller's thread. */
struct api_setup {
	struct api_server *srv;
	int fd[LISTENER__COUNT];
	int ret;
};

/*
 * Every API thread (MHD's and the sampler) is created from this one, after
 * cfg.confine ran on it: they all inherit what it installed (a seccomp
 * filter), and its signal mask (see api__start).
 */
static void *api_setup_main(void *arg)
{
	struct api_setup *st = arg;
	struct api_server *srv = st->srv;

	/* Inherited by the sampler (MHD names its own threads "MHD-single"). */
	prctl(PR_SET_NAME, "api-sampler");
	if (srv->cfg.confine) {
		st->ret = srv->cfg.confine(srv->cfg.confine_opaque);
		if (st->ret < 0)
			return NULL;
	}
	for (unsigned int i = 0; i < LISTENER__COUNT; i++) {
		if (st->fd[i] < 0)
			continue;
		st->ret = api_http__start_listener(srv, (enum listener_kind)i, st->fd[i]);
		st->fd[i] = -1; /* MHD's, or closed */
		if (st->ret < 0)
			return NULL;
	}
	st->ret = sampler__start(srv);
	return NULL;
}

static void log_started(struct api_server *srv, const struct sockaddr_storage *ss)
{
	const struct api_config *cfg = &srv->cfg;

	if (cfg->socket_path)
		log_info("api: control API on unix:%s (HTTP/1.1, JSON; docs/api.md)",
			 cfg->socket_path);
	if (cfg->metrics_listen) {
		const char *host = cfg->metrics_listen;
		int hostlen = (int)(strrchr(host, ':') - host);

		log_info("api: metrics on http://%.*s:%u/metrics, dashboard on "
			 "http://%.*s:%u/dashboard",
			 hostlen, host, srv->metrics_port, hostlen, host, srv->metrics_port);
		if (!api_sockets__is_loopback(ss))
			log_warn("--metrics-listen %s: not a loopback address: anyone who can "
				 "reach it can read the metrics and the dashboard (read-only)",
				 cfg->metrics_listen);
	}
	if (cfg->metrics_log_path)
		log_info("api: sampling every %u ms into --metrics-log %s", cfg->interval_ms,
			 cfg->metrics_log_path);
}

int api__start(struct api_server **out, const struct api_config *cfg,
	       const struct vm_control_ops *ops, void *opaque)
{
	struct api_setup st = {.fd = {-1, -1}};
	struct sockaddr_storage ss = {0};
	struct api_server *srv;
	pthread_t setup;
	sigset_t all, old;
	socklen_t sslen;
	int ret = 0;

	*out = NULL;
	if (!cfg->socket_path && !cfg->metrics_listen && !cfg->metrics_log_path)
		return 0;
	if (cfg->metrics_listen && api__parse_listen(cfg->metrics_listen, &ss, &sslen) < 0) {
		log_error("--metrics-listen '%s': expected ADDRESS:PORT, like 127.0.0.1:9100 or "
			  "[::1]:9100",
			  cfg->metrics_listen);
		return -EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->socket_dirfd = -1;
	srv->process = (struct metrics_process){.stat_fd = -1, .limits_fd = -1, .fd_dir = -1};
	srv->cfg = *cfg;
	if (!srv->cfg.interval_ms)
		srv->cfg.interval_ms = API_DEFAULT_INTERVAL_MS;
	if (!srv->cfg.timeout_s)
		srv->cfg.timeout_s = API_DEFAULT_TIMEOUT_S;
	if (!srv->cfg.vmm_version)
		srv->cfg.vmm_version = "unknown";
	if (!srv->cfg.instance_id)
		srv->cfg.instance_id = "mini-vmm";
	srv->ops = ops;
	srv->opaque = opaque;
	ret = sampler__init(srv);
	if (ret < 0)
		goto err;
	/* /proc/self's files, now: the API's threads may open none (seccomp). */
	metrics_process__init(&srv->process);

	/*
	 * Files and sockets first, on this thread: the API threads may not make
	 * any. Likewise glibc's time zone, which MHD's Date header (gmtime_r)
	 * would otherwise load from /etc/localtime on its first request.
	 */
	tzset();
	if (cfg->metrics_log_path) {
		ret = metrics_log__open(&srv->mlog, cfg->metrics_log_path);
		if (ret < 0)
			goto err;
	}
	if (cfg->socket_path) {
		ret = api_sockets__open_unix(cfg->socket_path, &st.fd[LISTENER_API]);
		if (ret < 0)
			goto err;
		srv->socket_path = strdup(cfg->socket_path);
		if (srv->socket_path)
			api_sockets__open_dir(srv);
	}
	if (cfg->metrics_listen) {
		ret = api_sockets__open_tcp(cfg->metrics_listen, &ss, sslen,
					    &st.fd[LISTENER_METRICS], &srv->metrics_port);
		if (ret < 0)
			goto err;
	}

	st.srv = srv;
	/*
	 * Asynchronous signals are the VM's (its signalfd): blocked in every API
	 * thread. The synchronous ones stay open: a blocked SIGSYS from seccomp
	 * or a SIGSEGV would kill the process without its handler's message.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&setup, NULL, api_setup_main, &st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		ret = -ret;
		goto err;
	}
	pthread_join(setup, NULL);
	ret = st.ret;
	if (ret < 0)
		goto err;
	log_started(srv, &ss);
	*out = srv;
	return 0;
err:
	for (unsigned int i = 0; i < LISTENER__COUNT; i++)
		if (st.fd[i] >= 0)
			close(st.fd[i]);
	api__stop(srv);
	return ret;
}

int api__socket_dirfd(const struct api_server *srv)
{
	return srv ? srv->socket_dirfd : -1;
}

void api__stop(struct api_server *srv)
{
	if (!srv)
		return;
	for (unsigned int i = 0; i < LISTENER__COUNT; i++) {
		if (srv->listeners[i].daemon)
			MHD_stop_daemon(srv->listeners[i].daemon);
		srv->listeners[i].daemon = NULL;
	}
	if (srv->socket_path) {
		/*
		 * unlinkat on the directory opened at start: the device thread's
		 * seccomp filter allows exactly that (seccomp__allow_unlinkat).
		 */
		if (srv->socket_dirfd >= 0) {
			unlinkat(srv->socket_dirfd, srv->socket_name, 0);
			close(srv->socket_dirfd);
		} else {
			unlink(srv->socket_path);
		}
		free(srv->socket_path);
	}
	sampler__stop(srv);
	metrics_log__close(&srv->mlog);
	metrics_process__close(&srv->process);
	free(srv);
}

uint16_t api__metrics_port(const struct api_server *srv)
{
	return srv ? srv->metrics_port : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The pre-boot handshake (vm_preboot.h): the API's threads change the
 * configuration under a lock and ask for InstanceStart; the main thread,
 * woken by an eventfd (or a signal), validates once (vm_config.c) before
 * /dev/kvm is opened, and answers. A configuration that does not validate
 * is answered at once and the VM stays configurable, as in Firecracker.
 */
#define _GNU_SOURCE
#include "vmm/vm_preboot.h"

#include "base/log.h"
#include "control/api.h"
#include "control/metrics.h"
#include "vmm/vcpu.h"
#include "vmm/vm_config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

int vm_preboot__init(struct vm_preboot *pb, struct vmm_config *cfg)
{
	*pb = (struct vm_preboot){.cfg = cfg};
	pthread_mutex_init(&pb->lock, NULL);
	pthread_cond_init(&pb->cond, NULL);
	pb->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return pb->wake_fd < 0 ? -errno : 0;
}

void vm_preboot__exit(struct vm_preboot *pb)
{
	if (pb->wake_fd >= 0)
		close(pb->wake_fd);
	pb->wake_fd = -1;
	pthread_cond_destroy(&pb->cond);
	pthread_mutex_destroy(&pb->lock);
}

int vm_preboot__configure(struct vm_preboot *pb, const struct api_vm_config *change, char *err,
			  size_t err_len)
{
	int ret = -EALREADY;

	pthread_mutex_lock(&pb->lock);
	if (pb->phase == PREBOOT_CONFIGURING)
		ret = vm_config__apply(pb->cfg, change, err, err_len);
	pthread_mutex_unlock(&pb->lock);
	return ret;
}

int vm_preboot__get_config(struct vm_preboot *pb, struct api_vm_config *out)
{
	int ret;

	pthread_mutex_lock(&pb->lock);
	ret = vm_config__export(pb->cfg, out);
	pthread_mutex_unlock(&pb->lock);
	return ret;
}

int vm_preboot__start(struct vm_preboot *pb, char *err, size_t err_len)
{
	uint64_t one = 1;
	int ret;

	pthread_mutex_lock(&pb->lock);
	if (pb->phase != PREBOOT_CONFIGURING) {
		pthread_mutex_unlock(&pb->lock);
		return -EALREADY;
	}
	pb->phase = PREBOOT_START_ASKED;
	pb->answered = false;
	if (write(pb->wake_fd, &one, sizeof(one)) != sizeof(one)) {
		pb->phase = PREBOOT_CONFIGURING;
		pthread_mutex_unlock(&pb->lock);
		snprintf(err, err_len, "could not wake the main thread");
		return -EIO;
	}
	while (!pb->answered)
		pthread_cond_wait(&pb->cond, &pb->lock);
	ret = pb->result;
	snprintf(err, err_len, "%s", pb->err);
	pthread_mutex_unlock(&pb->lock);
	return ret;
}

void vm_preboot__sample(struct vm_preboot *pb, struct vm_sample *s)
{
	pthread_mutex_lock(&pb->lock);
	s->state = VM_RUN_STATE_NOT_STARTED;
	s->vcpus = pb->cfg->cpus;
	s->guest_memory_bytes = pb->cfg->mem_size;
	snprintf(s->memory_backend, sizeof(s->memory_backend), "%s",
		 guest_mem__backend_name(pb->cfg->mem_backend));
	pthread_mutex_unlock(&pb->lock);
}

/* Under the lock: answer the InstanceStart waiting. */
static void answer(struct vm_preboot *pb, enum vm_preboot_phase next, int result, const char *err)
{
	pb->phase = next;
	pb->result = result;
	snprintf(pb->err, sizeof(pb->err), "%s", err ? err : "");
	pb->answered = true;
	pthread_cond_broadcast(&pb->cond);
}

int vm_preboot__wait(struct vm_preboot *pb, int signal_fd, int *exit_status)
{
	struct pollfd fds[2] = {{.fd = signal_fd, .events = POLLIN},
				{.fd = pb->wake_fd, .events = POLLIN}};
	struct signalfd_siginfo si;
	char err[400];
	uint64_t n;

	log_info("%s: waiting for its configuration through the API (PUT /machine-config, "
		 "/boot-source, /balloon, then /actions InstanceStart)",
		 pb->cfg->id);
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[0].revents && read(signal_fd, &si, sizeof(si)) == sizeof(si)) {
			log_info("stopping before boot: received %s", strsignal((int)si.ssi_signo));
			*exit_status = VMM_EXIT_SIGNAL_BASE + (int)si.ssi_signo;
			return 1;
		}
		if (!fds[1].revents || read(pb->wake_fd, &n, sizeof(n)) != sizeof(n))
			continue;
		pthread_mutex_lock(&pb->lock);
		if (pb->stop_asked) {
			pthread_mutex_unlock(&pb->lock);
			log_info("stopping before boot: PUT /actions Shutdown");
			*exit_status = VMM_EXIT_OK;
			return 1;
		}
		if (pb->phase == PREBOOT_START_ASKED) {
			/* The API cannot change cfg now: it is checked as it will be built. */
			if (vm_config__validate(pb->cfg, err, sizeof(err)) == 0) {
				pb->phase = PREBOOT_STARTING;
				pthread_mutex_unlock(&pb->lock);
				return 0;
			}
			log_info("InstanceStart refused: %s", err);
			answer(pb, PREBOOT_CONFIGURING, -EINVAL, err);
		}
		pthread_mutex_unlock(&pb->lock);
	}
}

void vm_preboot__finish(struct vm_preboot *pb, int result, const char *err)
{
	pthread_mutex_lock(&pb->lock);
	answer(pb, PREBOOT_DONE, result, err);
	pthread_mutex_unlock(&pb->lock);
}

void vm_preboot__stop(struct vm_preboot *pb)
{
	uint64_t one = 1;

	pthread_mutex_lock(&pb->lock);
	pb->stop_asked = true;
	pthread_cond_broadcast(&pb->cond);
	pthread_mutex_unlock(&pb->lock);
	if (write(pb->wake_fd, &one, sizeof(one)) < 0)
		log_debug("pre-boot: waking the main thread: %m");
}

void vm_preboot__wait_stop(struct vm_preboot *pb)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	pthread_mutex_lock(&pb->lock);
	while (!pb->stop_asked)
		if (pthread_cond_timedwait(&pb->cond, &pb->lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&pb->lock);
}

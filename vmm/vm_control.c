// SPDX-License-Identifier: GPL-2.0
/*
 * What the control API reaches of the VM (struct vm_control_ops): samples,
 * the balloon's setters, shutdown, and before boot the configuration and
 * InstanceStart (vm_preboot.c); and the API's start with its confinement.
 */
#define _GNU_SOURCE
#include "vmm/vm_internal.h"

#include "base/clock.h"
#include "base/log.h"
#include "control/api.h"
#include "vmm/seccomp.h"
#include "vmm/vm_config.h"
#include "vmm/vm_sample.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* How old a residency reading the API accepts: one sampling period. */
static uint64_t vm_sample_max_age_ns(const struct vm *vm)
{
	uint32_t ms = vm->cfg->metrics_interval_ms ? vm->cfg->metrics_interval_ms
						   : API_DEFAULT_INTERVAL_MS;

	return (uint64_t)ms * 1000000ULL;
}

/* API threads: everything the API, /metrics and the timeline report. */
static void vm_ctl_sample(void *opaque, struct vm_sample *s)
{
	struct vm *vm = opaque;

	/* Before InstanceStart there is no guest RAM nor devices: the configuration. */
	if (vm->preboot && !__atomic_load_n(&vm->booted, __ATOMIC_ACQUIRE)) {
		vm_preboot__sample(vm->preboot, s);
		s->monotonic_ns = clock__mono_ns();
		s->uptime_ns = s->monotonic_ns - vm->t_start_ns;
		return;
	}
	/* Scrapers share one walk per sampling period (resident_meter.h). */
	vm_sample__fill(s, &vm->resident, vm_sample_max_age_ns(vm), vm->balloon);
	s->uptime_ns = clock__mono_ns() - vm->t_start_ns;
	s->vcpus = vm->cfg->cpus;
	s->event_loop_max_callback_ns =
		__atomic_load_n(&vm->loop.max_callback_ns, __ATOMIC_RELAXED);
	pthread_mutex_lock(&vm->stop_lock);
	s->state = vm->stopping	 ? VM_RUN_STATE_STOPPING
		   : vm->running ? VM_RUN_STATE_RUNNING
				 : VM_RUN_STATE_STARTING;
	if (s->state == VM_RUN_STATE_RUNNING && __atomic_load_n(&vm->gate.paused, __ATOMIC_RELAXED))
		s->state = VM_RUN_STATE_PAUSED;
	pthread_mutex_unlock(&vm->stop_lock);
}

static int vm_ctl_set_balloon_target(void *opaque, uint64_t bytes)
{
	struct vm *vm = opaque;

	return vm->balloon ? virtio_balloon__set_target(vm->balloon, bytes) : -ENODEV;
}

static int vm_ctl_set_stats_interval(void *opaque, uint32_t secs)
{
	struct vm *vm = opaque;

	return vm->balloon ? virtio_balloon__set_stats_interval(vm->balloon, secs) : -ENODEV;
}

static int vm_ctl_balloon_hinting(void *opaque, bool start, bool acknowledge_on_stop)
{
	struct vm *vm = opaque;

	if (!vm->balloon)
		return -ENODEV;
	return start ? virtio_balloon__hinting_start(vm->balloon, acknowledge_on_stop)
		     : virtio_balloon__hinting_stop(vm->balloon);
}

static void vm_ctl_shutdown(void *opaque)
{
	struct vm *vm = opaque;

	vm_request_stop(opaque, VMM_EXIT_OK, "shutdown requested through the API");
	if (vm->preboot)
		vm_preboot__stop(vm->preboot); /* the main thread may wait there */
}

static int vm_ctl_configure(void *opaque, const struct api_vm_config *change, char *err,
			    size_t err_len)
{
	struct vm *vm = opaque;

	/* A VM from its command line is configured and started already. */
	return vm->preboot ? vm_preboot__configure(vm->preboot, change, err, err_len) : -EALREADY;
}

static int vm_ctl_get_config(void *opaque, struct api_vm_config *out)
{
	struct vm *vm = opaque;

	if (vm->preboot)
		return vm_preboot__get_config(vm->preboot, out);
	return vm_config__export(vm->cfg, out); /* fixed since start */
}

static int vm_ctl_start(void *opaque, char *err, size_t err_len)
{
	struct vm *vm = opaque;

	return vm->preboot ? vm_preboot__start(vm->preboot, err, err_len) : -EALREADY;
}

/* Discards in flight complete before a pause is reported done (5 s at most). */
static int wait_discards(struct vm *vm)
{
	struct balloon_status st;

	for (unsigned int i = 0; vm->balloon && i < 500; i++) {
		virtio_balloon__get_status(vm->balloon, &st);
		if (st.discard.reports_in_flight == 0)
			return 0;
		usleep(10000);
	}
	return vm->balloon ? -ETIMEDOUT : 0;
}

/* PATCH /vm (API thread): park the vCPUs, hold the stats ticks, let discards finish. */
static int vm_ctl_set_paused(void *opaque, bool paused, char *err, size_t err_len)
{
	struct vm *vm = opaque;
	int ret = 0;

	if (!__atomic_load_n(&vm->booted, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	pthread_mutex_lock(&vm->pause_lock);
	if (paused && !__atomic_load_n(&vm->gate.paused, __ATOMIC_RELAXED)) {
		__atomic_store_n(&vm->balloon_wiring.paused, true, __ATOMIC_RELAXED);
		ret = vcpu_gate__pause(&vm->gate, vm->vcpus, vm->nr_vcpus_created);
		if (ret == 0)
			ret = wait_discards(vm);
		if (ret < 0) {
			vcpu_gate__resume(&vm->gate);
			__atomic_store_n(&vm->balloon_wiring.paused, false, __ATOMIC_RELAXED);
			snprintf(err, err_len, "pausing failed: %s", strerror(-ret));
		} else {
			log_info("paused (PATCH /vm): vCPUs parked, discards in flight completed");
		}
	} else if (!paused && __atomic_load_n(&vm->gate.paused, __ATOMIC_RELAXED)) {
		vcpu_gate__resume(&vm->gate);
		__atomic_store_n(&vm->balloon_wiring.paused, false, __ATOMIC_RELAXED);
		log_info("resumed (PATCH /vm)");
	}
	pthread_mutex_unlock(&vm->pause_lock);
	return ret;
}

static const struct vm_control_ops vm_control_ops = {
	.sample = vm_ctl_sample,
	.set_balloon_target = vm_ctl_set_balloon_target,
	.set_stats_interval = vm_ctl_set_stats_interval,
	.balloon_hinting = vm_ctl_balloon_hinting,
	.request_shutdown = vm_ctl_shutdown,
	.configure = vm_ctl_configure,
	.get_config = vm_ctl_get_config,
	.start = vm_ctl_start,
	.set_paused = vm_ctl_set_paused,
};

/* Runs on the API's setup thread before it creates the serving threads. */
static int vm_confine_api(void *opaque)
{
	return seccomp__install(SECCOMP_ROLE_API);
}

int vm_control__start(struct vm *vm)
{
	const struct vmm_config *cfg = vm->cfg;
	const struct api_config acfg = {
		.socket_path = cfg->api_socket,
		.metrics_listen = cfg->metrics_listen,
		.metrics_log_path = cfg->metrics_log,
		.interval_ms = cfg->metrics_interval_ms,
		.vmm_version = MINI_VMM_VERSION,
		.instance_id = cfg->id,
		.confine = vm_confine_api,
	};

	return api__start(&vm->api, &acfg, &vm_control_ops, vm);
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VM's state, shared by the files that assemble it: vm.c (setup, run,
 * teardown) and vm_control.c (what the control API reaches). Private to
 * vmm/: only those include it.
 */
#ifndef MINI_VMM_VM_INTERNAL_H
#define MINI_VMM_VM_INTERNAL_H

#include "base/event_loop.h"
#include "base/guest_mem.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "devices/testdev.h"
#include "devices/virtio_balloon.h"
#include "vmm/bus.h"
#include "vmm/coalesced_pio.h"
#include "vmm/config.h"
#include "vmm/kvm.h"
#include "vmm/reclaim_tracker.h"
#include "vmm/resident_meter.h"
#include "vmm/vcpu.h"
#include "vmm/vm_devices.h"
#include "vmm/vm_preboot.h"

#include <pthread.h>
#include <stdbool.h>
#include <termios.h>

struct api_server;

#define VM_MAX_VIRTIO	    4
#define RSS_SAMPLE_INTERVAL 50000000L /* ns: how often resident guest RAM is sampled */
#define SERIAL_TICK_MS	    10	      /* the longest a serial byte waits for its sink */

struct vm {
	const struct vmm_config *cfg;
	/* An API-configured VM (vm_preboot.h): cfg is filled before boot. NULL otherwise. */
	struct vm_preboot *preboot;
	bool booted; /* atomic: the devices exist (the API may sample them) */
	struct kvm kvm;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct event_loop loop;
	struct vcpu_env env;
	struct vcpu_gate gate;	    /* PATCH /vm: where the vCPUs park while paused */
	pthread_mutex_t pause_lock; /* one pause or resume at a time */
	struct vcpu vcpus[CONFIG_MAX_CPUS];
	unsigned int nr_vcpus_created;

	struct serial serial;
	int serial_out_fd;
	struct coalesced_pio coalesced_pio; /* THR writes while THRI is off (vmm/coalesced_pio.h) */
	int serial_timer_fd;		    /* drains it, flushes a file sink (vm.c) */
	struct i8042 i8042;
	struct testdev testdev;

	struct virtio_slot virtio[VM_MAX_VIRTIO];
	unsigned int nr_virtio;
	struct virtio_balloon *balloon;
	struct balloon_wiring balloon_wiring; /* its discard queue and stats timer on the loop */

	struct resident_meter resident; /* every reading of resident guest RAM */
	pthread_mutex_t tracker_lock;
	struct reclaim_tracker tracker;
	int sample_fd;
	int signal_fd;
	uint64_t t_start_ns;

	struct api_server *api; /* --api-socket, --metrics-listen, --metrics-log */

	/* An emulating KVM (kvm_pvm) and no --no-host-quirks: decided once at setup. */
	bool apply_host_quirks;

	pthread_mutex_t stop_lock;
	bool running; /* vCPUs started */
	bool stopping;
	int exit_status;

	bool tty_raw;
	struct termios saved_tty;
};

/* Any thread: stop the VM once, keeping the first reason's exit status (vm.c). */
void vm_request_stop(void *opaque, int status, const char *why);

/* vm_control.c: start the control API for vm (its ops are vm_control.c's). 0 or -errno. */
int vm_control__start(struct vm *vm);

#endif

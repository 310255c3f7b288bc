/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Before boot, Firecracker's way: mini-vmm started with an API socket and
 * no kernel waits, unconfigured, while the API's threads fill the VM's
 * configuration (PUT /machine-config, /boot-source, /balloon), until PUT
 * /actions InstanceStart. This is the handshake between those threads and
 * the main thread, which validates, builds and starts the VM, and answers.
 */
#ifndef MINI_VMM_VM_PREBOOT_H
#define MINI_VMM_VM_PREBOOT_H

#include "vmm/config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct api_vm_config;
struct vm_sample;

enum vm_preboot_phase {
	PREBOOT_CONFIGURING = 0, /* the API may change cfg */
	PREBOOT_START_ASKED,	 /* InstanceStart waits for the main thread */
	PREBOOT_STARTING,	 /* validated: the main thread builds the VM; cfg is fixed */
	PREBOOT_DONE,		 /* answered: started, or failed for good */
};

struct vm_preboot {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vmm_config *cfg; /* changed under lock, until PREBOOT_STARTING */
	enum vm_preboot_phase phase;
	bool answered;	 /* the main thread's answer to the InstanceStart waiting */
	int result;	 /* 0 or -errno */
	char err[400];	 /* why not */
	bool stop_asked; /* Shutdown, or a failed InstanceStart's answer is out */
	int wake_fd;	 /* eventfd: InstanceStart was asked */
};

int vm_preboot__init(struct vm_preboot *pb, struct vmm_config *cfg);
void vm_preboot__exit(struct vm_preboot *pb);

/* API threads (vm_control_ops). */
int vm_preboot__configure(struct vm_preboot *pb, const struct api_vm_config *change, char *err,
			  size_t err_len);
int vm_preboot__get_config(struct vm_preboot *pb, struct api_vm_config *out);
int vm_preboot__start(struct vm_preboot *pb, char *err, size_t err_len);
/* Fill what a sample can say before boot: state, vCPUs, guest RAM, backend. */
void vm_preboot__sample(struct vm_preboot *pb, struct vm_sample *s);

/*
 * Main thread: wait for an InstanceStart whose configuration validates
 * (answering those that do not), a signal on signal_fd, or a Shutdown. 0:
 * build the VM now (then vm_preboot__finish); 1: stop, *exit_status set;
 * -errno on a host failure.
 */
int vm_preboot__wait(struct vm_preboot *pb, int signal_fd, int *exit_status);
/* Main thread: answer the waiting InstanceStart (0: its vCPUs run). */
void vm_preboot__finish(struct vm_preboot *pb, int result, const char *err);
/*
 * API threads: stop (PUT /actions Shutdown before boot, or a failed
 * InstanceStart's answer is out or its client gone).
 */
void vm_preboot__stop(struct vm_preboot *pb);
/* Main thread, after a failed finish: wait (up to 2 s) for that answer to leave. */
void vm_preboot__wait_stop(struct vm_preboot *pb);

#endif

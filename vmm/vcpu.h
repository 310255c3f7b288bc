/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vCPUs: one thread each, running KVM_RUN and dispatching port I/O and MMIO
 * exits to the buses. Fatal exits are reported with RIP and the instruction
 * bytes; every stop goes through env->request_stop so the VM stops as one.
 */
#ifndef MINI_VMM_VCPU_H
#define MINI_VMM_VCPU_H

#include "base/guest_mem.h"
#include "vmm/bus.h"
#include "vmm/coalesced_pio.h"
#include "vmm/kvm.h"

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* mini-vmm's exit statuses; --help and docs/architecture.md list them. */
enum vmm_exit_status {
	VMM_EXIT_OK = 0,	    /* guest powered off, reset, or the exit port said pass */
	VMM_EXIT_ERROR = 1,	    /* VMM error (setup or host failure), with a message */
	VMM_EXIT_USAGE = 2,	    /* bad command line */
	VMM_EXIT_GUEST_FAILURE = 3, /* the guest reported failure through the exit port */
	VMM_EXIT_TRIPLE_FAULT = 4,  /* KVM_EXIT_SHUTDOWN: the guest triple-faulted */
	VMM_EXIT_VCPU_FATAL = 5,    /* emulation failure, failed entry, unknown exit */
	VMM_EXIT_SIGNAL_BASE = 128, /* stopped by SIGINT/SIGTERM: 128 + signal number */
};

/*
 * Where the vCPUs wait while the VM is paused (PATCH /vm): before each
 * KVM_RUN a vCPU parks here while `paused`, counted in `parked`.
 */
struct vcpu_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool paused;	     /* under lock; read without it by the vCPUs (atomic) */
	unsigned int parked; /* vCPUs waiting at the gate */
};

struct vcpu_env {
	struct kvm *kvm;
	const struct guest_mem *mem;
	struct bus *pio;
	struct bus *mmio;
	unsigned int nr_vcpus;
	bool hide_pv_hypercalls; /* host quirk: no PV features that need vmcall */
	/* Ask the whole VM to stop with `status`; the first caller's status wins. */
	void (*request_stop)(void *opaque, int status, const char *why);
	void *opaque;
	struct vcpu_gate *gate; /* NULL: never paused */
	/* Port writes waiting in KVM's ring: drained before every exit is handled. NULL: none */
	struct coalesced_pio *coalesced_pio;
};

struct vcpu_stats {
	uint64_t exits_io;
	uint64_t exits_mmio;
	uint64_t exits_intr;
	uint64_t exits_other;
};

struct vcpu {
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	volatile bool stop;
	const struct vcpu_env *env;
	struct vcpu_stats stats;
};

/* Create vCPU `id`: CPUID from KVM_GET_SUPPORTED_CPUID with its APIC id, LAPIC LINTs, FPU. */
int vcpu__init(struct vcpu *vcpu, const struct vcpu_env *env, unsigned int id);
/* Load boot registers into the boot vCPU (before vcpu__start). */
int vcpu__set_regs(struct vcpu *vcpu, const struct kvm_regs *regs, const struct kvm_sregs *sregs);
int vcpu__get_sregs(struct vcpu *vcpu, struct kvm_sregs *sregs);
int vcpu__start(struct vcpu *vcpu);
/* Make KVM_RUN return and the thread exit (from any thread). */
void vcpu__kick(struct vcpu *vcpu);
void vcpu__join(struct vcpu *vcpu);
void vcpu__exit(struct vcpu *vcpu);
/* One line: run state, RIP and exit counts (the thread must have stopped). */
void vcpu__log_state(struct vcpu *vcpu);

void vcpu_gate__init(struct vcpu_gate *g);
void vcpu_gate__destroy(struct vcpu_gate *g);
/*
 * Pause: every started vCPU leaves KVM_RUN and parks at the gate; returns
 * once all n have (0), or -ETIMEDOUT after 5 s, or -ECANCELED if one of
 * them is stopping. Any thread but a vCPU's.
 */
int vcpu_gate__pause(struct vcpu_gate *g, struct vcpu *vcpus, unsigned int n);
/* Resume: the parked vCPUs run again. */
void vcpu_gate__resume(struct vcpu_gate *g);

/* Install the (empty) signal handler used to kick vCPUs out of KVM_RUN. Once per process. */
int vcpu__setup_kick_signal(void);

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU threads: CPUID, LAPIC LINT0/1, the KVM_RUN loop, port-I/O and MMIO
 * dispatch, and fatal exits reported with RIP and instruction bytes.
 */
#define _GNU_SOURCE
#include "vmm/vcpu.h"

#include "base/log.h"
#include "vmm/seccomp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define VCPU_KICK_SIGNAL SIGUSR1

/* LAPIC register offsets and LVT delivery modes (Intel SDM vol. 3, 10.5.1). */
#define APIC_LVT_LINT0	 0x350
#define APIC_LVT_LINT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

#define CPUID_1_ECX_TSC_DEADLINE (1U << 24)
#define CPUID_1_ECX_HYPERVISOR	 (1U << 31)

/* KVM's paravirt feature leaf and the features that are hypercalls (vmcall). */
#define CPUID_KVM_FEATURES	       0x40000001
#define KVM_FEATURE_PV_SEND_IPI_BIT    11
#define KVM_FEATURE_PV_SCHED_YIELD_BIT 13

static void kick_handler(int sig)
{
	(void)sig; /* Only there so the signal interrupts KVM_RUN with EINTR. */
}

int vcpu__setup_kick_signal(void)
{
	struct sigaction sa = {.sa_handler = kick_handler};

	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

static int setup_cpuid(struct vcpu *vcpu)
{
	const struct kvm_cpuid2 *src = vcpu->env->kvm->supported_cpuid;
	size_t bytes = sizeof(*src) + src->nent * sizeof(src->entries[0]);
	struct kvm_cpuid2 *cpuid = malloc(bytes);
	int ret = 0;

	if (!cpuid)
		return -ENOMEM;
	memcpy(cpuid, src, bytes);
	for (unsigned int i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		switch (e->function) {
		case 1:
			/* Initial APIC id in EBX[31:24]; say we are a guest. */
			e->ebx = (e->ebx & 0x00ffffff) | (vcpu->id << 24);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			/*
			 * KVM_GET_SUPPORTED_CPUID leaves the TSC-deadline bit out
			 * (its LAPIC is the VMM's choice); with the in-kernel LAPIC
			 * emulating it, say so. Without it Linux calibrates the
			 * LAPIC timer at boot, which took 2 s of a guest's boot
			 * in the nested host (issue #13), and then programs the
			 * timer through one-shot counts.
			 */
			if (vcpu->env->kvm->has_tsc_deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			break;
		case CPUID_KVM_FEATURES:
			/*
			 * On an emulating host a vmcall from the guest kernel never
			 * completes (measured: an AP spun in kvm_hypercall4, the
			 * PV send-IPI, and SMP boot hung). Hiding these two makes
			 * Linux use ordinary APIC IPIs and yields.
			 */
			if (vcpu->env->hide_pv_hypercalls)
				e->eax &= ~((1U << KVM_FEATURE_PV_SEND_IPI_BIT) |
					    (1U << KVM_FEATURE_PV_SCHED_YIELD_BIT));
			break;
		case 0xb:
		case 0x1f:
			/* x2APIC id of this vCPU. */
			e->edx = vcpu->id;
			break;
		default:
			break;
		}
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0) {
		ret = -errno;
		log_error("vCPU %u: KVM_SET_CPUID2: %s", vcpu->id, strerror(errno));
	}
	free(cpuid);
	return ret;
}

static void set_lvt_mode(struct kvm_lapic_state *lapic, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &lapic->regs[reg], sizeof(v));
	v = (v & ~0x700U) | (mode << 8);
	memcpy(&lapic->regs[reg], &v, sizeof(v));
}

static int setup_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;

	/* As on a PC: LINT0 takes the 8259's ExtINT, LINT1 the NMI. */
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	set_lvt_mode(&lapic, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	set_lvt_mode(&lapic, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

static int setup_fpu(struct vcpu *vcpu)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};

	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

int vcpu__init(struct vcpu *vcpu, const struct vcpu_env *env, unsigned int id)
{
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->id = id;
	vcpu->env = env;
	vcpu->fd = ioctl(env->kvm->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0) {
		ret = -errno;
		log_error("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return ret;
	}
	vcpu->run = mmap(NULL, (size_t)env->kvm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		log_error("vCPU %u: mmap of kvm_run: %s", id, strerror(errno));
		vcpu->run = NULL;
		goto err;
	}
	ret = setup_cpuid(vcpu);
	if (ret < 0)
		goto err;
	ret = setup_lapic(vcpu);
	if (ret < 0) {
		log_error("vCPU %u: LAPIC setup: %s", id, strerror(-ret));
		goto err;
	}
	ret = setup_fpu(vcpu);
	if (ret < 0) {
		log_error("vCPU %u: KVM_SET_FPU: %s", id, strerror(-ret));
		goto err;
	}
	return 0;
err:
	vcpu__exit(vcpu);
	return ret;
}

int vcpu__set_regs(struct vcpu *vcpu, const struct kvm_regs *regs, const struct kvm_sregs *sregs)
{
	if (ioctl(vcpu->fd, KVM_SET_SREGS, sregs) < 0 || ioctl(vcpu->fd, KVM_SET_REGS, regs) < 0) {
		int err = -errno;

		log_error("vCPU %u: setting boot registers: %s", vcpu->id, strerror(errno));
		return err;
	}
	return 0;
}

int vcpu__get_sregs(struct vcpu *vcpu, struct kvm_sregs *sregs)
{
	if (ioctl(vcpu->fd, KVM_GET_SREGS, sregs) < 0)
		return -errno;
	return 0;
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	vcpu->stats.exits_io++;
	/* `rep ins/outs` arrive as count > 1 items of `size` bytes each. */
	for (uint32_t i = 0; i < run->io.count; i++) {
		bus__dispatch(vcpu->env->pio, run->io.port, data, run->io.size, is_write);
		data += run->io.size;
	}
	if (vcpu->env->coalesced_pio)
		coalesced_pio__after_access(vcpu->env->coalesced_pio, run->io.port);
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	vcpu->stats.exits_mmio++;
	if (run->mmio.len > sizeof(run->mmio.data))
		return;
	bus__dispatch(vcpu->env->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
		      run->mmio.is_write);
}

/*
 * Read `len` bytes at a guest linear address, through the guest's own page
 * tables (KVM_TRANSLATE); the range must not cross a page. 0, or -1 when
 * unmapped or outside RAM.
 */
static int read_linear(struct vcpu *vcpu, uint64_t linear, void *buf, uint64_t len)
{
	struct kvm_translation tr = {.linear_address = linear};

	if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return -1;
	return guest_mem__read(vcpu->env->mem, tr.physical_address, buf, len) < 0 ? -1 : 0;
}

/* "0x...(gpa 0x...)" or "0x...(unmapped)": the guest's own page tables, walked by KVM. */
static void describe_linear(struct vcpu *vcpu, uint64_t linear, char *out, size_t len)
{
	struct kvm_translation tr = {.linear_address = linear};

	if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) == 0 && tr.valid)
		snprintf(out, len, "0x%llx (gpa 0x%llx)", (unsigned long long)linear,
			 (unsigned long long)tr.physical_address);
	else
		snprintf(out, len, "0x%llx (unmapped)", (unsigned long long)linear);
}

/*
 * The rest of the state a triple fault is diagnosed from: the stack, the
 * last page-fault address, the descriptor tables (and whether the guest's
 * page tables still map them, read now from guest RAM) and the event KVM
 * was delivering. A guest whose tables read intact here yet faulted
 * delivering an exception points at the host's paging, not the guest's.
 */
static void report_machine_state(struct vcpu *vcpu, const struct kvm_regs *regs,
				 const struct kvm_sregs *sregs)
{
	struct kvm_vcpu_events ev;
	char rsp[64], idt[64], gdt[64], events[96] = "unavailable";

	describe_linear(vcpu, regs->rsp, rsp, sizeof(rsp));
	describe_linear(vcpu, sregs->idt.base, idt, sizeof(idt));
	describe_linear(vcpu, sregs->gdt.base, gdt, sizeof(gdt));
	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) == 0)
		snprintf(events, sizeof(events),
			 "exception %s vector %u error 0x%x, interrupt %s vector %u, nmi %s",
			 ev.exception.injected ? "injected" : "none", ev.exception.nr,
			 ev.exception.error_code, ev.interrupt.injected ? "injected" : "none",
			 ev.interrupt.nr, ev.nmi.injected ? "injected" : "none");
	log_error("vCPU %u: RSP %s RFLAGS 0x%llx CR2 0x%llx CR4 0x%llx EFER 0x%llx; "
		  "IDT %s limit 0x%x; GDT %s limit 0x%x; events: %s",
		  vcpu->id, rsp, (unsigned long long)regs->rflags, (unsigned long long)sregs->cr2,
		  (unsigned long long)sregs->cr4, (unsigned long long)sregs->efer, idt,
		  sregs->idt.limit, gdt, sregs->gdt.limit, events);
	/* The gates a triple fault goes through (#DF, #GP, #PF), as guest RAM holds them now. */
	if (sregs->efer & (1 << 10)) {
		static const unsigned int vectors[] = {8, 13, 14};
		char gates[3][40];

		for (unsigned int i = 0; i < 3; i++) {
			uint64_t gate[2];

			if (read_linear(vcpu, sregs->idt.base + 16ULL * vectors[i], gate,
					sizeof(gate)) == 0)
				snprintf(gates[i], sizeof(gates[i]), "%016llx:%016llx",
					 (unsigned long long)gate[1], (unsigned long long)gate[0]);
			else
				snprintf(gates[i], sizeof(gates[i]), "unreadable");
		}
		log_error("vCPU %u: IDT gates now: #DF %s, #GP %s, #PF %s", vcpu->id, gates[0],
			  gates[1], gates[2]);
	}
}

/* Print RIP, the mode and the bytes at RIP, so an emulation failure can be named. */
static void report_fatal(struct vcpu *vcpu, const char *what)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_translation tr;
	char bytes[3 * 16 + 1] = "unavailable";

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
		log_error("vCPU %u: %s (registers unavailable: %s)", vcpu->id, what,
			  strerror(errno));
		return;
	}
	tr = (struct kvm_translation){.linear_address = sregs.cs.base + regs.rip};
	if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) == 0 && tr.valid) {
		uint8_t insn[16];
		uint64_t len = sizeof(insn);

		/* Stop at the page end: the next page may not be mapped. */
		if ((tr.physical_address & 4095) + len > 4096)
			len = 4096 - (tr.physical_address & 4095);
		/* A hugetlbfs page the guest discarded is refaulted here: populate first. */
		if (guest_mem__prefault(vcpu->env->mem, tr.physical_address, len) == 0 &&
		    guest_mem__read(vcpu->env->mem, tr.physical_address, insn, len) == 0) {
			for (uint64_t i = 0; i < len; i++)
				snprintf(bytes + 3 * i, sizeof(bytes) - 3 * i, "%02x ", insn[i]);
		}
	}
	log_error("vCPU %u: %s at RIP 0x%llx (CS base 0x%llx, %s mode, CR0 0x%llx CR3 0x%llx); "
		  "instruction bytes: %s",
		  vcpu->id, what, (unsigned long long)regs.rip, (unsigned long long)sregs.cs.base,
		  (sregs.efer & (1 << 10)) ? "long"
		  : (sregs.cr0 & 1)	   ? "protected"
					   : "real",
		  (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr3, bytes);
	report_machine_state(vcpu, &regs, &sregs);
}

static void handle_internal_error(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[256];
	int n;

	n = snprintf(what, sizeof(what),
		     "KVM_EXIT_INTERNAL_ERROR suberror %u%s, data:", run->internal.suberror,
		     run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			     ? " (instruction emulation failed; see docs/host-quirks.md)"
			     : "");
	for (uint32_t i = 0; i < run->internal.ndata && i < 16 && n < (int)sizeof(what); i++)
		n += snprintf(what + n, sizeof(what) - (size_t)n, " 0x%llx",
			      (unsigned long long)run->internal.data[i]);
	report_fatal(vcpu, what);
}

/* Returns true when the vCPU must stop. */
static bool handle_exit(struct vcpu *vcpu)
{
	const struct vcpu_env *env = vcpu->env;
	struct kvm_run *run = vcpu->run;
	char what[128];

	/* Writes the guest made before this exit reach their device first. */
	if (env->coalesced_pio)
		coalesced_pio__drain(env->coalesced_pio);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return false;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return false;
	case KVM_EXIT_INTR:
		vcpu->stats.exits_intr++;
		return false;
	case KVM_EXIT_SHUTDOWN:
		report_fatal(vcpu, "guest triple fault (KVM_EXIT_SHUTDOWN)");
		env->request_stop(env->opaque, VMM_EXIT_TRIPLE_FAULT, "guest triple fault");
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			env->request_stop(env->opaque, VMM_EXIT_OK, "guest powered off");
			break;
		case KVM_SYSTEM_EVENT_RESET:
			env->request_stop(env->opaque, VMM_EXIT_OK, "guest reset");
			break;
		default:
			snprintf(what, sizeof(what), "system event %u", run->system_event.type);
			env->request_stop(env->opaque, VMM_EXIT_VCPU_FATAL, what);
		}
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		handle_internal_error(vcpu);
		env->request_stop(env->opaque, VMM_EXIT_VCPU_FATAL, "vCPU internal error");
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "KVM_EXIT_FAIL_ENTRY, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		report_fatal(vcpu, what);
		env->request_stop(env->opaque, VMM_EXIT_VCPU_FATAL, "vCPU entry failed");
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours has one, so a halt here is final. */
		env->request_stop(env->opaque, VMM_EXIT_OK, "guest halted");
		return true;
	default:
		vcpu->stats.exits_other++;
		snprintf(what, sizeof(what), "unknown exit reason %u", run->exit_reason);
		report_fatal(vcpu, what);
		env->request_stop(env->opaque, VMM_EXIT_VCPU_FATAL, what);
		return true;
	}
}

/* Park while the VM is paused; a stop (vcpu__kick) wakes it too. */
static void gate_wait(struct vcpu *vcpu)
{
	struct vcpu_gate *g = vcpu->env->gate;

	pthread_mutex_lock(&g->lock);
	g->parked++;
	pthread_cond_broadcast(&g->cond);
	while (g->paused && !vcpu->stop)
		pthread_cond_wait(&g->cond, &g->lock);
	g->parked--;
	pthread_mutex_unlock(&g->lock);
}

void vcpu_gate__init(struct vcpu_gate *g)
{
	*g = (struct vcpu_gate){0};
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
}

void vcpu_gate__destroy(struct vcpu_gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

int vcpu_gate__pause(struct vcpu_gate *g, struct vcpu *vcpus, unsigned int n)
{
	struct timespec deadline;
	int ret = 0;

	pthread_mutex_lock(&g->lock);
	__atomic_store_n(&g->paused, true, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&g->lock);
	/*
	 * Out of KVM_RUN: paused is stored before immediate_exit, so a vCPU
	 * that clears immediate_exit after an EINTR sees paused when it loops.
	 */
	for (unsigned int i = 0; i < n; i++) {
		__atomic_store_n(&vcpus[i].run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (vcpus[i].thread_started)
			pthread_kill(vcpus[i].thread, VCPU_KICK_SIGNAL);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&g->lock);
	while (g->parked < n && ret == 0) {
		for (unsigned int i = 0; i < n; i++)
			if (vcpus[i].stop || !vcpus[i].thread_started)
				ret = -ECANCELED;
		if (ret == 0 && pthread_cond_timedwait(&g->cond, &g->lock, &deadline) == ETIMEDOUT)
			ret = g->parked < n ? -ETIMEDOUT : 0;
	}
	pthread_mutex_unlock(&g->lock);
	if (ret < 0)
		vcpu_gate__resume(g);
	return ret;
}

void vcpu_gate__resume(struct vcpu_gate *g)
{
	pthread_mutex_lock(&g->lock);
	__atomic_store_n(&g->paused, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	/* Only vCPU threads take the kick signal; it must not be blocked here. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (seccomp__install(SECCOMP_ROLE_VCPU) < 0) {
		vcpu->env->request_stop(vcpu->env->opaque, VMM_EXIT_ERROR,
					"could not install the vCPU seccomp filter");
		return NULL;
	}

	while (!vcpu->stop) {
		if (vcpu->env->gate &&
		    __atomic_load_n(&vcpu->env->gate->paused, __ATOMIC_SEQ_CST)) {
			gate_wait(vcpu);
			continue;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			log_error("vCPU %u: KVM_RUN: %s", vcpu->id, strerror(errno));
			vcpu->env->request_stop(vcpu->env->opaque, VMM_EXIT_ERROR,
						"KVM_RUN failed");
			break;
		}
		if (handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu__start(struct vcpu *vcpu)
{
	int ret = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);

	if (ret) {
		log_error("vCPU %u: pthread_create: %s", vcpu->id, strerror(ret));
		return -ret;
	}
	vcpu->thread_started = true;
	return 0;
}

void vcpu__kick(struct vcpu *vcpu)
{
	struct vcpu_gate *g = vcpu->env ? vcpu->env->gate : NULL;

	vcpu->stop = true;
	if (vcpu->run)
		vcpu->run->immediate_exit = 1;
	if (vcpu->thread_started)
		pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
	if (g) { /* a parked vCPU wakes to stop */
		pthread_mutex_lock(&g->lock);
		pthread_cond_broadcast(&g->cond);
		pthread_mutex_unlock(&g->lock);
	}
}

void vcpu__join(struct vcpu *vcpu)
{
	if (vcpu->thread_started) {
		pthread_join(vcpu->thread, NULL);
		vcpu->thread_started = false;
	}
}

/* x86-64 Linux: the kernel image is mapped at [-2 GiB, -1 GiB), modules above. */
#define KERNEL_TEXT_START 0xffffffff80000000ULL
#define STACK_SCAN_WORDS  64
#define STACK_TEXT_MAX	  16
#define STACK_KERNEL_CS	  0x10 /* Linux x86-64 __KERNEL_CS */
#define X86_RFLAGS_FIXED  0x2  /* bit 1 always reads 1 */
#define X86_RFLAGS_IF	  0x200

/*
 * The words on a stopped vCPU's kernel stack that point into kernel text,
 * innermost first: what a "guess" unwinder would print, and enough to name a
 * hung guest's call chain with the kernel's System.map (the boot tier's
 * scripts do). Reads at most STACK_SCAN_WORDS words, through the guest's
 * own page tables, page by page; stops at the first unmapped page.
 */
static void log_stack_text(struct vcpu *vcpu, const struct kvm_regs *regs)
{
	char out[STACK_TEXT_MAX * 48 + 1] = "";
	uint64_t words[STACK_SCAN_WORDS];
	unsigned int n = 0, found = 0;
	uint64_t rsp = regs->rsp & ~7ULL;
	size_t used = 0;

	while (n < STACK_SCAN_WORDS && read_linear(vcpu, rsp + 8ULL * n, &words[n], 8) == 0)
		n++;
	for (unsigned int i = 0; i < n && found < STACK_TEXT_MAX; i++) {
		if (words[i] < KERNEL_TEXT_START)
			continue;
		used += (size_t)snprintf(out + used, sizeof(out) - used, " %llx",
					 (unsigned long long)words[i]);
		found++;
		/*
		 * An interrupt or exception frame (RIP, CS, RFLAGS, RSP, SS) with
		 * Linux's kernel CS: say whether the interrupted code had
		 * interrupts enabled. A hung guest spinning on a lock its own
		 * interrupted code holds is either a guest bug or an interrupt
		 * delivered with IF clear.
		 */
		if (i + 2 < n && words[i + 1] == STACK_KERNEL_CS &&
		    (words[i + 2] & X86_RFLAGS_FIXED) && words[i + 2] < (1ULL << 22))
			used += (size_t)snprintf(
				out + used, sizeof(out) - used, " [frame RFLAGS 0x%llx IF=%d]",
				(unsigned long long)words[i + 2], !!(words[i + 2] & X86_RFLAGS_IF));
	}
	if (found)
		log_info("vCPU %u: kernel text on its stack (RSP 0x%llx):%s", vcpu->id,
			 (unsigned long long)regs->rsp, out);
}

void vcpu__log_state(struct vcpu *vcpu)
{
	static const char *const mp_names[] = {"runnable", "uninitialized", "init-received",
					       "halted",   "sipi-received", "stopped"};
	struct kvm_mp_state mp = {0};
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) < 0 || ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
		return;
	log_info("vCPU %u: %s, RIP 0x%llx, RFLAGS 0x%llx (IF=%d), exits: %llu io, %llu mmio",
		 vcpu->id,
		 mp.mp_state < sizeof(mp_names) / sizeof(mp_names[0]) ? mp_names[mp.mp_state]
								      : "unknown",
		 (unsigned long long)regs.rip, (unsigned long long)regs.rflags,
		 !!(regs.rflags & X86_RFLAGS_IF), (unsigned long long)vcpu->stats.exits_io,
		 (unsigned long long)vcpu->stats.exits_mmio);
	if (mp.mp_state == KVM_MP_STATE_RUNNABLE && regs.rip >= KERNEL_TEXT_START)
		log_stack_text(vcpu, &regs);
}

void vcpu__exit(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->env->kvm->vcpu_mmap_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The VM: assembles KVM, guest RAM, the buses, the legacy devices, the
 * balloon and the vCPUs from a vmm_config (given, or filled through the API
 * before boot: vm_preboot.c); the device loop; teardown in order
 * (vm_devices.c wires the virtio devices, vm_control.c is what the control
 * API reaches, vm_sample.c fills its samples).
 */
#define _GNU_SOURCE
#include "vmm/vm.h"
#include "vmm/vm_internal.h"

#include "base/clock.h"
#include "base/event_loop.h"
#include "base/guest_mem.h"
#include "base/layout.h"
#include "base/log.h"
#include "control/api.h"
#include "devices/i8042.h"
#include "devices/serial.h"
#include "devices/testdev.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_mmio.h"
#include "vmm/boot_setup.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/loader.h"
#include "vmm/mptable.h"
#include "vmm/privs.h"
#include "vmm/quirks.h"
#include "vmm/reclaim_tracker.h"
#include "vmm/resident_meter.h"
#include "vmm/seccomp.h"
#include "vmm/vcpu.h"
#include "vmm/vm_devices.h"
#include "vmm/vm_sample.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Any thread: stop the VM once, keeping the first reason's exit status. */
void vm_request_stop(void *opaque, int status, const char *why)
{
	struct vm *vm = opaque;

	pthread_mutex_lock(&vm->stop_lock);
	if (!vm->stopping) {
		vm->stopping = true;
		vm->exit_status = status;
		log_info("stopping: %s (exit status %d)", why, status);
		event_loop__stop(&vm->loop);
		for (unsigned int i = 0; i < vm->nr_vcpus_created; i++)
			vcpu__kick(&vm->vcpus[i]);
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

/* --- legacy devices ------------------------------------------------------ */

static void serial_set_irq(void *opaque, int level)
{
	struct vm *vm = opaque;

	kvm__irq_line(&vm->kvm, IRQ_SERIAL_COM1, level);
}

static void i8042_reset(void *opaque)
{
	vm_request_stop(opaque, VMM_EXIT_OK, "guest reset through the keyboard controller");
}

static void testdev_exit(void *opaque, uint32_t code)
{
	char why[64];

	if (code == 0) {
		vm_request_stop(opaque, VMM_EXIT_OK, "guest exit port: pass");
		return;
	}
	snprintf(why, sizeof(why), "guest exit port: failure code %u", code);
	vm_request_stop(opaque, VMM_EXIT_GUEST_FAILURE, why);
}

/*
 * A vCPU thread, at the guest's pace: the log lines are rate-limited
 * (base/log.h) and the RSS reading is rationed (resident_meter.h), so a
 * guest writing markers in a loop costs the host neither its logs nor CPU.
 */
static void testdev_marker(void *opaque, unsigned int phase, uint32_t arg)
{
	struct vm *vm = opaque;
	uint64_t rss = resident_meter__read(&vm->resident, 0);
	uint64_t t = clock__mono_ns();
	char line[160];
	bool done;

	pthread_mutex_lock(&vm->tracker_lock);
	done = reclaim_tracker__marker(&vm->tracker, phase, arg, t, rss);
	if (done)
		reclaim_tracker__format(&vm->tracker, line, sizeof(line));
	pthread_mutex_unlock(&vm->tracker_lock);
	log_ratelimited(LOG_INFO, "guest marker: phase=%s arg=%u guest_rss_mib=%llu t=%.3f",
			testdev__phase_name(phase), arg, (unsigned long long)(rss >> 20),
			(double)(t - vm->t_start_ns) / 1e9);
	if (done)
		log_ratelimited(LOG_INFO, "%s", line);
}

/* The test device's clock port: the tiny guests bound their waits with it. */
static uint64_t testdev_clock(void *opaque)
{
	return clock__mono_ns();
}

/*
 * A periodic timer on the device loop: *fd is its timerfd (closed at
 * teardown), cb runs every interval_ns (below 1 s). 0 or -errno.
 */
static int add_periodic_timer(struct vm *vm, long interval_ns, event_cb cb, int *fd)
{
	struct itimerspec its = {
		.it_interval = {.tv_nsec = interval_ns},
		.it_value = {.tv_nsec = interval_ns},
	};

	*fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (*fd < 0 || timerfd_settime(*fd, 0, &its, NULL) < 0)
		return -errno;
	return event_loop__add(&vm->loop, *fd, EPOLLIN, cb, vm);
}

static void sample_rss(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t expirations;

	if (read(vm->sample_fd, &expirations, sizeof(expirations)) < 0)
		return;
	pthread_mutex_lock(&vm->tracker_lock);
	if (reclaim_tracker__active(&vm->tracker))
		reclaim_tracker__sample(&vm->tracker, clock__mono_ns(),
					resident_meter__read(&vm->resident, 0));
	pthread_mutex_unlock(&vm->tracker_lock);
}

static bool serial_may_coalesce(void *opaque)
{
	struct vm *vm = opaque;

	return !serial__tx_irq_enabled(&vm->serial);
}

static int serial_coalesce_zone(void *opaque, uint16_t port, uint16_t len, bool on)
{
	struct vm *vm = opaque;

	return kvm__coalesced_pio_zone(&vm->kvm, port, len, on);
}

/* Every SERIAL_TICK_MS on the device thread: what the guest wrote reaches the sink. */
static void serial_tick(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t expirations;

	if (read(vm->serial_timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	if (vm->env.coalesced_pio)
		coalesced_pio__drain(&vm->coalesced_pio);
	serial__flush(&vm->serial);
}

/*
 * The UART's THR writes wait in KVM's coalesced ring while its THR-empty
 * interrupt is off (vmm/coalesced_pio.h). Needs the vCPUs' kvm_run mapping,
 * where the ring is. Without KVM_CAP_COALESCED_PIO, or with
 * --no-serial-coalescing, every write exits as before.
 */
static void setup_serial_coalescing(struct vm *vm)
{
	long page = sysconf(_SC_PAGESIZE);
	struct coalesced_pio_setup setup = {
		.bus = &vm->pio,
		.port = PORT_SERIAL_COM1 + UART_THR,
		.len = 1,
		.dev_base = PORT_SERIAL_COM1,
		.dev_len = SERIAL_PIO_LEN,
		.set_zone = serial_coalesce_zone,
		.zone_opaque = vm,
		.allowed = serial_may_coalesce,
		.allowed_opaque = vm,
	};

	if (!vm->cfg->serial_coalescing || !vm->kvm.coalesced_pio_page ||
	    vm->kvm.vcpu_mmap_size < (vm->kvm.coalesced_pio_page + 1) * page)
		return;
	setup.ring = (struct kvm_coalesced_mmio_ring *)((char *)vm->vcpus[0].run +
							vm->kvm.coalesced_pio_page * page);
	setup.ring_max = (uint32_t)(((size_t)page - sizeof(struct kvm_coalesced_mmio_ring)) /
				    sizeof(struct kvm_coalesced_mmio));
	/* On failure coalesced_pio said why; the guest runs, each byte exits as before. */
	if (coalesced_pio__init(&vm->coalesced_pio, &setup) < 0)
		return;
	vm->env.coalesced_pio = &vm->coalesced_pio;
	log_debug("serial: THR writes coalesced while THRI is off (ring of %u entries)",
		  setup.ring_max);
}

/*
 * The serial's timer: drains the coalesced ring (a guest that went idle
 * right after writing) and writes out a file sink's unfinished line.
 */
static int setup_serial_timer(struct vm *vm)
{
	int ret;

	setup_serial_coalescing(vm);
	if (!vm->env.coalesced_pio && !vm->serial.out_is_file)
		return 0;
	ret = add_periodic_timer(vm, SERIAL_TICK_MS * 1000000L, serial_tick, &vm->serial_timer_fd);
	if (ret < 0)
		log_error("serial: timerfd: %s", strerror(-ret));
	return ret;
}

static void stdin_ready(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint8_t buf[64];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n > 0) {
		serial__receive(&vm->serial, buf, (size_t)n);
		return;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		event_loop__del(&vm->loop, STDIN_FILENO); /* EOF: the guest gets no more input */
}

static void signal_ready(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;
	char why[64];

	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	snprintf(why, sizeof(why), "received %s", strsignal((int)si.ssi_signo));
	vm_request_stop(vm, VMM_EXIT_SIGNAL_BASE + (int)si.ssi_signo, why);
}

static void tty_raw(struct vm *vm)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &vm->saved_tty) < 0)
		return;
	raw = vm->saved_tty;
	/* Bytes go to the guest as typed; ISIG stays so Ctrl-C still stops mini-vmm. */
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | IEXTEN);
	raw.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		vm->tty_raw = true;
}

static int setup_legacy_devices(struct vm *vm)
{
	const struct vmm_config *cfg = vm->cfg;
	int ret;

	vm->serial_out_fd = -1;
	if (cfg->serial == SERIAL_STDIO) {
		vm->serial_out_fd = STDOUT_FILENO;
	} else if (cfg->serial == SERIAL_FILE) {
		vm->serial_out_fd =
			open(cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (vm->serial_out_fd < 0) {
			log_error("--serial file:%s: %s", cfg->serial_path, strerror(errno));
			return -errno;
		}
	}
	ret = serial__init(&vm->serial, vm->serial_out_fd, serial_set_irq, vm);
	if (ret < 0)
		return ret;
	ret = bus__register(&vm->pio, PORT_SERIAL_COM1, SERIAL_PIO_LEN, serial__io, &vm->serial,
			    "serial");
	if (ret < 0)
		return ret;
	if (cfg->serial == SERIAL_STDIO) {
		fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
		if (event_loop__add(&vm->loop, STDIN_FILENO, EPOLLIN, stdin_ready, vm) == 0)
			tty_raw(vm);
	}

	i8042__init(&vm->i8042, i8042_reset, vm);
	ret = bus__register(&vm->pio, PORT_I8042_DATA, 1, i8042__data_io, &vm->i8042, "i8042");
	if (ret == 0)
		ret = bus__register(&vm->pio, PORT_I8042_CMD, 1, i8042__cmd_io, &vm->i8042,
				    "i8042");
	if (ret < 0)
		return ret;

	testdev__init(&vm->testdev, testdev_exit, testdev_marker, testdev_clock, vm);
	/* One range for 0xf4..0xfc: the 4-byte marker (0xf5) and clock (0xf9) span four ports. */
	ret = bus__register(&vm->pio, TESTDEV_PIO_BASE, TESTDEV_PIO_LEN, testdev__io, &vm->testdev,
			    "testdev");
	return ret;
}

/* --- virtio-mmio slots (vmm/vm_devices.c) ---------------------------------- */

static int add_virtio_device(struct vm *vm, struct virtio_device *vdev)
{
	int ret;

	if (vm->nr_virtio >= VM_MAX_VIRTIO)
		return -ENOSPC;
	ret = vm_devices__add_virtio(&vm->virtio[vm->nr_virtio], vm->nr_virtio, vdev, &vm->kvm,
				     &vm->mmio, &vm->loop, &vm->mem);
	if (ret < 0)
		return ret;
	vm->nr_virtio++;
	return 0;
}

/*
 * Runs first on the balloon's discard page worker (its config carries it,
 * below), which the balloon starts during setup, before the main thread
 * drops its capabilities: capabilities and seccomp filters are per thread,
 * so the worker drops and confines itself.
 */
static int vm_confine_discard_worker(void *opaque, int pidfd)
{
	int ret = privs__drop_all();

	if (ret < 0)
		return ret;
	seccomp__allow_process_madvise(pidfd);
	return seccomp__install(SECCOMP_ROLE_DISCARD);
}

static int setup_balloon(struct vm *vm)
{
	const struct vmm_config *cfg = vm->cfg;
	struct balloon_config bcfg;
	char err[256];
	int ret;

	/* --balloon-reporting alone means the defaults: reporting on, discard=auto. */
	balloon_config__default(&bcfg);
	if (cfg->balloon_opts) {
		ret = balloon_config__parse(cfg->balloon_opts, &bcfg, err, sizeof(err));
		if (ret < 0) {
			log_error("--balloon: %s", err);
			return ret;
		}
	}
	if (cfg->balloon_reporting)
		bcfg.reporting = true;
	bcfg.discard_worker = (struct discard_worker_setup){.fn = vm_confine_discard_worker};
	vm->balloon = calloc(1, sizeof(*vm->balloon));
	if (!vm->balloon)
		return -ENOMEM;
	ret = virtio_balloon__init(vm->balloon, &bcfg, &vm->mem);
	if (ret < 0)
		return ret;
	ret = vm_devices__wire_balloon(&vm->balloon_wiring, vm->balloon, &vm->loop);
	if (ret < 0)
		return ret;
	return add_virtio_device(vm, &vm->balloon->vdev);
}

/* --- boot ---------------------------------------------------------------- */

static int load_guest(struct vm *vm)
{
	const struct vmm_config *cfg = vm->cfg;
	char devices[512] = "", *cmdline;
	struct boot_info bi;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	bool emulating = vm->apply_host_quirks;
	size_t used = 0;
	int ret;

	ret = loader__load_kernel_file(&vm->mem, cfg->kernel, &bi);
	if (ret < 0)
		return ret;
	if (cfg->initrd) {
		ret = loader__load_initrd_file(&vm->mem, cfg->initrd, &bi);
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		if (used)
			devices[used++] = ' ';
		ret = virtio_mmio__cmdline(&vm->virtio[i].mmio, devices + used,
					   sizeof(devices) - used);
		if (ret < 0)
			return ret;
		used += strlen(devices + used);
	}
	cmdline = malloc(LAYOUT_CMDLINE_MAX);
	if (!cmdline)
		return -ENOMEM;
	ret = quirks__build_cmdline(cmdline, LAYOUT_CMDLINE_MAX, cfg->cmdline, emulating, devices);
	if (ret < 0) {
		log_error("--cmdline: the kernel command line does not fit in %llu bytes",
			  (unsigned long long)LAYOUT_CMDLINE_MAX);
	} else {
		if (emulating)
			log_info("host KVM emulates guest kernel code (kvm_pvm): adding guest "
				 "options '%s' (--no-host-quirks to turn off)",
				 quirks__emulating_host_cmdline());
		log_debug("guest command line: %s", cmdline);
		ret = loader__set_cmdline(&vm->mem, cmdline, &bi);
	}
	free(cmdline);
	if (ret < 0)
		return ret;
	ret = boot_setup__write_boot_params(&vm->mem, &bi);
	if (ret < 0)
		return ret;
	ret = mptable__write(&vm->mem, cfg->cpus);
	if (ret < 0)
		return ret;
	ret = vcpu__get_sregs(&vm->vcpus[0], &sregs);
	if (ret < 0)
		return ret;
	memset(&regs, 0, sizeof(regs));
	ret = boot_setup__cpu_regs(&vm->mem, &bi, &regs, &sregs);
	if (ret < 0)
		return ret;
	log_info("%s: booting %s (%s entry 0x%llx), %llu MiB %s RAM, %u vCPU%s", cfg->id,
		 cfg->kernel, bi.mode == BOOT_PVH ? "PVH" : "64-bit", (unsigned long long)bi.entry,
		 (unsigned long long)(cfg->mem_size >> 20),
		 guest_mem__backend_name(cfg->mem_backend), cfg->cpus, cfg->cpus > 1 ? "s" : "");
	return vcpu__set_regs(&vm->vcpus[0], &regs, &sregs);
}

/* --- lifecycle ----------------------------------------------------------- */

/* Before any thread: every thread inherits the mask. */
static int block_signals(struct vm *vm)
{
	sigset_t set;

	/* SIGINT/SIGTERM are read from a signalfd by the event loop, in every thread blocked. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGPIPE);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return vm->signal_fd < 0 ? -errno : 0;
}

static int setup_signals(struct vm *vm)
{
	if (vcpu__setup_kick_signal() < 0)
		return -errno;
	return event_loop__add(&vm->loop, vm->signal_fd, EPOLLIN, signal_ready, vm);
}

static int setup_rss_sampler(struct vm *vm)
{
	return add_periodic_timer(vm, RSS_SAMPLE_INTERVAL, sample_rss, &vm->sample_fd);
}

static int vm_setup(struct vm *vm)
{
	const struct vmm_config *cfg = vm->cfg;
	int ret;

	vm->apply_host_quirks = cfg->host_quirks && kvm__host_is_emulating();
	bus__init(&vm->pio, "pio");
	bus__init(&vm->mmio, "mmio");
	ret = setup_signals(vm);
	if (ret < 0)
		return ret;
	ret = kvm__init(&vm->kvm);
	if (ret < 0)
		return ret;
	ret = guest_mem__init(&vm->mem, cfg->mem_size, cfg->mem_backend);
	if (ret < 0)
		return ret;
	resident_meter__init(&vm->resident, &vm->mem);
	ret = kvm__set_memory(&vm->kvm, &vm->mem);
	if (ret < 0)
		return ret;
	ret = setup_legacy_devices(vm);
	if (ret < 0)
		return ret;
	if (cfg->balloon) {
		ret = setup_balloon(vm);
		if (ret < 0)
			return ret;
	}
	ret = setup_rss_sampler(vm);
	if (ret < 0)
		return ret;
	/*
	 * Capabilities are per thread: drop them before the first helper
	 * thread (the API's) exists, so every thread inherits the empty set.
	 * Nothing below needs one: /dev/kvm and guest RAM are already open.
	 * (An API-configured VM did this before its API started: vm__run.)
	 */
	if (!vm->preboot) {
		ret = privs__drop_all();
		if (ret == 0)
			ret = vm_control__start(vm);
		if (ret < 0)
			return ret;
	}

	vm->env = (struct vcpu_env){
		.kvm = &vm->kvm,
		.mem = &vm->mem,
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.nr_vcpus = cfg->cpus,
		.hide_pv_hypercalls = vm->apply_host_quirks,
		.request_stop = vm_request_stop,
		.opaque = vm,
		.gate = &vm->gate,
	};
	for (unsigned int i = 0; i < cfg->cpus; i++) {
		ret = vcpu__init(&vm->vcpus[i], &vm->env, i);
		if (ret < 0)
			return ret;
		vm->nr_vcpus_created++;
	}
	ret = setup_serial_timer(vm);
	if (ret < 0)
		return ret;
	return load_guest(vm);
}

static void vm_teardown(struct vm *vm)
{
	/* First: the API threads read the balloon and guest RAM, both freed below. */
	api__stop(vm->api);
	vm->api = NULL;
	for (unsigned int i = 0; i < vm->nr_vcpus_created; i++)
		vcpu__kick(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->nr_vcpus_created; i++)
		vcpu__join(&vm->vcpus[i]);
	/* The last bytes the guest wrote; the ring is in vcpus[0]'s mapping, unmapped below. */
	if (vm->env.coalesced_pio) {
		struct coalesced_pio_stats cs;

		coalesced_pio__exit(&vm->coalesced_pio);
		coalesced_pio__get_stats(&vm->coalesced_pio, &cs);
		log_info("serial coalescing: writes=%llu drains=%llu registers=%llu "
			 "unregisters=%llu bad_entries=%llu errors=%llu",
			 (unsigned long long)cs.writes, (unsigned long long)cs.drains,
			 (unsigned long long)cs.registers, (unsigned long long)cs.unregisters,
			 (unsigned long long)cs.bad_entries, (unsigned long long)cs.errors);
	}
	/* A guest stopped from outside may be stuck: say where each vCPU was. */
	if (vm->exit_status >= VMM_EXIT_SIGNAL_BASE || log__get_level() >= LOG_DEBUG) {
		for (unsigned int i = 0; i < vm->nr_vcpus_created; i++)
			vcpu__log_state(&vm->vcpus[i]);
	}
	/* The balloon waits for its in-flight discards before guest RAM goes away. */
	if (vm->balloon) {
		struct balloon_status st;

		virtio_balloon__get_status(vm->balloon, &st);
		log_info("balloon totals: reports=%llu reported_mib=%llu discarded_mib=%llu "
			 "not_freed_mib=%llu discard_errors=%llu malformed_chains=%llu",
			 (unsigned long long)st.stats.reports,
			 (unsigned long long)(st.stats.bytes_reported >> 20),
			 (unsigned long long)(st.discard.bytes_discarded >> 20),
			 (unsigned long long)(st.discard.bytes_not_freed >> 20),
			 (unsigned long long)st.discard.op_errors,
			 (unsigned long long)st.stats.rejected[BALLOON_REJ_VQ]);
		virtio_balloon__exit(vm->balloon);
		vm_devices__unwire_balloon(&vm->balloon_wiring);
		free(vm->balloon);
	}
	for (unsigned int i = 0; i < vm->nr_vcpus_created; i++)
		vcpu__exit(&vm->vcpus[i]);
	for (unsigned int i = 0; i < vm->nr_virtio; i++)
		vm_devices__remove_virtio(&vm->virtio[i]);
	if (vm->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &vm->saved_tty);
	serial__exit(&vm->serial);
	if (vm->serial_out_fd > STDERR_FILENO)
		close(vm->serial_out_fd);
	/* The marker lines are rate-limited: here is how many the guest wrote. */
	log_info("test device: markers=%llu bad_accesses=%llu",
		 (unsigned long long)__atomic_load_n(&vm->testdev.nr_markers, __ATOMIC_RELAXED),
		 (unsigned long long)__atomic_load_n(&vm->testdev.bad_access, __ATOMIC_RELAXED));
	if (vm->resident.mem) {
		struct resident_meter_stats rs;

		resident_meter__get_stats(&vm->resident, &rs);
		log_info("resident guest RAM readings: walks=%llu cached=%llu throttled=%llu",
			 (unsigned long long)rs.walks, (unsigned long long)rs.cached,
			 (unsigned long long)rs.throttled);
		resident_meter__exit(&vm->resident);
	}
	guest_mem__exit(&vm->mem);
	kvm__exit(&vm->kvm);
	if (vm->sample_fd >= 0)
		close(vm->sample_fd);
	if (vm->serial_timer_fd >= 0)
		close(vm->serial_timer_fd);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	event_loop__exit(&vm->loop);
}

/*
 * An API-configured VM (an API socket, no kernel): privileges dropped and
 * the API started before /dev/kvm is opened, then wait for an InstanceStart
 * whose configuration validates. 0: build it; 1: stopped before boot.
 */
static int vm_wait_for_config(struct vm *vm, struct vmm_config *cfg)
{
	int ret;

	vm->preboot = calloc(1, sizeof(*vm->preboot));
	if (!vm->preboot)
		return -ENOMEM;
	ret = vm_preboot__init(vm->preboot, cfg);
	if (ret == 0)
		ret = privs__drop_all();
	if (ret == 0)
		ret = vm_control__start(vm);
	if (ret == 0)
		ret = vm_preboot__wait(vm->preboot, vm->signal_fd, &vm->exit_status);
	return ret;
}

/* Before teardown: no InstanceStart may still wait for an answer (it holds an API thread). */
static void vm_answer_start(struct vm *vm, int ret, bool built)
{
	char err[200];

	if (!vm->preboot)
		return;
	if (ret == 0) {
		vm_preboot__finish(vm->preboot, 0, NULL);
		return;
	}
	snprintf(err, sizeof(err), "building the VM failed: %s (mini-vmm's log says where)",
		 strerror(-ret));
	vm_preboot__finish(vm->preboot, ret < 0 ? ret : -ECANCELED, err);
	if (built)
		vm_preboot__wait_stop(vm->preboot); /* its answer goes out before the API stops */
}

int vm__run(struct vmm_config *cfg)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	bool stopping;
	int status, ret;

	if (!vm) {
		log_error("out of memory");
		return VMM_EXIT_ERROR;
	}
	vm->cfg = cfg;
	vm->sample_fd = vm->signal_fd = vm->serial_out_fd = vm->serial_timer_fd = -1;
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	vm->t_start_ns = clock__mono_ns();
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->tracker_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	vcpu_gate__init(&vm->gate);
	reclaim_tracker__init(&vm->tracker);

	/*
	 * Before any thread and any filter, whatever the options: glibc's
	 * malloc must not reach a system call of its own later, on a
	 * filtered thread, at a moment the guest picks (seccomp.h).
	 */
	if (seccomp__prepare_process() < 0) {
		free(vm);
		return VMM_EXIT_ERROR;
	}
	ret = event_loop__init(&vm->loop);
	if (ret == 0)
		ret = block_signals(vm);
	if (ret == 0 && !cfg->kernel)
		ret = vm_wait_for_config(vm, cfg);
	if (ret == 0) {
		ret = vm_setup(vm);
		if (ret < 0 && vm->preboot) {
			vm_request_stop(vm, VMM_EXIT_ERROR, "InstanceStart failed");
			vm_answer_start(vm, ret, true);
		}
	} else {
		vm_answer_start(vm, ret, false);
	}
	if (ret != 0) {
		vm_teardown(vm);
		status = ret == 1 ? vm->exit_status : VMM_EXIT_ERROR;
		goto out;
	}
	__atomic_store_n(&vm->booted, true, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < vm->nr_vcpus_created; i++) {
		if (vcpu__start(&vm->vcpus[i]) < 0) {
			vm_request_stop(vm, VMM_EXIT_ERROR, "could not start a vCPU thread");
			break;
		}
	}
	pthread_mutex_lock(&vm->stop_lock);
	vm->running = true;
	stopping = vm->stopping; /* written by any thread, under the lock */
	pthread_mutex_unlock(&vm->stop_lock);
	vm_answer_start(vm, 0, false); /* InstanceStart's 204: the vCPUs run */
	/*
	 * Every other thread exists now: confine this one, the device thread,
	 * last (a thread created after this would inherit its filter too).
	 */
	seccomp__allow_unlinkat(api__socket_dirfd(vm->api));
	if (!stopping && seccomp__install(SECCOMP_ROLE_DEVICE) < 0)
		vm_request_stop(vm, VMM_EXIT_ERROR,
				"could not install the device thread's seccomp filter");
	event_loop__run(&vm->loop);
	vm_teardown(vm);
	status = vm->exit_status;
out:
	vcpu_gate__destroy(&vm->gate);
	if (vm->preboot) {
		vm_preboot__exit(vm->preboot);
		free(vm->preboot);
	}
	free(vm);
	return status;
}

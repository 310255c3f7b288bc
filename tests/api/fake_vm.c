// SPDX-License-Identifier: GPL-2.0
/*
 * A fake VM behind the real API server (control/): the same
 * vm_control_ops the VM provides, backed by a simulated 512 MiB guest that
 * goes through reclaim cycles (allocate, free, report, discard), so the
 * contract tests, promtool, the dashboard and the tools have live, moving,
 * known numbers without KVM.
 *
 * Usage: fake_vm [--api-socket PATH] [--metrics-listen ADDR:PORT]
 *                [--metrics-log PATH] [--interval MS] [--timeout S]
 *                [--no-balloon] [--no-stats] [--no-hinting] [--seccomp]
 * Prints "ready metrics_port=N" on stdout once serving; exits 0 after
 * PUT /actions {"action_type":"Shutdown"} or SIGTERM/SIGINT.
 */
#include "control/api.h"
#include "base/clock.h"
#include "base/log.h"
#if __has_include("vmm/seccomp.h")
#include "vmm/seccomp.h"
#define HAVE_SECCOMP 1
#endif

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIB	     (1ULL << 20)
#define GUEST_RAM    (512 * MIB)
#define CYCLE_S	     8.0	 /* one allocate/free/report cycle */
#define WORKLOAD     (256 * MIB) /* allocated then freed each cycle */
#define REPORT_BYTES (4 * MIB)	 /* one free page report */

struct fake_vm {
	pthread_mutex_t lock;
	uint64_t t0_ns;
	bool balloon, stats, hinting;
	uint64_t target;
	double actual; /* follows target at 64 MiB/s */
	double last_t;
	uint32_t stats_interval_s;
	uint64_t reports_accounted;
	struct balloon_stats bstats;
	struct discard_stats dstats;
	struct balloon_hint_status hint; /* free page hinting: offered, no guest answers */
	uint32_t last_run_id;
	volatile sig_atomic_t stop;
};

/*
 * Seconds into the current cycle, and whole cycles done, at time t. The
 * simulation starts 2.5 s into its first cycle, so reports begin at 0.5 s.
 */
static double cycle_phase(double t, uint64_t *cycles)
{
	t += 2.5;
	*cycles = (uint64_t)(t / CYCLE_S);
	return t - (double)*cycles * CYCLE_S;
}

/* Reported in this cycle: the freed workload, over 2 s from 3 s in, in whole reports. */
static uint64_t reported_in_cycle(double phase)
{
	double f = (phase - 3.0) / 2.0;

	if (f <= 0)
		return 0;
	if (f > 1)
		f = 1;
	return (uint64_t)(f * (double)(WORKLOAD / REPORT_BYTES)) * REPORT_BYTES;
}

static uint64_t reported_until(double t)
{
	uint64_t cycles;
	double phase = cycle_phase(t, &cycles);

	return cycles * WORKLOAD + reported_in_cycle(phase);
}

/* Account the reports made since the last sample: counters only ever grow. */
static void advance(struct fake_vm *vm, double t)
{
	uint64_t total = reported_until(t) / REPORT_BYTES;
	double dt = t - vm->last_t, step = dt * 64.0 * MIB;

	for (; vm->reports_accounted < total; vm->reports_accounted++) {
		/* A spread of latencies, 256 us .. 32 ms, deterministic. */
		static const unsigned char spread[] = {9, 10, 10, 11, 11, 11, 12, 12, 13, 15};
		unsigned int bucket = spread[vm->reports_accounted % sizeof(spread)];
		uint64_t lat_ns = (1ULL << bucket) * 1000 * 3 / 4;

		vm->bstats.reports++;
		vm->bstats.report_buffers += 2;
		vm->bstats.bytes_reported += REPORT_BYTES;
		vm->bstats.reports_done++;
		vm->dstats.reports++;
		vm->dstats.reports_completed++;
		vm->dstats.ranges += 2;
		vm->dstats.ops++;
		vm->dstats.bytes_requested += REPORT_BYTES;
		vm->dstats.bytes_discarded += REPORT_BYTES;
		vm->dstats.report_latency.count++;
		vm->dstats.report_latency.sum_ns += lat_ns;
		vm->dstats.report_latency.buckets[bucket]++;
		vm->dstats.op_latency.count++;
		vm->dstats.op_latency.sum_ns += lat_ns / 2;
		vm->dstats.op_latency.buckets[bucket - 1]++;
	}
	if (vm->actual < (double)vm->target)
		vm->actual = vm->actual + step > (double)vm->target ? (double)vm->target
								    : vm->actual + step;
	else if (vm->actual > (double)vm->target)
		vm->actual = vm->actual - step < (double)vm->target ? (double)vm->target
								    : vm->actual - step;
	vm->last_t = t;
}

static void fake_sample(void *opaque, struct vm_sample *s)
{
	struct fake_vm *vm = opaque;
	uint64_t now = clock__mono_ns();
	double t = (double)(now - vm->t0_ns) / 1e9, phase;
	uint64_t workload_resident, base = 160 * MIB, balloon_held, cycles;

	pthread_mutex_lock(&vm->lock);
	advance(vm, t);
	phase = cycle_phase(t, &cycles);
	/* Resident: allocated over 1..2 s, then given back as the reports are discarded. */
	if (phase < 1.0)
		workload_resident = 0;
	else if (phase < 2.0)
		workload_resident = (uint64_t)((phase - 1.0) * (double)(WORKLOAD >> 12)) << 12;
	else
		workload_resident = WORKLOAD - reported_in_cycle(phase);
	balloon_held = vm->balloon ? (uint64_t)vm->actual >> 12 << 12 : 0;

	s->monotonic_ns = now;
	s->uptime_ns = now - vm->t0_ns;
	s->state = VM_RUN_STATE_RUNNING;
	s->vcpus = 2;
	s->guest_memory_bytes = GUEST_RAM;
	s->guest_resident_bytes =
		base + workload_resident - (balloon_held > base / 2 ? base / 2 : balloon_held);
	snprintf(s->memory_backend, sizeof(s->memory_backend), "anon");
	s->event_loop_max_callback_ns = 123456;
	s->has_balloon = vm->balloon;
	if (vm->balloon) {
		struct vm_balloon_sample *b = &s->balloon;
		struct balloon_guest_stats *g = &vm->bstats.guest;

		b->deflate_on_oom = true;
		b->reporting = true;
		b->stats_enabled = vm->stats;
		b->stats_interval_s = vm->stats_interval_s;
		b->target_bytes = vm->target;
		b->actual_bytes = (uint64_t)vm->actual >> 12 << 12;
		snprintf(b->discard_method, sizeof(b->discard_method), "madvise");
		snprintf(b->discard_engine, sizeof(b->discard_engine), "io_uring");
		snprintf(b->discard_reason, sizeof(b->discard_reason),
			 "default for anon memory; verified: a probe page was freed");
		b->discard_granule_bytes = 4096;
		if (vm->stats && vm->stats_interval_s) {
			/* Linux 6.1 sends tags 0..9. */
			g->valid = 0x3ff;
			g->val[0] = 0;
			g->val[1] = 0;
			g->val[2] = 12;
			g->val[3] = 34567 + vm->reports_accounted;
			g->val[4] = GUEST_RAM - 120 * MIB - workload_resident - balloon_held;
			g->val[5] = GUEST_RAM - 20 * MIB;
			g->val[6] = g->val[4] + 40 * MIB;
			g->val[7] = 30 * MIB;
			g->updates = (uint64_t)t + 1;
			g->last_update_ns = now;
		}
		b->stats = vm->bstats;
		b->discard = vm->dstats;
		b->stats.target_changes = vm->bstats.target_changes;
		b->free_page_hinting = vm->hinting;
		b->hinting = vm->hint;
	}
	pthread_mutex_unlock(&vm->lock);
}

static int fake_set_target(void *opaque, uint64_t bytes)
{
	struct fake_vm *vm = opaque;

	if (!vm->balloon)
		return -ENODEV;
	if (bytes > GUEST_RAM)
		return -ERANGE;
	pthread_mutex_lock(&vm->lock);
	if (bytes != vm->target)
		vm->bstats.target_changes++;
	vm->target = bytes;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

static int fake_set_stats_interval(void *opaque, uint32_t secs)
{
	struct fake_vm *vm = opaque;

	if (!vm->balloon)
		return -ENODEV;
	if (!vm->stats)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&vm->lock);
	vm->stats_interval_s = secs;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

/* Hinting as the device does it, without a guest: start hands out ids, stop asks for DONE. */
static int fake_hinting(void *opaque, bool start, bool acknowledge_on_stop)
{
	struct fake_vm *vm = opaque;

	(void)acknowledge_on_stop;
	if (!vm->balloon)
		return -ENODEV;
	if (!vm->hinting)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&vm->lock);
	if (start) {
		vm->last_run_id = vm->last_run_id < 2 ? 2 : vm->last_run_id + 1;
		vm->hint.host_cmd = vm->last_run_id;
		vm->bstats.hint_runs++;
	} else {
		vm->hint.host_cmd = 1;
	}
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

static struct fake_vm *the_vm;

static void fake_shutdown(void *opaque)
{
	struct fake_vm *vm = opaque;

	vm->stop = 1;
}

static void on_signal(int sig)
{
	if (the_vm)
		the_vm->stop = 1;
}

/* --seccomp: the API threads run under mini-vmm's API allow-list, as in the VM. */
static int confine_api(void *opaque)
{
#ifdef HAVE_SECCOMP
	return seccomp__install(SECCOMP_ROLE_API);
#else
	return -ENOSYS;
#endif
}

static const struct vm_control_ops fake_ops = {
	.sample = fake_sample,
	.set_balloon_target = fake_set_target,
	.set_stats_interval = fake_set_stats_interval,
	.balloon_hinting = fake_hinting,
	.request_shutdown = fake_shutdown,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"api-socket", required_argument, NULL, 'a'},
		{"metrics-listen", required_argument, NULL, 'm'},
		{"metrics-log", required_argument, NULL, 'l'},
		{"interval", required_argument, NULL, 'i'},
		{"timeout", required_argument, NULL, 't'},
		{"no-balloon", no_argument, NULL, 'B'},
		{"no-stats", no_argument, NULL, 'S'},
		{"no-hinting", no_argument, NULL, 'H'},
		{"seccomp", no_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	struct api_config cfg = {.vmm_version = "0.1.0-fake", .instance_id = "fake-vm"};
	struct fake_vm vm = {
		.balloon = true, .stats = true, .hinting = true, .stats_interval_s = 1};
	struct api_server *srv;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			cfg.socket_path = optarg;
			break;
		case 'm':
			cfg.metrics_listen = optarg;
			break;
		case 'l':
			cfg.metrics_log_path = optarg;
			break;
		case 'i':
			cfg.interval_ms = (uint32_t)atoi(optarg);
			break;
		case 't':
			cfg.timeout_s = (unsigned int)atoi(optarg);
			break;
		case 'B':
			vm.balloon = false;
			break;
		case 'H':
			vm.hinting = false;
			break;
		case 'S':
			vm.stats = false;
			vm.stats_interval_s = 0;
			break;
		case 's':
#ifndef HAVE_SECCOMP
			fprintf(stderr, "SKIP: fake_vm was built without vmm/seccomp.h\n");
			return 77;
#else
			/* As vm__run does: before any thread (docs/threat-model.md). */
			if (seccomp__prepare_process() < 0)
				return 1;
#endif
			cfg.confine = confine_api;
			break;
		default:
			fprintf(stderr, "fake_vm: bad arguments\n");
			return 2;
		}
	}
	pthread_mutex_init(&vm.lock, NULL);
	vm.t0_ns = clock__mono_ns();
	the_vm = &vm;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	log__set_level(LOG_INFO);
	if (api__start(&srv, &cfg, &fake_ops, &vm) < 0)
		return 1;
	printf("ready metrics_port=%u\n", api__metrics_port(srv));
	fflush(stdout);
	while (!vm.stop)
		usleep(20000);
	api__stop(srv);
	fprintf(stderr, "fake_vm: stopped\n");
	return 0;
}

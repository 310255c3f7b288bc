/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the fuzz harnesses (tests/fuzz/fuzz_*.c): a reader that turns the
 * fuzzer's bytes into numbers (zeros once they run out, so every input is a
 * valid program), guest RAM regions mapped once per process and wiped per
 * input, quiet logs, and FUZZ_ASSERT for the invariants each harness checks.
 *
 * The harnesses are built twice: with libFuzzer (-DMINI_VMM_FUZZ=ON, clang)
 * and, in the normal build, with fuzz_main.c, a driver that replays the seed
 * corpus and a fixed set of mutations of it as a CTest test.
 */
#ifndef MINI_VMM_FUZZ_COMMON_H
#define MINI_VMM_FUZZ_COMMON_H

#include "base/event_loop.h"
#include "base/guest_mem.h"
#include "devices/virtio_balloon.h"
#include "vmm/vm_devices.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The libFuzzer entry points every harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test is broken: report and abort (a fuzzer finding). */
#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond);                                      \
	} while (0)

void fuzz_fail(const char *file, int line, const char *cond) __attribute__((noreturn));

/* The fuzzer's bytes, consumed front to back. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline bool fin_empty(const struct fuzz_in *in)
{
	return in->n == 0;
}

static inline uint8_t fin_u8(struct fuzz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t fin_u16(struct fuzz_in *in)
{
	return (uint16_t)(fin_u8(in) | (uint16_t)fin_u8(in) << 8);
}

static inline uint32_t fin_u32(struct fuzz_in *in)
{
	return fin_u16(in) | (uint32_t)fin_u16(in) << 16;
}

static inline uint64_t fin_u64(struct fuzz_in *in)
{
	return fin_u32(in) | (uint64_t)fin_u32(in) << 32;
}

/* Up to `max` bytes; *len says how many there were. */
const uint8_t *fin_bytes(struct fuzz_in *in, size_t max, size_t *len);

/*
 * Guest RAM for a harness: up to FUZZ_MAX_REGIONS host mappings made on first
 * use and kept for the life of the process (mmap per input would dominate the
 * run time). fuzz_ram__reset() zeroes them (MADV_DONTNEED: cheap when the
 * input touched little) and rebuilds `mem`.
 */
#define FUZZ_MAX_REGIONS 2

struct fuzz_ram {
	struct guest_mem mem;
	unsigned int nr;
	uint64_t gpa[FUZZ_MAX_REGIONS];
	uint64_t size[FUZZ_MAX_REGIONS];
	uint8_t *hva[FUZZ_MAX_REGIONS];
};

/* Add a region (once, at start-up); aborts if the mapping fails. */
void fuzz_ram__add(struct fuzz_ram *ram, uint64_t gpa, uint64_t size);
/* Zero every region and rebuild ram->mem. */
void fuzz_ram__reset(struct fuzz_ram *ram);
/* The guest writes: input-chosen bytes at an input-chosen offset of region 0. */
void fuzz_ram__scribble(struct fuzz_ram *ram, struct fuzz_in *in);

/*
 * A balloon the way the VM starts one, for the harnesses that drive it: `loop`
 * initialised, the model on cfg and mem, its host wiring (w) on the loop, and
 * fault injection through `faults`, zeroed. 0, or -1 with all of it undone (a
 * configuration that cannot start is a dull input, not a finding).
 */
struct fuzz_renotify;

int fuzz_balloon__start(struct virtio_balloon *b, const struct balloon_config *cfg,
			const struct guest_mem *mem, struct event_loop *loop,
			struct balloon_wiring *w, struct discard_faults *faults);
/*
 * fuzz_balloon__start, then what both balloon harnesses need before their
 * driver brings the device up: the device lock, vdev->renotify recorded in
 * r, and the features the input chose checked against the device's.
 */
int fuzz_balloon__open(struct virtio_balloon *b, const struct balloon_config *cfg,
		       const struct guest_mem *mem, struct event_loop *loop,
		       struct balloon_wiring *w, struct discard_faults *faults,
		       struct fuzz_renotify *r, uint64_t features);
/* Undo fuzz_balloon__start (after the transport and the model are quiet). */
void fuzz_balloon__stop(struct virtio_balloon *b, struct event_loop *loop,
			struct balloon_wiring *w);

/*
 * vdev->renotify as vm_devices.c wires it, for a harness: the device asks
 * for its queue_notify to run again (it stopped at its work budget, or it
 * activated with chains waiting). vm.c writes the queue's ioeventfd and the
 * device loop comes back on its next turn; the harness records the queue
 * and fuzz_renotify__run() delivers the recorded notifies after the step,
 * a bounded number of rounds (what is left stays recorded for the next).
 */
struct fuzz_renotify {
	uint32_t pending; /* bit q: queue q was re-armed */
	uint64_t calls;	  /* renotify() calls, for MINI_VMM_FUZZ_VERBOSE */
	uint64_t delivered;
};

/* What a balloon harness drives: the device, its host wiring and guest RAM. */
struct fuzz_balloon_rig {
	struct fuzz_ram ram;
	struct virtio_balloon balloon;
	struct event_loop loop;
	struct balloon_wiring wiring;
	struct discard_faults faults;
	struct fuzz_renotify renotify;
};

/* Point vdev->renotify at r (zeroed). */
void fuzz_renotify__wire(struct fuzz_renotify *r, struct virtio_device *vdev);
/*
 * Deliver recorded notifies through kick(q) (which takes the lock and
 * checks the device state, as vm.c does), at most `rounds` rounds over the
 * recorded queues. Returns the number delivered.
 */
unsigned int fuzz_renotify__run(struct fuzz_renotify *r, unsigned int rounds,
				void (*kick)(unsigned int q));

/*
 * A harness's option byte to the driver's features: VERSION_1, and for each
 * entry of map the feature bit `feature` when (opt & mask) is set, or with
 * `when_clear` when it is clear.
 */
struct fuzz_opt_feature {
	uint8_t mask;
	uint8_t feature;
	bool when_clear;
};
uint64_t fuzz_opt_features(uint8_t opt, const struct fuzz_opt_feature *map, unsigned int n);
/* A queue size from the next input byte: a power of two, 1 to 256. */
uint16_t fuzz_qsize(struct fuzz_in *in);

/* A split-queue descriptor, little-endian, at index idx of table. */
void fuzz_vq__write_desc(uint8_t *table, uint16_t idx, uint64_t addr, uint32_t len, uint16_t flags,
			 uint16_t next);
/*
 * What vm_devices.c does when a queue's ioeventfd fires: queue_notify under
 * the lock, if the device is running (DRIVER_OK, not NEEDS_RESET) and the
 * queue exists and is active.
 */
void fuzz_vq__kick(struct virtio_device *vdev, unsigned int q);

/*
 * The driver's (re)initialisation: features_acked, then every queue they
 * give set up with rings at base + q * stride (descriptors; available ring
 * at +0x1000; used ring at +0x2000), EVENT_IDX and INDIRECT_DESC as
 * negotiated, DRIVER_OK and activate() (a refusal sets NEEDS_RESET).
 * Returns the number of queues.
 */
unsigned int fuzz_vq__bring_up(struct virtio_device *vdev, const struct guest_mem *mem,
			       uint64_t features, uint16_t qsize, uint64_t base, uint64_t stride);

/*
 * Route mini-vmm's log lines (stdio on stderr) to /dev/null unless
 * MINI_VMM_FUZZ_VERBOSE is set: a hostile input logs on every run. The
 * sanitizers and libFuzzer write to fd 2 directly and still get through.
 */
void fuzz_quiet_logs(void);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench-discard --hostile: the balloon device on a real device loop, a
 * well-behaved guest's reports alone and under a guest keeping a ring full
 * (issue #12's loop-block target). See tools/bench/hostile.c.
 */
#ifndef MINI_VMM_BENCH_HOSTILE_H
#define MINI_VMM_BENCH_HOSTILE_H

#include <stdbool.h>
#include <stdio.h>

struct hostile_opts {
	unsigned int run_ms; /* each run's length */
	unsigned int rounds; /* the three runs, interleaved, this many times */
	bool json;	     /* JSON on stdout instead of the table */
	const char *json_out;
	bool quiet; /* no progress on stderr */
};

/* Runs the benchmark and prints it. 0, or 1 if something failed functionally. */
int bench_hostile__run(const struct hostile_opts *o);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* A few assertion macros shared by the unit tests. Exit 1 on the first failure. */
#ifndef MINI_VMM_TESTLIB_H
#define MINI_VMM_TESTLIB_H

#include <stddef.h>

#include <stdio.h>
#include <stdlib.h>

extern int testlib_checks;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		__atomic_fetch_add(&testlib_checks, 1, __ATOMIC_RELAXED);                          \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		__atomic_fetch_add(&testlib_checks, 1, __ATOMIC_RELAXED);                          \
		if (_a != _b) {                                                                    \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n",        \
				__FILE__, __LINE__, #a, _a, #b, _b);                               \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#define SKIP(...)                                                                                  \
	do {                                                                                       \
		fprintf(stderr, "SKIP: ");                                                         \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fprintf(stderr, "\n");                                                             \
		exit(77);                                                                          \
	} while (0)

/* Print the summary and exit 0; call at the end of main(). */
int testlib_done(const char *name);

/*
 * Run child(arg) in a forked process, its stderr captured into err
 * (NUL-terminated, at most errlen - 1 bytes), killed by SIGALRM after
 * timeout_s; a child that returns exits 0. Returns its wait status.
 */
int testlib__run_captured(void (*child)(void *arg), void *arg, unsigned int timeout_s, char *err,
			  size_t errlen);

/* 1 in AddressSanitizer builds (gcc and clang spell it differently). */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

#endif

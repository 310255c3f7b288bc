// SPDX-License-Identifier: GPL-2.0
/*
 * Replays fuzz inputs through a harness without libFuzzer, so the normal
 * (gcc) build and its CTest run exercise every harness:
 *
 *	fuzz_virtqueue_replay [-m MUTATIONS] [-s SEED] FILE|DIR...
 *
 * Every file (directories: their files, sorted) goes to
 * LLVMFuzzerTestOneInput once, then MUTATIONS times mutated by a fixed
 * pseudo-random sequence (bit flips, interesting bytes, inserts, deletes,
 * truncation, splices with other inputs): the same inputs on every run, so a
 * failure is reproducible. When an input crashes it is written to
 * ./fuzz-crash-<harness> first (for a sanitizer report, via its death
 * callback; for a plain signal, from the handler) and can be replayed alone.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY_MAX_INPUT (1u << 20)
#define REPLAY_MAX_FILES 4096

/* Sanitizer runtimes provide this; absent (NULL) in a plain build. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static const uint8_t *cur_data;
static size_t cur_size;
static char crash_path[256];

static void save_current_input(void)
{
	int fd;

	if (!cur_data)
		return;
	fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, cur_data, cur_size) < 0) {
			/* Nothing more to do in a dying process. */
		}
		close(fd);
		dprintf(STDERR_FILENO, "fuzz replay: crashing input saved to %s\n", crash_path);
	}
	cur_data = NULL;
}

static void crash_signal(int sig)
{
	save_current_input();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run_one(const uint8_t *data, size_t size)
{
	cur_data = data;
	cur_size = size;
	LLVMFuzzerTestOneInput(data, size);
	cur_data = NULL;
}

/* xorshift64*: fixed sequence from the seed. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

struct input {
	uint8_t *data;
	size_t size;
};

static size_t mutate(uint8_t *buf, size_t size, const struct input *all, unsigned int nr)
{
	static const uint8_t interesting[] = {0, 1, 2, 4, 0x10, 0x7f, 0x80, 0xfe, 0xff};
	unsigned int rounds = 1 + rng() % 4;

	for (unsigned int r = 0; r < rounds; r++) {
		size_t pos = size ? rng() % size : 0;

		switch (rng() % 7) {
		case 0: /* flip a bit */
			if (size)
				buf[pos] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 1: /* an interesting byte */
			if (size)
				buf[pos] = interesting[rng() % sizeof(interesting)];
			break;
		case 2: /* a random byte */
			if (size)
				buf[pos] = (uint8_t)rng();
			break;
		case 3: /* insert a byte */
			if (size < REPLAY_MAX_INPUT) {
				memmove(buf + pos + 1, buf + pos, size - pos);
				buf[pos] = (uint8_t)rng();
				size++;
			}
			break;
		case 4: /* delete up to 8 bytes */
			if (size) {
				size_t n = 1 + rng() % 8;

				if (n > size - pos)
					n = size - pos;
				memmove(buf + pos, buf + pos + n, size - pos - n);
				size -= n;
			}
			break;
		case 5: /* truncate */
			size = pos;
			break;
		default: { /* splice in a piece of another input */
			const struct input *o = &all[rng() % nr];
			size_t from, n;

			if (!o->size)
				break;
			from = rng() % o->size;
			n = 1 + rng() % 64;
			if (n > o->size - from)
				n = o->size - from;
			if (n > REPLAY_MAX_INPUT - pos)
				n = REPLAY_MAX_INPUT - pos;
			memcpy(buf + pos, o->data + from, n);
			if (pos + n > size)
				size = pos + n;
			break;
		}
		}
	}
	return size;
}

static int read_file(const char *path, struct input *out)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		dprintf(STDERR_FILENO, "fuzz replay: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((size_t)st.st_size > REPLAY_MAX_INPUT) {
		dprintf(STDERR_FILENO, "fuzz replay: %s: larger than %u bytes\n", path,
			REPLAY_MAX_INPUT);
		close(fd);
		return -1;
	}
	out->size = (size_t)st.st_size;
	out->data = malloc(out->size ? out->size : 1);
	n = out->data ? read(fd, out->data, out->size) : -1;
	close(fd);
	if (n != (ssize_t)out->size) {
		dprintf(STDERR_FILENO, "fuzz replay: %s: short read\n", path);
		free(out->data);
		return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the inputs at `path` (a file, or every regular file in a directory, sorted). */
static int collect(const char *path, struct input *inputs, unsigned int *nr)
{
	char *names[REPLAY_MAX_FILES];
	unsigned int n = 0;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int ret = 0;

	if (stat(path, &st) < 0) {
		dprintf(STDERR_FILENO, "fuzz replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (*nr >= REPLAY_MAX_FILES)
			return -1;
		return read_file(path, &inputs[(*nr)++]) ? -1 : 0;
	}
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir)) != NULL && n < REPLAY_MAX_FILES) {
		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&names[n], "%s/%s", path, de->d_name) < 0)
			break;
		n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (unsigned int i = 0; i < n; i++) {
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && *nr < REPLAY_MAX_FILES &&
		    read_file(names[i], &inputs[*nr]) == 0)
			(*nr)++;
		else if (!S_ISREG(st.st_mode))
			; /* subdirectories are not inputs */
		else
			ret = -1;
		free(names[i]);
	}
	return ret;
}

int main(int argc, char **argv)
{
	static struct input inputs[REPLAY_MAX_FILES];
	unsigned int nr = 0, mutations = 0;
	unsigned long long runs = 0, seed = 1;
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	uint8_t *buf;
	int opt;

	while ((opt = getopt(argc, argv, "m:s:")) != -1) {
		switch (opt) {
		case 'm':
			mutations = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			dprintf(STDERR_FILENO, "usage: %s [-m MUTATIONS] [-s SEED] FILE|DIR...\n",
				name);
			return 2;
		}
	}
	if (optind >= argc) {
		dprintf(STDERR_FILENO, "usage: %s [-m MUTATIONS] [-s SEED] FILE|DIR...\n", name);
		return 2;
	}
	snprintf(crash_path, sizeof(crash_path), "fuzz-crash-%s", name);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(save_current_input);
	signal(SIGSEGV, crash_signal);
	signal(SIGBUS, crash_signal);
	signal(SIGABRT, crash_signal);
	signal(SIGFPE, crash_signal);
	signal(SIGILL, crash_signal);

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = optind; i < argc; i++) {
		if (collect(argv[i], inputs, &nr) < 0)
			return 1;
	}
	if (nr == 0) {
		dprintf(STDERR_FILENO, "%s: no inputs\n", name);
		return 1;
	}
	buf = malloc(REPLAY_MAX_INPUT);
	if (!buf)
		return 1;
	for (unsigned int i = 0; i < nr; i++) {
		/* A copy in a buffer of exactly its size: ASan sees any over-read. */
		uint8_t *copy = malloc(inputs[i].size ? inputs[i].size : 1);

		memcpy(copy, inputs[i].data, inputs[i].size);
		run_one(copy, inputs[i].size);
		free(copy);
		runs++;
	}
	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (unsigned int i = 0; i < nr; i++) {
		for (unsigned int m = 0; m < mutations; m++) {
			size_t size = inputs[i].size;
			uint8_t *copy;

			memcpy(buf, inputs[i].data, size);
			size = mutate(buf, size, inputs, nr);
			copy = malloc(size ? size : 1);
			memcpy(copy, buf, size);
			run_one(copy, size);
			free(copy);
			runs++;
		}
	}
	printf("%s: %llu runs (%u inputs, %u mutations each, seed %llu), no finding\n", name, runs,
	       nr, mutations, seed);
	for (unsigned int i = 0; i < nr; i++)
		free(inputs[i].data);
	free(buf);
	return 0;
}

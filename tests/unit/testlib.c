// SPDX-License-Identifier: GPL-2.0
#include "testlib.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int testlib_checks;

int testlib_done(const char *name)
{
	printf("%s: %d checks passed\n", name, testlib_checks);
	return 0;
}

int testlib__run_captured(void (*child)(void *arg), void *arg, unsigned int timeout_s, char *err,
			  size_t errlen)
{
	int pfd[2], status;
	size_t total = 0;
	ssize_t n;
	pid_t pid;

	CHECK(errlen > 0);
	CHECK_EQ(pipe(pfd), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		alarm(timeout_s); /* a hang is a failure, not a stuck test */
		child(arg);
		_exit(0);
	}
	close(pfd[1]);
	memset(err, 0, errlen);
	while ((n = read(pfd[0], err + total, errlen - 1 - total)) > 0)
		total += (size_t)n;
	close(pfd[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	return status;
}

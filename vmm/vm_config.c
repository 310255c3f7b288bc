// SPDX-License-Identifier: GPL-2.0
/*
 * The VM's configuration from any source (vm_config.h): Firecracker's
 * sections applied to struct vmm_config, exported back for GET /vm/config,
 * a --config-file loaded, and the one validation before /dev/kvm.
 */
#define _GNU_SOURCE
#include "vmm/vm_config.h"

#include "base/layout.h"
#include "control/api.h"
#include "devices/virtio_balloon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FILE_MAX (1u << 20)

enum owned_string { OWN_KERNEL = 0, OWN_INITRD, OWN_CMDLINE, OWN_BALLOON };

static int fail(char *err, size_t err_len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return ret;
}

/* *field = a copy of s (NULL clears), owned by cfg->owned[slot]. */
static int set_owned(struct vmm_config *cfg, enum owned_string slot, const char **field,
		     const char *s)
{
	char *copy = NULL;

	if (s) {
		copy = strdup(s);
		if (!copy)
			return -ENOMEM;
	}
	free(cfg->owned[slot]);
	cfg->owned[slot] = copy;
	*field = copy;
	return 0;
}

static int apply_machine(struct vmm_config *cfg, const struct api_machine_config *mc)
{
	cfg->cpus = mc->vcpu_count;
	cfg->mem_size = mc->mem_size_mib << 20;
	if (mc->huge_pages == API_HUGE_PAGES_2M)
		cfg->mem_backend = GUEST_MEM_HUGETLBFS;
	else if (mc->huge_pages == API_HUGE_PAGES_TRANSPARENT)
		cfg->mem_backend = GUEST_MEM_THP;
	else if (cfg->mem_backend != GUEST_MEM_MEMFD)
		cfg->mem_backend = GUEST_MEM_ANON; /* "None": anon, or the command line's memfd */
	return 0;
}

/* The balloon in --balloon's own syntax: one representation, one parser. */
static int apply_balloon(struct vmm_config *cfg, const struct api_balloon_config *b)
{
	char opts[128];

	snprintf(opts, sizeof(opts),
		 "size=%uM,deflate-on-oom=%s,stats-interval=%us,reporting=%s,free-page-hinting=%s",
		 b->amount_mib, b->deflate_on_oom ? "on" : "off", b->stats_polling_interval_s,
		 b->free_page_reporting ? "on" : "off", b->free_page_hinting ? "on" : "off");
	cfg->balloon = true;
	cfg->balloon_reporting = false;
	return set_owned(cfg, OWN_BALLOON, &cfg->balloon_opts, opts);
}

int vm_config__apply(struct vmm_config *cfg, const struct api_vm_config *c, char *err,
		     size_t err_len)
{
	int ret = 0;

	if (c->has_machine)
		ret = apply_machine(cfg, &c->machine);
	if (ret == 0 && c->has_boot) {
		ret = set_owned(cfg, OWN_KERNEL, &cfg->kernel, c->boot.kernel_image_path);
		if (ret == 0)
			ret = set_owned(cfg, OWN_INITRD, &cfg->initrd, c->boot.initrd_path);
		if (ret == 0)
			ret = set_owned(cfg, OWN_CMDLINE, &cfg->cmdline, c->boot.boot_args);
	}
	if (ret == 0 && c->has_balloon)
		ret = apply_balloon(cfg, &c->balloon);
	if (ret < 0)
		snprintf(err, err_len, "out of memory");
	return ret;
}

/* The balloon's options resolved: --balloon OPTS over the defaults. */
static int balloon_resolve(const struct vmm_config *cfg, struct balloon_config *b, char *err,
			   size_t err_len)
{
	balloon_config__default(b);
	if (cfg->balloon_opts && balloon_config__parse(cfg->balloon_opts, b, err, err_len) < 0)
		return -EINVAL;
	if (cfg->balloon_reporting)
		b->reporting = true;
	return 0;
}

static int dup_or_null(const char *s, char **out)
{
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

int vm_config__export(const struct vmm_config *cfg, struct api_vm_config *out)
{
	struct balloon_config b;
	char err[8];

	*out = (struct api_vm_config){.has_machine = true};
	out->machine.vcpu_count = cfg->cpus;
	out->machine.mem_size_mib = cfg->mem_size >> 20;
	out->machine.huge_pages = cfg->mem_backend == GUEST_MEM_HUGETLBFS ? API_HUGE_PAGES_2M
				  : cfg->mem_backend == GUEST_MEM_THP ? API_HUGE_PAGES_TRANSPARENT
								      : API_HUGE_PAGES_NONE;
	out->has_boot = cfg->kernel != NULL;
	if (dup_or_null(cfg->kernel, &out->boot.kernel_image_path) < 0 ||
	    dup_or_null(cfg->initrd, &out->boot.initrd_path) < 0 ||
	    dup_or_null(cfg->cmdline, &out->boot.boot_args) < 0) {
		api_vm_config__release(out);
		return -ENOMEM;
	}
	if (cfg->balloon && balloon_resolve(cfg, &b, err, sizeof(err)) == 0) {
		out->has_balloon = true;
		out->balloon = (struct api_balloon_config){
			.amount_mib = (uint32_t)(b.initial_target_bytes >> 20),
			.deflate_on_oom = b.deflate_on_oom,
			.stats_polling_interval_s = b.stats_interval_s,
			.free_page_reporting = b.reporting,
			.free_page_hinting = b.free_page_hinting,
		};
	}
	return 0;
}

int vm_config__load_file(struct vmm_config *cfg, char *err, size_t err_len)
{
	struct api_vm_config c;
	char msg[400], *text;
	ssize_t n;
	int fd, ret;

	fd = open(cfg->config_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, err_len, -errno, "--config-file %s: %s", cfg->config_file,
			    strerror(errno));
	text = malloc(CONFIG_FILE_MAX + 1);
	if (!text) {
		close(fd);
		return fail(err, err_len, -ENOMEM, "--config-file: out of memory");
	}
	n = read(fd, text, CONFIG_FILE_MAX + 1);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret == 0 && n > (ssize_t)CONFIG_FILE_MAX)
		ret = fail(msg, sizeof(msg), -EINVAL, "larger than %u bytes", CONFIG_FILE_MAX);
	else if (ret < 0)
		snprintf(msg, sizeof(msg), "%s", strerror(-ret));
	else
		ret = api__parse_config_file(text, (size_t)n, &c, msg, sizeof(msg));
	free(text);
	if (ret == 0) {
		ret = vm_config__apply(cfg, &c, msg, sizeof(msg));
		api_vm_config__release(&c);
	}
	if (ret < 0)
		return fail(err, err_len, ret, "--config-file %s: %s", cfg->config_file, msg);
	return 0;
}

/* Readable, and a kernel mini-vmm's loader knows: ELF, or a bzImage's "HdrS". */
static int check_kernel(const char *path, char *err, size_t err_len)
{
	uint8_t head[0x210] = {0};
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail(err, err_len, -EINVAL, "kernel_image_path (--kernel) '%s': %s", path,
			    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, err_len, -EINVAL,
			    "kernel_image_path (--kernel) '%s': not a regular file", path);
	}
	n = pread(fd, head, sizeof(head), 0);
	close(fd);
	if (n >= 4 && memcmp(head, "\177ELF", 4) == 0)
		return 0;
	if (n >= 0x206 && memcmp(head + 0x202, "HdrS", 4) == 0)
		return 0;
	return fail(err, err_len, -EINVAL,
		    "kernel_image_path (--kernel) '%s': not a kernel mini-vmm can boot (neither "
		    "an ELF vmlinux nor a bzImage)",
		    path);
}

int vm_config__validate(const struct vmm_config *cfg, char *err, size_t err_len)
{
	struct balloon_config b;
	char msg[256];
	int ret, fd;

	if (!cfg->kernel)
		return fail(err, err_len, -EINVAL,
			    "no kernel: kernel_image_path is missing (PUT /boot-source, a "
			    "config file's boot-source, or --kernel)");
	ret = check_kernel(cfg->kernel, err, err_len);
	if (ret < 0)
		return ret;
	if (cfg->initrd) {
		fd = open(cfg->initrd, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail(err, err_len, -EINVAL, "initrd_path (--initrd) '%s': %s",
				    cfg->initrd, strerror(errno));
		close(fd);
	}
	if (cfg->cmdline && strlen(cfg->cmdline) >= LAYOUT_CMDLINE_MAX)
		return fail(err, err_len, -EINVAL,
			    "boot_args (--cmdline): %zu bytes, more than the %llu allowed",
			    strlen(cfg->cmdline), (unsigned long long)(LAYOUT_CMDLINE_MAX - 1));
	if (cfg->mem_backend == GUEST_MEM_HUGETLBFS && cfg->mem_size % (2ULL << 20))
		return fail(err, err_len, -EINVAL,
			    "mem_size_mib (--memory) must be a multiple of 2 MiB with 2 MiB huge "
			    "pages");
	if (!cfg->balloon)
		return 0;
	if (balloon_resolve(cfg, &b, msg, sizeof(msg)) < 0)
		return fail(err, err_len, -EINVAL, "%s (--balloon)", msg);
	if (b.initial_target_bytes > cfg->mem_size)
		return fail(err, err_len, -EINVAL,
			    "balloon amount_mib (--balloon size=) %llu MiB is more than guest RAM "
			    "(%llu MiB)",
			    (unsigned long long)(b.initial_target_bytes >> 20),
			    (unsigned long long)(cfg->mem_size >> 20));
	return 0;
}

void vm_config__release(struct vmm_config *cfg)
{
	for (unsigned int i = 0; i < sizeof(cfg->owned) / sizeof(cfg->owned[0]); i++) {
		free(cfg->owned[i]);
		cfg->owned[i] = NULL;
	}
}

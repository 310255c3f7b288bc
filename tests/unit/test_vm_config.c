// SPDX-License-Identifier: GPL-2.0
/*
 * One VM configuration from three sources (vmm/vm_config.h): the flags and
 * a Firecracker-format --config-file give the same struct; the sources'
 * rules (--api-sock, --no-api, --config-file); the one validation before
 * /dev/kvm names the field (kernel, initrd, balloon).
 */
#include "control/api.h"
#include "config_args.h"
#include "testlib.h"
#include "vmm/config.h"
#include "vmm/vm_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/mini-vmm-vm-config-XXXXXX";

/* Every caller's err is a char[512]. */
#define parse(cfg, err, ...) config_args__parse(cfg, err, sizeof(err), __VA_ARGS__)

/* A file under dir with these bytes; returns its path (static buffer per slot). */
static const char *file(unsigned int slot, const char *name, const void *data, size_t len)
{
	static char paths[8][256];
	FILE *f;

	snprintf(paths[slot], sizeof(paths[slot]), "%s/%s", dir, name);
	f = fopen(paths[slot], "w");
	CHECK(f && fwrite(data, 1, len, f) == len && fclose(f) == 0);
	return paths[slot];
}

static const char *text_file(unsigned int slot, const char *name, const char *text)
{
	return file(slot, name, text, strlen(text));
}

static const char *elf_kernel(void)
{
	static const char elf[64] = "\177ELF\2\1\1";

	return file(0, "vmlinux", elf, sizeof(elf));
}

static void test_sources(void)
{
	struct vmm_config cfg;
	char err[512];

	/* Firecracker's spelling of the socket flag, and the API alone is a valid start. */
	CHECK_EQ(parse(&cfg, err, "--api-sock", "/tmp/s", NULL), 0);
	CHECK(cfg.api_socket && strcmp(cfg.api_socket, "/tmp/s") == 0 && !cfg.kernel);
	CHECK_EQ(parse(&cfg, err, "--api-socket", "/tmp/s", NULL), 0);
	CHECK_EQ(parse(&cfg, err, NULL), -EINVAL);
	CHECK(strstr(err, "--kernel") && strstr(err, "--config-file") &&
	      strstr(err, "--api-socket"));
	/* Firecracker's rule: --no-api requires --config-file. */
	CHECK_EQ(parse(&cfg, err, "--no-api", NULL), -EINVAL);
	CHECK(strstr(err, "--no-api requires --config-file"));
	CHECK_EQ(parse(&cfg, err, "--no-api", "--kernel", "k", NULL), -EINVAL);
	CHECK_EQ(parse(&cfg, err, "--no-api", "--config-file", "f", NULL), 0);
	CHECK(cfg.no_api && strcmp(cfg.config_file, "f") == 0);
	CHECK_EQ(parse(&cfg, err, "--no-api", "--config-file", "f", "--api-sock", "s", NULL),
		 -EINVAL);
	/* The file describes the guest: a guest flag beside it is named. */
	CHECK_EQ(parse(&cfg, err, "--config-file", "f", "--memory", "1G", NULL), -EINVAL);
	CHECK(strstr(err, "--memory"));
	CHECK_EQ(parse(&cfg, err, "--config-file", "f", "--balloon-reporting", NULL), -EINVAL);
	CHECK(strstr(err, "--balloon-reporting"));
	/* Not guest flags: fine with a file. */
	CHECK_EQ(parse(&cfg, err, "--config-file", "f", "--memory-backend", "memfd", "--id", "a-1",
		       "--api-sock", "s", NULL),
		 0);
}

/* The same VM through the flags and through a config file: the same configuration. */
static void test_same_config(void)
{
	struct vmm_config a, b;
	struct api_vm_config ea, eb;
	const char *kernel = elf_kernel();
	const char *initrd = text_file(1, "initrd", "x");
	char json[1024], err[512];

	CHECK_EQ(parse(&a, err, "--kernel", kernel, "--initrd", initrd, "--cmdline",
		       "console=ttyS0 quiet", "--cpus", "2", "--memory", "256M", "--balloon",
		       "size=16M,deflate-on-oom=on,stats-interval=1s,reporting=on", NULL),
		 0);
	snprintf(
		json, sizeof(json),
		"{\"boot-source\": {\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", "
		"\"boot_args\": \"console=ttyS0 quiet\"},\n"
		" \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": false},\n"
		" \"balloon\": {\"amount_mib\": 16, \"deflate_on_oom\": true, "
		"\"stats_polling_interval_s\": 1, \"free_page_reporting\": true},\n"
		" \"drives\": [], \"network-interfaces\": []}\n",
		kernel, initrd);
	CHECK_EQ(parse(&b, err, "--config-file", text_file(2, "vm.json", json), NULL), 0);
	CHECK_EQ(vm_config__load_file(&b, err, sizeof(err)), 0);
	CHECK_EQ(vm_config__validate(&a, err, sizeof(err)), 0);
	CHECK_EQ(vm_config__validate(&b, err, sizeof(err)), 0);
	CHECK_EQ(a.cpus, b.cpus);
	CHECK_EQ(a.mem_size, b.mem_size);
	CHECK_EQ(a.mem_backend, b.mem_backend);
	CHECK(strcmp(a.kernel, b.kernel) == 0 && strcmp(a.initrd, b.initrd) == 0);
	CHECK(strcmp(a.cmdline, b.cmdline) == 0);
	CHECK(a.balloon && b.balloon);
	CHECK_EQ(vm_config__export(&a, &ea), 0);
	CHECK_EQ(vm_config__export(&b, &eb), 0);
	CHECK(ea.has_balloon && eb.has_balloon);
	CHECK(memcmp(&ea.balloon, &eb.balloon, sizeof(ea.balloon)) == 0);
	CHECK(memcmp(&ea.machine, &eb.machine, sizeof(ea.machine)) == 0);
	CHECK_EQ(eb.balloon.amount_mib, 16);
	CHECK(eb.balloon.deflate_on_oom && eb.balloon.free_page_reporting);
	CHECK_EQ(eb.balloon.stats_polling_interval_s, 1);
	api_vm_config__release(&ea);
	api_vm_config__release(&eb);
	vm_config__release(&b);
}

/* Load text as a config file; returns the result, err filled. */
static int load(const char *text, char *err)
{
	struct vmm_config cfg;
	int ret;

	CHECK_EQ(parse(&cfg, err, "--config-file", text_file(3, "bad.json", text), NULL), 0);
	ret = vm_config__load_file(&cfg, err, 512);
	vm_config__release(&cfg);
	return ret;
}

static void test_config_file_errors(void)
{
	char err[512];

	CHECK_EQ(load("{\"boot-source\": {\"kernel_image_path\": \"k\"},", err), -EINVAL);
	CHECK(strstr(err, "malformed JSON"));
	CHECK_EQ(load("[]", err), -EINVAL);
	CHECK_EQ(load("{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 128}}", err),
		 -EINVAL);
	CHECK(strstr(err, "'boot-source' is required"));
	CHECK_EQ(load("{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": "
		      "[{\"drive_id\": \"rootfs\"}]}",
		      err),
		 -EINVAL);
	CHECK(strstr(err, "section 'drives' is not supported"));
	CHECK_EQ(load("{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"vsock\": {}}", err),
		 -EINVAL);
	CHECK(strstr(err, "'vsock'"));
	CHECK_EQ(load("{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"machine-config\": "
		      "{\"vcpu_count\": 33, \"mem_size_mib\": 128}}",
		      err),
		 -EINVAL);
	CHECK(strstr(err, "machine-config: 'vcpu_count' must be between 1 and 32"));
	CHECK_EQ(load("{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"machine-config\": "
		      "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"track_dirty_pages\": true}}",
		      err),
		 -EINVAL);
	CHECK(strstr(err, "track_dirty_pages"));
	CHECK_EQ(load("{\"boot-source\": {\"kernel_image_path\": \"k\", \"root\": 1}}", err),
		 -EINVAL);
	CHECK(strstr(err, "boot-source: unknown field 'root'"));
	CHECK_EQ(load("{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"balloon\": "
		      "{\"amount_mib\": 0, \"deflate_on_oom\": true, \"free_page_hinting\": 1}}",
		      err),
		 -EINVAL);
	CHECK(strstr(err, "balloon: 'free_page_hinting' must be a boolean"));
	CHECK_EQ(load("{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"balloon\": "
		      "{\"amount_mib\": 0}}",
		      err),
		 -EINVAL);
	CHECK(strstr(err, "balloon: missing field 'deflate_on_oom'"));
	/* Firecracker's example sections we do not have, left empty: fine. */
	CHECK_EQ(load("{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [], "
		      "\"logger\": null}",
		      err),
		 0);
}

static int validate(char *err, const char *a0, ...)
{
	struct vmm_config cfg;
	va_list ap;
	int ret;

	va_start(ap, a0);
	ret = config_args__vparse(&cfg, err, 512, a0, ap);
	va_end(ap);
	CHECK_EQ(ret, 0);
	return vm_config__validate(&cfg, err, 512);
}

static void test_validate(void)
{
	const char *kernel = elf_kernel();
	static char bz[0x300];
	char err[512];

	/* The very cases that used to report /dev/kvm first. */
	CHECK_EQ(validate(err, "--kernel", "/etc/passwd", NULL), -EINVAL);
	CHECK(strstr(err, "kernel_image_path (--kernel) '/etc/passwd'") &&
	      strstr(err, "not a kernel"));
	CHECK_EQ(validate(err, "--kernel", kernel, "--balloon", "bogus=1", NULL), -EINVAL);
	CHECK(strstr(err, "'bogus'") && strstr(err, "--balloon"));
	CHECK_EQ(validate(err, "--kernel", "/nonexistent/vmlinux", NULL), -EINVAL);
	CHECK(strstr(err, "No such file"));
	CHECK_EQ(validate(err, "--kernel", "/tmp", NULL), -EINVAL);
	CHECK(strstr(err, "not a regular file"));
	CHECK_EQ(validate(err, "--kernel", kernel, "--initrd", "/nonexistent/initrd", NULL),
		 -EINVAL);
	CHECK(strstr(err, "initrd_path (--initrd)"));
	CHECK_EQ(validate(err, "--kernel", kernel, "--memory", "64M", "--balloon", "size=128M",
			  NULL),
		 -EINVAL);
	CHECK(strstr(err, "amount_mib") && strstr(err, "more than guest RAM (64 MiB)"));
	CHECK_EQ(
		validate(err, "--kernel", kernel, "--memory", "64M", "--balloon", "size=64M", NULL),
		0);
	/* A bzImage: "HdrS" at 0x202. */
	memcpy(bz + 0x202, "HdrS", 4);
	CHECK_EQ(validate(err, "--kernel", file(4, "bzImage", bz, sizeof(bz)), NULL), 0);
}

int main(void)
{
	CHECK(mkdtemp(dir));
	test_sources();
	test_same_config();
	test_config_file_errors();
	test_validate();
	for (const char *n = "vmlinux\0initrd\0vm.json\0bad.json\0bzImage\0"; *n;
	     n += strlen(n) + 1) {
		char p[256];

		snprintf(p, sizeof(p), "%s/%s", dir, n);
		unlink(p);
	}
	rmdir(dir);
	printf("test_vm_config: %d checks passed\n", testlib_checks);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kvm and the VM fd: version and capability checks (each failure
 * names what is missing), irqchip, PIT, memory slots, irqfd, ioeventfd.
 */
#include "vmm/kvm.h"

#include "base/layout.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define KVM_CPUID_MAX_ENTRIES 256

static const struct {
	int cap;
	const char *name;
	const char *why;
} required_caps[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM is host memory"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel LAPIC/IOAPIC"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel PIT timer"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "x86 TSS placement"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "virtqueue notifications without exits"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "virtio interrupts from the device thread"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "KVM_GET_SUPPORTED_CPUID"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs cleanly"},
};

static int open_dev_kvm(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
		log_error("/dev/kvm: no such device: load the kvm module (kvm_intel or kvm_amd) "
			  "or run on a host with virtualization enabled");
		break;
	case EACCES:
	case EPERM:
		log_error("/dev/kvm: permission denied: run as root or join group kvm");
		break;
	default:
		log_error("/dev/kvm: %s", strerror(errno));
	}
	return -errno;
}

static int check_caps(struct kvm *kvm)
{
	int version = ioctl(kvm->sys_fd, KVM_GET_API_VERSION, 0);

	if (version != KVM_API_VERSION) {
		log_error("/dev/kvm: API version %d, mini-vmm needs %d", version, KVM_API_VERSION);
		return -ENOTSUP;
	}
	for (unsigned int i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			log_error("/dev/kvm lacks %s (needed for %s)", required_caps[i].name,
				  required_caps[i].why);
			return -ENOTSUP;
		}
	}
	kvm->has_identity_map_addr =
		ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0;
	kvm->has_tsc_deadline =
		ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	if (ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0)
		kvm->coalesced_pio_page =
			ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	if (kvm->coalesced_pio_page <= 0) {
		kvm->coalesced_pio_page = 0;
		log_info("kvm: coalesced port I/O: not available (no KVM_CAP_COALESCED_PIO): "
			 "every serial byte the guest writes exits to mini-vmm");
	}
	if (!kvm->has_tsc_deadline)
		log_info("kvm: TSC-deadline timer: not available (no KVM_CAP_TSC_DEADLINE_TIMER): "
			 "the guest calibrates its LAPIC timer at boot");
	return 0;
}

static int get_supported_cpuid(struct kvm *kvm)
{
	struct kvm_cpuid2 *cpuid;

	cpuid = calloc(1, sizeof(*cpuid) + KVM_CPUID_MAX_ENTRIES * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = KVM_CPUID_MAX_ENTRIES;
	if (ioctl(kvm->sys_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		int err = -errno;

		log_error("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(cpuid);
		return err;
	}
	kvm->supported_cpuid = cpuid;
	return 0;
}

int kvm__init(struct kvm *kvm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	int ret;

	memset(kvm, 0, sizeof(*kvm));
	kvm->vm_fd = -1;
	kvm->sys_fd = open_dev_kvm();
	if (kvm->sys_fd < 0)
		return kvm->sys_fd;
	ret = check_caps(kvm);
	if (ret < 0)
		goto err;
	kvm->vcpu_mmap_size = ioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->vcpu_mmap_size <= 0) {
		ret = -errno;
		log_error("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		goto err;
	}
	ret = get_supported_cpuid(kvm);
	if (ret < 0)
		goto err;
	kvm->vm_fd = ioctl(kvm->sys_fd, KVM_CREATE_VM, 0);
	if (kvm->vm_fd < 0) {
		ret = -errno;
		log_error("KVM_CREATE_VM: %s", strerror(errno));
		goto err;
	}
	/* The TSS and identity map must sit in guest-physical space no RAM uses (layout.h). */
	if (ioctl(kvm->vm_fd, KVM_SET_TSS_ADDR, LAYOUT_KVM_TSS) < 0) {
		ret = -errno;
		log_error("KVM_SET_TSS_ADDR: %s", strerror(errno));
		goto err;
	}
	if (kvm->has_identity_map_addr) {
		uint64_t addr = LAYOUT_KVM_IDENTITY_MAP;

		if (ioctl(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0)
			log_warn("KVM_SET_IDENTITY_MAP_ADDR: %s (continuing)", strerror(errno));
	}
	if (ioctl(kvm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		ret = -errno;
		log_error("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		goto err;
	}
	/* SPEAKER_DUMMY: KVM answers port 0x61, which Linux reads while calibrating. */
	if (ioctl(kvm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		ret = -errno;
		log_error("KVM_CREATE_PIT2: %s", strerror(errno));
		goto err;
	}
	return 0;
err:
	kvm__exit(kvm);
	return ret;
}

void kvm__exit(struct kvm *kvm)
{
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->sys_fd >= 0)
		close(kvm->sys_fd);
	free(kvm->supported_cpuid);
	kvm->supported_cpuid = NULL;
	kvm->vm_fd = kvm->sys_fd = -1;
}

int kvm__set_memory(struct kvm *kvm, const struct guest_mem *mem)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			log_error("KVM_SET_USER_MEMORY_REGION slot %u (gpa 0x%llx, %llu MiB): %s",
				  i, (unsigned long long)r->gpa,
				  (unsigned long long)(r->size >> 20), strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int kvm__coalesced_pio_zone(struct kvm *kvm, uint16_t port, uint16_t len, bool on)
{
	struct kvm_coalesced_mmio_zone zone = {.addr = port, .size = len, .pio = 1};

	if (ioctl(kvm->vm_fd, on ? KVM_REGISTER_COALESCED_MMIO : KVM_UNREGISTER_COALESCED_MMIO,
		  &zone) < 0)
		return -errno;
	return 0;
}

int kvm__irq_line(struct kvm *kvm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = {.irq = gsi, .level = (uint32_t)level};

	if (ioctl(kvm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

int kvm__irqfd(struct kvm *kvm, uint32_t gsi)
{
	struct kvm_irqfd irqfd = {.gsi = gsi};
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	irqfd.fd = (uint32_t)fd;
	if (ioctl(kvm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		int err = -errno;

		log_error("KVM_IRQFD gsi %u: %s", gsi, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

int kvm__ioeventfd_mmio(struct kvm *kvm, uint64_t addr, uint32_t datamatch)
{
	struct kvm_ioeventfd ioev = {
		.addr = addr,
		.len = 4,
		.datamatch = datamatch,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	ioev.fd = fd;
	if (ioctl(kvm->vm_fd, KVM_IOEVENTFD, &ioev) < 0) {
		int err = -errno;

		log_error("KVM_IOEVENTFD at 0x%llx: %s", (unsigned long long)addr, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

bool kvm__host_is_emulating(void)
{
	/* kvm_pvm runs native guests' kernel code through KVM's x86 emulator. */
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

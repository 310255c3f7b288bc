#!/usr/bin/env bash
# The normal boot path: kernel + initramfs + a user-space /init making system
# calls. Exit 0 pass, 1 fail, 77 skip: without /dev/kvm, or on an emulating KVM
# (kvm_pvm), where guest user space cannot make system calls (host-quirks.md).
# Usage: userspace-test.sh MINI_VMM INIT_BINARY
set -uo pipefail
vmm=$1 init=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/boot/verdict.sh"
skip_unless_real_kvm
kernel=${MINI_VMM_KERNEL:-$("$top/guest/build-kernel.sh" | tail -n 1)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
/usr/bin/python3 "$top/tests/boot/mkinitramfs.py" "$init" "$out/initramfs.cpio" || exit 1
timeout 300 "$vmm" --kernel "$kernel" --initrd "$out/initramfs.cpio" --memory 256M \
	--cmdline "console=ttyS0 panic=-1 reboot=k" --serial "file:$out/console" </dev/null
rc=$?
tail -n 5 "$out/console"
[ "$rc" -eq 0 ] || { echo "FAIL: mini-vmm exit status $rc"; exit 1; }
grep -q "mini-vmm-init: user space is running as pid 1" "$out/console" ||
	{ echo "FAIL: /init did not run"; exit 1; }
echo "PASS: user space ran from the initramfs"

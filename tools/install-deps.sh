#!/usr/bin/env bash
# Installs what mini-vmm needs on Debian 12, only what is missing.
# Usage: tools/install-deps.sh [--quiet]
set -euo pipefail

# Build: compiler, CMake, liburing, libcap-ng, libmicrohttpd + json-c (the API),
# libseccomp. Guest kernel: Debian's 6.1 source and its build tools. Tests and
# benchmarks: clang-format, QEMU (the peer VMM), promtool (package prometheus),
# chromium (dashboard test), matplotlib (plots), clang + its runtime (libFuzzer).
# The nested SVM host (tools/kvm-host --nested): QEMU, a static busybox for its
# initramfs, cpio; its kernel is downloaded by tools/kvm-host, not installed.
# The guest patches' check (guest/patches.sh): git, and python3-ply +
# python3-git for checkpatch's SPDX check. The install and package tests:
# dpkg-dev (dpkg-shlibdeps, for CPack's DEB), man-db, groff-base.
PACKAGES=(
	build-essential cmake pkg-config
	liburing-dev libcap-ng-dev
	clang-format
	linux-source-6.1 flex bison libelf-dev bc libssl-dev xz-utils
	qemu-system-x86 busybox-static
	python3 cpio git python3-ply python3-git
	libmicrohttpd-dev libjson-c-dev prometheus chromium python3-matplotlib
	libseccomp-dev clang libclang-rt-14-dev
	dpkg-dev man-db groff-base
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	[ "${1:-}" = --quiet ] || echo "install-deps: everything needed is installed"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
	command -v sudo >/dev/null || {
		echo "install-deps: not root and no sudo: as root run: apt-get install -y ${missing[*]}" >&2
		exit 1
	}
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt or dpkg (unattended-upgrades on a fresh machine) may hold the
# lock: wait for it, up to 10 minutes, instead of failing at once.
apt_get() { $SUDO apt-get -o DPkg::Lock::Timeout=600 "$@"; }
# A fresh machine has empty package lists: update once, then install.
if ! apt_get install -y --no-install-recommends "${missing[@]}" >/tmp/mini-vmm-apt.log 2>&1; then
	apt_get update >>/tmp/mini-vmm-apt.log 2>&1
	if ! apt_get install -y --no-install-recommends "${missing[@]}" >>/tmp/mini-vmm-apt.log 2>&1; then
		tail -n 20 /tmp/mini-vmm-apt.log >&2
		echo "install-deps: apt-get install failed (log: /tmp/mini-vmm-apt.log)" >&2
		exit 1
	fi
fi
echo "install-deps: done"

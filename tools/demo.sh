#!/usr/bin/env bash
# mini-vmm in one command: installs what is missing, builds the VMM and the
# patched guest kernel (cached outside the checkout), boots the guest with
# free page reporting, lets its in-kernel workload touch and free memory, and
# shows the memory coming back to the host. The last line is the summary:
#   reclaim: freed=<MiB> returned=<MiB> (<pct>%) corrupted=<n> time_to_90pct=<s>
# Environment: DEMO_MIB (MiB the workload cycles, default 128), DEMO_MEMORY
# (guest RAM, default 384M), DEMO_DELAY_MS (page_reporting.delay_ms, default 100),
# MINI_VMM_VM_HOST (auto, direct or nested: where the guest runs, default auto).
#
# The guest runs on this machine's /dev/kvm where it opens, else in the nested
# SVM host (tools/kvm-host --nested: QEMU's TCG emulating AMD SVM, so a real
# /dev/kvm inside a software VM): slower, but the same summary line.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mib=${DEMO_MIB:-128}
memory=${DEMO_MEMORY:-384M}
delay=${DEMO_DELAY_MS:-100}
vm_host=${MINI_VMM_VM_HOST:-auto}

# Where the guest can run is known before anything is built.
kind=$(tools/kvm-host --probe)
case $vm_host:$kind in
direct:none)
	echo "demo: MINI_VMM_VM_HOST=direct, but /dev/kvm is absent or does not open (run as root or join group kvm)" >&2
	exit 1
	;;
auto:none | nested:*)
	if [ "$(uname -m)" != x86_64 ]; then
		echo "demo: /dev/kvm is absent and the nested SVM host needs an x86-64 machine: enable KVM" >&2
		exit 1
	fi
	vm_host=nested
	echo "demo: no /dev/kvm here: the guest will run in the nested SVM host (QEMU TCG, slower; its first run downloads Debian's kernel, ~70 MB)"
	;;
*)
	vm_host=direct
	echo "demo: the guest will run on this machine's /dev/kvm ($kind)"
	;;
esac

echo "== [1/4] dependencies"
tools/install-deps.sh
echo "== [2/4] building mini-vmm"
tools/build.sh "$top/build" >/dev/null
echo "mini-vmm built: build/mini-vmm"
echo "== [3/4] guest kernel (Debian linux-source-6.1 + guest/patches, cached)"
kernel=$(guest/build-kernel.sh | tail -n 1)
echo "guest kernel: $kernel"

echo "== [4/4] booting the guest: $memory RAM, virtio-balloon with free page reporting"
echo "   the workload touches $mib MiB, frees it, and waits for page reporting; watch"
echo "   guest_rss_mib (host memory backing guest RAM) in the marker lines"
log=$(mktemp /tmp/mini-vmm-demo.XXXXXX.log)
set +e
tools/kvm-host --"$vm_host" --timeout 1200 -- \
	build/mini-vmm --kernel "$kernel" --memory "$memory" --cpus 1 --balloon-reporting \
	--cmdline "console=ttyS0 panic=-1 reboot=k page_reporting.delay_ms=$delay mvmm_workload.mib=$mib" \
	</dev/null 2>&1 | tee "$log" | grep --line-buffered -E "kvm-host:|mvmm_workload:|mini-vmm:|virtio_balloon|Linux version|Run /init|error"
rc=${PIPESTATUS[0]}
set -e
summary=$(grep -a -o "reclaim: freed=.*" "$log" | tail -n 1)
if [ "$rc" -ne 0 ] || [ -z "$summary" ]; then
	echo "demo: the guest did not finish its workload (mini-vmm exit $rc); full log: $log" >&2
	exit 1
fi
echo "full log: $log"
echo "$summary"

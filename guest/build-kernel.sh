#!/usr/bin/env bash
# Build mini-vmm's test guest kernel: an uncompressed x86-64 vmlinux with the
# PVH entry note, from Debian's linux-source-6.1 tarball, guest/patches/*.patch
# and the guest/kernel.config fragment. See docs/guest-kernel.md.
#
# Usage: guest/build-kernel.sh [--unpatched] [--force] [--print-key] [--help]
#   KERNEL=$(guest/build-kernel.sh | tail -n1)
#   --unpatched  the same fragment with none of guest/patches applied, and
#                without the options only those patches define (a stock
#                Linux 6.1 guest: no int3_selftest=, no delay_ms=, no workload)
#
# The result is cached outside the checkout, in
#   ${MINI_VMM_CACHE:-$HOME/.cache/mini-vmm}/kernel/<key>/vmlinux
# where <key> is a sha256 over the mode (patched or unpatched), this script,
# the config fragment, every patch applied (in order), the source tarball's
# name/size/mtime and the compiler version. Progress goes to stderr; the last
# line on stdout is the vmlinux path.
#
# Environment:
#   MINI_VMM_CACHE           cache root (default $HOME/.cache/mini-vmm)
#   MINI_VMM_KERNEL_TARBALL  source tarball (default
#                            /usr/src/linux-source-6.1.tar.xz, from the
#                            Debian package linux-source-6.1)

set -euo pipefail

readonly PROGRESS_INTERVAL_S=30
readonly TOTAL_STAGES=5

script_path=$(readlink -f "${BASH_SOURCE[0]}")
guest_dir=$(dirname "$script_path")
config_fragment=$guest_dir/kernel.config
patch_dir=$guest_dir/patches
tarball=${MINI_VMM_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
cache_root=${MINI_VMM_CACHE:-$HOME/.cache/mini-vmm}/kernel

force=0
print_key=0
mode=patched

log() { printf '%s\n' "$*" >&2; }
die() { log "build-kernel: error: $*"; exit 1; }

usage() {
	sed -n '2,24s/^# \{0,1\}//p' "$script_path" >&2
}

while [ $# -gt 0 ]; do
	case $1 in
	--force) force=1 ;;
	--print-key) print_key=1 ;;
	--unpatched) mode=unpatched ;;
	-h | --help) usage; exit 0 ;;
	*) usage; die "unknown argument: $1" ;;
	esac
	shift
done

# Patches in the order they are applied (the glob sorts by name: 0001-, 0002-...).
all_patches=()
if [ -d "$patch_dir" ]; then
	shopt -s nullglob
	all_patches=("$patch_dir"/*.patch)
	shopt -u nullglob
fi
patches=()
[ "$mode" = unpatched ] || patches=("${all_patches[@]}")

[ -f "$config_fragment" ] || die "config fragment missing: $config_fragment"

# Options a patch adds ("+config FOO" in a Kconfig hunk) do not exist in an
# unpatched tree: Kconfig would drop them and verify_config would fail. The
# unpatched mode leaves their lines out of the fragment it merges (and so of
# what it verifies); today that is CONFIG_MVMM_WORKLOAD (0003).
patch_only_options=()
if [ "$mode" = unpatched ] && [ ${#all_patches[@]} -gt 0 ]; then
	mapfile -t patch_only_options < <(sed -n 's/^+config \([A-Za-z0-9_]*\).*/CONFIG_\1/p' \
		"${all_patches[@]}" | sort -u)
fi

# The fragment this mode merges and verifies, on stdout.
effective_fragment() {
	local opt pattern=
	for opt in "${patch_only_options[@]}"; do
		pattern+="${pattern:+|}$opt"
	done
	if [ -z "$pattern" ]; then
		cat "$config_fragment"
	else
		grep -vE "^(($pattern)=|# ($pattern) is not set)" "$config_fragment" || true
	fi
}

[ -f "$tarball" ] ||
	die "kernel source not found: $tarball (apt-get install linux-source-6.1, or set MINI_VMM_KERNEL_TARBALL)"

# --- Cache key --------------------------------------------------------------
# Anything that changes the output must change the key. The tarball is
# identified by name, size and mtime (dpkg keeps the package's mtime, so it
# is stable across machines installing the same linux-source version).
compute_key() {
	local p
	{
		printf 'mode %s\n' "$mode"
		printf 'script %s\n' "$(sha256sum <"$script_path" | cut -d' ' -f1)"
		printf 'config %s\n' "$(effective_fragment | sha256sum | cut -d' ' -f1)"
		for p in "${patches[@]}"; do
			printf 'patch %s %s\n' "$(basename "$p")" \
				"$(sha256sum <"$p" | cut -d' ' -f1)"
		done
		printf 'tarball %s %s\n' "$(basename "$tarball")" \
			"$(stat -L -c '%s %Y' "$tarball")"
		printf 'cc %s\n' "$(gcc --version 2>/dev/null | head -n1 || true)"
	} | sha256sum | cut -d' ' -f1
}

key=$(compute_key)
if [ "$print_key" = 1 ]; then
	printf '%s\n' "$key"
	exit 0
fi

result_dir=$cache_root/$key
vmlinux=$result_dir/vmlinux

if [ "$force" = 0 ] && [ -f "$vmlinux" ]; then
	log "reusing cached $mode kernel ($result_dir)"
	printf '%s\n' "$vmlinux"
	exit 0
fi

# --- Build tools ------------------------------------------------------------
# Checked up front so a missing tool fails in a second, not after extracting
# 1.4 GB. The script never installs anything itself.
check_tools() {
	local missing=0 entry tool pkg
	for entry in make:make gcc:gcc ld:binutils readelf:binutils \
		flex:flex bison:bison bc:bc tar:tar xz:xz-utils \
		patch:patch flock:util-linux setsid:util-linux \
		sha256sum:coreutils; do
		tool=${entry%%:*}
		pkg=${entry#*:}
		if ! command -v "$tool" >/dev/null 2>&1; then
			log "$tool not found: apt-get install $pkg"
			missing=1
		fi
	done
	# objtool (always built for x86-64) needs libelf's headers.
	if ! printf '#include <gelf.h>\n' | gcc -E -x c - >/dev/null 2>&1; then
		log "libelf headers (gelf.h) not found: apt-get install libelf-dev"
		missing=1
	fi
	[ "$missing" = 0 ] || die "missing build tools (see above)"
}
check_tools

# --- Lock, temp dir, cleanup ------------------------------------------------
mkdir -p "$cache_root"
lock_file=$cache_root/$key.lock
exec 9>"$lock_file"
if ! flock -n 9; then
	log "another build of this kernel is running; waiting for $lock_file"
	flock 9
fi

# Someone else may have finished the same build while we waited.
if [ "$force" = 0 ] && [ -f "$vmlinux" ]; then
	log "reusing cached $mode kernel ($result_dir)"
	printf '%s\n' "$vmlinux"
	exit 0
fi

# Leftovers of builds that were killed hard (trap did not run); a day is far
# longer than any build.
find "$cache_root" -maxdepth 1 -name 'tmp.*' -type d -mmin +1440 \
	-exec rm -rf {} + 2>/dev/null || true

work_dir=$(mktemp -d "$cache_root/tmp.XXXXXX")
build_log=$cache_root/build-$key.log
make_pid=

cleanup() {
	local status=$?
	if [ -n "$make_pid" ]; then
		kill -- "-$make_pid" 2>/dev/null || kill -- "$make_pid" 2>/dev/null || true
		wait "$make_pid" 2>/dev/null || true
	fi
	rm -rf "$work_dir"
	exit "$status"
}
trap cleanup EXIT
trap 'log "build-kernel: interrupted; removing $work_dir"; exit 130' INT
trap 'log "build-kernel: terminated; removing $work_dir"; exit 143' TERM

fail_with_log() {
	log "build-kernel: error: $*"
	log "---- last 40 lines of $build_log ----"
	tail -n 40 "$build_log" >&2 || true
	log "---- full log: $build_log ----"
	exit 1
}

stage() {
	log "[$1/$TOTAL_STAGES] $2"
}

start_s=$SECONDS
: >"$build_log"
log "building guest kernel $key ($mode)"
log "  log: $build_log"

# --- 1. extract ---------------------------------------------------------------
src_name=$(basename "$tarball")
src_name=${src_name%.tar.*}
stage 1 "extracting $src_name ..."
tar -xf "$tarball" -C "$work_dir" >>"$build_log" 2>&1 ||
	fail_with_log "could not extract $tarball"
src_dir=$(find "$work_dir" -mindepth 1 -maxdepth 1 -type d | head -n1)
[ -f "$src_dir/Makefile" ] || fail_with_log "no kernel tree found in $tarball"
obj_dir=$work_dir/build
mkdir -p "$obj_dir"

# --- 2. patch -----------------------------------------------------------------
if [ "$mode" = unpatched ]; then
	stage 2 "unpatched: leaving out all ${#all_patches[@]} patch(es) of guest/patches"
	for opt in "${patch_only_options[@]}"; do
		log "      $opt dropped from the fragment (only a patch defines it)"
	done
else
	stage 2 "applying ${#patches[@]} patch(es) ..."
fi
for p in "${patches[@]}"; do
	log "      $(basename "$p")"
	# --fuzz=0: a patch that no longer applies cleanly must fail loudly.
	patch -d "$src_dir" -p1 --batch --forward --fuzz=0 \
		--no-backup-if-mismatch <"$p" >>"$build_log" 2>&1 ||
		fail_with_log "patch $(basename "$p") does not apply to $src_name"
done

kmake() {
	make -C "$src_dir" O="$obj_dir" ARCH=x86_64 "$@"
}

# --- 3. configure -------------------------------------------------------------
fragment=$work_dir/kernel.config
effective_fragment >"$fragment"

# Every line of the fragment must survive olddefconfig as written; Kconfig
# silently drops options whose dependencies are unmet, so check each one.
verify_config() {
	local config=$1 line opt bad=0 actual
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		CONFIG_*=*)
			opt=${line%%=*}
			if ! grep -qxF -- "$line" "$config"; then
				actual=$(grep -E "^($opt=|# $opt is not set)" "$config" || true)
				log "config option not applied: $opt: wanted '$line', got '${actual:-<absent: dependencies not met>}'"
				bad=1
			fi
			;;
		'# CONFIG_'*' is not set')
			opt=${line#\# }
			opt=${opt%% *}
			if grep -qE "^$opt=" "$config"; then
				actual=$(grep -E "^$opt=" "$config")
				log "config option not applied: $opt: wanted it unset, got '$actual' (selected by another option?)"
				bad=1
			fi
			;;
		esac
	done <"$fragment"
	return "$bad"
}

stage 3 "configuring: tinyconfig + $(basename "$config_fragment")${patch_only_options[*]:+ without ${patch_only_options[*]}} + olddefconfig ..."
kmake tinyconfig >>"$build_log" 2>&1 || fail_with_log "make tinyconfig failed"
"$src_dir/scripts/kconfig/merge_config.sh" -m -O "$obj_dir" \
	"$obj_dir/.config" "$fragment" >>"$build_log" 2>&1 ||
	fail_with_log "merging $config_fragment failed"
kmake olddefconfig >>"$build_log" 2>&1 || fail_with_log "make olddefconfig failed"
verify_config "$obj_dir/.config" ||
	fail_with_log "guest/kernel.config requests options the final .config does not have (see above)"
# Signing options need OpenSSL's headers; tinyconfig has none, but say so
# clearly if the fragment ever pulls one in.
if grep -qE '^CONFIG_(MODULE_SIG|SYSTEM_TRUSTED_KEYRING)=y' "$obj_dir/.config" &&
	! printf '#include <openssl/opensslv.h>\n' | gcc -E -x c - >/dev/null 2>&1; then
	die "openssl headers not found (needed by signing options): apt-get install libssl-dev"
fi

# --- 4. build -----------------------------------------------------------------
jobs=$(nproc)
stage 4 "make -j$jobs vmlinux (a few minutes; a line every ${PROGRESS_INTERVAL_S}s) ..."
# Own process group, so an interrupted run can stop make and all its children.
setsid make -C "$src_dir" O="$obj_dir" ARCH=x86_64 -j"$jobs" vmlinux \
	>>"$build_log" 2>&1 &
make_pid=$!
build_start_s=$SECONDS
next_report_s=$((SECONDS + PROGRESS_INTERVAL_S))
while kill -0 "$make_pid" 2>/dev/null; do
	sleep 1
	if [ "$SECONDS" -ge "$next_report_s" ]; then
		compiled=$(grep -c '^  CC ' "$build_log" || true)
		last=$(grep -E '^  [A-Z]+ ' "$build_log" | tail -n1 | sed 's/^ *//; s/  */ /g' || true)
		log "      $((SECONDS - build_start_s))s: ${compiled} files compiled, last: ${last:-?}"
		next_report_s=$((SECONDS + PROGRESS_INTERVAL_S))
	fi
done
make_status=0
wait "$make_pid" || make_status=$?
make_pid=
[ "$make_status" = 0 ] || fail_with_log "make vmlinux failed (exit $make_status)"
log "      built in $((SECONDS - build_start_s))s"

# --- 5. install ---------------------------------------------------------------
stage 5 "checking and installing into $result_dir ..."
built=$obj_dir/vmlinux
[ -f "$built" ] || fail_with_log "make succeeded but $built is missing"
readelf -h "$built" 2>/dev/null | grep -q 'Class:.*ELF64' ||
	fail_with_log "$built is not a 64-bit ELF"
# The PVH entry point is a Xen ELF note of type XEN_ELFNOTE_PHYS32_ENTRY (18).
readelf -n "$built" 2>/dev/null | grep -Eq '^ *Xen .*(0x00000012|PHYS32_ENTRY)' ||
	fail_with_log "$built has no PVH entry note (is CONFIG_PVH set?)"

out_dir=$work_dir/out
mkdir -p "$out_dir"
mv "$built" "$out_dir/vmlinux"
cp "$obj_dir/.config" "$out_dir/config"
printf '%s\n' "$mode" >"$out_dir/mode"
cp "$obj_dir/System.map" "$out_dir/System.map" 2>/dev/null || true
mv "$build_log" "$out_dir/build.log"
build_log=$out_dir/build.log

# Directory rename within one filesystem is atomic: readers see either no
# result or a complete one. With --force an older result is moved aside
# first and removed with the temp dir.
if [ -e "$result_dir" ]; then
	mv -T "$result_dir" "$work_dir/previous"
fi
mv -T "$out_dir" "$result_dir"

log "done in $((SECONDS - start_s))s"
printf '%s\n' "$vmlinux"

#!/usr/bin/env bash
# install/version: `mini-vmm --version` says the version of CMakeLists.txt's
# project(mini-vmm VERSION x.y.z) and the checkout's `git describe --always
# --dirty`; cmake/git-describe.cmake falls back to no describe outside git
# and takes an override.
#   version.sh MINI_VMM SOURCE_DIR WORK_DIR
set -u
vmm=$1 src=$2 work=$3
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$work"

want=$(sed -nE 's/^project\(mini-vmm VERSION ([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' "$src/CMakeLists.txt")
[ -n "$want" ] || fail "no project(mini-vmm VERSION x.y.z) in $src/CMakeLists.txt"
if describe=$(git -C "$src" describe --always --dirty 2>/dev/null) && [ -n "$describe" ]; then
	want="$want (git $describe)"
fi
got=$("$vmm" --version) || fail "mini-vmm --version exited $?"
echo "mini-vmm --version: $got"
[ "$got" = "mini-vmm $want" ] ||
	fail "expected 'mini-vmm $want' (a stale build? rebuild after editing the tree)"

# The script behind MINI_VMM_GIT_DESCRIBE, outside a checkout and overridden.
gen() { cmake -DSOURCE_DIR="$1" -DOUT="$work/version_git.h" -DGIT="$(command -v git)" \
	-DOVERRIDE="$2" -P "$src/cmake/git-describe.cmake" && cat "$work/version_git.h"; }
rm -f "$work/version_git.h"
mkdir -p "$work/not-a-checkout"
gen "$work/not-a-checkout" "" | grep -qx '#define MINI_VMM_GIT_DESCRIBE ""' ||
	fail "outside a git checkout: $(cat "$work/version_git.h")"
gen "$work/not-a-checkout" "1.2.3-tarball" | grep -qx '#define MINI_VMM_GIT_DESCRIBE "1.2.3-tarball"' ||
	fail "override ignored: $(cat "$work/version_git.h")"
echo "PASS install/version"

#!/usr/bin/env bash
# Configures and builds mini-vmm into build/ (or $1, with extra CMake args after it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
shift || true
mkdir -p "$dir"
echo "build: configuring $dir"
if ! cmake -S "$top" -B "$dir" "$@" >"$dir/configure.log" 2>&1; then
	cat "$dir/configure.log" >&2
	echo "build: configure failed (log: $dir/configure.log)" >&2
	exit 1
fi
echo "build: compiling with $(nproc) jobs"
if ! cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
	grep -E "error|Error" "$dir/build.log" | head -n 30 >&2
	echo "build: compile failed (log: $dir/build.log)" >&2
	exit 1
fi
[ -x "$dir/mini-vmm" ] || { echo "build: $dir/mini-vmm was not built" >&2; exit 1; }
echo "build: $dir/mini-vmm ready"

# SPDX-License-Identifier: GPL-2.0
# Helpers for the host side of a kvm-tier test (run_tiny.sh --host-script):
# the guest's progress from its serial output, mini-vmm's memory from
# /proc, timed requests to its API socket, its metrics. Sourced.
set -u

pid=${MINI_VMM_PID:?run by run_tiny.sh --host-script}
serial=${TINY_SERIAL:?}
api=${TINY_API_SOCKET:?}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tiny_host.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}

now_us() {
	local t=$EPOCHREALTIME
	echo $((${t%.*} * 1000000 + 10#${t#*.}))
}

# mini-vmm still runs (a zombie waiting for timeout to reap it has exited).
vmm_alive() {
	local state
	state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

serial_has() {
	tr -d '\r' <"$serial" | grep -Eq -- "$1"
}

# Wait up to $2 seconds for the guest to print a line matching $1.
wait_serial() {
	local deadline=$(($(now_us) + $2 * 1000000))
	until serial_has "$1"; do
		vmm_alive || fail "mini-vmm exited before the guest printed /$1/"
		serial_has '^FAIL' && fail "the guest failed: $(tr -d '\r' <"$serial" | grep '^FAIL')"
		[ "$(now_us)" -lt "$deadline" ] || fail "no /$1/ from the guest in $2 s"
		sleep 0.02
	done
}

# A field of /proc/PID/status, in KiB (VmRSS, VmHWM, RssAnon, ...).
status_kib() {
	awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/status"
}

# GET $1 on the API socket into $scratch/body; prints "HTTP_CODE MILLISECONDS".
api_get() {
	curl -s -o "$scratch/body" -w '%{http_code} %{time_total}\n' --max-time 10 \
		--unix-socket "$api" "http://localhost$1" |
		awk '{ printf "%s %.1f\n", $1, $2 * 1000 }'
}

# One sample from the last GET /metrics body: $1 is its name after mini_vmm_
# and its labels but the vm_id every sample has ('x_total{reason="y"}').
metric() {
	awk -v m="mini_vmm_$1" '{ n = $1; sub(/vm_id="[^"]*",?/, "", n); sub(/\{\}$/, "", n) }
		n == m { print $2 }' "$scratch/body"
}

# PATCH /balloon {"amount_mib": $1}: the guest waits for its target to go on.
set_target() {
	local code
	code=$(curl -s -o "$scratch/patch" -w '%{http_code}' --max-time 10 --unix-socket "$api" \
		-X PATCH -H 'Content-Type: application/json' -d "{\"amount_mib\": $1}" \
		http://localhost/balloon)
	[ "$code" = 204 ] || fail "PATCH /balloon amount_mib=$1 answered $code: $(cat "$scratch/patch")"
}

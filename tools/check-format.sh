#!/usr/bin/env bash
# Fails if any C source differs from what .clang-format says it should be.
set -euo pipefail
top=${1:-$(git rev-parse --show-toplevel)}
cd "$top"
if ! command -v clang-format >/dev/null; then
	echo "SKIP: clang-format not installed (apt-get install clang-format)"
	exit 77
fi
bad=0
while IFS= read -r f; do
	if ! clang-format --style=file "$f" | cmp -s - "$f"; then
		echo "not formatted: $f (run: clang-format -i $f)"
		bad=1
	fi
done < <(git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v '^guest/linux' || true)
exit $bad

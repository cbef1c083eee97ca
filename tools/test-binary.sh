#!/bin/bash
# test-binary.sh NAME - builds tests/NAME.rs and prints the path of its test
# binary, for the scripts that run a test binary inside the v2 VM (cargo's
# JSON also lists the nook binary the tests depend on: pick the test target).
set -euo pipefail
cd "$(dirname "$0")/.."
b=$(cargo test --no-run --test "$1" --message-format=json 2>/dev/null |
    grep -F '"kind":["test"]' | grep -F "\"name\":\"$1\"" |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1) || true
[ -x "$b" ] || { echo "test-binary: no test binary for $1 (cargo test --no-run --test $1)" >&2; exit 1; }
echo "$b"

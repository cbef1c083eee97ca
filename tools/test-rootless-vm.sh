#!/bin/bash
# test-rootless-vm.sh - run tests/rootless.rs inside the throw-away VM of
# tools/run-in-v2-vm.sh (pure cgroup v2), after giving nobody subordinate
# ids (nobody:100000:65536 in /etc/subuid and /etc/subgid), so the
# newuidmap/newgidmap path is tested too. The guest's writes go to RAM:
# the host's /etc is never touched.
#
#   usage: tools/test-rootless-vm.sh [TEST-FILTER] [-- LIBTEST-ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
b=$(cargo test --no-run --test rootless --message-format=json 2>/dev/null |
    grep -F '"kind":["test"]' | grep -F '"name":"rootless"' |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$b" ] || { echo "test-rootless-vm: no test binary (cargo test --no-run --test rootless)" >&2; exit 1; }
script='echo nobody:100000:65536 | tee -a /etc/subuid >> /etc/subgid; exec "$0" --test-threads=1 "$@"'
exec tools/run-in-v2-vm.sh "$(pwd)" sh -c "$script" "$b" "$@"

#!/bin/bash
# test-engines-v2.sh - run tests/engines.rs (podman, containerd, docker
# driving nook) on a pure cgroup v2 kernel, where the engines read the
# stats and limits of the cgroup2 files nook makes (tools/test.sh runs
# the same tests on this host's layout first).
#
#   usage: tools/test-engines-v2.sh [TEST-FILTER] [-- LIBTEST-ARGS...]
#
# The guest is tools/run-in-v2-vm.sh's: the host's root read-only with
# writes in RAM, the repository shared. Under TCG the three engines take
# about 6 minutes on two cores (each starts its own daemons).
set -euo pipefail
cd "$(dirname "$0")/.."
b=$(cargo test --no-run --test engines --message-format=json 2>/dev/null |
    grep -F '"kind":["test"]' | grep -F '"name":"engines"' |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$b" ] || { echo "test-engines-v2: no test binary (cargo test --no-run --test engines)" >&2; exit 1; }
exec tools/run-in-v2-vm.sh "$(pwd)" "$b" --test-threads=1 "$@"

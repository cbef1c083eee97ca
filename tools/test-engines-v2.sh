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
b=$(tools/test-binary.sh engines)
exec tools/run-in-v2-vm.sh "$(pwd)" "$b" --test-threads=1 "$@"

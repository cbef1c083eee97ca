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
b=$(tools/test-binary.sh rootless)
script='echo nobody:100000:65536 | tee -a /etc/subuid >> /etc/subgid; exec "$0" --test-threads=1 "$@"'
exec tools/run-in-v2-vm.sh "$(pwd)" sh -c "$script" "$b" "$@"

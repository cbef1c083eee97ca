#!/bin/bash
# test-cgroup-v2.sh - run nook's cgroup integration tests on a pure cgroup v2 kernel.
#
#   usage: tools/test-cgroup-v2.sh [TEST-FILTER...] [-- LIBTEST-ARGS...]
#
# Builds tests/cgroups.rs on the host (cargo, no network needed in the VM),
# then boots Debian's kernel with cgroup2 only (tools/run-in-v2-vm.sh) and
# runs the test binary there as root. Everything below the repository is
# shared into the guest at the same path; the rest of the guest is the host's
# root, read-only, with writes going to RAM.
#
# V2VM_CGROUP=v1 or V2VM_CGROUP=hybrid boots the same kernel with a pure v1
# or a hybrid layout instead, which covers the two layouts a v2 host cannot.
#
# The VM runs under TCG when /dev/kvm is unusable: expect 5-40x slower tests
# and a one-off kernel download on the first run (about 40 s). With a warm
# cache and a built test binary a run takes 20-40 s on two shared cores
# (boot plus ~10-30 s of tests; the concurrent-create test is the slowest).
# A run still going after 8 minutes (V2VM_WATCHDOG) has hung: the guest
# prints its tasks and their kernel stacks, and the runner boots once more.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

echo "test-cgroup-v2: building the cgroup tests on the host" >&2
# tests/cgroups.rs drives the cgroup module directly; tests/container_cgroups.rs
# runs whole containers (limits, cgroup mount, pause, devices) on the same kernel.
bins=()
for t in cgroups container_cgroups cgroup_adoption security_mounts; do
  b=$(tools/test-binary.sh "$t")
  bins+=("$b")
done

# Two threads: the guest has two vCPUs, and each test waits on the kernel.
# Libtest args after the filter apply to both binaries; both must pass.
script='rc=0; for b in '"${bins[*]}"'; do "$b" --test-threads=2 "$@" || rc=1; done; exit $rc'
export V2VM_WATCHDOG=${V2VM_WATCHDOG:-480}
exec tools/run-in-v2-vm.sh "$repo" sh -c "$script" sh "$@"

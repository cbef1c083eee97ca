#!/bin/bash
# test-criu.sh - run nook's checkpoint/restore tests where criu works.
#
#   usage: tools/test-criu.sh [TEST-FILTER...] [-- LIBTEST-ARGS...]
#
# criu 3.17 (Debian package criu) fails its vDSO probe on this host's
# newer kernel; on Debian's 6.1 kernel, which tools/run-in-v2-vm.sh boots
# (pure cgroup v2), it works once the kernel's modules are there
# (V2VM_MODULES=criu: the runner mounts the module tree and loads what criu
# needs). This builds tests/checkpoint.rs (nook checkpoint/restore, the
# library, the C ABI) and tests/engines.rs on the host, boots that kernel,
# runs `criu check` once (criu caches its kernel probe in /run/criu.kdat:
# the first dump then takes seconds, not ~25 s), then the test binaries'
# ignored tests: checkpoint.rs's, and engines.rs's podman and containerd
# checkpoint/restore. The same filter and libtest args go to both binaries.
#
# Under TCG expect about six minutes: the boot with modules (~15 s), then
# each criu dump or restore takes seconds in the emulated VM.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

command -v criu >/dev/null ||
  { echo "test-criu: criu missing (apt-get install --no-install-recommends criu)" >&2; exit 1; }
echo "test-criu: building the checkpoint tests on the host" >&2
bins=()
for t in checkpoint engines; do
  if [ -f "tests/$t.rs" ]; then
    b=$(tools/test-binary.sh "$t")
    bins+=("$b")
  fi
done

# One test at a time: each criu run already keeps both vCPUs busy.
script='t0=$(cut -d" " -f1 /proc/uptime)
criu check || { echo "test-criu: criu check failed in the VM"; exit 125; }
echo "test-criu: criu check passed ($(cut -d" " -f1 /proc/uptime)s of uptime, from ${t0}s)"
rc=0; for b in '"${bins[*]}"'; do "$b" --ignored --test-threads=1 "$@" || rc=1; done; exit $rc'
# CI=true makes a missing engine fail instead of skip, in the guest too.
V2VM_MODULES=criu V2VM_PASSENV="${V2VM_PASSENV:-RUST_BACKTRACE RUST_LOG} CI" \
  exec tools/run-in-v2-vm.sh "$repo" sh -c "$script" sh "$@"

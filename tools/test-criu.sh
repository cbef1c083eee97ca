#!/bin/bash
# test-criu.sh - run nook's checkpoint/restore tests where criu works.
#
#   usage: tools/test-criu.sh [LIBTEST-ARGS...]   (filters, --nocapture, ...)
#
# criu 3.17 (Debian package criu) fails its vDSO probe on this host's
# newer kernel; on Debian's 6.1 kernel, which tools/run-in-v2-vm.sh boots
# (pure cgroup v2), it works once the kernel's modules are there
# (V2VM_MODULES=criu: the runner mounts the module tree and loads what criu
# needs). This builds tests/checkpoint.rs (nook checkpoint/restore, the
# library), tests/engines.rs and the Go binding's tests (through the C ABI)
# on the host, boots that kernel,
# runs `criu check` once (criu caches its kernel probe in /run/criu.kdat:
# the first dump then takes seconds, not ~25 s), then the test binaries'
# ignored tests: checkpoint.rs's, and engines.rs's podman and containerd
# checkpoint/restore (the same libtest args go to both), then the Go
# binding's TestCheckpointRestoreWithCriu.
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

# The Go binding's real checkpoint test (NOOK_TEST_CRIU=1; it skips
# elsewhere): its test binary, built here against a debug libnook
# installed under the target dir, runs in the VM with the others.
gotest=
if command -v go >/dev/null && grep -qs NOOK_TEST_CRIU ffi/go/nook_test.go; then
  echo "test-criu: building the Go binding's test binary" >&2
  pre=${CARGO_TARGET_DIR:-$repo/target}/criu-go
  cargo build -q -p nook-ffi
  rm -rf "$pre" && tools/install.sh --no-build --profile=debug --prefix="$pre" >/dev/null
  (cd ffi/go && PKG_CONFIG_PATH="$pre/lib/pkgconfig" GOPROXY=off \
    go test -c -o "$pre/nook-go.test" .)
  gotest="cd $repo/ffi/go && LD_LIBRARY_PATH=$pre/lib NOOK_TEST_CRIU=1 $pre/nook-go.test -test.run Criu -test.v"
fi

# One test at a time: each criu run already keeps both vCPUs busy.
script='t0=$(cut -d" " -f1 /proc/uptime)
criu check || { echo "test-criu: criu check failed in the VM"; exit 125; }
echo "test-criu: criu check passed ($(cut -d" " -f1 /proc/uptime)s of uptime, from ${t0}s)"
rc=0; for b in '"${bins[*]}"'; do "$b" --ignored --test-threads=1 "$@" || rc=1; done
'"${gotest:+( $gotest ) || rc=1}"'
exit $rc'
# CI=true makes a missing engine fail instead of skip, in the guest too.
V2VM_MODULES=criu V2VM_PASSENV="${V2VM_PASSENV:-RUST_BACKTRACE RUST_LOG} CI" \
  exec tools/run-in-v2-vm.sh "$repo" sh -c "$script" sh "$@"

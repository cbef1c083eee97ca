#!/bin/bash
# test-apparmor.sh - run nook's AppArmor tests on a kernel with AppArmor on.
#
#   usage: tools/test-apparmor.sh [TEST-FILTER...] [-- LIBTEST-ARGS...]
#
# nook's test hosts run no LSM; Debian's kernel, which tools/run-in-v2-vm.sh
# boots, has AppArmor built in and enabled. This builds tests/lsm.rs and
# tests/fork_safety.rs on the host, boots that kernel, mounts securityfs and
# runs the test binaries' ignored tests (the ones that need AppArmor; the
# SELinux ones are tools/test-selinux.sh's) there as root. They load their
# profiles with the host's apparmor_parser (Debian package apparmor, see
# tools/install-test-deps.sh), seen in the guest through its read-only view
# of the host's root.
#
# Under TCG expect about three minutes: the boot, then the tests (each
# container start and exec takes seconds in the emulated VM).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

command -v apparmor_parser >/dev/null ||
  { echo "test-apparmor: apparmor_parser missing (apt-get install --no-install-recommends apparmor)" >&2; exit 1; }
echo "test-apparmor: building the LSM tests on the host" >&2
# tests/lsm.rs: the profiles' effects; tests/fork_safety.rs: the child's
# AppArmor path under an allocator that aborts in the child.
bins=()
for t in lsm fork_safety; do
  b=$(tools/test-binary.sh "$t")
  bins+=("$b")
done

script='mount -t securityfs securityfs /sys/kernel/security || exit 125
echo "test-apparmor: LSMs: $(cat /sys/kernel/security/lsm)"
[ "$(cat /sys/module/apparmor/parameters/enabled)" = Y ] || { echo "test-apparmor: AppArmor is off"; exit 125; }
rc=0; for b in '"${bins[*]}"'; do "$b" --ignored --test-threads=2 --skip selinux "$@" || rc=1; done; exit $rc'
exec tools/run-in-v2-vm.sh "$repo" sh -c "$script" sh "$@"

#!/bin/bash
# test-apparmor.sh - run nook's AppArmor tests on a kernel with AppArmor on.
#
#   usage: tools/test-apparmor.sh [TEST-FILTER...] [-- LIBTEST-ARGS...]
#
# nook's test hosts run no LSM; Debian's kernel, which tools/run-in-v2-vm.sh
# boots, has AppArmor built in and enabled. This builds tests/lsm.rs on the
# host, boots that kernel, mounts securityfs and runs the test binary's
# ignored tests (the ones that need AppArmor) there as root. They load
# their profiles with the host's apparmor_parser (Debian package apparmor,
# see tools/install-test-deps.sh), seen in the guest through its read-only
# view of the host's root.
#
# Under TCG expect about a minute: the boot, then a few seconds of tests.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

command -v apparmor_parser >/dev/null ||
  { echo "test-apparmor: apparmor_parser missing (apt-get install --no-install-recommends apparmor)" >&2; exit 1; }
echo "test-apparmor: building the LSM tests on the host" >&2
bin=$(tools/test-binary.sh lsm)

script='mount -t securityfs securityfs /sys/kernel/security || exit 125
echo "test-apparmor: LSMs: $(cat /sys/kernel/security/lsm)"
[ "$(cat /sys/module/apparmor/parameters/enabled)" = Y ] || { echo "test-apparmor: AppArmor is off"; exit 125; }
exec "$0" --ignored --test-threads=2 "$@"'
exec tools/run-in-v2-vm.sh "$repo" sh -c "$script" "$bin" "$@"

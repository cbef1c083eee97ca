#!/bin/bash
# test-selinux.sh - run nook's SELinux tests on a kernel with SELinux on and
# a policy loaded.
#
#   usage: tools/test-selinux.sh [TEST-FILTER...] [-- LIBTEST-ARGS...]
#
# nook's test hosts run no LSM. Debian's kernel, which tools/run-in-v2-vm.sh
# boots, has SELinux built in next to AppArmor: booted with
# "security=selinux selinux=1 enforcing=0" it runs SELinux, permissive (the
# labels are set and shown, denials are only logged). The guest has a
# busybox init, not systemd, so nothing loads a policy at boot: this script
# mounts selinuxfs and runs load_policy, which loads Debian's
# selinux-policy-default from /etc/selinux/default (the host's, seen in the
# guest through its read-only view of the host's root; see
# tools/install-test-deps.sh). Installing that policy on a host without
# SELinux changes nothing there: no relabel, no boot setting.
# Then tests/lsm.rs's ignored SELinux tests run as root.
#
# Under TCG expect about a minute: the boot, the policy load, one container.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

ls /etc/selinux/default/policy/policy.* >/dev/null 2>&1 && command -v load_policy >/dev/null ||
  { echo "test-selinux: no policy (apt-get install --no-install-recommends selinux-policy-default selinux-utils policycoreutils)" >&2; exit 1; }
echo "test-selinux: building the LSM tests on the host" >&2
b=$(tools/test-binary.sh lsm)

script='mount -t securityfs securityfs /sys/kernel/security || exit 125
mkdir -p /sys/fs/selinux && mount -t selinuxfs selinuxfs /sys/fs/selinux || { echo "test-selinux: SELinux is off"; exit 125; }
load_policy || { echo "test-selinux: load_policy failed"; exit 125; }
echo "test-selinux: LSMs: $(cat /sys/kernel/security/lsm), policy loaded, $(getenforce)"
"$0" --ignored --test-threads=2 selinux "$@"'
V2VM_APPEND="security=selinux selinux=1 enforcing=0" exec tools/run-in-v2-vm.sh "$repo" sh -c "$script" "$b" "$@"

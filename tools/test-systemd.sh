#!/bin/bash
# test-systemd.sh - run tests/systemd_cgroup.rs (the systemd cgroup driver,
# --systemd-cgroup) where systemd is PID 1: in tools/run-in-vm-systemd.sh's
# guest, once on a pure cgroup2 layout and once on systemd's hybrid layout
# (v1 controllers, cgroup2 for systemd's own tracking), so both of systemd's
# property sets (MemoryMax... and MemoryLimit...) and nook's own v1
# directories are covered. The host runs no systemd, so there these tests
# skip and only the refusal without systemd is tested. On the pure cgroup2
# layout, podman, containerd and docker drive nook with their systemd cgroup
# manager too (tests/engines_systemd.rs), podman and docker with their
# default AppArmor profiles (the guest kernel has AppArmor on).
#
#   usage: tools/test-systemd.sh [TEST-FILTER] [-- LIBTEST-ARGS...]
#
# About 12 minutes under TCG on two busy shared cores in all: two boots, the
# engines take most of it.
# V2VM_CGROUP names the layouts to run ("v2", "hybrid", or "v1" for systemd's
# legacy layout without any cgroup2 mount, which passes too but costs one
# more boot and adds nothing hybrid does not cover for nook). Under TCG each boot takes
# about 15 s to reach the tests; the driver's tests take ~45 s, the engines' ~8 min
# (two at a time; docker alone ~4 min).
set -euo pipefail
cd "$(dirname "$0")/.."
b=$(tools/test-binary.sh systemd_cgroup)
# podman, containerd and docker in their systemd configuration
# (tests/engines_systemd.rs): on the pure cgroup2 layout only, the one their
# defaults target.
e=$(tools/test-binary.sh engines_systemd)
layouts=${V2VM_CGROUP:-v2 hybrid}
rc=0
for l in $layouts; do
  echo "test-systemd: $l layout" >&2
  bins=$b
  [ "$l" = v2 ] && bins="$b $e"
  script='rc=0; for b in '"$bins"'; do "$b" --test-threads=2 "$@" || rc=1; done; exit $rc'
  V2VM_CGROUP=$l tools/run-in-vm-systemd.sh "$(pwd)" sh -c "$script" sh "$@" || rc=1
done
exit $rc

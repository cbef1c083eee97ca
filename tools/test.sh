#!/usr/bin/env bash
# The whole test suite, as root on a Debian machine: lint, unit and
# integration tests against this kernel, the C and Go bindings, the OCI
# conformance suite against a release build (tools/conformance.sh), the
# cgroup tests on a pure cgroup v2 kernel, the AppArmor and the SELinux tests
# on kernels with each, the systemd cgroup driver under systemd
# (tools/test-systemd.sh), checkpoint/restore through criu
# (tools/test-criu.sh) (qemu), and a short fuzz of every input parser
# (tools/fuzz.sh). Installs what is missing.
# Ends with a check that the run left no mount, cgroup or state behind.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tools/test.sh: run as root (containers need it)" >&2; exit 1; }
tools/install-test-deps.sh

snapshot() {
	{
		findmnt -rn -o TARGET | sort
		# nook's cgroups sit at each hierarchy's root (/<id>) unless a test
		# names a path; deeper, the host's own managers come and go.
		find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d 2>/dev/null | sort
		find /sys/fs/cgroup -mindepth 3 -maxdepth 8 -type d \( -name '*nook*' -o -name 'fs-*' \) 2>/dev/null | sort
		ls -A /run/nook 2>/dev/null | sed 's|^|/run/nook/|'
	} | grep -v -e '^/tmp/v2vm' -e '^/proc/sys/fs/binfmt_misc' || true
}
before=$(snapshot)

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --all-targets
cargo test --workspace --doc
cargo run --quiet --example hello
if [ -x ffi/test.sh ]; then ffi/test.sh; fi
tools/conformance.sh
# The link order of the binary conformance.sh built still fits it (tools/text-order.sh).
tools/text-order.sh --check
if [ -x tools/test-cgroup-v2.sh ]; then tools/test-cgroup-v2.sh; fi
if [ -x tools/test-systemd.sh ]; then tools/test-systemd.sh; fi
if [ -x tools/test-rootless-vm.sh ]; then tools/test-rootless-vm.sh; fi
if [ -x tools/test-apparmor.sh ]; then tools/test-apparmor.sh; fi
if [ -x tools/test-selinux.sh ]; then tools/test-selinux.sh; fi
if [ -x tools/test-engines-v2.sh ]; then tools/test-engines-v2.sh; fi
if [ -x tools/test-criu.sh ]; then tools/test-criu.sh; fi
# Each fuzz target for 20 s from the committed corpus (tools/fuzz.sh).
tools/fuzz.sh 20

after=$(snapshot)
if [ "$before" != "$after" ]; then
	echo "tools/test.sh: the run left things behind on the host:" >&2
	diff <(echo "$before") <(echo "$after") >&2 || true
	exit 1
fi
echo "tools/test.sh: all tests passed, host left as it was"

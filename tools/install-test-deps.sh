#!/usr/bin/env bash
# Installs what nook's test suite needs on Debian, as root: only what is
# missing, so it is cheap to call before every run.
set -euo pipefail
pkgs=()
dpkg -s busybox-static >/dev/null 2>&1 || pkgs+=(busybox-static)
command -v qemu-system-x86_64 >/dev/null || pkgs+=(qemu-system-x86)
command -v go >/dev/null || pkgs+=(golang-go)
# make: builds the OCI conformance suite (tools/conformance.sh).
command -v make >/dev/null || pkgs+=(make)
command -v pkg-config >/dev/null || pkgs+=(pkg-config)
# newuidmap/newgidmap: the rootless tests map several id ranges through them.
command -v newuidmap >/dev/null || pkgs+=(uidmap)
# g++: cargo fuzz builds libFuzzer (C++) for tools/fuzz.sh.
command -v c++ >/dev/null || pkgs+=(g++)
if [ ${#pkgs[@]} -gt 0 ]; then
	echo "installing: ${pkgs[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
# apparmor_parser: tools/test-apparmor.sh loads its test profiles with it
# (into the VM's kernel; this host's may have AppArmor off).
if ! command -v apparmor_parser >/dev/null; then
	echo "installing: apparmor" >&2
	export DEBIAN_FRONTEND=noninteractive
	[ ${#pkgs[@]} -gt 0 ] || apt-get update -qq
	apt-get install -y -qq --no-install-recommends apparmor >/dev/null
fi
# Debian's SELinux policy and load_policy: tools/test-selinux.sh loads the
# policy into the VM's kernel. On a host without SELinux they only add
# files: /etc/selinux/config (SELINUX=permissive, read by nothing there)
# and the compiled policy; no relabel, no boot setting.
if ! { ls /etc/selinux/default/policy/policy.* && command -v load_policy; } >/dev/null 2>&1; then
	echo "installing: selinux-policy-default" >&2
	export DEBIAN_FRONTEND=noninteractive
	[ ${#pkgs[@]} -gt 0 ] || apt-get update -qq
	apt-get install -y -qq --no-install-recommends selinux-policy-default selinux-utils policycoreutils >/dev/null
fi
# criu: tools/test-criu.sh checkpoints and restores through it (in the VM;
# it fails on kernels newer than it knows). Its recommends are not needed.
if ! command -v criu >/dev/null; then
	echo "installing: criu" >&2
	export DEBIAN_FRONTEND=noninteractive
	[ ${#pkgs[@]} -gt 0 ] || apt-get update -qq
	apt-get install -y -qq --no-install-recommends criu >/dev/null
fi
# The engines that tests/engines.rs drives nook with. Their packages would
# start dockerd and containerd on the host: a policy-rc.d that says no
# (101) holds while they install; the tests start their own daemons.
engines=()
for p in podman conmon netavark containerd docker.io; do
	dpkg -s "$p" >/dev/null 2>&1 || engines+=("$p")
done
if [ ${#engines[@]} -gt 0 ]; then
	echo "installing: ${engines[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	[ ${#pkgs[@]} -gt 0 ] || apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${engines[@]}" >/dev/null
fi
if command -v rustup >/dev/null; then
	rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
fi
# tools/fuzz.sh drives libFuzzer through cargo fuzz (works on stable Rust).
if ! cargo fuzz --version >/dev/null 2>&1; then
	cargo install --locked cargo-fuzz
fi

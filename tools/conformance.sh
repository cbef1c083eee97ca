#!/usr/bin/env bash
# The OCI runtime conformance suite (opencontainers/runtime-tools' validation
# tests, see tests/conformance/README.md) against a fresh release build
# of nook, compared with tests/conformance/expected-failures.txt:
#
#   tools/conformance.sh [-o OUTDIR] [TEST...]     # as root; ~3 minutes
#
# Fails when a test point fails that the list does not name (a test that
# passed stopped passing, or a new one fails), and when the totals fall
# below the list's @min-passed / above its @max-failed. A listed failure
# that passes now is reported, so the list can shrink. With TESTs (suite
# directory names) only those run and only the unexpected failures count.
#
# A failure is named `FILE:N` (test point N of validation/FILE, from its
# "not ok N" line) or `FILE` when the file failed as a whole (a non-zero
# exit or no plan without a "not ok" line; see oci-validate.sh's header).
# A line whose reason starts with "flaky:" names a test that is racy for
# every runtime: it may fail or pass (@max-failed leaves room for it).
#
# The suite comes from $NOOK_CONFORMANCE_SUITE, default tests/conformance
# (runtime-tools' sources with their Go dependencies, and the runner
# oci-validate.sh); the runner builds it into $NOOK_CONFORMANCE_CACHE,
# default ~/.cache/nook-conformance, so the checkout may be read-only.
# nook runs with its own --root in OUTDIR, which keeps each test's .tap and
# .err (default: a temp dir, removed at the end). Whatever the suite leaves is removed, and only that: containers
# in that root, and the cgroups it names (cgrouptest, testdir/cgrouptest/
# container) that did not exist before the run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ "$(id -u)" = 0 ] || { echo "tools/conformance.sh: run as root" >&2; exit 1; }
suite=${NOOK_CONFORMANCE_SUITE:-$repo/tests/conformance}
[ -x "$suite/oci-validate.sh" ] || {
	echo "tools/conformance.sh: no suite at $suite (set NOOK_CONFORMANCE_SUITE)" >&2
	exit 1
}
expected=$repo/tests/conformance/expected-failures.txt

keep=0
if [ "${1:-}" = -o ]; then
	out=${2:?usage: tools/conformance.sh [-o OUTDIR] [TEST...]}
	shift 2
	keep=1
	mkdir -p "$out"
	out=$(readlink -f "$out")
else
	out=$(mktemp -d /tmp/nook-conformance.XXXXXX)
	# mktemp's 0700 would stop a container in a user namespace (its root
	# is not the host's) on the way to its rootfs, which lies below.
	chmod 0755 "$out"
fi
root=$out/root
mkdir -p "$root" "$out/bin"
nook=${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-gnu/release/nook

# The suite's cgroups: relative paths are under the caller's own cgroup.
suite_cgroups() {
	find /sys/fs/cgroup -maxdepth 6 -type d \( -name cgrouptest -o -name testdir \) 2>/dev/null | sort
}
cgroups_before=$(suite_cgroups)

cleanup() {
	local id d
	for id in $("$nook" --root "$root" list -q 2>/dev/null); do
		"$nook" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
	done
	for d in $(suite_cgroups); do
		if ! grep -qxF "$d" <<<"$cgroups_before" && [ -d "$d" ]; then
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
		fi
	done
	if [ "$keep" = 0 ]; then rm -rf "$out"; fi
}
trap cleanup EXIT

cargo build-nook --quiet   # the static binary, see .cargo/config.toml
# runc's command line without --root: give nook its own state root.
printf '#!/bin/sh\nexec %q --root %q "$@"\n' "$nook" "$root" >"$out/bin/nook"
chmod 755 "$out/bin/nook"

set +e
TEST_TIMEOUT=${TEST_TIMEOUT:-40} timeout -k 10 900 "$suite/oci-validate.sh" "$out/bin/nook" "$out/results" "$@" \
	>"$out/suite.log" 2>&1
rc=$?
set -e
tail -1 "$out/suite.log"
[ -s "$out/results/results.tsv" ] || {
	echo "tools/conformance.sh: the suite did not run (exit $rc):" >&2
	tail -20 "$out/suite.log" >&2
	exit 1
}

# Failing test points of this run, one id a line.
failed_ids() {
	local t p f s r n
	while IFS=$'\t' read -r t p f s r; do
		n=$(grep -oE '^not ok [0-9]+' "$out/results/$t.tap" | awk -v t="$t" '{print t ":" $3}' || true)
		if [ -n "$n" ]; then echo "$n"; elif [ "$f" -gt 0 ]; then echo "$t"; fi
	done <"$out/results/results.tsv"
}
failed=$(failed_ids | sort -u)
listed=$( (grep -vE '^\s*(#|@|$)' "$expected" || true) | awk '{print $1}' | sort -u)
# Racy for every runtime: may fail or pass.
flaky=$( (grep -vE '^\s*(#|@|$)' "$expected" || true) | awk '$2 == "flaky:" {print $1}' | sort -u)
ran=$(cut -f1 "$out/results/results.tsv")
in_run() { grep -qxF "${1%%:*}" <<<"$ran"; }

status=0
unexpected=$(comm -23 <(echo "$failed") <(echo "$listed") | sed '/^$/d')
if [ -n "$unexpected" ]; then
	status=1
	echo "tools/conformance.sh: unexpected failures (not in $expected):" >&2
	for id in $unexpected; do
		t=${id%%:*}
		echo "  $id" >&2
		if [ "$id" != "$t" ]; then
			grep -E "^not ok ${id#*:} " "$out/results/$t.tap" | sed 's/^/      /' >&2 || true
		else
			(grep -E '^\s*"error"' "$out/results/$t.tap" || true) | head -2 | sed 's/^ */      /' >&2
		fi
		(grep -v '^exit status' "$out/results/$t.err" || true) | head -3 | sed 's/^/      /' >&2
	done
fi
for id in $(comm -13 <(echo "$failed") <(echo "$listed") | comm -23 - <(echo "$flaky") | sed '/^$/d'); do
	if in_run "$id"; then
		echo "tools/conformance.sh: $id passes now: remove it from $expected (and raise @min-passed)"
	fi
done

if [ $# -eq 0 ]; then
	read -r passed _ nfailed _ <<<"$(tail -1 "$out/results/summary.txt" | tr -d ',')"
	min_passed=$(awk '$1 == "@min-passed" {print $2}' "$expected")
	max_failed=$(awk '$1 == "@max-failed" {print $2}' "$expected")
	if [ "$passed" -lt "${min_passed:?no @min-passed in $expected}" ]; then
		echo "tools/conformance.sh: $passed test points passed, the baseline is $min_passed" >&2
		status=1
	fi
	if [ "$nfailed" -gt "${max_failed:?no @max-failed in $expected}" ]; then
		echo "tools/conformance.sh: $nfailed test points failed, the baseline allows $max_failed" >&2
		status=1
	fi
fi
if [ "$status" = 0 ]; then
	echo "tools/conformance.sh: no failure beyond the expected ones"
elif [ "$keep" = 0 ]; then
	echo "tools/conformance.sh: rerun with -o OUTDIR to keep each test's .tap and .err" >&2
fi
exit "$status"

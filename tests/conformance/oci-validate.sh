#!/bin/bash
# The OCI runtime conformance suite (opencontainers/runtime-tools, validation/*/*.t)
# against any runtime with runc's command line.
#
#   tests/conformance/oci-validate.sh RUNTIME_BINARY OUTDIR [TEST...]
#
# As root. The first call builds the suite from runtime-tools-260e151.tar.gz
# (beside this script; vendored Go sources, so no network) with Debian's golang-go
# and make, into $NOOK_CONFORMANCE_CACHE (default ~/.cache/nook-conformance), ~30 s.
# TESTs are directory names under validation/ (default: all 58), e.g. `default hooks`.
#
# Each test file runs in its own private mount namespace (some tests would otherwise
# leak mounts into the host's), with a private /dev/null node. Env:
#   TEST_TIMEOUT  seconds per test file (default 60)
#   HIDE_CGROUP2  1 = unmount /sys/fs/cgroup/unified in that namespace (crun needs it on
#                 hybrid hosts; automatic for a binary named crun*)
#
# OUTDIR gets <test>.tap (TAP on stdout), <test>.err (stderr: the runtime's errors),
# results.tsv (test pass fail skip rc) and summary.txt. The last line printed is
# "N passed, M failed, K skipped". Counting: a file that exits non-zero or times out
# without a "not ok" line counts one failure; a file with no test points (lifecycle
# tests, *_fail tests) counts one pass, or one failure if it printed an "error".
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNTIME_BIN=${1:?usage: $0 RUNTIME_BINARY OUTDIR [TEST...]}
OUTDIR=${2:?usage: $0 RUNTIME_BINARY OUTDIR [TEST...]}
shift 2
TEST_TIMEOUT=${TEST_TIMEOUT:-60}
CACHE=${NOOK_CONFORMANCE_CACHE:-${HOME:-/root}/.cache/nook-conformance}
RT_DIR=$CACHE/runtime-tools-260e151

[ "$(id -u)" = 0 ] || { echo "oci-validate: run as root" >&2; exit 2; }
RUNTIME_BIN=$(readlink -f "$(command -v "$RUNTIME_BIN" || echo "$RUNTIME_BIN")")
[ -x "$RUNTIME_BIN" ] || { echo "oci-validate: not an executable: $RUNTIME_BIN" >&2; exit 2; }

if [ ! -x "$RT_DIR/runtimetest" ] || [ ! -f "$RT_DIR/.built" ]; then
	command -v go >/dev/null && command -v make >/dev/null ||
		{ echo "oci-validate: needs go and make (apt-get install golang-go make)" >&2; exit 2; }
	echo "oci-validate: building the suite into $RT_DIR" >&2
	rm -rf "$RT_DIR" && mkdir -p "$CACHE" &&
		tar -xzf "$HERE/runtime-tools-260e151.tar.gz" -C "$CACHE" &&
		mv "$CACHE/runtime-tools" "$RT_DIR" &&
		(cd "$RT_DIR" && GOCACHE=$CACHE/gocache GOPATH=$CACHE/gopath GOFLAGS=-mod=vendor GOPROXY=off \
			GO111MODULE=on make runtimetest validation-executables >"$CACHE/build.log" 2>&1) ||
		{ echo "oci-validate: build failed, see $CACHE/build.log" >&2; tail -5 "$CACHE/build.log" >&2; exit 2; }
	touch "$RT_DIR/.built"
fi

if [ -z "${HIDE_CGROUP2:-}" ]; then
	case "$(basename "$RUNTIME_BIN")" in crun*) HIDE_CGROUP2=1 ;; *) HIDE_CGROUP2=0 ;; esac
fi
export HIDE_CGROUP2

mkdir -p "$OUTDIR"
OUTDIR=$(readlink -f "$OUTDIR")
: >"$OUTDIR/results.tsv"
if [ $# -gt 0 ]; then tests="$*"; else tests=$(cd "$RT_DIR/validation" && ls -d */ | tr -d / | grep -v '^util$'); fi

# The tests make bundles under $TMPDIR; keep them in a private dir.
export TMPDIR=$OUTDIR/tmp
rm -rf "$TMPDIR"; mkdir -p "$TMPDIR"

# In a fresh private mount namespace: a private /dev/null node (a runtime that chowns
# the caller's stdio then chowns that node, not the host's), cgroup2 hidden if asked.
wrap() {
	unshare -m --propagation unchanged bash -c '
		set -e
		mount --make-rprivate /
		d=$(mktemp -d "$TMPDIR/devnull.XXXXXX"); mknod -m 666 "$d/null" c 1 3; mount --bind "$d/null" /dev/null
		# The bare mount point gets a throw-away tmpfs: crun takes it for a
		# controller and would leave <id>/cgroup.procs on the host there.
		if [ "$HIDE_CGROUP2" = 1 ] && mountpoint -q /sys/fs/cgroup/unified; then
			umount /sys/fs/cgroup/unified
			mount -t tmpfs -o mode=755,size=64m nook-validate-unified /sys/fs/cgroup/unified
		fi
		exec "$@"' wrap "$@"
}

start=$(date +%s)
tp=0; tf=0; ts=0
printf '%-42s %5s %5s %5s %4s %6s\n' TEST PASS FAIL SKIP RC SECS | tee "$OUTDIR/summary.txt"
for t in $tests; do
	exe=validation/$t/$t.t
	[ -x "$RT_DIR/$exe" ] || { echo "oci-validate: no test named $t" >&2; continue; }
	t0=$(date +%s)
	# The tests use relative paths (./runtimetest, rootfs-amd64.tar.gz): cwd is the suite.
	(cd "$RT_DIR" && RUNTIME=$RUNTIME_BIN timeout -k 5 "$TEST_TIMEOUT" bash -c "$(declare -f wrap); wrap ./$exe" \
		>"$OUTDIR/$t.tap" 2>"$OUTDIR/$t.err" </dev/null)
	rc=$?
	t1=$(date +%s)
	s=$(grep -cE '^ok [0-9]+.*# ?(SKIP|skip)' "$OUTDIR/$t.tap")
	p=$(($(grep -cE '^ok [0-9]+' "$OUTDIR/$t.tap") - s))
	f=$(grep -cE '^not ok [0-9]+' "$OUTDIR/$t.tap")
	plan=$(grep -cE '^1\.\.[0-9]+' "$OUTDIR/$t.tap")
	if [ $((p + f + s)) -eq 0 ] && [ "$rc" -eq 0 ]; then
		if grep -q '"error"' "$OUTDIR/$t.tap"; then f=1; else p=1; fi
	elif { [ "$rc" -ne 0 ] || [ "$plan" -eq 0 ]; } && [ "$f" -eq 0 ]; then
		f=1
	fi
	tp=$((tp + p)); tf=$((tf + f)); ts=$((ts + s))
	printf '%s\t%d\t%d\t%d\t%d\n' "$t" "$p" "$f" "$s" "$rc" >>"$OUTDIR/results.tsv"
	printf '%-42s %5d %5d %5d %4d %6d\n' "$t" "$p" "$f" "$s" "$rc" "$((t1 - t0))" | tee -a "$OUTDIR/summary.txt"
done
echo "runtime: $RUNTIME_BIN  hide_cgroup2=$HIDE_CGROUP2  elapsed: $(($(date +%s) - start))s" | tee -a "$OUTDIR/summary.txt"
echo "$tp passed, $tf failed, $ts skipped" | tee -a "$OUTDIR/summary.txt"

#!/usr/bin/env bash
# text-order.sh - keep the code nook's commands run together in the binary.
#
# Usage: tools/text-order.sh           regenerate tools/nook-text.order (as root, ~5 min)
#        tools/text-order.sh --check   fail if the order no longer fits the built binary
#
# Why: the kernel maps a binary's text in 64 KiB windows around each page fault
# ("fault-around"), so every window holding one executed function is resident in full.
# Left to itself the linker spreads the ~1000 functions a `nook run` executes (under 1 MB)
# over nearly all of the 3.6 MB of text, and a run's peak RSS was the whole text. The
# `cargo build-nook` alias (.cargo/config.toml) hands LLD this script's output with
# --symbol-ordering-file, which places the listed functions first, in that order, and the
# rest (error paths, checkpoint, the fuzzable parsers' unused arms, panics) after them.
#
# How: tools/trace-text.c single-steps the static nook binary through the commands engines
# call most, following its clones until they exec the container's process: `run` of
# runc's default spec (what benches/side-by-side.sh times), then create, start, state,
# exec, ps, kill and delete of a container configured as engines do (Docker's default
# seccomp profile, memory/pids/cpu limits, a poststart hook, --pid-file), then list and
# features. The executed addresses are mapped to the function symbols around them (nm),
# in the order first executed.
#
# Symbol names carry a hash of their crate and types, not of the code, so the order
# survives edits; a renamed, new or newly out-of-line function is merely not placed.
# --check counts how many listed functions the built binary still has (run by
# tools/test.sh after the conformance build); regenerate when it fails, and after
# changes to the hot path (benches/side-by-side.sh prints the peak RSS it saves).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
order=$repo/tools/nook-text.order
nook=${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-gnu/release/nook
die() { printf 'text-order: %s\n' "$*" >&2; exit 1; }

# The listed functions the binary defines, and how many are listed.
coverage() {
    local listed present
    listed=$(grep -cv '^#' "$order")
    present=$(nm --defined-only "$nook" | awk '{print $NF}' | sort -u |
        comm -12 - <(grep -v '^#' "$order" | sort -u) | wc -l)
    echo "$present $listed"
}

if [[ ${1:-} == --check ]]; then
    [[ -x $nook ]] || die "no $nook: run cargo build-nook first"
    read -r present listed < <(coverage)
    echo "text-order: $present of $listed listed functions are in $nook"
    # Below 97% the hot path has moved: new functions land among the cold ones and
    # peak RSS creeps back up. 90% was too loose: at 1283 of 1372 (93.5%) a run's
    # peak RSS was 3112 KiB, and 2280 KiB once regenerated.
    (( present * 100 >= listed * 97 )) ||
        die "the order is stale: run tools/text-order.sh (as root) and commit tools/nook-text.order"
    exit 0
fi
[[ -z ${1:-} ]] || die "usage: tools/text-order.sh [--check]"
[[ $(id -u) -eq 0 ]] || die "run as root: the traced commands make containers"
[[ -x /bin/busybox ]] || die "needs a static busybox at /bin/busybox (Debian: busybox-static)"

tmp=$(mktemp -d /tmp/nook-text-order.XXXXXX)
cleanup() {   # whatever a failed trace left: containers (and their cgroups), then the files
    local id
    for id in $("$nook" --root "$tmp/root" list -q 2>/dev/null); do
        "$nook" --root "$tmp/root" delete --force "$id" || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
cc -O2 -Wall -o "$tmp/trace-text" "$repo/tools/trace-text.c"
(cd "$repo" && cargo build-nook)

mkdir -p "$tmp/bundle/rootfs/bin"
cp /bin/busybox "$tmp/bundle/rootfs/bin/"
for a in sh true sleep; do ln -s busybox "$tmp/bundle/rootfs/bin/$a"; done
(cd "$tmp/bundle" && "$nook" spec)
python3 - "$tmp/bundle/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(sys.argv[1], "w"))
EOF
python3 - "$tmp/bundle/config.json" "$repo/tests/fixtures/seccomp/docker-default.json" \
    > "$tmp/engine.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["/bin/sleep", "3600"]
c["linux"]["seccomp"] = json.load(open(sys.argv[2]))
c["linux"]["resources"].update({"memory": {"limit": 64 << 20}, "pids": {"limit": 64},
                                "cpu": {"shares": 512}})
c["hooks"] = {"poststart": [{"path": "/bin/true"}]}
json.dump(c, sys.stdout)
EOF

n=0
trace() {   # trace ARGS...: one traced nook command, its addresses in $tmp/trace.N
    n=$((n + 1))
    echo "text-order: tracing nook $*" >&2
    "$tmp/trace-text" "$tmp/trace.$n" "$nook" --root "$tmp/root" "$@" >/dev/null
}
R=(--root "$tmp/root")
trace run -b "$tmp/bundle" t-run
cp "$tmp/engine.json" "$tmp/bundle/config.json"
# create's init waits in the container for start: its trace ends when it execs sleep.
n=$((n + 1)); echo "text-order: tracing nook create" >&2
"$tmp/trace-text" "$tmp/trace.$n" "$nook" "${R[@]}" create -b "$tmp/bundle" --pid-file "$tmp/pid" t-create &
tracer=$!
# create writes the pid file last; single-stepped, it takes a minute or two.
until [[ -s $tmp/pid ]]; do
    kill -0 "$tracer" 2>/dev/null || die "traced create failed"
    sleep 1
done
trace start t-create
wait "$tracer"
trace state t-create
trace exec t-create /bin/true
trace ps t-create
trace list
trace kill t-create KILL
for _ in $(seq 100); do "$nook" "${R[@]}" state t-create | grep -q '"stopped"' && break; sleep 0.1; done
trace delete t-create
trace features

python3 - "$nook" "$tmp" "$n" > "$tmp/order" <<'EOF'
import bisect, subprocess, sys
binary, tmp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
syms = []
for line in subprocess.run(["nm", "-n", "-S", "--defined-only", binary],
                           capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.split()
    if len(f) == 4 and f[2] in "tTwW":
        syms.append((int(f[0], 16), int(f[1], 16), f[3]))
starts = [s[0] for s in syms]
seen, size = set(), 0
print("# Functions nook's hot commands execute, in the order first executed; written by")
print("# tools/text-order.sh (see it for why), read by LLD through `cargo build-nook`.")
for i in range(1, n + 1):
    for line in open(f"{tmp}/trace.{i}"):
        a = int(line, 16)
        k = bisect.bisect_right(starts, a) - 1
        if k < 0 or a >= syms[k][0] + max(syms[k][1], 1) or syms[k][2] in seen:
            continue
        seen.add(syms[k][2]); size += syms[k][1]
        print(syms[k][2])
print(f"text-order: {len(seen)} functions, {size // 1024} KiB", file=sys.stderr)
EOF
mv "$tmp/order" "$order"
# cargo does not see a link argument's file as an input: relink by hand.
touch "$repo/src/bin/nook/main.rs"
(cd "$repo" && cargo build-nook)
echo "text-order: wrote $order and relinked $nook with it" >&2

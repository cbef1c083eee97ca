#!/usr/bin/env bash
# checkpoint.sh - time `checkpoint` and `restore` of a small container, nook
# and runc side by side, where criu works: in tools/run-in-v2-vm.sh's VM
# (Debian's 6.1 kernel, pure cgroup v2, V2VM_MODULES=criu). Not a test:
# it prints times.
#
# Usage:   benches/checkpoint.sh              (as root, on the host)
# Env:     N=3          timed rounds; each round checkpoints and restores
#                       once with every runtime, in turn
#          NOOK=path    nook binary; default: `cargo build-nook` (static release)
#          RUNC=runc    the reference runtime (skipped when missing)
#
# The container is busybox-static running `sh -c` with a counter loop, the
# rest of its config from `runc spec` (runc's default namespaces, mounts,
# masked paths). Its shell points its stdio at the container's own
# /dev/null first, so what is timed is the dump and restore of a plain
# process tree, not the caller's pipes. One round, per runtime:
# `run -d`, then `checkpoint --image-path DIR ID` (timed: criu dumps the
# tree and kills it), then `restore -d --image-path DIR -b BUNDLE ID`
# (timed: criu restores it, running), then a check that the counter goes
# on, then `delete --force`.
# Each time comes with criu's part of it (the last timestamp of dump.log /
# restore.log): the rest is the runtime's. criu check runs once before, as in
# tools/test-criu.sh, so no round pays criu's first kernel probe.
# Everything lives in the guest's /tmp (RAM) and goes with the VM.
set -euo pipefail

die() { printf 'checkpoint-bench: %s\n' "$*" >&2; exit 1; }
note() { printf 'checkpoint-bench: %s\n' "$*" >&2; }
N=${N:-3}
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '$N'"

if [[ ${NOOK_CKPT_BENCH_GUEST:-} != 1 ]]; then
    # ---- on the host: build, then run this script in the VM ----------------
    [[ $(id -u) -eq 0 ]] || die "must run as root"
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    command -v criu >/dev/null || die "criu missing (apt-get install --no-install-recommends criu)"
    if [[ -n ${NOOK:-} ]]; then
        NOOK=$(readlink -f "$(command -v "$NOOK")") || die "NOOK='$NOOK' is not an executable"
    else
        note "building nook: cargo build-nook (set NOOK=path to skip)"
        (cd "$repo" && cargo build-nook >&2) || die "cargo build-nook failed"
        NOOK=${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-gnu/release/nook
    fi
    [[ -x $NOOK ]] || die "no nook binary at $NOOK"
    RUNC=$(command -v "${RUNC:-runc}" || true)
    V2VM_MODULES=criu exec "$repo/tools/run-in-v2-vm.sh" "$repo" \
        env NOOK_CKPT_BENCH_GUEST=1 N="$N" NOOK="$NOOK" RUNC="$RUNC" bash "$repo/benches/checkpoint.sh"
fi

# ---- in the guest ----------------------------------------------------------
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t=$(ms)
criu check >/dev/null || { criu check; die "criu check failed"; }
note "criu check: $(( $(ms) - t )) ms (its kernel probe, cached for the rounds)"

tmp=$(mktemp -d /tmp/ckpt-bench.XXXXXX)
mkdir -p "$tmp/bundle/rootfs/bin"
cp /bin/busybox "$tmp/bundle/rootfs/bin/"
for a in sh sleep; do ln -s busybox "$tmp/bundle/rootfs/bin/$a"; done
(cd "$tmp/bundle" && "${RUNC:-$NOOK}" spec 2>/dev/null) || die "no spec command"
loop='exec </dev/null >/dev/null 2>&1; i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done'
jq --arg loop "$loop" '.process.args = ["sh", "-c", $loop] | .process.terminal = false
    | .root.readonly = false' "$tmp/bundle/config.json" > "$tmp/config.json"
mv "$tmp/config.json" "$tmp/bundle/config.json"
mkdir -p "$tmp/bundle/rootfs/tmp"

runtimes=(nook)
declare -A bin=([nook]=$NOOK)
if [[ -n ${RUNC:-} ]]; then runtimes+=(runc); bin[runc]=$RUNC; fi
count() {  # the counter's last number (0 while its file is being rewritten)
    local c; c=$(cat "$tmp/bundle/rootfs/tmp/count" 2>/dev/null || true)
    echo "${c:-0}"
}

declare -A dump rest cdump crest
# criu's own time: the timestamp of the last line of its log ("(SS.UUUUUU) ..."),
# so the rest of a command's time is the runtime's.
criu_ms() { sed -n 's/^(\([0-9]*\)\.\([0-9]\{3\}\).*/\1\2/p' "$1" 2>/dev/null | tail -1 | sed 's/^0*//;s/^$/0/'; }
for ((r = 1; r <= N; r++)); do
    for rt in "${runtimes[@]}"; do
        b=${bin[$rt]} root=$tmp/root-$rt id=bench-$rt-$r img=$tmp/img-$rt-$r
        "$b" --root "$root" run -d -b "$tmp/bundle" "$id" </dev/null >/dev/null 2>&1 ||
            die "$rt run -d failed"
        c=$(count); until (( $(count) > c + 2 )); do sleep 0.1; done
        t=$(ms)
        "$b" --root "$root" checkpoint --image-path "$img" "$id" || die "$rt checkpoint failed"
        d=$(( $(ms) - t ))
        at=$(count)
        t=$(ms)
        "$b" --root "$root" restore -d --image-path "$img" -b "$tmp/bundle" "$id" \
            </dev/null >/dev/null 2>&1 || die "$rt restore failed (criu log: $img/restore.log)"
        s=$(( $(ms) - t ))
        "$b" --root "$root" state "$id" | grep -q '"status": *"running"' || die "$rt: not running after restore"
        until (( $(count) > at + 2 )); do sleep 0.1; done
        "$b" --root "$root" delete --force "$id"
        dump[$rt]+="$d " rest[$rt]+="$s "
        cd_=$(criu_ms "$img/dump.log") cr=$(criu_ms "$img/restore.log")
        cdump[$rt]+="$cd_ " crest[$rt]+="$cr "
        note "round $r $rt: checkpoint $d ms (criu $cd_), restore $s ms (criu $cr), image $(du -sk "$img" | cut -f1) KiB"
    done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-6s %12s %12s %12s %12s   (median of %d rounds, ms, TCG guest)\n' \
    runtime checkpoint "criu's part" restore "criu's part" "$N"
for rt in "${runtimes[@]}"; do
    printf '%-6s %12s %12s %12s %12s\n' "$rt" "$(median <<<"${dump[$rt]}")" "$(median <<<"${cdump[$rt]}")" \
        "$(median <<<"${rest[$rt]}")" "$(median <<<"${crest[$rt]}")"
done
rm -rf "$tmp"

#!/usr/bin/env bash
# side-by-side.sh - time `run` of a trivial busybox container with nook, runc and crun.
#
# Usage:   benches/side-by-side.sh                 (as root)
# Env:     N=100        timed rounds; each round runs every runtime once
#          WARMUP=3     untimed rounds first (page cache, first-run mkdirs in the rootfs)
#          NOOK=path    nook binary to use; default: `cargo build-nook` (static), target/x86_64-unknown-linux-gnu/release/nook
#          RUNC=runc CRUN=crun   the reference runtimes (looked up in PATH)
#          RSS_N=5      runs per runtime for the peak-RSS rows (median of them)
#          NOOK_BASE=path  another nook binary (the one before a change), timed as
#                          runtime "base" in the same rounds: prints nook/base ratios
#
# What is measured: the wall time, on CLOCK_MONOTONIC in ns, of one complete
# `RUNTIME --root R run -b BUNDLE ID` (create + start + wait for /bin/true + delete),
# stdin/stdout/stderr not a terminal.  The bundle is busybox-static with a `true` applet,
# config.json from `runc spec` with only args=["/bin/true"] and terminal=false changed, so
# all three runtimes set up runc's default namespaces, mounts, masked/readonly paths and
# device cgroup.  Rounds are INTERLEAVED (nook, runc, crun in every round, order rotated
# each round) so drift and noise from the host hit all three alike.  The loop and the clock
# live in a tiny python3 timer (time.monotonic_ns around subprocess.run, which spawns via
# vfork): a bash `date +%s%N` before and after each run would add two forks per sample.
# Before timing, each runtime must pass a probe (same rootfs, process
# `sh -c 'echo nook-bench-probe; exit 7'`): stdout and exit status must come through, so a
# stub or half-written nook that exits 0 without running anything is refused, not timed.
# The row "(spawn floor)" times /bin/true through the same timer: it is the cost the timer
# adds to every sample, and is shown, not subtracted.
# The row "(kernel floor)" times benches/floor.c (compiled here with cc -O2) in every round:
# clone with the same five namespaces, pivot_root into the same rootfs, exec /bin/true -
# the least any runtime must do, with no cgroup, /proc, /dev, state or capability work.
# The row "(spec floor)" times `floor --spec` in every round: the least kernel work ANY
# runtime must do to honour this bundle's config.json, which the kernel floor skips - a
# cgroup per v1 controller (cpuset copied, the default device rules) joined by the child
# and removed after, the seven default mounts, /sys/fs/cgroup binds, device nodes, masked
# and read-only paths, read-only root, hostname, rlimit, capabilities, no_new_privs - in
# straight C with the config compiled in: no state, locks, JSON or CLI.  nook/(kernel
# floor) is what an issue asks to bound, but no runtime can reach it; nook/(spec floor) is
# what nook's own logic costs on top of that work.  Its cgroups are named ${prefix}specfloor-<round>,
# so the leftover checks cover them; it must pass the same probe as the runtimes.
# The rows "<rt> split" time what containerd, podman and docker do: `create`, `start` and
# `delete --force` as three processes, one sample being the sum of the three.
# After the timed rounds, the peak RSS (/usr/bin/time -f %M, KiB) of one `run` and of one
# `create` per runtime is printed: the median of RSS_N runs each.
#
# Hybrid cgroup hosts (v1 controllers + a cgroup2 mount at /sys/fs/cgroup/unified): crun
# refuses that layout ("cgroups in hybrid mode not supported").  The fix is to hide
# /sys/fs/cgroup/unified in a private mount namespace.  Wrapping each crun run in
# `unshare -m sh -c 'umount /sys/fs/cgroup/unified && exec crun ...'` was measured on the
# dev host (60 interleaved runs, medians): the wrapper around /bin/true costs 5.6 ms over a
# bare spawn (unshare + sh + umount are three extra execs), but crun wrapped per run was
# 12.6 ms slower than crun run from inside one such namespace (27.5 vs 14.9 ms) - so a
# per-run wrapper roughly doubles crun's time, and subtracting the wrapper-around-true
# baseline would under-correct by half.  Neither is fair, so instead the
# whole timer runs ONCE inside `unshare --mount --propagation private` with the cgroup2
# mount unmounted, and all three runtimes are children of it: every runtime sees the same
# pure-v1 /sys/fs/cgroup, does the same cgroup work (runc outside the namespace would also
# create a cgroup2 directory under unified/, which crun cannot), and the wrapper's cost is
# paid once, outside every timed sample.  Cgroup directories are global, so the leftover
# checks below (run from the host namespace) still see everything the runtimes create.
#
# Leaves nothing behind: all state (bundle, --root dirs, logs) lives in one mktemp dir
# removed by an EXIT trap; container ids carry a per-invocation prefix, and afterwards the
# script checks for leftover containers, cgroups named after our ids anywhere under
# /sys/fs/cgroup (runc nests the memory cgroup under the caller's own memory cgroup, crun
# puts it at the root), plain directories the runtimes may have created on the
# /sys/fs/cgroup tmpfs for controllers that are not mounted (runc does this on some hosts,
# e.g. .../misc/<id>; runc 1.1.5 on the dev host did not), mounts under the temp dir and
# processes still referring to it.  Anything found is reported, removed, and makes the
# script exit non-zero.  The hidden unified mount point gets a throw-away tmpfs in each
# namespace: crun takes the bare directory for a controller and leaves <id>/cgroup.procs
# there for every container, which would otherwise stay on the host's /sys/fs/cgroup
# tmpfs, under the cgroup2 mount, out of sight of every check above.
set -euo pipefail

N=${N:-100}
WARMUP=${WARMUP:-3}
RUNC=${RUNC:-runc}
CRUN=${CRUN:-crun}
CG=/sys/fs/cgroup

die() { printf 'side-by-side: %s\n' "$*" >&2; exit 1; }
note() { printf 'side-by-side: %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || die "must run as root (runc/crun need it for namespaces and cgroups)"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '$N'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a non-negative integer, got '$WARMUP'"
RSS_N=${RSS_N:-5}
[[ $RSS_N =~ ^[1-9][0-9]*$ ]] || die "RSS_N must be a positive integer, got '$RSS_N'"
for tool in python3 unshare findmnt stat cc /usr/bin/time "$RUNC" "$CRUN"; do
    command -v "$tool" >/dev/null || die "needs '$tool' in PATH"
done
[[ -x /bin/busybox ]] || die "needs a static busybox at /bin/busybox (Debian: busybox-static)"
RUNC=$(command -v "$RUNC")
CRUN=$(command -v "$CRUN")

# ---- 1. the nook binary -------------------------------------------------------------
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -n ${NOOK:-} ]]; then
    NOOK=$(command -v "$NOOK") || die "NOOK='$NOOK' is not an executable"
    NOOK=$(readlink -f "$NOOK")
else
    note "building nook: cargo build-nook (set NOOK=path to skip)"
    (cd "$repo" && cargo build-nook >&2) || die "cargo build-nook failed"
    NOOK=${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-gnu/release/nook
    [[ -x $NOOK ]] || die "build succeeded but $NOOK is missing"
fi

# ---- 2. temp dir, cleanup trap, bundle ----------------------------------------------
tmp=$(mktemp -d /tmp/nook-bench.XXXXXX)
prefix="nkbench$$r${RANDOM}-"          # every container id starts with this
names=(nook runc crun)
# Each nook binary is timed from a copy made here: how a file's pages came into the page
# cache (written by the linker, or by cp) moved its exec cost by 0.2-0.45 ms per call
# for identical bytes, so a fresh build against a cp'd NOOK_BASE was skewed.
cp "$NOOK" "$tmp/nook-bin"
declare -A bin=([nook]=$tmp/nook-bin [runc]=$RUNC [crun]=$CRUN)
if [[ -n ${NOOK_BASE:-} ]]; then
    NOOK_BASE=$(readlink -f "$(command -v "$NOOK_BASE")") || die "NOOK_BASE is not an executable"
    names+=(base)
    cp "$NOOK_BASE" "$tmp/base-bin"
    bin[base]=$tmp/base-bin
fi
cg_top_before=$(ls -A "$CG" 2>/dev/null || true)
hide_unified=0
if [[ $(stat -f -c %T "$CG/unified" 2>/dev/null || true) == cgroup2fs ]]; then
    hide_unified=1
fi

# Runs "$@" in a private mount namespace in which the hybrid cgroup2 mount is hidden.
# Used for the timer and for the cleanup `delete`s, so crun sees the same layout in both.
in_ns() {
    unshare --mount --propagation private -- sh -c '
        if [ "$0" = 1 ]; then
            # Over the mount point, a throw-away tmpfs: with unified gone, crun
            # takes it for a controller and leaves <id>/cgroup.procs there for
            # every container, which on the host would lie, never removed and
            # out of every check'"'"'s sight, under the cgroup2 mount.
            umount /sys/fs/cgroup/unified 2>/dev/null
            mount -t tmpfs -o mode=755,size=64m nook-bench-unified /sys/fs/cgroup/unified || exit 125
        fi
        exec "$@"' "$hide_unified" "$@"
}

# Prints one line per leftover; returns 0 if there were none.
leftovers() {
    local found=0 rt d e m p
    for rt in "${names[@]}"; do
        [[ -d $tmp/root-$rt ]] || continue
        for d in "$tmp/root-$rt"/*/; do
            [[ -d $d ]] || continue
            echo "container state left by $rt: $d"; found=1
        done
    done
    while IFS= read -r d; do
        echo "cgroup left: $d"; found=1
    done < <(find "$CG" -xdev -depth -type d -name "${prefix}*" 2>/dev/null; \
             for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET); do
                 find "$m" -depth -type d -name "${prefix}*" 2>/dev/null; done)
    for e in $(ls -A "$CG" 2>/dev/null); do
        grep -qxF -- "$e" <<<"$cg_top_before" && continue
        echo "new entry on the $CG tmpfs: $CG/$e"; found=1
    done
    while IFS= read -r m; do
        echo "mount left: $m"; found=1
    done < <(findmnt -rn -o TARGET | grep -F "$tmp" || true)
    while IFS= read -r p; do
        echo "process left: $p"; found=1
    done < <(BENCH_TMP=$tmp python3 -c '
# processes whose command line names the temp dir, and all their descendants
import os
me, t = os.getpid(), os.environ["BENCH_TMP"].encode()
cmd, kids = {}, {}
for p in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmd[int(p)] = open(f"/proc/{p}/cmdline", "rb").read()
        ppid = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        continue
    kids.setdefault(ppid, []).append(int(p))
todo = [p for p, c in cmd.items() if t in c and p not in (me, os.getppid())]
seen = set()
while todo:
    p = todo.pop()
    if p in seen or p == me: continue
    seen.add(p); todo += kids.get(p, [])
for p in sorted(seen):
    print(p, cmd.get(p, b"").replace(b"\0", b" ").decode(errors="replace").strip())')
    return $((found))
}

remove_leftovers() {
    local rt d id m pids
    for rt in "${names[@]}"; do
        for d in "$tmp/root-$rt"/*/; do
            [[ -d $d ]] || continue
            id=$(basename "$d")
            in_ns "${bin[$rt]}" --root "$tmp/root-$rt" delete -f "$id" >/dev/null 2>&1 || true
        done
    done
    # Cgroups named after our ids: kill what is inside (it can only be ours), then rmdir.
    for d in $( { find "$CG" -xdev -depth -type d -name "${prefix}*";
                  for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET); do
                      find "$m" -depth -type d -name "${prefix}*"; done; } 2>/dev/null | sort -u -r); do
        if [[ -r $d/cgroup.procs ]]; then
            pids=$(cat "$d/cgroup.procs" 2>/dev/null || true)
            [[ -n $pids ]] && kill -9 $pids 2>/dev/null || true
        fi
        for _ in 1 2 3 4 5; do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
    done
    # New top-level entries on the cgroup tmpfs: only empty plain directories are removed.
    for m in $(ls -A "$CG" 2>/dev/null); do
        grep -qxF -- "$m" <<<"$cg_top_before" && continue
        mountpoint -q "$CG/$m" || rmdir "$CG/$m" 2>/dev/null || true
    done
    while IFS= read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(findmnt -rn -o TARGET | grep -F "$tmp" | sort -r || true)
    # Processes whose command line names our unique temp dir are ours (a hung runtime).
    while read -r p _; do
        kill -9 "$p" 2>/dev/null || true
    done < <(leftovers | sed -n 's/^process left: //p')
    sleep 0.2
}

cleanup() {
    local rc=$? report
    trap - EXIT INT TERM
    if ! report=$(leftovers); then
        printf '\nside-by-side: FAIL: the runtimes left things behind:\n%s\n' "$report" >&2
        remove_leftovers
        if report=$(leftovers); then
            note "(all of the above have now been removed)"
        else
            printf 'side-by-side: could NOT remove:\n%s\n' "$report" >&2
        fi
        rc=1
    fi
    if findmnt -rn -o TARGET | grep -qF "$tmp"; then
        note "NOT removing $tmp: something is still mounted under it"; rc=1
    else
        rm -rf --one-file-system "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bundle=$tmp/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/true"
ln -s busybox "$bundle/rootfs/bin/sh"
(cd "$bundle" && "$RUNC" spec) || die "runc spec failed"
python3 - "$bundle/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
with open(path) as f:
    c = json.load(f)
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["process"].pop("consoleSize", None)
with open(path, "w") as f:
    json.dump(c, f, indent=2)
EOF
for rt in "${names[@]}"; do mkdir -p "$tmp/root-$rt"; done
cc -O2 -o "$tmp/floor" "$repo/benches/floor.c" || die "cc benches/floor.c failed"
# A probe bundle on the same rootfs whose process prints a marker and exits 7: a runtime
# that exits 0 without running anything (a stub, a half-written CLI) must not be timed.
mkdir -p "$tmp/probe"
python3 - "$bundle/config.json" "$tmp/probe/config.json" "$bundle/rootfs" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    c = json.load(f)
c["root"]["path"] = sys.argv[3]
c["process"]["args"] = ["/bin/sh", "-c", "echo nook-bench-probe; exit 7"]
with open(sys.argv[2], "w") as f:
    json.dump(c, f, indent=2)
EOF

# ---- 3. the timer ---------------------------------------------------------------------
cat >"$tmp/timer.py" <<'EOF'
import os, signal, subprocess, sys, time

# Ctrl-C: let the run in flight finish (the runtime got the SIGINT too), then stop,
# so the EXIT trap never races a runtime that is still tearing its container down.
stop = []
signal.signal(signal.SIGINT, lambda *_: stop.append(1))
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

n, warmup, tmp, bundle, prefix = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:6]
runtimes = [tuple(a.split("=", 1)) for a in sys.argv[6:]]    # name=binary, in order
split = [(name, b) for name, b in runtimes if name in ("nook", "crun", "base")]
samples = {name: [] for name, _ in runtimes}
samples.update({f"{name} split": [] for name, _ in split})
samples["(kernel floor)"] = []
samples["(spec floor)"] = []
samples["(spawn floor)"] = []
logs = {name: open(f"{tmp}/{name}.stderr", "ab") for name, _ in runtimes}

def run(name, binary, seq, cmds=(("run", "-b", bundle),)):
    cid = f"{prefix}{name}-{seq}"
    dt = 0
    for cmd in cmds:
        argv = [binary, "--root", f"{tmp}/root-{name}", *cmd, cid]
        t0 = time.monotonic_ns()
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=logs[name])
        dt += time.monotonic_ns() - t0
        if r.returncode != 0:
            break
    if r.returncode != 0 and stop:
        sys.stderr.write("\nside-by-side: interrupted\n")
        sys.exit(130)
    if r.returncode != 0:
        logs[name].flush()
        sys.stderr.write(f"side-by-side: {name} run {cid} exited {r.returncode}: "
                         f"{' '.join(argv)}\n--- {name} stderr (tail) ---\n")
        with open(f"{tmp}/{name}.stderr", "rb") as f:
            sys.stderr.write(f.read()[-2000:].decode(errors="replace") + "\n")
        sys.exit(1)
    return dt

SPLIT = (("create", "-b", bundle), ("start",), ("delete", "--force"))

def floor(argv=("/bin/true",)):
    t0 = time.monotonic_ns()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    dt = time.monotonic_ns() - t0
    if r.returncode != 0:
        sys.stderr.write(f"side-by-side: {' '.join(argv)} exited {r.returncode}\n")
        sys.exit(1)
    return dt

for rnd in range(warmup + n):
    k = rnd % len(runtimes)
    order = runtimes[k:] + runtimes[:k]       # rotate: nobody always follows the same one
    for name, binary in order:
        dt = run(name, binary, rnd)
        if stop:
            sys.stderr.write("\nside-by-side: interrupted\n")
            sys.exit(130)
        if rnd >= warmup:
            samples[name].append(dt)
    for name, binary in split:
        dt = run(name, binary, f"s{rnd}", SPLIT)
        if rnd >= warmup:
            samples[f"{name} split"].append(dt)
    dt = floor((f"{tmp}/floor", f"{bundle}/rootfs"))
    if rnd >= warmup:
        samples["(kernel floor)"].append(dt)
    dt = floor((f"{tmp}/floor", "--spec", f"{bundle}/rootfs", f"{prefix}specfloor-{rnd}"))
    if rnd >= warmup:
        samples["(spec floor)"].append(dt)
    dt = floor()
    if rnd >= warmup:
        samples["(spawn floor)"].append(dt)
    if sys.stderr.isatty() and (rnd + 1 == warmup or
                                (rnd >= warmup and (rnd - warmup + 1) % 10 == 0)):
        sys.stderr.write(f"\rside-by-side: round {max(rnd - warmup + 1, 0)}/{n}")
        sys.stderr.flush()
if sys.stderr.isatty():
    sys.stderr.write("\n")

def median(v):
    v = sorted(v); m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2

def p90(v):                                   # nearest-rank percentile
    v = sorted(v)
    return v[max(0, -(-9 * len(v) // 10) - 1)]

ms = lambda ns: ns / 1e6
med = {k: median(v) for k, v in samples.items()}
print(f"{'runtime':<14} {'runs':>5} {'median ms':>10} {'p90 ms':>9}")
for k, v in samples.items():
    print(f"{k:<14} {len(v):>5} {ms(med[k]):>10.2f} {ms(p90(v)):>9.2f}")
print()
for ref in ("runc", "crun", "(kernel floor)", "(spec floor)", "base"):
    if ref in med:
        print(f"nook/{ref} (medians): {med['nook'] / med[ref]:.2f}x")
for ref in ("crun", "base"):
    if f"{ref} split" in med:
        print(f"nook split/{ref} split (medians): {med['nook split'] / med[f'{ref} split']:.2f}x")
EOF

# ---- 4. run it ------------------------------------------------------------------------
note "nook=$NOOK"
note "runc=$RUNC ($("$RUNC" --version | head -1))"
note "crun=$CRUN ($("$CRUN" --version | head -1))"
if ((hide_unified)); then
    note "hybrid cgroups: all runtimes run in one private mount ns with $CG/unified hidden"
fi
note "N=$N rounds (+$WARMUP warm-up), interleaved, ids ${prefix}<runtime>-<round>"
for rt in "${names[@]}"; do
    out=$(in_ns "${bin[$rt]}" --root "$tmp/root-$rt" run -b "$tmp/probe" "${prefix}${rt}-probe" \
          </dev/null 2>"$tmp/$rt.stderr") && rc=0 || rc=$?
    if [[ $rc -ne 7 || $out != nook-bench-probe ]]; then
        cat "$tmp/$rt.stderr" >&2
        die "$rt (${bin[$rt]}) failed the probe: a container running" \
            "sh -c 'echo nook-bench-probe; exit 7' gave exit $rc and stdout '$out'"
    fi
done
out=$(in_ns "$tmp/floor" --spec "$bundle/rootfs" "${prefix}specfloor-probe" \
      /bin/sh -c 'echo nook-bench-probe; exit 7' </dev/null 2>"$tmp/floor.stderr") && rc=0 || rc=$?
if [[ $rc -ne 7 || $out != nook-bench-probe ]]; then
    cat "$tmp/floor.stderr" >&2
    die "floor --spec failed the probe: exit $rc and stdout '$out'"
fi
status=0
in_ns python3 "$tmp/timer.py" "$N" "$WARMUP" "$tmp" "$bundle" "$prefix" \
    "nook=${bin[nook]}" "runc=$RUNC" "crun=$CRUN" ${NOOK_BASE:+"base=${bin[base]}"} || status=$?
((status == 0)) || die "timer failed (exit $status)"

# ---- 5. peak RSS of `run` and `create` ------------------------------------------------
# /usr/bin/time reports the largest RSS of the runtime process and of any child it waited
# for (getrusage RUSAGE_CHILDREN keeps the max), i.e. of the CLI and the container's init.
peak_rss() {   # runtime mode seq -> KiB
    local rt=$1 mode=$2 seq=$3 id="${prefix}${1}-rss$2$3" out="$tmp/rss.out" kib
    # -o: the report goes to a file; `create` leaves an init holding stdout and stderr open.
    if [[ $mode == run ]]; then
        in_ns /usr/bin/time -o "$out" -f %M "${bin[$rt]}" --root "$tmp/root-$rt" run -b "$bundle" "$id" \
            </dev/null >/dev/null 2>>"$tmp/$rt.stderr" || return 1
    else
        in_ns /usr/bin/time -o "$out" -f %M "${bin[$rt]}" --root "$tmp/root-$rt" create -b "$bundle" "$id" \
            </dev/null >/dev/null 2>>"$tmp/$rt.stderr" || return 1
        in_ns "${bin[$rt]}" --root "$tmp/root-$rt" delete --force "$id" </dev/null >/dev/null 2>&1 || return 1
    fi
    kib=$(tail -1 "$out")
    [[ $kib =~ ^[0-9]+$ ]] || return 1
    echo "$kib"
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo
printf '%-14s %12s %15s\n' "peak RSS KiB" "run" "create"
declare -A rss
for rt in "${names[@]}"; do
    for mode in run create; do
        for i in $(seq "$RSS_N"); do
            peak_rss "$rt" "$mode" "$i" >>"$tmp/rss.$rt.$mode" || die "$rt $mode: peak RSS run failed"
        done
        rss[$rt.$mode]=$(median <"$tmp/rss.$rt.$mode")
    done
    printf '%-14s %12s %15s\n' "$rt" "${rss[$rt.run]}" "${rss[$rt.create]}"
done
awk -v a="${rss[nook.run]}" -v b="${rss[crun.run]}" -v c="${rss[nook.create]}" -v d="${rss[crun.create]}" \
    'BEGIN { printf "nook/crun peak RSS: run %.2fx, create %.2fx\n", a / b, c / d }'
if [[ -n ${NOOK_BASE:-} ]]; then
    awk -v a="${rss[nook.run]}" -v b="${rss[base.run]}" -v c="${rss[nook.create]}" -v d="${rss[base.create]}" \
        'BEGIN { printf "nook/base peak RSS: run %.2fx, create %.2fx\n", a / b, c / d }'
fi
# ---- 6. the EXIT trap checks for and removes leftovers --------------------------------

#!/usr/bin/env bash
# many.sh - bring N detached containers up with nook and with crun, then delete them all.
#
# Usage:   benches/many.sh                     (as root)
# Env:     N=100          containers per runtime and phase (the issue's figure is 1000)
#          PAR=8          containers created at once in the parallel phase
#          CHECK="10 100 1000"   report the per-container cost around these counts (<= N)
#          NOOK=path      nook binary; default: `cargo build-nook` (static), target/x86_64-unknown-linux-gnu/release/nook
#          CRUN=crun
#          RUNTIMES="nook crun"
#
# In one private mount namespace with the hybrid cgroup2 mount hidden
# (crun refuses hybrid hosts; see side-by-side.sh for why one namespace for the whole run):
#   1. sequential: `create` + `start` of a busybox `sleep` container, N times, one after the
#      other. Prints the total time and the mean of the WINDOW
#      containers ending at each CHECK count (the cost of the 10th, 100th, 1000th container,
#      with that many already running: the growth with the number of siblings).
#      The runtimes are interleaved (container i of each, then i+1), so at #K there are
#      K-1 containers of every runtime running, and the host's load hits all alike.
#   2. host memory per running container: (MemTotal - MemAvailable) with all up, minus the
#      same before the first, over all containers ("host mem/ctr", one figure for all
#      runtimes, and noisy on a shared machine), and per runtime "cgroup mem/ctr": the mean
#      memory.usage_in_bytes of its containers' v1 memory cgroups.
#   3. `delete --force` of all N, sequentially (interleaved too), timed.
#   4. parallel: the same N containers up, PAR at a time (create + start each), timed,
#      then deleted PAR at a time. No lock may serialise independent containers.
#   5. host memory per running container, per runtime ("charged mem/ctr"): MEM_N
#      containers (default min(N, 50)) of one runtime at a time, each runtime command run
#      inside a fresh v1 memory cgroup P (the process joins P before it execs the runtime)
#      and each container's linux.cgroupsPath under P, so P's hierarchical
#      memory.usage_in_bytes holds everything charged for them: the runtimes' kernel
#      objects (namespaces, mounts, cgroup structures, state files' page cache) and the
#      containers' processes. (P after - P before) / MEM_N, after all are up. Memory the
#      kernel does not account to a cgroup is not in it. Then "runtime procs/ctr": the
#      processes left running the runtime's own binary per container (a shim-less
#      runtime should leave none: the init has exec'd the container's program).
# Then ratios nook/crun for each phase. Afterwards it checks that nothing is left: state
# dirs, cgroups named after the ids under any hierarchy, processes of the temp dir, mounts.
set -euo pipefail

N=${N:-100}
PAR=${PAR:-8}
CHECK=${CHECK:-"10 100 1000"}
WINDOW=${WINDOW:-10}
MEM_N=${MEM_N:-$((N < 50 ? N : 50))}
CRUN=${CRUN:-crun}
RUNTIMES=${RUNTIMES:-"nook crun"}
CG=/sys/fs/cgroup

die() { printf 'many: %s\n' "$*" >&2; exit 1; }
note() { printf 'many: %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '$N'"
[[ $PAR =~ ^[1-9][0-9]*$ ]] || die "PAR must be a positive integer, got '$PAR'"
[[ -x /bin/busybox ]] || die "needs a static busybox at /bin/busybox"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -n ${NOOK:-} ]]; then
    NOOK=$(readlink -f "$(command -v "$NOOK")") || die "NOOK='$NOOK' is not an executable"
else
    (cd "$repo" && cargo build-nook >&2) || die "cargo build-nook failed"
    NOOK=${CARGO_TARGET_DIR:-$repo/target}/x86_64-unknown-linux-gnu/release/nook
fi
CRUN=$(command -v "$CRUN") || die "needs crun"
declare -A bin=([nook]=$NOOK [crun]=$CRUN)

tmp=$(mktemp -d /tmp/nook-many.XXXXXX)
prefix="nkmany$$r${RANDOM}-"
hide_unified=0
[[ $(stat -f -c %T "$CG/unified" 2>/dev/null || true) == cgroup2fs ]] && hide_unified=1

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

our_cgroups() {
    { find "$CG" -xdev -depth -type d -name "${prefix}*"
      for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET); do
          find "$m" -depth -type d -name "${prefix}*"; done; } 2>/dev/null | sort -u
}

cleanup() {
    local rc=$? left=0 rt d
    trap - EXIT INT TERM
    for rt in $RUNTIMES; do
        for d in "$tmp/root-$rt"/*/; do
            [[ -d $d ]] || continue
            echo "many: container left by $rt: $(basename "$d")" >&2; left=1
            in_ns "${bin[$rt]}" --root "$tmp/root-$rt" delete --force "$(basename "$d")" >/dev/null 2>&1 || true
        done
    done
    for d in $(our_cgroups); do
        # Phase 5's parents, made by this script (in memory) and by the runtimes (elsewhere).
        [[ $(basename "$d") == "${prefix}mem-"* ]] && { rmdir "$d" 2>/dev/null && continue; }
        echo "many: cgroup left: $d" >&2; left=1; rmdir "$d" 2>/dev/null || true
    done
    if findmnt -rn -o TARGET | grep -qF "$tmp"; then
        echo "many: mounts left under $tmp; not removing it" >&2; rc=1
    else
        rm -rf --one-file-system "$tmp"
    fi
    ((left)) && rc=1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bundle=$tmp/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
ln -s busybox "$bundle/rootfs/bin/sleep"
(cd "$bundle" && "$CRUN" spec) >/dev/null || die "crun spec failed"
python3 - "$bundle/config.json" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["/bin/sleep", "100000"]
c["process"]["terminal"] = False
c["process"].pop("consoleSize", None)
# crun's spec has no cgroup namespace in runc's; keep runc's default set of namespaces.
c["linux"]["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
json.dump(c, open(p, "w"), indent=2)
EOF

cat >"$tmp/many.py" <<'EOF'
import json, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

n, par, window = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
checks = [int(c) for c in sys.argv[4].split() if int(c) <= n]
tmp, bundle, prefix, mem_n = *sys.argv[5:8], int(sys.argv[8])
runtimes = [tuple(a.split("=", 1)) for a in sys.argv[9:]]

def cmd(name, binary, *args):
    argv = [binary, "--root", f"{tmp}/root-{name}", *args]
    # stderr to a file: a pipe would stay open in the container's init and never EOF.
    with open(f"{tmp}/{name}.stderr", "ab+") as log:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        if r.returncode != 0:
            log.seek(0)
            sys.exit(f"many: {' '.join(argv)} exited {r.returncode}: {log.read()[-500:].decode()}")

def up(name, binary, cid):
    t0 = time.monotonic_ns()
    cmd(name, binary, "create", "-b", bundle, "--pid-file", f"{tmp}/{cid}.pid", cid)
    cmd(name, binary, "start", cid)
    return time.monotonic_ns() - t0

def down(name, binary, cid):
    cmd(name, binary, "delete", "--force", cid)

def cgroup_kib(cid):
    """memory.usage_in_bytes of the container's v1 memory cgroup (its init's), in KiB."""
    pid = open(f"{tmp}/{cid}.pid").read().strip()
    for line in open(f"/proc/{pid}/cgroup"):
        _, ctrl, path = line.rstrip("\n").split(":", 2)
        if "memory" in ctrl.split(","):
            return int(open(f"/sys/fs/cgroup/memory{path}/memory.usage_in_bytes").read()) / 1024
    return float("nan")

def used_kib():
    m = {}
    for line in open("/proc/meminfo"):
        k, v = line.split(":")
        m[k] = int(v.split()[0])
    return m["MemTotal"] - m["MemAvailable"]

# Sequential phases are interleaved (container i of every runtime, then i+1; order
# rotated), so load from the rest of the machine hits all runtimes alike. Hence at
# "#K", K-1 containers of EACH runtime are already running.
res = {name: {} for name, _ in runtimes}
ids = {name: [f"{prefix}{name}-{i}" for i in range(n)] for name, _ in runtimes}
each = {name: [] for name, _ in runtimes}
spent = {name: 0 for name, _ in runtimes}
before = used_kib()
for i in range(n):
    k = i % len(runtimes)
    for name, binary in runtimes[k:] + runtimes[:k]:
        dt = up(name, binary, ids[name][i])
        each[name].append(dt)
        spent[name] += dt
host = (used_kib() - before) / (n * len(runtimes))
for name, _ in runtimes:
    r = res[name]
    r["seq up"] = spent[name] / 1e9
    r["host mem/ctr"] = host
    r["cgroup mem/ctr"] = sum(cgroup_kib(c) for c in ids[name]) / n
    for c in checks:
        w = each[name][max(0, c - window):c]
        r[f"#{c}"] = sum(w) / len(w) / 1e6
    spent[name] = 0
for i in range(n):
    k = i % len(runtimes)
    for name, binary in runtimes[k:] + runtimes[:k]:
        t0 = time.monotonic_ns()
        down(name, binary, ids[name][i])
        spent[name] += time.monotonic_ns() - t0
for name, binary in runtimes:
    r = res[name]
    r["seq delete"] = spent[name] / 1e9
    pids = [f"{prefix}{name}-p{i}" for i in range(n)]
    with ThreadPoolExecutor(par) as ex:
        t0 = time.monotonic_ns()
        list(ex.map(lambda c: up(name, binary, c), pids))
        r[f"par{par} up"] = (time.monotonic_ns() - t0) / 1e9
        t0 = time.monotonic_ns()
        list(ex.map(lambda c: down(name, binary, c), pids))
        r[f"par{par} delete"] = (time.monotonic_ns() - t0) / 1e9
    sys.stderr.write(f"many: {name} done\n")

# Phase 5: memory charged per container, one runtime at a time (see the header).
MEMCG = "/sys/fs/cgroup/memory"
def usage(cg):
    return int(open(f"{MEMCG}/{cg}/memory.usage_in_bytes").read())
for name, binary in runtimes:
    parent = f"{prefix}mem-{name}"
    os.mkdir(f"{MEMCG}/{parent}")
    join = lambda: open(f"{MEMCG}/{parent}/cgroup.procs", "w").write(str(os.getpid()))
    def mcmd(*args):
        argv = [binary, "--root", f"{tmp}/root-{name}", *args]
        with open(f"{tmp}/{name}.stderr", "ab+") as log:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=log, preexec_fn=join)
            if r.returncode != 0:
                log.seek(0)
                sys.exit(f"many: {' '.join(argv)} exited {r.returncode}: {log.read()[-500:].decode()}")
    cids = [f"{prefix}{name}-m{i}" for i in range(mem_n)]
    for cid in cids:
        b = f"{tmp}/mb-{cid}"
        os.mkdir(b)
        c = json.load(open(f"{bundle}/config.json"))
        c["root"]["path"] = f"{bundle}/rootfs"
        c["linux"]["cgroupsPath"] = f"/{parent}/{cid}"
        json.dump(c, open(f"{b}/config.json", "w"))
    before = usage(parent)
    for cid in cids:
        mcmd("create", "-b", f"{tmp}/mb-{cid}", cid)
        mcmd("start", cid)
    after = usage(parent)
    exe = os.path.realpath(binary)
    own = 0
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            own += os.readlink(f"/proc/{p}/exe") == exe
        except OSError:
            pass
    for cid in cids:
        mcmd("delete", "--force", cid)
    res[name]["charged mem/ctr"] = (after - before) / 1024 / mem_n
    res[name]["runtime procs/ctr"] = own / mem_n
    # The runtimes leave the parent they were given in every hierarchy (as runc does).
    for m in os.listdir("/sys/fs/cgroup"):
        d = f"/sys/fs/cgroup/{m}/{parent}"
        if os.path.isdir(d) and not os.path.islink(f"/sys/fs/cgroup/{m}"):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.02)

keys = list(res[runtimes[0][0]])
unit = lambda k: ("KiB" if "mem/" in k else "ms/ctr" if k.startswith("#")
                 else "procs" if "procs" in k else "s")
print(f"N={n}  (#K: mean ms of create+start of containers K-{window}+1..K, K-1 already running)")
print(f"{'measure':<16}" + "".join(f"{nm:>12}" for nm, _ in runtimes) + "   unit")
for k in keys:
    print(f"{k:<16}" + "".join(f"{res[nm][k]:>12.2f}" for nm, _ in runtimes) + f"   {unit(k)}")
if "nook" in res and "crun" in res:
    print()
    for k in keys:
        if res['crun'][k]:
            print(f"nook/crun {k}: {res['nook'][k] / res['crun'][k]:.2f}x")
EOF

for rt in $RUNTIMES; do mkdir -p "$tmp/root-$rt"; done
note "nook=$NOOK crun=$CRUN N=$N PAR=$PAR ids ${prefix}*"
args=()
for rt in $RUNTIMES; do args+=("$rt=${bin[$rt]}"); done
in_ns python3 "$tmp/many.py" "$N" "$PAR" "$WINDOW" "$CHECK" "$tmp" "$bundle" "$prefix" "$MEM_N" "${args[@]}"

#!/bin/bash
# run-in-v2-vm.sh - run a command inside a throw-away qemu VM whose kernel has a
# PURE cgroup v2 hierarchy (cgroup2 on /sys/fs/cgroup, no v1 mounted at all).
#
# nook's development hosts may be cgroup v1 or hybrid; this is how nook's
# cgroup v2 code (cgroup.freeze, cgroup.kill, BPF device filters, the
# no-internal-process rule) gets tested on a real kernel anyway.  Used by
# tools/test-cgroup-v2.sh.
#
#   usage: run-in-v2-vm.sh HOST_DIR CMD [ARG...]
#
# HOST_DIR is shared read-write into the guest over 9p (virtio) at the SAME
# absolute path, and CMD runs as root with that directory as its cwd.  The
# command's stdout+stderr are streamed (serial console -> our stdout) and the
# script exits with the command's exit status.
#
# Only Debian packages are used: qemu-system-x86, busybox-static and the kernel
# from linux-image-amd64 (downloaded with `apt-get download` into the cache and
# unpacked with dpkg-deb -x, never installed).  Needs bash, coreutils, apt.
#
# Guest root filesystem (V2VM_HOSTROOT):
#   1 (default) overlayfs: lower = host "/" shared read-only over 9p, upper =
#     tmpfs.  Every host binary/library (runc, cargo test binaries, ...) works
#     unchanged; writes outside HOST_DIR go to RAM and are discarded.
#   0 busybox-only tmpfs root (static binaries only, or bring your own libs).
#
# Knobs (environment):
#   V2VM_CACHE    cache dir for the kernel + initramfs   (~/.cache/v2vm)
#   V2VM_ACCEL    kvm | tcg | auto (auto = probe KVM once, cache the result)
#   V2VM_MEM      guest RAM in MiB (1024)      V2VM_SMP   vCPUs (2)
#   V2VM_TIMEOUT  seconds before the VM is killed (900)
#   V2VM_WATCHDOG seconds after which the guest prints its tasks and their
#                 kernel stacks, and ends the command as hung (V2VM_TIMEOUT - 60)
#   V2VM_HUNG_RETRIES  boots after a hang before giving up (1); the hang and
#                 its task list stay in the output either way
#   V2VM_PASSENV  names of env vars to copy into the guest ("RUST_BACKTRACE RUST_LOG")
#   V2VM_HOSTROOT 1 | 0 (see above)          V2VM_PVH=0  boot the bzImage, not vmlinux
#   V2VM_CGROUP   v2 (default) | v1 | hybrid: the cgroup layout of the guest.
#                 v1 mounts each controller on its own under a tmpfs at
#                 /sys/fs/cgroup; hybrid adds cgroup2 at /sys/fs/cgroup/unified
#                 (systemd's hybrid mode), so all three layouts nook supports
#                 can be tested on one kernel.
#   V2VM_APPEND   more kernel command line, e.g. "security=selinux selinux=1
#                 enforcing=0" to boot SELinux instead of AppArmor (tools/test-selinux.sh)
#   V2VM_DEBUG=1  show kernel messages on the console
#   V2VM_SHOWBOOT=1  print guest uptime just before CMD starts
#   V2VM_DMESG=FILE  save the guest's dmesg there after the run
#   V2VM_PROBE_TIMEOUT  seconds the one-off KVM probe may take (20)
#   V2VM_KERNEL / V2VM_MODDIR  use this kernel image / lib/modules/<ver> instead
#   V2VM_MODULES  unset/empty (default): the guest has only the few modules
#                 its initramfs loads.  1: the kernel's whole module tree is
#                 at /lib/modules (read-only, a symlink to a mount under
#                 /.v2vm; modules.dep made once in the cache) and /sbin/modprobe is busybox's, for the kernel's
#                 own module requests too.  A list of module names: the same,
#                 and those are loaded before CMD.  criu: the modules criu
#                 needs (CRIU_MODULES in vm-kernel.sh; `criu check` passes).
# Exit status: the command's status; 124 VM timeout or hang; 125 VM/infra failure.
set -euo pipefail

die() { echo "run-in-v2-vm: $*" >&2; exit 125; }
log() { [ "${V2VM_QUIET:-0}" = 1 ] || echo "run-in-v2-vm: $*" >&2; }

[ $# -ge 2 ] || { sed -n '2,/^# Exit status/p' "$0" >&2; exit 125; }
HOST_DIR=$(realpath -e "$1") || die "no such dir: $1"; shift
[ -d "$HOST_DIR" ] || die "not a directory: $HOST_DIR"

CACHE=${V2VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/v2vm}
MEM=${V2VM_MEM:-1024}
SMP=${V2VM_SMP:-2}
TIMEOUT=${V2VM_TIMEOUT:-900}
WATCHDOG=${V2VM_WATCHDOG:-$((TIMEOUT > 120 ? TIMEOUT - 60 : TIMEOUT))}
HOSTROOT=${V2VM_HOSTROOT:-1}
CGROUP=${V2VM_CGROUP:-v2}
case $CGROUP in v1|v2|hybrid) ;; *) die "V2VM_CGROUP must be v1, v2 or hybrid";; esac
ACCEL=${V2VM_ACCEL:-auto}
PASSENV=${V2VM_PASSENV:-RUST_BACKTRACE RUST_LOG}
QEMU=${V2VM_QEMU:-qemu-system-x86_64}
BUSYBOX=${V2VM_BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || BUSYBOX=/usr/bin/busybox
command -v "$QEMU" >/dev/null || die "$QEMU missing (apt-get install qemu-system-x86)"
"$BUSYBOX" true 2>/dev/null || die "busybox missing (apt-get install busybox-static)"
"$BUSYBOX" --list | grep -x cpio >/dev/null || die "$BUSYBOX has no cpio applet"
mkdir -p "$CACHE"

# Modules the guest needs (Debian builds them as modules); deps are resolved.
MODULES="virtio_pci virtio_mmio 9pnet_virtio 9p overlay"

# fetch_kernel, resolve_mod and build_initramfs, shared with the other runner.
. "$(dirname "$0")/vm-kernel.sh"
GUEST_MODULES=${V2VM_MODULES:-}
[ "$GUEST_MODULES" = criu ] && GUEST_MODULES=$CRIU_MODULES
case $GUEST_MODULES in *[!a-z0-9_\ -]*) die "V2VM_MODULES: 1 or module names";; esac

# ------------------------------------------------------------- initramfs ---
# The guest init script (busybox ash).  Stage 1 runs from the initramfs,
# builds the real root and switch_roots; stage 2 sets up the cgroup mounts and runs CMD.
GUEST_INIT='#!/bin/busybox sh
B=/bin/busybox
if [ "$1" != stage2 ]; then
  $B mkdir -p /proc /sys /dev /ctl /newroot /lower /rw
  $B --install -s /bin
  mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
  for m in $(cat /modules/order); do insmod /modules/$m.ko 2>/dev/null; done
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ctl /ctl ||
    { echo "v2vm: cannot mount ctl share"; poweroff -f; }
  . /ctl/env
  if [ "$V2VM_HOSTROOT" = 1 ]; then
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose hostroot /lower &&
    mount -t tmpfs -o mode=755 rw /rw && mkdir -p /rw/upper /rw/work &&
    mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
      { echo "v2vm: cannot build overlay root"; echo 125 >/ctl/rc; poweroff -f; }
  else
    mount -t tmpfs -o mode=755 root /newroot
    mkdir -p /newroot/bin /newroot/sbin /newroot/usr/bin /newroot/usr/sbin /newroot/etc /newroot/root
    cp /bin/busybox /newroot/bin/busybox; /bin/busybox --install -s /newroot/bin
    echo "root:x:0:0:root:/root:/bin/sh" >/newroot/etc/passwd; echo "root:x:0:" >/newroot/etc/group
  fi
  mkdir -p /newroot/.v2vm /newroot/proc /newroot/sys /newroot/dev
  cp /bin/busybox /init /newroot/.v2vm/
  mkdir -p /newroot/.v2vm/ctl
  for d in proc sys dev; do mount --move /$d /newroot/$d; done
  mount --move /ctl /newroot/.v2vm/ctl
  exec switch_root /newroot /.v2vm/busybox sh /.v2vm/init stage2
fi
# ---- stage 2, inside the real root
B=/.v2vm/busybox; C=/.v2vm/ctl
. $C/env
$B mkdir -p /dev/pts /dev/shm /tmp /run /sys/fs/cgroup
$B mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
$B mount -t tmpfs -o mode=1777 shm /dev/shm
$B mount -t tmpfs -o mode=755 run /run
$B mount -t tmpfs -o mode=1777 tmp /tmp
if [ "$V2VM_CGROUP" = v2 ]; then
  $B mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
  for c in $($B cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || echo "v2vm: cannot enable $c"
  done
else
  $B mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
  for c in cpu,cpuacct cpuset memory devices freezer blkio pids hugetlb net_cls,net_prio perf_event rdma misc; do
    $B mkdir /sys/fs/cgroup/$c
    $B mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c 2>/dev/null || $B rmdir /sys/fs/cgroup/$c
  done
  if [ "$V2VM_CGROUP" = hybrid ]; then
    $B mkdir /sys/fs/cgroup/unified
    $B mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup/unified
  fi
fi
if [ -n "$V2VM_MODULES" ]; then
  # Mounted out of the way, /lib/modules a symlink to it: a container that
  # binds /lib or /usr of the host with rbind must not carry a 9p mount
  # along (criu cannot dump one).
  $B mkdir -p /.v2vm/modules /lib /sbin
  $B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose modules /.v2vm/modules ||
    { echo "v2vm: cannot mount the module tree"; echo 125 >$C/rc; $B poweroff -f; }
  if [ -e /lib/modules ]; then $B mount --bind /.v2vm/modules /lib/modules
  else $B ln -s /.v2vm/modules /lib/modules; fi
  $B ln -sf /.v2vm/busybox /sbin/modprobe
  echo /sbin/modprobe > /proc/sys/kernel/modprobe
  if [ "$V2VM_MODULES" != 1 ]; then
    $B modprobe -a $V2VM_MODULES || echo "v2vm: cannot load all of: $V2VM_MODULES"
  fi
fi
$B hostname v2vm; $B ip link set lo up 2>/dev/null
$B mkdir -p "$V2VM_DIR"
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 work "$V2VM_DIR" ||
  { echo "v2vm: cannot mount work share"; echo 125 >$C/rc; $B poweroff -f; }
$B stty -F /dev/console -onlcr 2>/dev/null
[ -n "$V2VM_SHOWBOOT" ] && echo "v2vm: guest uptime at command start: $($B cut -d" " -f1 /proc/uptime)s"
cd "$V2VM_DIR"
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb
/bin/sh $C/cmd </dev/null >/dev/console 2>&1
rc=$?
cd /
echo $rc > $C/rc.tmp; $B mv $C/rc.tmp $C/rc
$B dmesg > $C/dmesg 2>/dev/null
[ -n "$V2VM_SHOWBOOT" ] || echo "0 4 0 7" > /proc/sys/kernel/printk 2>/dev/null  # hide "reboot: Power down"
$B sync
$B poweroff -f
'

# ------------------------------------------------------------------ run ---
CTL=
cleanup() { if [ -n "$CTL" ]; then rm -rf "$CTL"; fi; }
trap cleanup EXIT

boot() {  # $1 = accel; runs qemu with $CTL prepared; returns qemu/timeout status
  local accel=$1 cpu append
  if [ "$accel" = kvm ]; then cpu=host,-arch-capabilities; else cpu=max; fi
  append="console=ttyS0 panic=-1 rdinit=/init"
  if [ "${V2VM_DEBUG:-0}" = 1 ]; then append="$append loglevel=7"; else append="$append quiet loglevel=1"; fi
  # cgroup_no_v1=all: even if something tried, no v1 controller can be mounted
  [ "$CGROUP" = v2 ] && append="$append cgroup_no_v1=all"
  [ -n "${V2VM_APPEND:-}" ] && append="$append $V2VM_APPEND"
  local virtfs_root=()
  [ "$HOSTROOT" = 1 ] && virtfs_root=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
  [ -n "$GUEST_MODULES" ] && virtfs_root+=(-virtfs "local,path=$MODTREE,mount_tag=modules,security_model=none,readonly=on")
  timeout -k 5 "${2:-$TIMEOUT}" "$QEMU" \
    -machine "q35,accel=$accel" -cpu "$cpu" -m "$MEM" -smp "$SMP" \
    -nodefaults -no-user-config -display none -no-reboot \
    -chardev stdio,id=con,signal=off -serial chardev:con \
    -kernel "$KERNEL" -initrd "$INITRD" -append "$append" \
    -virtfs "local,path=$CTL,mount_tag=ctl,security_model=none" \
    -virtfs "local,path=$HOST_DIR,mount_tag=work,security_model=none,multidevs=remap" \
    "${virtfs_root[@]}" </dev/null
}

SQ="'\\''"   # inside '...', a ' is written as '\''
prepare_ctl() {  # $@ = command
  CTL=$(mktemp -d "${TMPDIR:-/tmp}/v2vm-ctl.XXXXXX")
  { printf "V2VM_DIR='%s'\nV2VM_HOSTROOT='%s'\nV2VM_SHOWBOOT='%s'\nV2VM_CGROUP='%s'\nV2VM_MODULES='%s'\n" "${HOST_DIR//\'/$SQ}" "$HOSTROOT" "${V2VM_SHOWBOOT:-}" "$CGROUP" "$GUEST_MODULES"; } > "$CTL/env"
  write_cmd "$CTL" "$@"
}

fetch_kernel
build_initramfs
[ -z "$GUEST_MODULES" ] || prepare_module_tree

if [ "$ACCEL" = auto ]; then
  probe=$CACHE/accel.$(uname -r)
  if [ ! -s "$probe" ]; then
    ACCEL=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
      log "probing KVM (one-off, result cached in $probe)"
      prepare_ctl true
      if boot kvm "${V2VM_PROBE_TIMEOUT:-20}" >/dev/null 2>&1 && [ "$(cat "$CTL/rc" 2>/dev/null)" = 0 ]; then ACCEL=kvm; fi
      rm -rf "$CTL"; CTL=
    fi
    echo $ACCEL > "$probe"; log "accelerator: $ACCEL"
  fi
  ACCEL=$(cat "$probe")
fi

boot_until_done "$@"
if [ -s "$CTL/rc" ]; then
  rc=$(cat "$CTL/rc")
  [ -n "${V2VM_DMESG:-}" ] && cp "$CTL/dmesg" "$V2VM_DMESG" 2>/dev/null
  exit "$rc"
fi
[ "$qrc" = 124 ] && { echo "run-in-v2-vm: VM timed out after ${TIMEOUT}s" >&2; exit 124; }
die "VM ended without a result (qemu status $qrc); rerun with V2VM_DEBUG=1"

#!/bin/bash
# run-in-vm-systemd.sh - a variant of run-in-v2-vm.sh whose guest runs
# SYSTEMD AS PID 1 (Debian's 6.1 kernel and the host's systemd, qemu).
#
#   usage: run-in-vm-systemd.sh HOST_DIR CMD [ARG...]
#
# nook's development hosts and CI run no systemd, so this is where the
# systemd cgroup driver (--systemd-cgroup: transient scopes over D-Bus) is
# tested for real, on the cgroup layouts systemd itself sets up (see
# tools/test-systemd.sh). The guest shares the host's root read-only under a
# writable overlay whose writes are thrown away, so /etc and /var can be
# changed for the run; boot to CMD takes ~12-15 s under TCG.
#
# Same contract as run-in-v2-vm.sh: HOST_DIR is shared read-write (9p) at the same path,
# CMD runs as root with HOST_DIR as cwd, its stdout+stderr reach our stdout (serial
# console), and we exit with its status (124 VM timeout or hang, 125 VM/infra failure).
#
# Guest boot: the initramfs /init builds the overlay root (host "/" read-only over 9p as
# lower + tmpfs upper, so /etc /var /run are writable and writes are discarded), puts a
# fresh tmpfs on /tmp, writes (in the overlay only) an empty /etc/fstab, masks the host's
# own services/timers (docker.socket, podman.socket, timesyncd, apparmor, sysstat, ...),
# adds v2vm.target + v2vm-cmd.service, and switch_roots to /lib/systemd/systemd
# --unit=v2vm.target.  v2vm-cmd.service (After=basic.target dbus.service, so systemd and
# the D-Bus system bus are up) mounts the HOST_DIR share, runs CMD, writes the status to
# the control share and powers off.  CMD runs in system.slice/v2vm-cmd.service.
# Masking the host's units and generators is what cut the boot from ~47 s to ~12 s;
# /.dockerenv is removed, or systemd would believe it runs in a container.
# The host's /tmp is not visible in the guest: keep binaries and bundles under HOST_DIR.
# The guest kernel has AppArmor built in (mount securityfs to see it in
# /sys/kernel/security/lsm); podman and docker then pass their profiles.
#
# Knobs (environment), besides those of run-in-v2-vm.sh (V2VM_HOSTROOT is ignored: always 1):
#   V2VM_CGROUP    v2 (default): pure cgroup2, cgroup_no_v1=all.
#                  hybrid: systemd's hybrid layout (systemd.unified_cgroup_hierarchy=0:
#                  v1 controllers, cgroup2 at /sys/fs/cgroup/unified for systemd's tracking).
#                  v1: systemd's legacy layout (no cgroup2 mount at all).
#                  Set up by systemd from the kernel command line, as on a real host.
#   V2VM_MASK      extra unit names to mask in the guest
#   V2VM_SDLOG     systemd --log-level (warning)     V2VM_SDSTATUS  --show-status (no)
#   V2VM_JOURNAL=FILE  save the guest's journal (journalctl -b) there after the run
#   V2VM_SHOWBOOT=1    print guest uptime + `systemctl is-system-running` before CMD
set -euo pipefail

die() { echo "run-in-vm-systemd: $*" >&2; exit 125; }
log() { [ "${V2VM_QUIET:-0}" = 1 ] || echo "run-in-vm-systemd: $*" >&2; }

[ $# -ge 2 ] || { sed -n "2,45p" "$0" >&2; exit 125; }
HOST_DIR=$(realpath -e "$1") || die "no such dir: $1"; shift
[ -d "$HOST_DIR" ] || die "not a directory: $HOST_DIR"

CACHE=${V2VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/v2vm}
MEM=${V2VM_MEM:-1024}
SMP=${V2VM_SMP:-2}
TIMEOUT=${V2VM_TIMEOUT:-900}
WATCHDOG=${V2VM_WATCHDOG:-$((TIMEOUT > 120 ? TIMEOUT - 60 : TIMEOUT))}
HOSTROOT=1   # systemd needs the host root (V2VM_HOSTROOT is ignored here)
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

# ------------------------------------------------------------- initramfs ---
# The guest init script (busybox ash).  Stage 1 runs from the initramfs,
# builds the real root and switch_roots; stage 2 sets up cgroup2 and runs CMD.
GUEST_INIT='#!/bin/busybox sh
B=/bin/busybox
if [ "$1" != stage2 ]; then
  # ---- stage 1: initramfs; build the overlay root, prepare it for systemd, switch_root
  $B mkdir -p /proc /sys /dev /ctl /newroot /lower /rw
  $B --install -s /bin
  mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
  for m in $(cat /modules/order); do insmod /modules/$m.ko 2>/dev/null; done
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ctl /ctl ||
    { echo "v2vm: cannot mount ctl share"; poweroff -f; }
  . /ctl/env
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose hostroot /lower &&
  mount -t tmpfs -o mode=755 rw /rw && mkdir -p /rw/upper /rw/work &&
  mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot ||
    { echo "v2vm: cannot build overlay root"; echo 125 >/ctl/rc; poweroff -f; }
  [ -x /newroot/lib/systemd/systemd ] || { echo "v2vm: no /lib/systemd/systemd in the host root"; echo 125 >/ctl/rc; poweroff -f; }
  R=/newroot
  mkdir -p $R/.v2vm/ctl $R/proc $R/sys $R/dev $R/run $R/tmp
  cp /bin/busybox /init $R/.v2vm/
  # fresh /tmp (the host /tmp would show through the overlay and systemd-tmpfiles
  # would walk it); the work share is mounted later, by v2vm-cmd.service.
  mount -t tmpfs -o mode=1777 tmp $R/tmp
  # The host config must not leak into the guest boot: no fstab entries, no host services.
  echo "# v2vm: empty" > $R/etc/fstab
  echo v2vm > $R/etc/hostname
  # the host root carries /.dockerenv: systemd would think it runs in a container
  rm -f $R/.dockerenv
  mkdir -p $R/etc/systemd/journald.conf.d
  printf "[Journal]\nStorage=volatile\n" > $R/etc/systemd/journald.conf.d/v2vm.conf
  S=$R/etc/systemd/system
  mkdir -p $S
  for u in apparmor.service systemd-timesyncd.service systemd-pstore.service docker.socket \
           podman.socket sysstat-collect.timer sysstat-summary.timer e2scrub_all.timer \
           e2scrub_reap.service systemd-firstboot.service systemd-repart.service \
           systemd-modules-load.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
           systemd-pcrphase.service systemd-pcrphase-sysinit.service apt-daily.timer \
           apt-daily-upgrade.timer man-db.timer logrotate.timer fstrim.timer \
           systemd-tmpfiles-clean.timer dpkg-db-backup.timer tmp.mount \
           systemd-sysusers.service systemd-random-seed.service systemd-update-utmp.service \
           systemd-journal-flush.service systemd-remount-fs.service systemd-machine-id-commit.service \
           dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
           sys-kernel-config.mount sys-fs-fuse-connections.mount modprobe@configfs.service \
           modprobe@fuse.service modprobe@drm.service modprobe@efi_pstore.service \
           modprobe@loop.service modprobe@dm_mod.service $V2VM_MASK; do
    ln -sf /dev/null $S/$u
  done
  # no generators (fstab, getty, sysv scripts of the host, ...): saves seconds under TCG
  mkdir -p $R/etc/systemd/system-generators
  for g in $R/lib/systemd/system-generators/*; do ln -sf /dev/null $R/etc/systemd/system-generators/${g##*/}; done
  cat > $S/v2vm.target <<UNIT
[Unit]
Description=v2vm test command
Requires=v2vm-cmd.service
After=v2vm-cmd.service
AllowIsolate=yes
UNIT
  cat > $S/v2vm-cmd.service <<UNIT
[Unit]
Description=v2vm test command
Requires=dbus.socket
Wants=dbus.service
After=basic.target dbus.socket dbus.service
[Service]
Type=simple
ExecStart=/.v2vm/busybox sh /.v2vm/init stage2
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
TTYReset=no
TTYVHangup=no
KillMode=process
UNIT
  for d in proc sys dev; do mount --move /$d $R/$d; done
  mount --move /ctl $R/.v2vm/ctl
  exec switch_root $R /lib/systemd/systemd --unit=v2vm.target --log-level=${V2VM_SDLOG:-warning} --show-status=${V2VM_SDSTATUS:-no}
fi
# ---- stage 2: run by v2vm-cmd.service under systemd (PID 1)
B=/.v2vm/busybox; C=/.v2vm/ctl
. $C/env
$B mkdir -p "$V2VM_DIR"
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 work "$V2VM_DIR" ||
  { echo "v2vm: cannot mount work share"; echo 125 >$C/rc; $B poweroff -f; }
$B stty -F /dev/console -onlcr 2>/dev/null
[ -n "$V2VM_SHOWBOOT" ] && echo "v2vm: guest uptime at command start: $($B cut -d" " -f1 /proc/uptime)s ($(systemctl is-system-running 2>&1))"
cd "$V2VM_DIR"
export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb
/bin/sh $C/cmd </dev/null >/dev/console 2>&1
rc=$?
cd /
echo $rc > $C/rc.tmp; $B mv $C/rc.tmp $C/rc
$B dmesg > $C/dmesg 2>/dev/null
[ -n "$V2VM_JOURNAL" ] && journalctl -b --no-pager -o short-monotonic > $C/journal 2>&1
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
  # v2: cgroup_no_v1=all, so even if something tried, no v1 controller can be
  # mounted. hybrid and v1: systemd 252 still sets both up when asked.
  case $CGROUP in
    v2) append="$append cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1" ;;
    hybrid) append="$append systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0" ;;
    v1) append="$append systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1" ;;
  esac
  local virtfs_root=()
  [ "$HOSTROOT" = 1 ] && virtfs_root=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
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
  { printf "V2VM_DIR='%s'\nV2VM_HOSTROOT='%s'\nV2VM_SHOWBOOT='%s'\n" "${HOST_DIR//\'/$SQ}" "$HOSTROOT" "${V2VM_SHOWBOOT:-}"
    printf "V2VM_MASK='%s'\nV2VM_SDLOG='%s'\nV2VM_SDSTATUS='%s'\nV2VM_JOURNAL='%s'\n" \
      "${V2VM_MASK:-}" "${V2VM_SDLOG:-warning}" "${V2VM_SDSTATUS:-no}" "${V2VM_JOURNAL:+1}"; } > "$CTL/env"
  write_cmd "$CTL" "$@"
}

fetch_kernel
build_initramfs

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
  [ -n "${V2VM_JOURNAL:-}" ] && cp "$CTL/journal" "$V2VM_JOURNAL" 2>/dev/null
  exit "$rc"
fi
[ "$qrc" = 124 ] && { echo "run-in-vm-systemd: VM timed out after ${TIMEOUT}s" >&2; exit 124; }
die "VM ended without a result (qemu status $qrc); rerun with V2VM_DEBUG=1"

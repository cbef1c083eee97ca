# vm-kernel.sh - what tools/run-in-v2-vm.sh and tools/run-in-vm-systemd.sh
# share: Debian's kernel (fetched once into $CACHE), the modules the guest
# needs, and the initramfs that carries them with busybox and the guest init.
# Sourced, not run: the runner sets CACHE, BUSYBOX, MODULES, GUEST_INIT and
# log() first (and V2VM_KERNEL/V2VM_MODDIR/V2VM_PVH are read as documented
# in the runners). prepare_module_tree gives a guest the kernel's whole
# module tree (run-in-v2-vm.sh's V2VM_MODULES). write_cmd writes the guest's
# command with its watchdog; boot_until_done boots again after a hang.

# What criu 3.17 needs of Debian's kernel that is built as modules: its
# checks (`criu check`) and dumps use the sock_diag modules, nf_tables (the
# nftables network lock), tun, veth and autofs.
CRIU_MODULES="tun autofs4 veth unix_diag af_packet_diag netlink_diag inet_diag tcp_diag \
udp_diag raw_diag nfnetlink nf_tables nft_compat x_tables xt_mark nf_conntrack nf_conntrack_netlink"

# ---------------------------------------------------------------- kernel ---
fetch_kernel() {   # -> sets KERNEL, MODDIR
  if [ -n "${V2VM_KERNEL:-}" ]; then
    KERNEL=$V2VM_KERNEL; MODDIR=${V2VM_MODDIR:?set V2VM_MODDIR with V2VM_KERNEL}; return
  fi
  local k=$CACHE/kernel
  if ! ls "$k"/boot/vmlinuz-* >/dev/null 2>&1; then
    log "fetching linux-image-amd64 with apt-get download"
    mkdir -p "$CACHE/debs" && (
      cd "$CACHE/debs"
      apt-get download linux-image-amd64 >/dev/null 2>&1 || true   # meta pkg (just for the record)
      dep=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
      [ -n "$dep" ] || exit 1
      apt-get download "$dep" >/dev/null 2>&1
      rm -rf "$k.tmp" && mkdir -p "$k.tmp" && dpkg-deb -x "$dep"_*.deb "$k.tmp"
    ) || die "could not download/unpack the Debian kernel"
    rm -rf "$k" && mv "$k.tmp" "$k"
  fi
  KERNEL=$(ls "$k"/boot/vmlinuz-* | sort -V | tail -1)
  MODDIR=$k/lib/modules/${KERNEL##*/vmlinuz-}
  # Speed-up: under TCG, decompressing the xz bzImage inside the guest costs
  # ~4-5 s.  If the kernel has CONFIG_PVH=y, unpack the ELF vmlinux once on the
  # host and let qemu boot it directly through the PVH entry point.
  [ "${V2VM_PVH:-1}" = 1 ] || return 0
  local elf=$k/vmlinux-${KERNEL##*/vmlinuz-}
  if [ ! -s "$elf" ] && grep -q '^CONFIG_PVH=y' "$k"/boot/config-* 2>/dev/null; then
    local magic dec off
    for magic in '\xfd7zXZ\x00:xz -dc' '\x28\xb5\x2f\xfd:zstd -dcq' '\x1f\x8b\x08:gzip -dc'; do
      dec=${magic#*:}
      off=$(LC_ALL=C grep -obUaP "${magic%%:*}" "$KERNEL" | cut -d: -f1 | sed -n 1p)
      [ -n "$off" ] || continue
      tail -c +$((off + 1)) "$KERNEL" | $dec > "$elf.tmp" 2>/dev/null || true  # trailing data -> rc!=0
      if [ "$(head -c 4 "$elf.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then mv "$elf.tmp" "$elf"; break; fi
      rm -f "$elf.tmp"
    done
  fi
  [ -s "$elf" ] && KERNEL=$elf
  return 0
}

# print module file paths in load order (deps first), skip built-ins
declare -A SEEN
resolve_mod() {
  local m=$1 f d
  [ -n "${SEEN[$m]:-}" ] && return 0; SEEN[$m]=1
  grep -qE "/${m//_/[_-]}\.ko(\.[a-z]+)?$" "$MODDIR/modules.builtin" 2>/dev/null && return 0
  f=$(find "$MODDIR/kernel" -regextype posix-extended \
        -regex ".*/${m//_/[_-]}\.ko(\.(xz|zst|gz))?" -print -quit)
  [ -n "$f" ] || { log "module $m not found (assuming built in)"; return 0; }
  case $f in *.xz) d="xz -dc";; *.zst) d="zstd -dcq";; *.gz) d="gzip -dc";; *) d=cat;; esac
  for dep in $($d "$f" | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
    resolve_mod "$dep"
  done
  echo "$f"
}

build_initramfs() {   # -> sets INITRD
  local kver key stage d
  kver=$(basename "$MODDIR")
  key=$( { echo "$GUEST_INIT"; echo "$MODULES"; md5sum "$BUSYBOX"; } | md5sum | cut -c1-12)
  INITRD=$CACHE/initramfs-$kver-$key.cpio
  [ -s "$INITRD" ] && return 0
  log "building initramfs $INITRD"
  stage=$(mktemp -d)
  mkdir -p "$stage/bin" "$stage/modules"
  cp "$BUSYBOX" "$stage/bin/busybox"
  printf '%s' "$GUEST_INIT" > "$stage/init"; chmod 755 "$stage/init"
  for m in $MODULES; do resolve_mod "$m"; done | while read -r f; do
    n=$(basename "$f"); n=${n%.ko*}
    case $f in *.xz) xz -dc "$f";; *.zst) zstd -dcq "$f";; *.gz) gzip -dc "$f";; *) cat "$f";; esac \
      > "$stage/modules/$n.ko"
    echo "$n" >> "$stage/modules/order"
  done
  (cd "$stage" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$stage"
}

# The kernel's module tree with a modules.dep, for busybox modprobe in the
# guest (criu needs nf_tables, the sock_diag modules, tun...; the .deb
# carries the modules but no modules.dep). Made once in the cache: a copy
# of MODDIR with hard links (the .ko files are shared with the unpacked
# .deb, never written), then busybox depmod over the copy (~10 s), which
# writes modules.dep, .alias and .symbols as new files. Any file of those
# names is unlinked first, so depmod can never write through a hard link
# into the unpacked .deb.
prepare_module_tree() {   # -> sets MODTREE (a dir holding <ver>/modules.dep)
  local kver tmp f
  kver=$(basename "$MODDIR")
  MODTREE=$CACHE/modtree-$kver-$(printf '%s' "$MODDIR" | md5sum | cut -c1-8)/lib/modules
  [ -s "$MODTREE/$kver/modules.dep" ] && return 0
  log "making the module tree $MODTREE (one-off: cp -al, busybox depmod)"
  tmp=${MODTREE%/lib/modules}.tmp.$$
  rm -rf "$tmp" && mkdir -p "$tmp/lib/modules" &&
    cp -al "$MODDIR" "$tmp/lib/modules/" || { rm -rf "$tmp"; die "cannot copy $MODDIR"; }
  for f in dep dep.bin alias alias.bin symbols symbols.bin softdep devname; do
    rm -f "$tmp/lib/modules/$kver/modules.$f"
  done
  "$BUSYBOX" depmod -b "$tmp" "$kver" && [ -s "$tmp/lib/modules/$kver/modules.dep" ] ||
    { rm -rf "$tmp"; die "busybox depmod failed over $tmp"; }
  # Another run may have made it meanwhile: keep theirs.
  mv -T "$tmp" "${MODTREE%/lib/modules}" 2>/dev/null || rm -rf "$tmp"
}

# --------------------------------------------------------------- command ---
# write_cmd CTL CMD [ARG...]: CTL/cmd, which the guest runs with CTL mounted
# at /.v2vm/ctl, and CTL/watchdog beside it. The runner sets WATCHDOG,
# PASSENV and SQ first.
#
# A command that hangs in the guest used to end only when the host killed
# qemu at V2VM_TIMEOUT, with no word of what hung. The watchdog, started
# beside the command, fires after WATCHDOG seconds: it prints every user
# task of the guest (state, wait channel, system call number, kernel stack)
# and the kernel's list of blocked tasks into CTL/hung (a file, not the
# console: a console that stopped taking output would hang the watchdog
# too), leaves 124 as the status and powers the guest off; boot_until_done
# prints the file. It reads nothing under /proc/*/cgroup, whose lock a hung
# cgroup operation may hold.
write_cmd() {
  local ctl=$1 v a; shift
  cat > "$ctl/watchdog" <<'WATCHDOG'
sleep "$1" || exit 0
B=/.v2vm/busybox; C=/.v2vm/ctl
{
  echo "v2vm: watchdog: the command still runs after $1 s. The guest's tasks (pid tid state wchan syscall comm [cmdline]):"
  for d in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null | cut -c1-160)
    [ -n "$cmd" ] || continue   # kernel threads have no command line
    for t in "$d"/task/[0-9]*; do
      st=$(sed -n 's/^State:[[:space:]]*//p' "$t/status" 2>/dev/null)
      echo "${d#/proc/} ${t##*/} $st wchan=$(cat "$t/wchan" 2>/dev/null) syscall=$(cut -d' ' -f1 "$t/syscall" 2>/dev/null) $(cat "$t/comm" 2>/dev/null) [$cmd]"
      case $st in R*) ;; *) sed 's/^/    /' "$t/stack" 2>/dev/null;; esac
    done
  done
  echo w > /proc/sysrq-trigger 2>/dev/null
  $B dmesg | sed -n '/Show Blocked State/,$p' | tail -n 300
} > $C/hung.tmp 2>&1
$B mv $C/hung.tmp $C/hung
echo 124 > $C/rc.tmp && $B mv $C/rc.tmp $C/rc
$B sync
$B poweroff -f
WATCHDOG
  {
    # POSIX single-quoting (the guest /bin/sh may be dash: no $'..' from %q)
    for v in $PASSENV; do [ -n "${!v+x}" ] && printf "export %s='%s'\n" "$v" "${!v//\'/$SQ}"; done
    printf '/bin/sh /.v2vm/ctl/watchdog %s &\n' "$WATCHDOG"
    for a in "$@"; do printf "'%s' " "${a//\'/$SQ}"; done
    printf '\nrc=$?\nkill $! 2>/dev/null\nexit $rc\n'
  } > "$ctl/cmd"
}

# boot_until_done CMD [ARG...]: the runner's prepare_ctl and boot, again
# after a hang (V2VM_HUNG_RETRIES times, 1 by default). The hang's task
# list stays in the output, and a hang on the last boot fails the run with
# 124. Sets qrc (qemu's or timeout's status) and CTL.
boot_until_done() {
  local left=${V2VM_HUNG_RETRIES:-1}
  while :; do
    prepare_ctl "$@"
    set +e
    boot "$ACCEL"
    qrc=$?
    set -e
    [ -e "$CTL/hung" ] || return 0
    cat "$CTL/hung" >&2
    [ "$left" -gt 0 ] || return 0
    left=$((left - 1))
    log "the command hung (watchdog after ${WATCHDOG}s; its tasks are above): booting once more"
    rm -rf "$CTL"; CTL=
  done
}

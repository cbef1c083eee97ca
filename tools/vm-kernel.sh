# vm-kernel.sh - what tools/run-in-v2-vm.sh and tools/run-in-vm-systemd.sh
# share: Debian's kernel (fetched once into $CACHE), the modules the guest
# needs, and the initramfs that carries them with busybox and the guest init.
# Sourced, not run: the runner sets CACHE, BUSYBOX, MODULES, GUEST_INIT and
# log() first (and V2VM_KERNEL/V2VM_MODDIR/V2VM_PVH are read as documented
# in the runners). prepare_module_tree gives a guest the kernel's whole
# module tree (run-in-v2-vm.sh's V2VM_MODULES).

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

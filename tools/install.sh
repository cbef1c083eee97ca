#!/bin/sh
# Installs libnook (shared + static), include/nook.h and nook.pc.
#
#   tools/install.sh [--prefix=DIR] [--libdir=DIR] [--includedir=DIR] [--profile=release|debug] [--no-build]
#
# PREFIX, LIBDIR, INCLUDEDIR and DESTDIR are also read from the environment
# (flags win). DESTDIR is prepended to every path written but not recorded
# in nook.pc, as packagers expect. Builds `cargo build -p nook-ffi` in the
# chosen profile (default release) first unless --no-build is given.
set -eu

PREFIX="${PREFIX:-/usr/local}"
LIBDIR="${LIBDIR:-}"
INCLUDEDIR="${INCLUDEDIR:-}"
DESTDIR="${DESTDIR:-}"
PROFILE="${PROFILE:-release}"
BUILD=1
for arg in "$@"; do
    case "$arg" in
    --prefix=*) PREFIX="${arg#*=}" ;;
    --libdir=*) LIBDIR="${arg#*=}" ;;
    --includedir=*) INCLUDEDIR="${arg#*=}" ;;
    --profile=*) PROFILE="${arg#*=}" ;;
    --no-build) BUILD=0 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done
LIBDIR="${LIBDIR:-$PREFIX/lib}"
INCLUDEDIR="${INCLUDEDIR:-$PREFIX/include}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$PROFILE" in
release) OUT="$TARGET_DIR/release"; PFLAG="--release" ;;
debug | dev) OUT="$TARGET_DIR/debug"; PFLAG="" ;;
*) echo "install.sh: unknown profile: $PROFILE" >&2; exit 2 ;;
esac

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/ffi/Cargo.toml" | head -n1)"
# The SONAME major is NOOK_ABI_VERSION (ffi/src/lib.rs, ffi/build.rs).
ABI="$(sed -n 's/^#define NOOK_ABI_VERSION \([0-9]*\)$/\1/p' "$ROOT/include/nook.h")"

if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build -p nook-ffi $PFLAG)
fi
for f in libnook.so libnook.a; do
    [ -f "$OUT/$f" ] || { echo "install.sh: $OUT/$f not built" >&2; exit 1; }
done

install -d "$DESTDIR$LIBDIR/pkgconfig" "$DESTDIR$INCLUDEDIR"
install -m 0755 "$OUT/libnook.so" "$DESTDIR$LIBDIR/libnook.so.$VERSION"
ln -sf "libnook.so.$VERSION" "$DESTDIR$LIBDIR/libnook.so.$ABI"
ln -sf "libnook.so.$ABI" "$DESTDIR$LIBDIR/libnook.so"
install -m 0644 "$OUT/libnook.a" "$DESTDIR$LIBDIR/libnook.a"
install -m 0644 "$ROOT/include/nook.h" "$DESTDIR$INCLUDEDIR/nook.h"

# Libs.private: what a static link of libnook.a needs from the system, as
# `cargo rustc -- --print native-static-libs` reports it.
cat >"$DESTDIR$LIBDIR/pkgconfig/nook.pc" <<PC
prefix=$PREFIX
libdir=$LIBDIR
includedir=$INCLUDEDIR

Name: nook
Description: OCI container runtime library (C API)
Version: $VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -lnook
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
PC
echo "installed libnook $VERSION (libnook.so.$ABI) into $DESTDIR$PREFIX"

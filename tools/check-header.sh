#!/bin/sh
# Fails if include/nook.h is not what cbindgen generates from ffi/src.
#
# Regenerates the header into a temporary file (ffi/build.rs honours
# NOOK_HEADER_OUT) and diffs it against the committed include/nook.h.
# Fix drift with `cargo build -p nook-ffi` and commit include/nook.h.
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT INT TERM

(cd "$ROOT" && NOOK_HEADER_OUT="$TMP/nook.h" cargo build -q -p nook-ffi)
if ! diff -u "$ROOT/include/nook.h" "$TMP/nook.h"; then
    echo "check-header: include/nook.h is stale; run 'cargo build -p nook-ffi' and commit it" >&2
    exit 1
fi
echo "check-header: include/nook.h is up to date"

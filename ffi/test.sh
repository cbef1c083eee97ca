#!/bin/bash
# CI for the C ABI and the Go binding. Run as root from anywhere:
#
#   ffi/test.sh
#
# 1. builds the ffi crate (libnook.so.0, libnook.a, include/nook.h);
# 2. checks include/nook.h for drift (tools/check-header.sh);
# 3. installs into a temporary PREFIX (and a DESTDIR staging install);
# 4. compiles and runs ffi/tests/abi.c (ABI contract) and examples/c
#    (shared and static) with pkg-config;
#    and ffi/tests/forksafe.c (containers from a process whose other threads
#    malloc non-stop), which is an expected failure until a core bug is fixed;
# 5. runs `go vet` and `go test ./...` in ffi/go;
# 6. builds and runs examples/go.
# Containers run from a copy of examples/hello with state roots under one
# temporary directory, removed on exit; the script fails if any container
# state, mount or process is left behind.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="$(mktemp -d -t nook-ffi-test.XXXXXX)"
PROFILE="${NOOK_FFI_PROFILE:-debug}"
PASSED=0
FAILED=0

cleanup() {
    # Never delete through a mount: unmount anything left under $TMP first
    # (and say so, since it is a bug), then remove on one file system only.
    local left
    left="$(awk -v t="$TMP" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r)"
    if [ -n "$left" ]; then
        echo "ffi/test.sh: mounts left under $TMP:" >&2
        echo "$left" >&2
        echo "$left" | xargs -r -n1 umount -l || true
    fi
    rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# step NAME CMD...: runs CMD, prints its duration, counts it.
step() {
    local name="$1" t0 t1 rc=0
    shift
    echo "=== $name"
    t0="$(date +%s.%N)"
    "$@" || rc=$?
    t1="$(date +%s.%N)"
    if [ "$rc" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        printf -- '--- ok   %-28s %6ss\n' "$name" "$(secs "$t0" "$t1")"
    else
        FAILED=$((FAILED + 1))
        printf -- '--- FAIL %-28s %6ss (exit %d)\n' "$name" "$(secs "$t0" "$t1")" "$rc"
    fi
    return 0
}

# Nothing may be left in a state root or mounted under $TMP.
check_clean() {
    local ok=0 d
    for d in "$TMP"/state-*; do
        [ -d "$d" ] || continue
        if [ -n "$(ls -A "$d")" ]; then
            echo "state left in $d: $(ls -A "$d")" >&2
            ok=1
        fi
    done
    if grep -q "$TMP" /proc/self/mountinfo; then
        echo "mounts left under $TMP" >&2
        ok=1
    fi
    # A container's process has its root or cwd in our bundle.
    local p
    for p in /proc/[0-9]*; do
        case "$(readlink "$p/cwd" 2>/dev/null)$(readlink "$p/root" 2>/dev/null)" in
        *"$TMP"*) echo "process left: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline")" >&2; ok=1 ;;
        esac
    done
    return $ok
}

need() {
    command -v "$1" >/dev/null && return 0
    echo "ffi/test.sh: installing $2 for $1"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

[ "$(id -u)" -eq 0 ] || { echo "ffi/test.sh: must run as root" >&2; exit 1; }
need cc gcc
need c++ g++
need readelf binutils
need make make
need pkg-config pkg-config
need go golang-go

cd "$ROOT"
PFLAG=""
[ "$PROFILE" = release ] && PFLAG="--release"

step "cargo build -p nook-ffi" cargo build -p nook-ffi $PFLAG
step "header drift" tools/check-header.sh
step "install (PREFIX)" tools/install.sh --no-build --profile="$PROFILE" --prefix="$TMP/prefix"

staged() {
    DESTDIR="$TMP/destdir" tools/install.sh --no-build --profile="$PROFILE" --prefix=/usr >/dev/null &&
        test -f "$TMP/destdir/usr/include/nook.h" &&
        test -L "$TMP/destdir/usr/lib/libnook.so.0" &&
        grep -qx 'prefix=/usr' "$TMP/destdir/usr/lib/pkgconfig/nook.pc" &&
        readelf -d "$TMP/destdir/usr/lib/libnook.so.0" | grep -q 'SONAME.*libnook.so.0'
}
step "install (DESTDIR, SONAME)" staged

# Only the API is exported (crun's LIBCRUN_PUBLIC habit): every dynamic
# symbol libnook defines is a nook_* function, and each is in nook.h.
exports() {
    local syms bad=0 s
    syms="$(nm -D --defined-only "$TMP/prefix/lib/libnook.so" | awk '$2 == "T" { print $3 }')"
    [ -n "$syms" ] || return 1
    for s in $syms; do
        case "$s" in nook_*) ;; *) echo "unexpected export: $s" >&2; bad=1 ;; esac
        grep -q "\b$s(" include/nook.h || { echo "exported but not in nook.h: $s" >&2; bad=1; }
    done
    echo "$(echo "$syms" | wc -l) symbols, all nook_* and declared in nook.h"
    return $bad
}
step "exported symbols" exports

export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
export LD_LIBRARY_PATH="$TMP/prefix/lib"
# No module may come from the network: the binding has no dependencies.
export GOPROXY=off
export GOCACHE="${GOCACHE:-$TMP/gocache}"
[ -n "${HOME:-}" ] || export HOME="$TMP" # go needs one for GOPATH

# The example bundle, copied: nook creates mount points in its rootfs.
mkdir -p "$TMP/bundle/rootfs"
cp examples/hello/config.json "$TMP/bundle/"

header_cxx() {
    echo '#include <nook.h>' | c++ -x c++ -fsyntax-only -Wall -Werror $(pkg-config --cflags nook) -
}
step "nook.h compiles as C++" header_cxx
abi_test() {
    cc -Wall -Wextra -Werror -std=c11 -pthread -o "$TMP/abi" ffi/tests/abi.c $(pkg-config --cflags --libs nook) &&
        "$TMP/abi" "$TMP/state-abi"
}
step "C ABI contract tests" abi_test
# The fork-safety case, made deterministic: with one malloc arena, the
# churning threads hold the lock a child needs whenever the child allocates
# between clone and execve.
forksafe() {
    mkdir -p "$TMP/bundle-true/rootfs" &&
        sed 's|"args": \[.*\],|"args": ["/bin/true"],|' examples/hello/config.json >"$TMP/bundle-true/config.json" &&
        grep -q '"/bin/true"' "$TMP/bundle-true/config.json" &&
        cc -Wall -Wextra -Werror -std=c11 -pthread -o "$TMP/forksafe" ffi/tests/forksafe.c \
            $(pkg-config --cflags --libs nook) &&
        MALLOC_ARENA_MAX=1 "$TMP/forksafe" "$TMP/bundle-true" "$TMP/state-forksafe" 300 4
}
step "fork safety from C (MALLOC_ARENA_MAX=1)" forksafe
step "examples/c build" make -s -C examples/c OUT="$TMP" all static
step "examples/c run (shared)" "$TMP/hello" "$TMP/bundle" "$TMP/state-c" c-shared
step "examples/c run (static)" "$TMP/hello-static" "$TMP/bundle" "$TMP/state-c" c-static

go_test() {
    (cd ffi/go && go vet ./... && go test -count=1 -v ./...)
}
step "go test ./... (ffi/go)" go_test

go_example() {
    (cd examples/go && go vet . && go build -o "$TMP/hello-go" .) &&
        "$TMP/hello-go" -bundle "$TMP/bundle" -root "$TMP/state-go"
}
step "examples/go build + run" go_example
# The README's C and Go programs, built and run as a reader would.
readme_snippets() {
    awk '/^```c$/{f=1;next} /^```$/{f=0} f' README.md >"$TMP/readme.c" &&
        cc -Wall -Werror -o "$TMP/readme-c" "$TMP/readme.c" $(pkg-config --cflags --libs nook) &&
        mkdir -p "$TMP/readme-go" &&
        awk '/^```go$/{f=1;next} /^```$/{f=0} f' README.md >"$TMP/readme-go/main.go" &&
        printf 'module readme\n\ngo 1.19\n\nrequire nook.dev/nook v0.0.0\n\nreplace nook.dev/nook => %s/ffi/go\n' \
            "$PWD" >"$TMP/readme-go/go.mod" &&
        (cd "$TMP/readme-go" && go vet . && go build -o "$TMP/readme-go-bin" .) &&
        "$TMP/readme-c" | grep -q '^exit 0' &&
        "$TMP/readme-go-bin" | grep -q '^exit 0 gone: true'
}
step "README C and Go snippets" readme_snippets
step "nothing left behind" check_clean

echo "ffi/test.sh: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]

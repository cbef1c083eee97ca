#!/usr/bin/env python3
"""Generates src/seccomp/syscalls.rs: syscall name -> number tables per architecture.

Why generated: the OCI profile names syscalls, the BPF filter needs numbers, and
the numbers differ per ABI. Hand-typing ~1800 numbers invites silent mistakes,
so they are read from authoritative sources on the build machine:

* x86_64, x86 (i386), x32: the kernel UAPI headers installed by
  linux-libc-dev (/usr/include/<triplet>/asm/unistd_{64,32,x32}.h), generated
  by the kernel from arch/x86/entry/syscalls/syscall_{64,32}.tbl;
* every arch: the `libc` crate's `SYS_*` constants (kept in sync with the
  kernel by the libc maintainers), which also cover syscalls newer than the
  installed headers (e.g. fchmodat2, mseal) and aarch64/arm, whose headers are
  not installed on an x86 host.

* syscalls newer than both (Linux 6.2 to 6.17): tools/syscalls-newer.tbl, a
  short transcription of the kernel's syscall tables, kept in the repo.

The sources are merged; a name with two different numbers aborts the
generator, so a disagreement can never be written silently.

The table also lists, without numbers, every syscall name of every Linux
architecture the libc crate knows (gnu, musl and uclibc tables: mips,
powerpc, s390x, sparc, riscv, loongarch, ...) or glibc's <bits/syscall.h>
lists (all architectures glibc supports, including arch-private calls such
as arm's set_tls). Engines ship profiles that name syscalls of other
architectures (podman's default profile allows `swapcontext`, a powerpc
call, for every arch); nook skips such names, while a name in no table at
all is a typo and refused.

The column order must match `Abi::ALL` in src/seccomp/mod.rs.

Usage: python3 tools/gen_seccomp_syscalls.py > src/seccomp/syscalls.rs
(run from the repository root; needs the libc crate in ~/.cargo/registry).
"""
import glob
import os
import re
import sys

X32_BIT = 0x40000000
HEADERS = "/usr/include/x86_64-linux-gnu/asm"
GLIBC_NAMES = "/usr/include/x86_64-linux-gnu/bits/syscall.h"


def libc_dir():
    pattern = os.path.expanduser("~/.cargo/registry/src/*/libc-0.2.*")
    dirs = sorted(glob.glob(pattern), key=lambda d: [int(x) for x in re.findall(r"\d+", d.rsplit("-", 1)[1])])
    if not dirs:
        sys.exit("libc crate sources not found under ~/.cargo/registry/src")
    return dirs[-1]


def from_header(path):
    """#define __NR_name N  or  #define __NR_name (__X32_SYSCALL_BIT + N)"""
    table = {}
    rx = re.compile(r"^#define __NR_(\w+)\s+(?:\(__X32_SYSCALL_BIT \+ (\d+)\)|(\d+))\s*$")
    with open(path) as f:
        for line in f:
            m = rx.match(line)
            if m:
                table[m.group(1)] = X32_BIT + int(m.group(2)) if m.group(2) else int(m.group(3))
    return table


def from_libc(path):
    """pub const SYS_name: c_long = N;  or  = __X32_SYSCALL_BIT + N;"""
    table = {}
    rx = re.compile(r"^\s*pub const SYS_(\w+): c_long = (__X32_SYSCALL_BIT \+ )?(\d+);")
    with open(path) as f:
        for line in f:
            m = rx.match(line)
            if m:
                table[m.group(1)] = (X32_BIT if m.group(2) else 0) + int(m.group(3))
    return table


def from_newer(abi):
    """tools/syscalls-newer.tbl lines: number name abi..."""
    table = {}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "syscalls-newer.tbl")
    with open(path) as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if fields and abi in fields[2:]:
                table[fields[1]] = int(fields[0]) + (X32_BIT if abi == "x32" else 0)
    return table


def merge(arch, *tables):
    out = {}
    for t in tables:
        for name, nr in t.items():
            if out.get(name, nr) != nr:
                sys.exit(f"{arch}: {name} is {out[name]} in one source and {nr} in another")
            out[name] = nr
    return out


def main():
    lib = os.path.join(libc_dir(), "src/unix/linux_like/linux/gnu")
    arches = [
        ("x86_64", merge("x86_64", from_header(f"{HEADERS}/unistd_64.h"),
                         from_libc(f"{lib}/b64/x86_64/not_x32.rs"), from_newer("x86_64"))),
        ("x86 (i386)", merge("x86", from_header(f"{HEADERS}/unistd_32.h"),
                             from_libc(f"{lib}/b32/x86/mod.rs"), from_newer("x86"))),
        ("x32 (numbers include __X32_SYSCALL_BIT)",
         merge("x32", from_header(f"{HEADERS}/unistd_x32.h"), from_libc(f"{lib}/b64/x86_64/x32.rs"),
               from_newer("x32"))),
        ("aarch64", merge("aarch64", from_libc(f"{lib}/b64/aarch64/mod.rs"), from_newer("aarch64"))),
        ("arm (EABI)", merge("arm", from_libc(f"{lib}/b32/arm/mod.rs"), from_newer("arm"))),
    ]
    all_names = set()
    for path in glob.glob(os.path.join(os.path.dirname(lib), "**", "*.rs"), recursive=True):
        all_names.update(from_libc(path))
    for desc, table in arches:
        if len(table) < 300:
            sys.exit(f"{desc}: only {len(table)} syscalls found; wrong source?")
        all_names.update(table)
    with open(GLIBC_NAMES) as f:
        all_names.update(re.findall(r"^# define SYS_(\w+) __NR_", f.read(), re.M))

    def cell(table, name):
        if name not in table:
            return "None"
        nr = table[name]
        return f"Some({nr:#x})" if nr >= X32_BIT else f"Some({nr})"

    print("// @generated by tools/gen_seccomp_syscalls.py; do not edit by hand.")
    print("//! Syscall name -> number, per architecture, in one table sorted by name,")
    print("//! so a lookup is one binary search. Sources: the kernel UAPI headers")
    print(f"//! ({HEADERS}/unistd_*.h), the libc crate's SYS_* constants,")
    print("//! tools/syscalls-newer.tbl for calls newer than both, and")
    print(f"//! {GLIBC_NAMES} for names of other architectures.")
    print()
    print("/// Columns, in this order:")
    for desc, table in arches:
        print(f"/// * {desc}: {len(table)} syscalls.")
    print("///")
    print("/// A name with no number anywhere is a syscall of another architecture.")
    print("#[rustfmt::skip]")
    print("pub(super) static SYSCALLS: &[(&str, [Option<u32>; %d])] = &[" % len(arches))
    for name in sorted(all_names):
        cells = ", ".join(cell(table, name) for _, table in arches)
        print(f'    ("{name}", [{cells}]),')
    print("];")


main()

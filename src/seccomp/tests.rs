//! Pure tests of the compiler: validation errors, and the generated BPF run
//! through a small classic-BPF interpreter on synthetic `seccomp_data`, so
//! the 64-bit comparison logic is checked on values a real process could not
//! easily produce. The real-kernel effects are tested in tests/seccomp.rs.

use super::*;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const fn errno(e: u32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e
}

fn profile(json: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(json).expect("test profile deserializes")
}

fn compile_json(json: serde_json::Value) -> Result<Program> {
    compile(&profile(json))
}

/// The field of a configuration error.
fn err_field(json: serde_json::Value) -> String {
    match compile_json(json) {
        Err(Error::Config { field, .. }) => field,
        other => panic!("expected a config error, got {other:?}"),
    }
}

/// Runs a classic BPF program over `struct seccomp_data { nr, arch, ip, args[6] }`.
/// Panics on anything the generator must never emit (backward or
/// out-of-range jumps, falling off the end, unknown opcodes).
fn run(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = Vec::with_capacity(64);
    data.extend_from_slice(&nr.to_ne_bytes());
    data.extend_from_slice(&arch.to_ne_bytes());
    data.extend_from_slice(&0u64.to_ne_bytes());
    for a in args {
        data.extend_from_slice(&a.to_ne_bytes());
    }
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        pc += 1;
        let code = u32::from(i.code);
        match code {
            c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                let off = i.k as usize;
                a = u32::from_ne_bytes(data[off..off + 4].try_into().unwrap());
            }
            c if c == libc::BPF_ALU | libc::BPF_AND | libc::BPF_K => a &= i.k,
            c if c == libc::BPF_JMP | libc::BPF_JA => pc += i.k as usize,
            c if c == libc::BPF_RET | libc::BPF_K => return i.k,
            c => {
                let taken = match c & !libc::BPF_JMP {
                    x if x == libc::BPF_JEQ => a == i.k,
                    x if x == libc::BPF_JGT => a > i.k,
                    x if x == libc::BPF_JGE => a >= i.k,
                    _ => panic!("unexpected opcode {c:#x}"),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
        }
    }
}

impl Abi {
    fn syscall(self, name: &str) -> Option<u32> {
        syscall_numbers(name)?[self.column()]
    }
}

fn nr(name: &str) -> u32 {
    Abi::X86_64.syscall(name).unwrap()
}

fn x86_64(p: &Program, name: &str, args: [u64; 6]) -> u32 {
    run(&p.filter, AUDIT_ARCH_X86_64, nr(name), args)
}

#[test]
fn tables_know_common_syscalls() {
    assert_eq!(Abi::X86_64.syscall("read"), Some(0));
    assert_eq!(Abi::X86_64.syscall("mkdir"), Some(83));
    assert_eq!(Abi::X86.syscall("mkdir"), Some(39));
    assert_eq!(Abi::X32.syscall("mkdir"), Some(X32_BIT | 83));
    assert_eq!(Abi::Aarch64.syscall("mkdirat"), Some(34));
    assert_eq!(Abi::Arm.syscall("mkdir"), Some(39));
    assert_eq!(Abi::X86_64.syscall("socketcall"), None);
    assert_eq!(Abi::X86.syscall("socketcall"), Some(102));
    // Newer than the installed headers: from the libc crate.
    assert_eq!(Abi::X86_64.syscall("fchmodat2"), Some(452));
}

const X32_BIT: u32 = bpf::X32_SYSCALL_BIT;

#[test]
fn per_rule_actions_and_default() {
    let p = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["getppid"], "action": "SCMP_ACT_KILL"},
            {"names": ["gettid"], "action": "SCMP_ACT_KILL_THREAD"},
            {"names": ["uname"], "action": "SCMP_ACT_TRAP"},
            {"names": ["umask"], "action": "SCMP_ACT_LOG"},
            {"names": ["sync"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}
        ],
        "listenerPath": "/run/agent.sock"
    }))
    .unwrap();
    let z = [0; 6];
    assert_eq!(x86_64(&p, "read", z), ALLOW);
    assert_eq!(x86_64(&p, "write", z), ALLOW);
    assert_eq!(x86_64(&p, "mkdir", z), errno(1), "ERRNO defaults to EPERM");
    assert_eq!(x86_64(&p, "rmdir", z), errno(13));
    assert_eq!(x86_64(&p, "getpid", z), KILL_PROCESS);
    assert_eq!(x86_64(&p, "getppid", z), libc::SECCOMP_RET_KILL_THREAD);
    assert_eq!(x86_64(&p, "gettid", z), libc::SECCOMP_RET_KILL_THREAD);
    assert_eq!(x86_64(&p, "uname", z), libc::SECCOMP_RET_TRAP);
    assert_eq!(x86_64(&p, "umask", z), libc::SECCOMP_RET_LOG);
    assert_eq!(x86_64(&p, "sync", z), libc::SECCOMP_RET_TRACE | 7);
    assert_eq!(x86_64(&p, "getcwd", z), libc::SECCOMP_RET_USER_NOTIF);
    assert_eq!(x86_64(&p, "open", z), errno(38), "default action");
    assert!(p.has_listener());
    assert_eq!(p.flags, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER);
}

/// Every operator against values that differ only in the high word, only in
/// the low word, and at the 32-bit boundary.
#[test]
fn sixty_four_bit_comparisons() {
    let v: u64 = 0x0000_0001_8000_0000;
    let probes: [u64; 9] = [
        0,
        1,
        v - 1,
        v,
        v + 1,
        0x8000_0000,
        0x1_0000_0000,
        0x2_0000_0000,
        u64::MAX,
    ];
    type Holds = fn(u64, u64) -> bool;
    let ops: [(&str, Holds); 6] = [
        ("SCMP_CMP_EQ", |x, v| x == v),
        ("SCMP_CMP_NE", |x, v| x != v),
        ("SCMP_CMP_LT", |x, v| x < v),
        ("SCMP_CMP_LE", |x, v| x <= v),
        ("SCMP_CMP_GT", |x, v| x > v),
        ("SCMP_CMP_GE", |x, v| x >= v),
    ];
    for (op, want) in ops {
        let p = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 3, "value": v, "op": op}]}]
        }))
        .unwrap();
        for x in probes {
            let got = x86_64(&p, "kill", [0, 0, 0, x, 0, 0]);
            let expect = if want(x, v) { errno(1) } else { ALLOW };
            assert_eq!(got, expect, "{op} {x:#x} vs {v:#x}");
        }
    }
}

#[test]
fn masked_eq_uses_value_as_mask_and_value_two_as_datum() {
    // Docker's clone rule: no namespace flags set.
    let p = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                     {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 0xffff_0000_0000_00ffu64, "valueTwo": 0x1234_0000_0000_0012u64,
                                "op": "SCMP_CMP_MASKED_EQ"}]}]
    }))
    .unwrap();
    let clone = |flags: u64| x86_64(&p, "clone", [flags, 0, 0, 0, 0, 0]);
    assert_eq!(clone(libc::SIGCHLD as u64), ALLOW);
    assert_eq!(clone(libc::CLONE_NEWNS as u64), errno(1));
    assert_eq!(clone(libc::CLONE_NEWUSER as u64 | 17), errno(1));
    let pers = |x: u64| x86_64(&p, "personality", [x, 0, 0, 0, 0, 0]);
    assert_eq!(pers(0x1234_5678_9abc_de12), ALLOW);
    assert_eq!(
        pers(0x1235_0000_0000_0012),
        errno(1),
        "high word differs under the mask"
    );
    assert_eq!(
        pers(0x1234_0000_0000_0013),
        errno(1),
        "low word differs under the mask"
    );
}

#[test]
fn args_are_anded_and_rules_ored_first_match_wins() {
    let p = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
             "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
             "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
             "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}]}
        ]
    }))
    .unwrap();
    let socket = |domain: u64, proto: u64| x86_64(&p, "socket", [domain, 3, proto, 0, 0, 0]);
    assert_eq!(socket(16, 9), errno(22), "both args match rule 1");
    assert_eq!(socket(16, 0), errno(13), "rule 1 fails on arg 2, rule 3 matches");
    assert_eq!(socket(40, 0), errno(97));
    assert_eq!(socket(2, 9), ALLOW, "no rule matches: default");
}

/// runc's reading of a rule comparing one argument twice: each comparison
/// is a rule of its own, so this allows personality 0, 8 and 0xffffffff.
#[test]
fn repeated_argument_index_means_or_as_in_runc() {
    let p = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                     {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                     {"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]}]
    }))
    .unwrap();
    let pers = |x: u64| x86_64(&p, "personality", [x, 0, 0, 0, 0, 0]);
    assert_eq!(pers(0), ALLOW);
    assert_eq!(pers(8), ALLOW);
    assert_eq!(pers(0xffff_ffff), ALLOW);
    assert_eq!(pers(9), errno(1));
}

/// runc's ENOSYS for syscalls newer than the profile, so libc falls back.
#[test]
fn syscalls_newer_than_the_profile_get_enosys_under_a_refusing_default() {
    let refusing = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                     {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
    }))
    .unwrap();
    assert_eq!(x86_64(&refusing, "read", [0; 6]), ALLOW);
    assert_eq!(
        x86_64(&refusing, "openat2", [0; 6]),
        errno(13),
        "the largest named: its own rule"
    );
    assert_eq!(x86_64(&refusing, "mkdir", [0; 6]), errno(1), "older: the default");
    assert_eq!(
        x86_64(&refusing, "fchmodat2", [0; 6]),
        errno(libc::ENOSYS as u32),
        "newer: ENOSYS"
    );
    let allowing = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["openat2"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    assert_eq!(x86_64(&allowing, "fchmodat2", [0; 6]), ALLOW);
}

#[test]
fn architectures_x86_64_x86_x32() {
    let p = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "socketcall"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    let z = [0; 6];
    assert_eq!(run(&p.filter, AUDIT_ARCH_X86_64, 83, z), errno(1), "x86_64 mkdir");
    assert_eq!(run(&p.filter, AUDIT_ARCH_X86_64, 39, z), ALLOW, "x86_64 getpid");
    assert_eq!(run(&p.filter, AUDIT_ARCH_I386, 39, z), errno(1), "i386 mkdir");
    assert_eq!(
        run(&p.filter, AUDIT_ARCH_I386, 102, z),
        errno(1),
        "i386 socketcall"
    );
    assert_eq!(
        run(&p.filter, AUDIT_ARCH_I386, 83, z),
        ALLOW,
        "i386 83 is not mkdir"
    );
    assert_eq!(
        run(&p.filter, AUDIT_ARCH_X86_64, X32_BIT | 83, z),
        errno(1),
        "x32 mkdir"
    );
    assert_eq!(
        run(&p.filter, AUDIT_ARCH_X86_64, X32_BIT | 39, z),
        ALLOW,
        "x32 getpid"
    );
    assert_eq!(
        run(&p.filter, AUDIT_ARCH_AARCH64, 34, z),
        KILL_PROCESS,
        "unlisted arch"
    );
}

#[test]
fn x32_numbers_are_a_foreign_abi_unless_listed() {
    let p = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    assert_eq!(
        run(&p.filter, AUDIT_ARCH_X86_64, X32_BIT | 39, [0; 6]),
        KILL_PROCESS
    );
    assert_eq!(run(&p.filter, AUDIT_ARCH_I386, 39, [0; 6]), KILL_PROCESS);
    assert_eq!(run(&p.filter, AUDIT_ARCH_X86_64, 39, [0; 6]), ALLOW);
}

#[test]
fn native_arch_is_filtered_even_if_not_listed() {
    let p = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    assert_eq!(run(&p.filter, AUDIT_ARCH_X86_64, 83, [0; 6]), errno(1));
    assert_eq!(run(&p.filter, AUDIT_ARCH_I386, 39, [0; 6]), errno(1));
}

#[test]
fn thirty_two_bit_abis_compare_the_low_word_only() {
    let p = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 0x1_0000_0009u64, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2, "args": [{"index": 1, "value": 0x1_0000_0000u64, "op": "SCMP_CMP_LT"}]}
        ]
    }))
    .unwrap();
    let i386_kill = 37;
    // On i386 an argument is at most u32::MAX: EQ 2^32+9 never holds, LT 2^32 always does.
    assert_eq!(
        run(&p.filter, AUDIT_ARCH_I386, i386_kill, [0, 9, 0, 0, 0, 0]),
        errno(2)
    );
    assert_eq!(
        run(
            &p.filter,
            AUDIT_ARCH_I386,
            i386_kill,
            [0, 9 | 1 << 32, 0, 0, 0, 0]
        ),
        errno(2)
    );
    // On x86_64 the full value counts.
    assert_eq!(x86_64(&p, "kill", [0, 0x1_0000_0009, 0, 0, 0, 0]), errno(1));
    assert_eq!(x86_64(&p, "kill", [0, 9, 0, 0, 0, 0]), errno(2));
    assert_eq!(x86_64(&p, "kill", [0, 0x2_0000_0000, 0, 0, 0, 0]), ALLOW);
}

#[test]
fn names_of_other_arches_are_skipped_typos_refused() {
    // "socketcall" exists on x86 only, "swapcontext" on powerpc only: the
    // filter has no entry for them on x86_64, and they are no error.
    let p = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["socketcall", "swapcontext"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap();
    let allow_all = compile_json(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
    assert_eq!(p.filter.len(), allow_all.filter.len());
    let err = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["mkdir", "mkdri"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .unwrap_err();
    assert!(
        matches!(&err, Error::Config { field, reason } if field == "linux.seccomp.syscalls[1].names[1]"
            && reason.contains("mkdri")),
        "{err}"
    );
}

#[test]
fn validation_errors_name_the_field() {
    let base = |syscalls: serde_json::Value| serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls});
    assert_eq!(
        err_field(base(serde_json::json!([
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}
        ]))),
        "linux.seccomp.syscalls[3].args[0].index"
    );
    assert_eq!(
        err_field(base(
            serde_json::json!([{"names": [], "action": "SCMP_ACT_ALLOW"}])
        )),
        "linux.seccomp.syscalls[0].names"
    );
    assert_eq!(
        err_field(base(
            serde_json::json!([{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}])
        )),
        "linux.seccomp.syscalls[0].errnoRet"
    );
    assert_eq!(
        err_field(base(
            serde_json::json!([{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4096}])
        )),
        "linux.seccomp.syscalls[0].errnoRet"
    );
    assert_eq!(
        err_field(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1})),
        "linux.seccomp.defaultErrnoRet"
    );
    assert_eq!(
        err_field(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/a"})),
        "linux.seccomp.defaultAction"
    );
    assert_eq!(
        err_field(base(
            serde_json::json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}])
        )),
        "linux.seccomp.listenerPath"
    );
    assert_eq!(
        err_field(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
            "syscalls": [{"names": ["mkdir", "write"], "action": "SCMP_ACT_NOTIFY"}]})
        ),
        "linux.seccomp.syscalls[0].names[1]"
    );
}

#[test]
fn flags() {
    let flags_of = |json: serde_json::Value| compile_json(json).unwrap().flags;
    assert_eq!(
        flags_of(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]})),
        libc::SECCOMP_FILTER_FLAG_TSYNC
            | libc::SECCOMP_FILTER_FLAG_LOG
            | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        "WAIT_KILLABLE_RECV is dropped without a listener"
    );
    assert_eq!(
        flags_of(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})
        ),
        libc::SECCOMP_FILTER_FLAG_TSYNC
            | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH
            | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
            | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    );
}

/// Enough distinct rule bodies to push jump targets past 255 instructions:
/// the trampolines must keep every jump correct.
#[test]
fn long_programs_stay_correct() {
    let names: Vec<&str> = syscalls::SYSCALLS
        .iter()
        .filter(|(_, nrs)| nrs[Abi::X86_64.column()].is_some())
        .map(|(n, _)| *n)
        .collect();
    let syscalls: Vec<serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            serde_json::json!({"names": [n], "action": "SCMP_ACT_ERRNO", "errnoRet": i + 1,
                "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let p =
        compile_json(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls})).unwrap();
    assert!(p.filter.len() > 1000, "{} instructions", p.filter.len());
    for (i, n) in names.iter().enumerate() {
        let i = i as u64;
        assert_eq!(x86_64(&p, n, [i, 0, 0, 0, 0, 0]), errno(i as u32 + 1), "{n}");
        assert_eq!(x86_64(&p, n, [i + 1, 0, 0, 0, 0, 0]), ALLOW, "{n}");
    }
}

#[test]
fn too_long_programs_are_refused() {
    let syscalls: Vec<serde_json::Value> = (0..3000)
        .map(|i| {
            serde_json::json!({"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let err = compile_json(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls}))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { field, reason } if field == "linux.seccomp" && reason.contains("4096")),
        "{err}"
    );
}

#[test]
fn redundant_rules_cost_nothing() {
    let allow_all = compile_json(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
    let redundant = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read", "write", "open"], "action": "SCMP_ACT_ALLOW"}]
    }))
    .unwrap();
    assert_eq!(allow_all.filter.len(), redundant.filter.len());
}

#[test]
fn features_lists_every_action_and_operator() {
    let f = features();
    assert_eq!(f["actions"].as_array().unwrap().len(), 9);
    assert_eq!(f["operators"].as_array().unwrap().len(), 7);
    assert!(f["archs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "SCMP_ARCH_X32"));
}

/// The profile's meaning, evaluated directly on the OCI structure: the
/// rules naming `nr` on `abi`, in profile order, first match wins.
fn reference(profile: &LinuxSeccomp, abi: Abi, nr: u32, args: [u64; 6]) -> u32 {
    let narrow = |x: u64| if abi.wide() { x } else { x & 0xffff_ffff };
    let holds = |a: &oci_spec::runtime::LinuxSeccompArg| {
        use LinuxSeccompOperator as O;
        let x = narrow(args[a.index()]);
        let v = a.value();
        match a.op() {
            O::ScmpCmpEq => x == v,
            O::ScmpCmpNe => x != v,
            O::ScmpCmpLt => x < v,
            O::ScmpCmpLe => x <= v,
            O::ScmpCmpGt => x > v,
            O::ScmpCmpGe => x >= v,
            O::ScmpCmpMaskedEq => x & v == a.value_two().unwrap_or(0),
        }
    };
    for sc in profile.syscalls().as_deref().unwrap_or_default() {
        if !sc.names().iter().any(|n| abi.syscall(n) == Some(nr)) {
            continue;
        }
        let cmps = sc.args().as_deref().unwrap_or_default();
        let repeated = (0..cmps.len()).any(|k| cmps[..k].iter().any(|c| c.index() == cmps[k].index()));
        let matched = if repeated {
            cmps.iter().any(holds)
        } else {
            cmps.iter().all(holds)
        };
        if matched {
            return action(sc.action(), sc.errno_ret(), "").unwrap();
        }
    }
    let named = profile
        .syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .flat_map(|sc| sc.names());
    let max_named = named.filter_map(|n| abi.syscall(n)).max();
    let refusing = !matches!(
        profile.default_action(),
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
    );
    if refusing && max_named.is_some_and(|m| nr > m) {
        return errno(libc::ENOSYS as u32);
    }
    action(profile.default_action(), profile.default_errno_ret(), "").unwrap()
}

/// Differential test: for the engines' default profiles, the compiled
/// program agrees with the reference reading for every syscall number of
/// x86_64, x86 and x32 (and a few beyond), with argument vectors that hit
/// and miss the profiles' argument rules.
#[test]
fn engine_profiles_agree_with_the_reference_on_every_number() {
    let arg_sets: [[u64; 6]; 6] = [
        [0; 6],
        [8, 0, 9, 0, 0, 0],
        [16, 3, 9, 0, 0, 0],
        [40, 1, 0, 0, 0, 0],
        [0xffff_ffff, 0, 0, 0, 0, 0],
        [libc::CLONE_NEWNS as u64 | 17, 0, 0, 0, 0, 0],
    ];
    for fixture in [
        include_str!("../../tests/fixtures/seccomp/docker-default.json"),
        include_str!("../../tests/fixtures/seccomp/podman-default.json"),
    ] {
        let profile: LinuxSeccomp = serde_json::from_str(fixture).unwrap();
        let p = compile(&profile).unwrap();
        for (abi, audit, base) in [
            (Abi::X86_64, AUDIT_ARCH_X86_64, 0),
            (Abi::X86, AUDIT_ARCH_I386, 0),
            (Abi::X32, AUDIT_ARCH_X86_64, X32_BIT),
        ] {
            for nr in (base..base + 600).chain([base + 0xffff, base | 0x3fff_ffff]) {
                for args in arg_sets {
                    let want = reference(&profile, abi, nr, args);
                    assert_eq!(
                        run(&p.filter, audit, nr, args),
                        want,
                        "{abi:?} nr {nr:#x} {args:x?}"
                    );
                }
            }
        }
    }
}

#[test]
fn syscall_number_reads_the_table_per_arch() {
    assert_eq!(syscall_number("read", Arch::ScmpArchX86_64), Some(0));
    assert_eq!(syscall_number("read", Arch::ScmpArchX86), Some(3));
    assert_eq!(syscall_number("read", Arch::ScmpArchX32), Some(0x4000_0000));
    assert_eq!(syscall_number("read", Arch::ScmpArchAarch64), Some(63));
    assert_eq!(syscall_number("arch_prctl", Arch::ScmpArchAarch64), None);
    assert_eq!(syscall_number("no_such_call", Arch::ScmpArchX86_64), None);
    assert_eq!(syscall_number("read", Arch::ScmpArchPpc64le), None);
    #[cfg(target_arch = "x86_64")]
    assert_eq!(syscall_number("read", Arch::ScmpArchNative), Some(0));
}

//! What a seccomp profile means, computed straight from the OCI profile
//! (nook's documented semantics, see src/seccomp/mod.rs), and a check that
//! a compiled program returns exactly that for many syscalls, arches and
//! arguments. Nothing here uses the compiler's code: only its syscall
//! table ([`nook::seccomp::syscall_number`]), which is data.

use std::collections::HashMap;

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompOperator as Op};

use crate::bpf::{self, SeccompData};

pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// An arch nook never filters for (ppc64le).
pub const AUDIT_ARCH_OTHER: u32 = 0xc000_0015;
const X32_BIT: u32 = 0x4000_0000;

// SECCOMP_RET_* (linux/seccomp.h).
const KILL_PROCESS: u32 = 0x8000_0000;
const KILL_THREAD: u32 = 0;
const TRAP: u32 = 0x0003_0000;
const ERRNO: u32 = 0x0005_0000;
const USER_NOTIF: u32 = 0x7fc0_0000;
const TRACE: u32 = 0x7ff0_0000;
const LOG: u32 = 0x7ffc_0000;
const ALLOW: u32 = 0x7fff_0000;
const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// The ABIs nook has tables for, as OCI arches, with their audit arch and
/// whether their syscalls see 64-bit arguments.
const ABIS: [(Arch, u32, bool); 5] = [
    (Arch::ScmpArchX86_64, AUDIT_ARCH_X86_64, true),
    (Arch::ScmpArchX86, AUDIT_ARCH_I386, false),
    (Arch::ScmpArchX32, AUDIT_ARCH_X86_64, true),
    (Arch::ScmpArchAarch64, AUDIT_ARCH_AARCH64, true),
    (Arch::ScmpArchArm, AUDIT_ARCH_ARM, false),
];

/// The arch nook is built for, which every filter covers.
fn native() -> Arch {
    match std::env::consts::ARCH {
        "x86" => Arch::ScmpArchX86,
        "aarch64" => Arch::ScmpArchAarch64,
        "arm" => Arch::ScmpArchArm,
        _ => Arch::ScmpArchX86_64,
    }
}

/// The OCI arches the filter covers: the native one and every listed one
/// nook has a table for.
fn covered(profile: &LinuxSeccomp) -> Vec<Arch> {
    let mut out = vec![native()];
    for &a in profile.architectures().as_deref().unwrap_or_default() {
        let a = if a == Arch::ScmpArchNative { native() } else { a };
        if ABIS.iter().any(|(x, _, _)| *x == a) && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// The ABI a call with this audit arch and number belongs to.
fn abi_of(arch: u32, nr: u32) -> Option<Arch> {
    Some(match arch {
        AUDIT_ARCH_X86_64 if nr >= X32_BIT => Arch::ScmpArchX32,
        AUDIT_ARCH_X86_64 => Arch::ScmpArchX86_64,
        AUDIT_ARCH_I386 => Arch::ScmpArchX86,
        AUDIT_ARCH_AARCH64 => Arch::ScmpArchAarch64,
        AUDIT_ARCH_ARM => Arch::ScmpArchArm,
        _ => return None,
    })
}

fn ret(action: Act, errno: Option<u32>) -> u32 {
    match action {
        Act::ScmpActKill | Act::ScmpActKillThread => KILL_THREAD,
        Act::ScmpActKillProcess => KILL_PROCESS,
        Act::ScmpActTrap => TRAP,
        Act::ScmpActErrno => ERRNO | errno.unwrap_or(EPERM),
        Act::ScmpActTrace => TRACE | errno.unwrap_or(EPERM),
        Act::ScmpActNotify => USER_NOTIF,
        Act::ScmpActLog => LOG,
        Act::ScmpActAllow => ALLOW,
    }
}

fn holds(op: Op, x: u64, value: u64, value_two: u64) -> bool {
    match op {
        Op::ScmpCmpEq => x == value,
        Op::ScmpCmpNe => x != value,
        Op::ScmpCmpLt => x < value,
        Op::ScmpCmpLe => x <= value,
        Op::ScmpCmpGt => x > value,
        Op::ScmpCmpGe => x >= value,
        Op::ScmpCmpMaskedEq => x & value == value_two,
    }
}

/// What a profile prescribes, indexed for quick lookups: per covered ABI,
/// the rules (indices into `syscalls`, in profile order) naming each
/// number, and the largest number the profile names there.
pub struct Intent<'a> {
    profile: &'a LinuxSeccomp,
    abis: Vec<AbiIntent>,
}

/// One covered ABI: the rules naming each number, and the largest number named.
type AbiIntent = (Arch, HashMap<u32, Vec<usize>>, Option<u32>);

impl<'a> Intent<'a> {
    pub fn new(profile: &'a LinuxSeccomp) -> Intent<'a> {
        let syscalls = profile.syscalls().as_deref().unwrap_or_default();
        let abis = covered(profile)
            .into_iter()
            .map(|abi| {
                let mut rules: HashMap<u32, Vec<usize>> = HashMap::new();
                let mut max_named = None;
                for (i, sc) in syscalls.iter().enumerate() {
                    for n in sc.names() {
                        if let Some(nr) = nook::seccomp::syscall_number(n, abi) {
                            max_named = max_named.max(Some(nr));
                            let list = rules.entry(nr).or_default();
                            if list.last() != Some(&i) {
                                list.push(i);
                            }
                        }
                    }
                }
                (abi, rules, max_named)
            })
            .collect();
        Intent { profile, abis }
    }

    /// The action the profile prescribes for one call.
    pub fn action(&self, d: &SeccompData) -> u32 {
        let Some((_, rules, max_named)) =
            abi_of(d.arch, d.nr).and_then(|a| self.abis.iter().find(|x| x.0 == a))
        else {
            return KILL_PROCESS;
        };
        let syscalls = self.profile.syscalls().as_deref().unwrap_or_default();
        for &i in rules.get(&d.nr).map(Vec::as_slice).unwrap_or_default() {
            let sc = &syscalls[i];
            let args = sc.args().as_deref().unwrap_or_default();
            let cmp = |a: &oci_spec::runtime::LinuxSeccompArg| {
                let x = d.args.get(a.index()).copied().unwrap_or(0);
                holds(a.op(), x, a.value(), a.value_two().unwrap_or(0))
            };
            let repeated = args
                .iter()
                .enumerate()
                .any(|(k, a)| args[..k].iter().any(|b| b.index() == a.index()));
            let matched = if repeated {
                args.iter().any(cmp)
            } else {
                args.iter().all(cmp)
            };
            if matched {
                return ret(sc.action(), sc.errno_ret());
            }
        }
        let p = self.profile;
        let refuses = !matches!(p.default_action(), Act::ScmpActAllow | Act::ScmpActLog);
        if refuses && max_named.is_some_and(|m| d.nr > m) {
            return ERRNO | ENOSYS;
        }
        ret(p.default_action(), p.default_errno_ret())
    }
}

/// A small deterministic generator (splitmix64), seeded from the input.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: &[u8]) -> Rng {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for &b in seed {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Rng(h)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[(self.next_u64() % from.len() as u64) as usize]
    }
}

/// Runs `prog` (compiled from `profile`) on calls chosen to hit every
/// number the profile names, its neighbours and the edges of every
/// comparison, on every arch, and returns the first call where the program
/// and the profile disagree.
pub fn check(profile: &LinuxSeccomp, prog: &[libc::sock_filter], seed: &[u8]) -> Result<(), String> {
    bpf::check(prog).map_err(|e| format!("the kernel would refuse the program: {e:?}"))?;
    let mut rng = Rng::new(seed);
    let intent = Intent::new(profile);
    let syscalls = profile.syscalls().as_deref().unwrap_or_default();
    // Argument values at the edges of every comparison.
    let mut values = vec![0u64, 1, u64::from(u32::MAX), 1 << 32, u64::MAX, 1 << 63];
    for a in syscalls
        .iter()
        .flat_map(|s| s.args().as_deref().unwrap_or_default())
    {
        let (v, v2) = (a.value(), a.value_two().unwrap_or(0));
        values.extend([v, v.wrapping_sub(1), v.wrapping_add(1), v2, v2 | !v, v2 ^ 1, !v]);
    }
    values.sort_unstable();
    values.dedup();
    // Each ABI gets the same share of probes; a long profile gets a
    // different sample of its numbers for every input.
    let per_abi = 600usize;
    for &(abi, arch, wide) in &ABIS {
        let mut nrs: Vec<u32> = syscalls
            .iter()
            .flat_map(|s| s.names())
            .filter_map(|n| nook::seccomp::syscall_number(n, abi))
            .flat_map(|nr| [nr, nr.wrapping_sub(1), nr.wrapping_add(1)])
            .collect();
        let base = if abi == Arch::ScmpArchX32 { X32_BIT } else { 0 };
        nrs.extend([base, base + 1, base + 0x3ff, base + 0x1000, X32_BIT - 1, u32::MAX]);
        for _ in 0..8 {
            nrs.push(base.wrapping_add(rng.next_u64() as u32 % 1024));
        }
        nrs.sort_unstable();
        nrs.dedup();
        while nrs.len() > per_abi {
            let i = (rng.next_u64() % nrs.len() as u64) as usize;
            nrs.swap_remove(i);
        }
        // Calls with one argument at an edge of one of its comparisons.
        let mut edges: Vec<(u32, usize, u64)> = Vec::new();
        for sc in syscalls {
            let nrs: Vec<u32> = sc
                .names()
                .iter()
                .filter_map(|n| nook::seccomp::syscall_number(n, abi))
                .collect();
            for a in sc.args().as_deref().unwrap_or_default() {
                let (v, v2) = (a.value(), a.value_two().unwrap_or(0));
                for x in [v, v.wrapping_sub(1), v.wrapping_add(1), v2, v2 | !v, v2 ^ 1, !v] {
                    edges.extend(nrs.iter().map(|&nr| (nr, a.index(), x)));
                }
            }
        }
        while edges.len() > per_abi {
            let i = (rng.next_u64() % edges.len() as u64) as usize;
            edges.swap_remove(i);
        }
        let each = (per_abi / nrs.len()).clamp(1, 8);
        let plain = nrs
            .into_iter()
            .flat_map(|nr| std::iter::repeat((nr, usize::MAX, 0)).take(each));
        for (nr, index, x) in plain.chain(edges) {
            let mut d = SeccompData {
                nr,
                arch,
                ip: rng.next_u64(),
                args: [0; 6],
            };
            for a in &mut d.args {
                *a = if rng.next_u64() % 4 == 0 {
                    rng.next_u64()
                } else {
                    rng.pick(&values)
                };
            }
            if let Some(a) = d.args.get_mut(index) {
                *a = x;
            }
            if !wide {
                // A 32-bit ABI's syscalls receive zero-extended registers.
                for a in &mut d.args {
                    *a &= u64::from(u32::MAX);
                }
            }
            compare(&intent, prog, &d)?;
        }
    }
    // Arches the profile cannot cover.
    for _ in 0..4 {
        let d = SeccompData {
            nr: rng.next_u64() as u32 % 512,
            arch: AUDIT_ARCH_OTHER,
            ip: 0,
            args: [rng.next_u64(); 6],
        };
        compare(&intent, prog, &d)?;
    }
    Ok(())
}

fn compare(intent: &Intent, prog: &[libc::sock_filter], d: &SeccompData) -> Result<(), String> {
    let got = bpf::run(prog, d).map_err(|e| format!("running the program on {d:x?}: {e:?}"))?;
    let want = intent.action(d);
    if got != want {
        return Err(format!(
            "for {d:x?} the program returns {got:#x}, the profile says {want:#x}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker() -> LinuxSeccomp {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/corpus/seccomp/docker-default.json"
        ))
        .unwrap();
        serde_json::from_slice(&text).unwrap()
    }

    fn call(arch: u32, nr: u32, arg0: u64) -> SeccompData {
        SeccompData {
            nr,
            arch,
            ip: 0,
            args: [arg0, 0, 0, 0, 0, 0],
        }
    }

    #[test]
    fn intent_of_dockers_profile() {
        let p = docker();
        let i = Intent::new(&p);
        // read (0) is allowed; mount (165) is refused with EPERM; a number
        // above every named one gets ENOSYS; ppc64le is not covered.
        assert_eq!(i.action(&call(AUDIT_ARCH_X86_64, 0, 0)), ALLOW);
        assert_eq!(i.action(&call(AUDIT_ARCH_X86_64, 165, 0)), ERRNO | EPERM);
        assert_eq!(i.action(&call(AUDIT_ARCH_X86_64, 4000, 0)), ERRNO | ENOSYS);
        assert_eq!(i.action(&call(AUDIT_ARCH_OTHER, 0, 0)), KILL_PROCESS);
        // personality (135) only with the listed personas.
        assert_eq!(i.action(&call(AUDIT_ARCH_X86_64, 135, 0)), ALLOW);
        assert_eq!(
            i.action(&call(AUDIT_ARCH_X86_64, 135, 0x0040_0000)),
            ERRNO | EPERM
        );
        // i386 read is 3.
        assert_eq!(i.action(&call(AUDIT_ARCH_I386, 3, 0)), ALLOW);
    }

    #[test]
    fn the_oracle_catches_a_wrong_program() {
        let p = docker();
        let prog = nook::seccomp::compile(&p).unwrap().filter;
        check(&p, &prog, b"seed").unwrap();
        // Every "allow" that becomes "log" must be noticed.
        let mut bad = prog.clone();
        for i in bad.iter_mut().filter(|i| i.code == 0x06 && i.k == ALLOW) {
            i.k = LOG;
        }
        assert!(check(&p, &bad, b"seed")
            .unwrap_err()
            .contains("returns 0x7ffc0000"));
        // So must one wrong constant in an argument comparison (personality's 0xffffffff).
        let mut bad = prog.clone();
        let k = bad
            .iter()
            .position(|i| i.code == 0x15 && i.k == 0xffff_ffff)
            .unwrap();
        bad[k].k = 0xffff_fffe;
        assert!(check(&p, &bad, b"seed").is_err());
    }
}

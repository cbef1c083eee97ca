//! linux.seccomp -> classic BPF, and its installation in the container's init.
//!
//! Contract with the rest of nook (see `plan.rs` and `container/init.rs`):
//! * [`compile`] is pure: it validates the OCI profile (errors name the field,
//!   e.g. `linux.seccomp.syscalls[3].args[0].index`) and returns a [`Program`].
//! * [`Program::install`] runs in the forked child: no allocation, no locks,
//!   no panics; it is one `seccomp(2)` call. When the profile has
//!   `SCMP_ACT_NOTIFY` rules it returns the listener fd, which the init must
//!   hand to the parent (over its sync socket, e.g. with `sys::send_fd`);
//! * the parent then passes it to the seccomp agent with [`send_listener`].
//!
//! Where the init installs it (runc's order, for runc's reasons): with
//! `process.noNewPrivileges`, set no_new_privs and install as the very last
//! step before execve, after capabilities and ids are final, so the filter
//! need not allow the runtime's own setup calls. Without it, installing
//! needs CAP_SYS_ADMIN, so install *before* dropping capabilities and
//! changing uid; the profile must then allow what the init still does
//! (capset, setresuid, setgroups, prctl, close_range, execve), as under
//! runc. Either way the listener (if any) goes out over the sync socket
//! after install, which is why NOTIFY on `sendmsg`/`write` is refused.
//!
//! Why our own compiler rather than seccompiler or libseccomp: seccompiler
//! 0.5 allows one match action per filter and one arch and has no NOTIFY;
//! libseccomp is a C dependency. An OCI profile needs per-rule actions, three
//! ABIs on x86_64 hosts and user notification, and the translation is small
//! (bpf.rs describes the shape of the program).
//!
//! Semantics, where the runtime spec leaves room (each one documented at the
//! place it is implemented):
//! * the native architecture is always filtered, listed or not (runc's
//!   libseccomp filter always contains it); other listed arches are added;
//! * a call from an ABI the profile does not cover gets `SCMP_ACT_KILL_PROCESS`
//!   (libseccomp's default bad-arch action is `SCMP_ACT_KILL`, which kills only
//!   the calling thread; a process that switches ABI to dodge the filter should
//!   not live on in a half-killed state);
//! * a syscall name unknown on an ABI is skipped there, as libseccomp does; a
//!   name that is no syscall on any Linux architecture (a typo) is a
//!   configuration error. A name unknown on every *listed* ABI but real on
//!   another architecture is skipped, not refused: podman's default profile
//!   allows powerpc's `swapcontext` on every arch, and must load;
//! * rules of one syscall apply in profile order, first match wins;
//! * comparisons of one rule are AND-ed, unless one argument is compared
//!   twice: then, as in runc, each comparison is a rule of its own (OR);
//! * when the default action refuses calls, syscalls numbered above every
//!   syscall the profile names get ENOSYS, as in runc, so that libc falls
//!   back to older calls on kernels newer than the profile.
#![forbid(unsafe_code)]

mod bpf;
mod listener;
mod syscalls;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;

use libc::c_ulong;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::error::{Error, Result};
use crate::sys::{self, SysResult};
use bpf::{AbiRules, ArchRules, Check, Filter, Op, Rule};

pub use listener::send_listener;

/// `AUDIT_ARCH_X86_64` (linux/audit.h): `EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`: `EM_386 | __AUDIT_ARCH_LE`.
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`: `EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_ARM`: `EM_ARM | __AUDIT_ARCH_LE`.
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// The kernel refuses longer programs (`BPF_MAXINSNS`, include/uapi/linux/bpf_common.h).
pub const MAX_INSNS: usize = libc::BPF_MAXINSNS as usize;

/// The largest errno `SECCOMP_RET_ERRNO` returns as given; the kernel clamps
/// bigger values to this (`MAX_ERRNO`, include/linux/err.h).
const MAX_ERRNO: u32 = 4095;

/// Syscalls the container's init itself makes after installing the filter
/// and before the agent can have the listener fd (it is still on its way to
/// the parent): a NOTIFY rule on them would block the init forever. runc
/// refuses NOTIFY on `write` for the same reason.
const NOTIFY_FORBIDDEN: &[&str] = &["write", "sendmsg"];

/// A compiled seccomp filter, ready to install.
#[derive(Debug, Clone)]
pub struct Program {
    /// The BPF instructions (at most [`MAX_INSNS`]).
    pub filter: Vec<libc::sock_filter>,
    /// SECCOMP_FILTER_FLAG_* bits for `seccomp(2)`; has
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER` when the profile uses NOTIFY.
    pub flags: c_ulong,
}

impl Program {
    /// Installs the filter on the calling thread (or on every thread of the
    /// process with SECCOMP_FILTER_FLAG_TSYNC). Child-safe: one system call,
    /// no allocation.
    ///
    /// The caller needs `no_new_privs` set or CAP_SYS_ADMIN in its user
    /// namespace. Returns the notification listener when the profile has
    /// NOTIFY rules (see [`Program::has_listener`]), else None.
    pub fn install(&self) -> SysResult<Option<OwnedFd>> {
        sys::seccomp_set_filter(&self.filter, self.flags)
    }

    /// Whether [`Program::install`] returns a listener fd that must reach the
    /// seccomp agent through [`send_listener`].
    pub fn has_listener(&self) -> bool {
        self.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
    }
}

/// An ABI nook has a syscall table for. The order is that of the columns
/// of the generated table (tools/gen_seccomp_syscalls.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Abi {
    X86_64,
    X86,
    X32,
    Aarch64,
    Arm,
}

impl Abi {
    const ALL: [Abi; 5] = [Abi::X86_64, Abi::X86, Abi::X32, Abi::Aarch64, Abi::Arm];

    /// The ABI nook itself is built for; its filter is always generated.
    #[cfg(target_arch = "x86_64")]
    const NATIVE: Option<Abi> = Some(Abi::X86_64);
    #[cfg(target_arch = "x86")]
    const NATIVE: Option<Abi> = Some(Abi::X86);
    #[cfg(target_arch = "aarch64")]
    const NATIVE: Option<Abi> = Some(Abi::Aarch64);
    #[cfg(target_arch = "arm")]
    const NATIVE: Option<Abi> = Some(Abi::Arm);
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm"
    )))]
    const NATIVE: Option<Abi> = None;

    /// The OCI name, as in `linux.seccomp.architectures`.
    fn name(self) -> &'static str {
        match self {
            Abi::X86_64 => "SCMP_ARCH_X86_64",
            Abi::X86 => "SCMP_ARCH_X86",
            Abi::X32 => "SCMP_ARCH_X32",
            Abi::Aarch64 => "SCMP_ARCH_AARCH64",
            Abi::Arm => "SCMP_ARCH_ARM",
        }
    }

    fn from_oci(arch: Arch) -> Option<Abi> {
        match arch {
            Arch::ScmpArchNative => Abi::NATIVE,
            Arch::ScmpArchX86_64 => Some(Abi::X86_64),
            Arch::ScmpArchX86 => Some(Abi::X86),
            Arch::ScmpArchX32 => Some(Abi::X32),
            Arch::ScmpArchAarch64 => Some(Abi::Aarch64),
            Arch::ScmpArchArm => Some(Abi::Arm),
            _ => None,
        }
    }

    fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::X86 => AUDIT_ARCH_I386,
            Abi::Aarch64 => AUDIT_ARCH_AARCH64,
            Abi::Arm => AUDIT_ARCH_ARM,
        }
    }

    /// 32-bit ABIs pass 32-bit registers: their syscalls see only the low
    /// word of an argument, so only the low word is compared. (x32 has
    /// 64-bit registers and is compared like x86_64, as libseccomp does for
    /// x86_64: a syscall taking an `int` ignores high bits the filter sees.)
    fn wide(self) -> bool {
        matches!(self, Abi::X86_64 | Abi::X32 | Abi::Aarch64)
    }

    /// This ABI's column in [`syscalls::SYSCALLS`].
    fn column(self) -> usize {
        self as usize
    }
}

/// The numbers of syscall `name` on each ABI (indexed by [`Abi::column`]),
/// or None when `name` is no syscall on any Linux architecture.
fn syscall_numbers(name: &str) -> Option<&'static [Option<u32>; Abi::ALL.len()]> {
    let table = syscalls::SYSCALLS;
    let i = table.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
    Some(&table[i].1)
}

/// The number of syscall `name` on `arch` (None when it has none there),
/// from the table [`compile`] uses. Only for the fuzz crate's oracle, which
/// checks compiled programs against a profile's intent with its own BPF
/// interpreter and so needs the numbers but none of the compiler's logic.
#[doc(hidden)]
pub fn syscall_number(name: &str, arch: Arch) -> Option<u32> {
    syscall_numbers(name)?[Abi::from_oci(arch)?.column()]
}

/// Compiles and validates an OCI seccomp profile.
///
/// Pure: touches nothing on the host. A bad profile gives an
/// [`Error::Config`] naming the offending field; a host architecture nook
/// has no syscall table for gives [`Error::Unsupported`].
pub fn compile(profile: &LinuxSeccomp) -> Result<Program> {
    let default_action = action(
        profile.default_action(),
        profile.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;
    if profile.default_action() == LinuxSeccompAction::ScmpActNotify {
        // Every syscall of the init, including the one handing over the
        // listener, would wait for an agent that cannot have it yet.
        return Err(Error::config(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action",
        ));
    }

    let abis = architectures(profile.architectures().as_deref().unwrap_or_default())?;
    let mut per_abi: BTreeMap<Abi, AbiRules> = abis.iter().map(|&a| (a, AbiRules::default())).collect();
    let mut notify = false;

    for (i, sc) in profile
        .syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(sc.action(), sc.errno_ret(), &format!("{field}.errnoRet"))?;
        if sc.names().is_empty() {
            return Err(Error::config(
                format!("{field}.names"),
                "must name at least one syscall",
            ));
        }
        if sc.action() == LinuxSeccompAction::ScmpActNotify {
            notify = true;
            if let Some(j) = sc
                .names()
                .iter()
                .position(|n| NOTIFY_FORBIDDEN.contains(&n.as_str()))
            {
                return Err(Error::config(
                    format!("{field}.names[{j}]"),
                    format!(
                        "SCMP_ACT_NOTIFY cannot be used for {:?}: the container's init needs it to hand the \
                         listener to the runtime",
                        sc.names()[j]
                    ),
                ));
            }
        }
        let alternatives = alternatives(&field, sc.args().as_deref().unwrap_or_default())?;

        for (j, name) in sc.names().iter().enumerate() {
            let numbers = syscall_numbers(name).ok_or_else(|| {
                Error::config(
                    format!("{field}.names[{j}]"),
                    format!("unknown syscall {name:?}: not a system call on any Linux architecture"),
                )
            })?;
            for &abi in &abis {
                let Some(nr) = numbers[abi.column()] else { continue };
                let abi_rules = per_abi.entry(abi).or_default();
                abi_rules.max_named = abi_rules.max_named.max(Some(nr));
                let rules = abi_rules.syscalls.entry(nr).or_default();
                rules.extend(alternatives.iter().filter_map(|alt| lower(alt, act, abi.wide())));
            }
        }
    }

    if notify && profile.listener_path().is_none() {
        return Err(Error::config(
            "linux.seccomp.listenerPath",
            "required when a rule uses SCMP_ACT_NOTIFY",
        ));
    }

    for rules in per_abi.values_mut() {
        rules.syscalls.retain(|_, list| simplify(list, default_action));
    }
    let filter = Filter {
        arches: group_by_audit_arch(per_abi),
        default_action,
        newer_action: newer_action(profile.default_action(), default_action),
        bad_arch_action: libc::SECCOMP_RET_KILL_PROCESS,
    };
    let program = bpf::generate(&filter);
    if program.len() > MAX_INSNS {
        return Err(Error::config(
            "linux.seccomp",
            format!(
                "the profile compiles to {} BPF instructions, more than the kernel's limit of {MAX_INSNS}",
                program.len()
            ),
        ));
    }
    Ok(Program {
        filter: program,
        flags: flags(profile.flags().as_deref().unwrap_or_default(), notify),
    })
}

/// The ABIs to generate code for.
///
/// The native ABI is always included. Arches nook has no table for are
/// skipped: the kernel only reports the arches it can run, which on the hosts
/// nook builds for (x86_64, aarch64 and their 32-bit relatives) all have
/// tables, so those rules could never apply.
fn architectures(listed: &[Arch]) -> Result<Vec<Abi>> {
    let native = Abi::NATIVE.ok_or_else(|| Error::Unsupported {
        what: format!("seccomp on {}", std::env::consts::ARCH),
    })?;
    let mut abis = vec![native];
    for abi in listed.iter().filter_map(|&arch| Abi::from_oci(arch)) {
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }
    Ok(abis)
}

/// The action for syscalls with a number above every number the profile
/// names on their ABI: ENOSYS when the default refuses calls, as runc does
/// (libcontainer/seccomp/patchbpf). A profile older than the kernel and
/// libc then makes new syscalls look unimplemented, and libc falls back to
/// the old call it replaces (e.g. fchmodat2 -> fchmodat), where EPERM would
/// be a hard failure. Unlike runc, this applies to the native arch also
/// when the profile lists no architectures.
fn newer_action(default: LinuxSeccompAction, default_action: u32) -> u32 {
    match default {
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog => default_action,
        _ => libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
    }
}

/// One filter entry per audit arch value; x86_64 and x32 share one.
fn group_by_audit_arch(per_abi: BTreeMap<Abi, AbiRules>) -> Vec<(u32, ArchRules)> {
    let mut out: Vec<(u32, ArchRules)> = Vec::new();
    let (mut native, mut x32) = (None, None);
    for (abi, rules) in per_abi {
        match abi {
            Abi::X86_64 => native = Some(rules),
            Abi::X32 => x32 = Some(rules),
            _ => out.push((abi.audit_arch(), ArchRules::Plain(rules))),
        }
    }
    if native.is_some() || x32.is_some() {
        // The native arch goes first: it is the one almost every call has.
        out.insert(0, (AUDIT_ARCH_X86_64, ArchRules::X86_64 { native, x32 }));
    }
    out
}

/// Drops rules that cannot change the outcome, and says whether the syscall
/// still needs its own entry. Rules after an unconditional one are never
/// reached; trailing rules whose action is the default one give the default
/// whether they match or not. A syscall left with no rules just takes the
/// default action, so e.g. "allow X" under an allowing default costs nothing.
fn simplify(rules: &mut Vec<Rule>, default_action: u32) -> bool {
    if let Some(i) = rules.iter().position(|r| r.checks.is_empty()) {
        rules.truncate(i + 1);
    }
    while rules.last().is_some_and(|r| r.action == default_action) {
        rules.pop();
    }
    !rules.is_empty()
}

/// One validated OCI argument comparison: (index, op, value, valueTwo).
type Cmp = (u8, LinuxSeccompOperator, u64, u64);

/// Validates a rule's `args` and returns the comparisons as alternatives:
/// the rule matches when every comparison of one alternative holds.
///
/// Comparisons on distinct arguments are AND-ed (one alternative). When
/// one argument is compared more than once, runc turns every comparison of
/// the rule into a rule of its own (OR), since libseccomp cannot compare an
/// argument twice in a rule; profiles rely on it, e.g. one personality rule
/// listing the allowed values (runc issue #1847).
fn alternatives(field: &str, args: &[LinuxSeccompArg]) -> Result<Vec<Vec<Cmp>>> {
    let mut cmps = Vec::with_capacity(args.len());
    for (k, a) in args.iter().enumerate() {
        let index = u8::try_from(a.index()).ok().filter(|&x| x <= 5).ok_or_else(|| {
            Error::config(
                format!("{field}.args[{k}].index"),
                format!("{} is out of range: syscalls have arguments 0 to 5", a.index()),
            )
        })?;
        cmps.push((index, a.op(), a.value(), a.value_two().unwrap_or(0)));
    }
    let repeated = (0..cmps.len()).any(|k| cmps[..k].iter().any(|c| c.0 == cmps[k].0));
    Ok(if repeated {
        cmps.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![cmps]
    })
}

/// Lowers one OCI rule for an ABI: None when the rule can never match there.
///
/// For 32-bit ABIs (`wide == false`) the syscall sees a value x in
/// 0..=u32::MAX, so a comparison with a constant above that range is decided
/// at compile time: `x == 2^32` never holds, `x != 2^32` always does, etc.
fn lower(cmps: &[Cmp], action: u32, wide: bool) -> Option<Rule> {
    let mut checks = Vec::with_capacity(cmps.len());
    let max = if wide { u64::MAX } else { u64::from(u32::MAX) };
    for &(arg, op, value, value_two) in cmps {
        use LinuxSeccompOperator as O;
        // OCI (like libseccomp) puts the mask in `value` and the datum in `valueTwo`.
        let (op, mask, value) = match op {
            O::ScmpCmpEq => (Op::Eq, max, value),
            O::ScmpCmpNe => (Op::Ne, max, value),
            O::ScmpCmpLt => (Op::Lt, max, value),
            O::ScmpCmpLe => (Op::Le, max, value),
            O::ScmpCmpGt => (Op::Gt, max, value),
            O::ScmpCmpGe => (Op::Ge, max, value),
            O::ScmpCmpMaskedEq => (Op::MaskedEq, value & max, value_two),
        };
        // `Some(b)`: the comparison is constantly b over the values the
        // syscall can see (0..=max).
        let constant = match op {
            Op::Eq => (value > max).then_some(false),
            Op::Ne => (value > max).then_some(true),
            Op::Gt => (value >= max).then_some(false),
            Op::Ge => (value > max).then_some(false).or((value == 0).then_some(true)),
            Op::Lt => (value > max).then_some(true).or((value == 0).then_some(false)),
            Op::Le => (value >= max).then_some(true),
            // Datum bits outside the mask can never be produced by `x & mask`.
            Op::MaskedEq => (value & !mask != 0).then_some(false),
        };
        match constant {
            Some(true) => {}
            Some(false) => return None,
            None => checks.push(Check {
                arg,
                op,
                mask,
                value,
                wide,
            }),
        }
    }
    Some(Rule { checks, action })
}

/// The `SECCOMP_RET_*` value of an action; `errno_ret` is its data.
fn action(action: LinuxSeccompAction, errno_ret: Option<u32>, errno_field: &str) -> Result<u32> {
    use LinuxSeccompAction as A;
    let data = match (action, errno_ret) {
        (A::ScmpActErrno, Some(e)) if e > MAX_ERRNO => {
            return Err(Error::config(
                errno_field,
                format!("{e} is not an errno (the kernel returns at most {MAX_ERRNO})"),
            ))
        }
        (A::ScmpActTrace, Some(e)) if e > libc::SECCOMP_RET_DATA => {
            return Err(Error::config(
                errno_field,
                format!("{e} does not fit the 16 bits of SECCOMP_RET_DATA"),
            ))
        }
        // Both default to EPERM, as runc does.
        (A::ScmpActErrno | A::ScmpActTrace, e) => e.unwrap_or(libc::EPERM as u32),
        (_, Some(_)) => {
            return Err(Error::config(
                errno_field,
                format!("only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not with {action}"),
            ))
        }
        (_, None) => 0,
    };
    Ok(match action {
        A::ScmpActKill | A::ScmpActKillThread => libc::SECCOMP_RET_KILL_THREAD,
        A::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        A::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        A::ScmpActErrno => libc::SECCOMP_RET_ERRNO | data,
        A::ScmpActTrace => libc::SECCOMP_RET_TRACE | data,
        A::ScmpActNotify => libc::SECCOMP_RET_USER_NOTIF,
        A::ScmpActLog => libc::SECCOMP_RET_LOG,
        A::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
    })
}

/// The `seccomp(2)` flags for the profile's `flags` list.
///
/// NOTIFY rules add NEW_LISTENER. The kernel refuses TSYNC together with
/// NEW_LISTENER (a TSYNC failure would be reported as a thread id, a listener
/// as an fd) unless TSYNC_ESRCH (Linux 5.7) changes the failure report to
/// ESRCH, so it is added then, as libseccomp does. WAIT_KILLABLE_RECV only
/// means something for a listener (the kernel refuses it otherwise), so it is
/// dropped when there is none.
fn flags(list: &[LinuxSeccompFilterFlag], notify: bool) -> c_ulong {
    let mut flags = 0;
    for flag in list {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv if notify => {
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    if notify {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    flags
}

/// What nook's seccomp supports, in the shape of the runtime-spec
/// `features.json` `linux.seccomp` object (for `nook features`).
///
/// `supportedFlags` lists what nook can pass; whether the running kernel
/// accepts a flag is only known when it is used (Linux 4.14 for LOG, 4.17 for
/// SPEC_ALLOW, 5.19 for WAIT_KILLABLE_RECV).
pub fn features() -> serde_json::Value {
    let flags = [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ];
    let mut archs: Vec<&str> = Abi::ALL.iter().map(|a| a.name()).collect();
    archs.sort_unstable();
    serde_json::json!({
        "enabled": true,
        "actions": [
            "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
        ],
        "operators": [
            "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
        ],
        "archs": archs,
        "knownFlags": flags,
        "supportedFlags": flags,
    })
}

#[cfg(test)]
mod tests;

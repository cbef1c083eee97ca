//! The container process: what to execute, as whom, with which
//! capabilities and limits.
//!
//! [`ProcessPlan::from_spec`] validates `process`, `hostname`, `domainname`
//! and `linux.sysctl` and turns them into C strings and bit masks; the
//! `apply_*` functions run in the child and only make system calls. The
//! executable is looked up along the container's `PATH` by trying the
//! precomputed candidates in order, as `execvp` would, without allocating.
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::fd::AsFd;
use std::str::FromStr;

use oci_spec::runtime::{Capabilities, LinuxNamespaceType, PosixRlimitType, Process, Spec};

use crate::error::{Error, Result};
use crate::namespaces::NamespacePlan;
use crate::step::{ChildError, Step, StepExt};
use crate::sys::{self, CapMasks};

/// The PATH used when the process environment has none (runc's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The validated process configuration.
#[derive(Debug, Clone)]
pub struct ProcessPlan {
    /// `args`.
    pub args: Vec<CString>,
    /// `env`, one entry per name.
    pub env: Vec<CString>,
    /// Where envp gets the `HOME=` entry the child fills in (see
    /// [`HomeSlot`]): the place of an empty `HOME=`, or the end. None when
    /// `env` has a non-empty HOME.
    pub home_at: Option<usize>,
    /// Paths to try for `args[0]`, in `PATH` order.
    pub exec_candidates: Vec<CString>,
    /// `cwd`.
    pub cwd: CString,
    /// `user.uid`.
    pub uid: u32,
    /// `user.gid`.
    pub gid: u32,
    /// `user.additionalGids`.
    pub groups: Vec<u32>,
    /// `user.umask` (0o022 when unset, like runc).
    pub umask: u32,
    /// (resource, soft, hard).
    pub rlimits: Vec<(libc::c_int, u64, u64)>,
    /// Capability sets. An absent `capabilities` means none at all, as with
    /// runc and crun: the runtime's own full set must never reach the
    /// container by omission.
    pub caps: CapMasks,
    /// The highest capability number the kernel knows.
    pub last_cap: u32,
    /// `noNewPrivileges`.
    pub no_new_privileges: bool,
    /// `oomScoreAdj`.
    pub oom_score_adj: Option<i32>,
    /// `terminal`.
    pub terminal: bool,
    /// `consoleSize` as (rows, columns).
    pub console_size: Option<(u16, u16)>,
    /// `hostname`.
    pub hostname: Option<CString>,
    /// `domainname`.
    pub domainname: Option<CString>,
    /// Personality, scheduler, I/O priority and CPU affinity.
    pub sched: crate::sched::SchedPlan,
    /// `linux.sysctl` as (/proc/sys path, value).
    pub sysctl: Vec<(CString, Vec<u8>)>,
    /// `apparmorProfile` and `selinuxLabel`.
    pub lsm: crate::lsm::LsmPlan,
}

fn cstring(s: &str, field: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::config(field, "contains a NUL byte"))
}

impl ProcessPlan {
    /// Validates `process` and the related top-level fields (hostname,
    /// domainname, sysctl) of a container's spec.
    pub fn from_spec(spec: &Spec, ns: &NamespacePlan, lsm: crate::lsm::Host) -> Result<ProcessPlan> {
        let p = spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::config("process", "is required to create a container"))?;
        let mut plan = ProcessPlan::from_process(p, lsm)?;
        let has_uts = ns.has(LinuxNamespaceType::Uts);
        let name = |v: &Option<String>, field: &str| -> Result<Option<CString>> {
            match v.as_deref() {
                None => Ok(None),
                Some(_) if !has_uts => Err(Error::config(field, "needs a private UTS namespace")),
                Some(h) if h.len() > 64 => Err(Error::config(field, "is longer than 64 bytes")),
                Some(h) => cstring(h, field).map(Some),
            }
        };
        plan.hostname = name(spec.hostname(), "hostname")?;
        plan.domainname = name(spec.domainname(), "domainname")?;
        plan.sysctl = sysctl_plan(spec, ns)?;
        plan.sched = plan.sched.with_personality(spec)?;
        Ok(plan)
    }

    /// Validates a process alone: the container's init (through
    /// [`ProcessPlan::from_spec`]) and `exec` share these rules. The
    /// container-wide fields (hostname, sysctl) stay empty: an exec'd
    /// process joins a container whose system settings are already made.
    /// `lsm` is what the host enforces.
    pub fn from_process(p: &Process, lsm: crate::lsm::Host) -> Result<ProcessPlan> {
        let lsm = crate::lsm::LsmPlan::for_host(p, lsm)?;
        let args = p.args().as_deref().unwrap_or_default();
        if args.is_empty() || args[0].is_empty() {
            return Err(Error::config("process.args", "must name the program to run"));
        }
        let args = args
            .iter()
            .enumerate()
            .map(|(i, a)| cstring(a, &format!("process.args[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        let env_list = p.env().as_deref().unwrap_or_default();
        // One entry per name, where the name first appears, with the value
        // it last has: runc sets the variables one by one (os.Setenv), so
        // a later KEY= replaces an earlier KEY=value in place.
        let mut env: Vec<CString> = Vec::new();
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, e) in env_list.iter().enumerate() {
            let Some((name, _)) = e.split_once('=') else {
                return Err(Error::config(
                    format!("process.env[{i}]"),
                    "must have the form KEY=value",
                ));
            };
            let entry = cstring(e, &format!("process.env[{i}]"))?;
            match names.get(name) {
                Some(&at) => env[at] = entry,
                None => {
                    names.insert(name, env.len());
                    env.push(entry);
                }
            }
        }
        let home_at = match env.iter().position(|e| e.as_bytes().starts_with(b"HOME=")) {
            Some(at) if env[at].as_bytes() == b"HOME=" => Some(at),
            Some(_) => None,
            None => Some(env.len()),
        };
        let path = env_list
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        let exec_candidates = exec_candidates(p.args().as_ref().expect("checked")[0].as_str(), path)?;

        let cwd = p.cwd().to_string_lossy();
        if !p.cwd().is_absolute() {
            return Err(Error::config("process.cwd", "must be an absolute path"));
        }
        let user = p.user();
        let umask = user.umask().unwrap_or(0o022);
        if umask > 0o777 {
            return Err(Error::config("process.user.umask", "must be at most 0777"));
        }

        let mut rlimits = Vec::new();
        for (i, r) in p.rlimits().iter().flatten().enumerate() {
            let field = format!("process.rlimits[{i}]");
            let res = rlimit_resource(r.typ());
            if rlimits.iter().any(|(x, _, _)| *x == res) {
                return Err(Error::config(field, format!("duplicate rlimit {}", r.typ())));
            }
            if r.soft() > r.hard() {
                return Err(Error::config(field, "soft limit exceeds hard limit"));
            }
            rlimits.push((res, r.soft(), r.hard()));
        }

        let last_cap = crate::procfile::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        let caps = p.capabilities().as_ref().map_or_else(CapMasks::default, |c| {
            let mask = |set: &Option<Capabilities>| cap_mask(set, last_cap);
            CapMasks {
                bounding: mask(c.bounding()),
                effective: mask(c.effective()),
                permitted: mask(c.permitted()),
                inheritable: mask(c.inheritable()),
                ambient: mask(c.ambient()),
            }
        });

        if let Some(adj) = p.oom_score_adj() {
            if !(-1000..=1000).contains(&adj) {
                return Err(Error::config(
                    "process.oomScoreAdj",
                    "must be between -1000 and 1000",
                ));
            }
        }
        let console_size = p.console_size().map(|b| (b.height() as u16, b.width() as u16));
        Ok(ProcessPlan {
            args,
            env,
            home_at,
            exec_candidates,
            cwd: cstring(&cwd, "process.cwd")?,
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            umask,
            rlimits,
            caps,
            last_cap,
            no_new_privileges: p.no_new_privileges().unwrap_or(false),
            oom_score_adj: p.oom_score_adj(),
            terminal: p.terminal().unwrap_or(false),
            console_size,
            hostname: None,
            domainname: None,
            sysctl: Vec::new(),
            sched: crate::sched::SchedPlan::from_process(p)?,
            lsm,
        })
    }

    /// argv and envp as NULL-terminated pointer arrays for execve, envp
    /// with `home` at [`ProcessPlan::home_at`] when given. The pointers
    /// borrow from `self` and `home`, which must outlive their use.
    pub fn exec_arrays(
        &self,
        home: Option<&HomeSlot>,
    ) -> (Vec<*const libc::c_char>, Vec<*const libc::c_char>) {
        let arr = |v: &[CString]| {
            let mut a: Vec<_> = v.iter().map(|s| s.as_ptr()).collect();
            a.push(std::ptr::null());
            a
        };
        let mut envp = arr(&self.env);
        if let (Some(at), Some(slot)) = (self.home_at, home) {
            if at < self.env.len() {
                envp[at] = slot.as_ptr();
            } else {
                envp.insert(at, slot.as_ptr());
            }
        }
        (arr(&self.args), envp)
    }
}

/// The longest home directory HOME takes from /etc/passwd; a longer one
/// gives "/" (PATH_MAX less its NUL).
const HOME_MAX: usize = 4095;
/// At most this much of /etc/passwd is read; a longer file gives "/".
const PASSWD_MAX: usize = 16 << 20;
/// The longest line of /etc/passwd read; one longer ends the search with
/// "/" (runc's line scanner fails on a long line too).
const PASSWD_LINE_MAX: usize = 8192;

/// The `HOME=` entry of a process whose environment has no non-empty HOME.
/// runc sets HOME from the container's /etc/passwd, which only the child
/// can read (after the mounts, in the container's root) and the child
/// cannot allocate: the parent makes room for the longest home, envp
/// points here, and the child writes the value in ([`fill_home`]). Cells,
/// because the child writes through the shared borrow it is given (its own
/// copy of the parent's memory).
pub struct HomeSlot([Cell<u8>; 5 + HOME_MAX + 1]);

impl Default for HomeSlot {
    /// `HOME=` and an empty value.
    fn default() -> HomeSlot {
        let slot = HomeSlot(std::array::from_fn(|_| Cell::new(0)));
        for (c, b) in slot.0.iter().zip(b"HOME=") {
            c.set(*b);
        }
        slot
    }
}

impl fmt::Debug for HomeSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HomeSlot").finish_non_exhaustive()
    }
}

impl HomeSlot {
    fn as_ptr(&self) -> *const libc::c_char {
        self.0.as_ptr().cast()
    }
}

fn exec_candidates(arg0: &str, path: &str) -> Result<Vec<CString>> {
    if arg0.contains('/') {
        return Ok(vec![cstring(arg0, "process.args[0]")?]);
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| cstring(&format!("{}/{arg0}", d.trim_end_matches('/')), "process.env PATH"))
        .collect()
}

fn cap_mask(set: &Option<Capabilities>, last_cap: u32) -> u64 {
    set.iter()
        .flatten()
        .filter_map(|c| caps::Capability::from_str(&format!("CAP_{c}")).ok())
        .map(|c| c.index() as u32)
        // Capabilities the running kernel does not know are ignored, like runc.
        .filter(|i| *i <= last_cap)
        .fold(0u64, |m, i| m | (1u64 << i))
}

pub(crate) fn rlimit_resource(t: PosixRlimitType) -> libc::c_int {
    use PosixRlimitType::*;
    (match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }) as libc::c_int
}

/// Validates `linux.sysctl` like runc: only namespaced keys, and only when
/// the container has the namespace that makes them its own.
fn sysctl_plan(spec: &Spec, ns: &NamespacePlan) -> Result<Vec<(CString, Vec<u8>)>> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(Vec::new());
    };
    let mut keys: Vec<_> = map.keys().collect();
    keys.sort();
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
    ];
    let mut out = Vec::new();
    for k in keys {
        let field = format!("linux.sysctl.{k}");
        if k.is_empty() || k.contains('/') || k.split('.').any(|c| c.is_empty() || c == "..") {
            return Err(Error::config(field, "is not a sysctl name"));
        }
        let needs = if ipc.contains(&k.as_str()) || k.starts_with("kernel.shm") || k.starts_with("fs.mqueue.")
        {
            LinuxNamespaceType::Ipc
        } else if k.starts_with("net.") {
            LinuxNamespaceType::Network
        } else if k == "kernel.domainname" || k == "kernel.hostname" {
            LinuxNamespaceType::Uts
        } else {
            return Err(Error::config(
                field,
                "is not namespaced and would change the host",
            ));
        };
        if !ns.has(needs) || ns.joins.iter().any(|j| j.typ == needs) {
            return Err(Error::config(field, format!("needs a new {needs} namespace")));
        }
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        out.push((cstring(&path, &field)?, map[k].clone().into_bytes()));
    }
    Ok(out)
}

// ------------------------------------------------------------------- child

/// Child: hostname, domainname and sysctls (after pivot_root, /proc mounted).
pub fn apply_system(plan: &ProcessPlan) -> Result<(), ChildError> {
    if let Some(h) = &plan.hostname {
        sys::sethostname(h.as_bytes()).step(Step::Hostname)?;
    }
    if let Some(d) = &plan.domainname {
        sys::setdomainname(d.as_bytes()).step(Step::Domainname)?;
    }
    if plan.sysctl.is_empty() {
        return Ok(());
    }
    // Through a /proc verified to be a procfs root, onto a file of that
    // same procfs: a /proc shadowed by anything else, or a mount inside it,
    // fails instead of taking the write (CVE-2019-16884).
    let proc = crate::mounts::procfs::open_proc_root().step(Step::ProcCheck)?;
    for (i, (path, value)) in plan.sysctl.iter().enumerate() {
        // "/proc/sys/..." -> "sys/...", relative to the verified /proc.
        let rel = path
            .to_bytes_with_nul()
            .strip_prefix(b"/proc/")
            .and_then(|r| CStr::from_bytes_with_nul(r).ok())
            .ok_or(ChildError::new(Step::Sysctl, i, libc::EINVAL))?;
        let f = crate::mounts::procfs::open_beneath(proc.as_fd(), rel, libc::O_WRONLY | libc::O_TRUNC)
            .step_at(Step::Sysctl, i)?;
        sys::write_all(f.as_fd(), value).step_at(Step::Sysctl, i)?;
    }
    Ok(())
}

/// Child: rlimits (before dropping privileges: raising a hard limit needs
/// CAP_SYS_RESOURCE).
pub fn apply_rlimits(plan: &ProcessPlan) -> Result<(), ChildError> {
    for (i, (res, soft, hard)) in plan.rlimits.iter().enumerate() {
        sys::setrlimit(*res, *soft, *hard).step_at(Step::Rlimit, i)?;
    }
    Ok(())
}

/// Child: bounding set, user and groups, the other capability sets, ambient
/// capabilities, no_new_privs and umask, in the order the kernel needs:
/// the bounding set is trimmed while CAP_SETPCAP is still held, and
/// PR_SET_KEEPCAPS carries the permitted set across the uid change.
pub fn apply_identity(plan: &ProcessPlan) -> Result<(), ChildError> {
    let dumpable = sys::dumpable().step(Step::Dumpable)?;
    let c = &plan.caps;
    for cap in 0..=plan.last_cap {
        if c.bounding & (1u64 << cap) == 0 {
            sys::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0)
                .step_at(Step::Capabilities, cap as usize)?;
        }
    }
    sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0).step(Step::Capabilities)?;
    match sys::setgroups(&plan.groups) {
        // A rootless container's user namespace denies setgroups (see
        // namespaces::write_id_maps); with no groups asked for, that is fine.
        Err(libc::EPERM) if plan.groups.is_empty() => {}
        r => r.step(Step::SetUser)?,
    }
    sys::setresgid(plan.gid).step(Step::SetUser)?;
    sys::setresuid(plan.uid).step(Step::SetUser)?;
    sys::capset(c.effective, c.permitted, c.inheritable).step(Step::Capabilities)?;
    // The kernel refuses an ambient capability that is not both permitted
    // and inheritable (EPERM); runc's default spec asks for exactly that,
    // and runc and crun skip such capabilities, so nook does too.
    for cap in 0..=plan.last_cap {
        if c.ambient & (1u64 << cap) != 0 {
            let raise = libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong;
            match sys::prctl(libc::PR_CAP_AMBIENT, raise, cap as libc::c_ulong) {
                Ok(_) | Err(libc::EPERM) => {}
                Err(e) => return Err(ChildError::new(Step::Capabilities, cap as usize, e)),
            }
        }
    }
    // A change of ids resets dumpable to fs.suid_dumpable, which an
    // administrator may have set to 1 or 2: a non-dumpable process stays so.
    if dumpable == 0 {
        sys::set_dumpable(false).step(Step::Dumpable)?;
    }
    if plan.no_new_privileges {
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).step(Step::NoNewPrivs)?;
    }
    sys::umask(plan.umask);
    Ok(())
}

/// Child: enters `process.cwd`, resolved inside the container's root (this
/// process's `/`, after pivot_root or setns into the mount namespace)
/// without leaving it through `..` or a symlink, and through no magic link
/// (a `/proc/self/fd/N` cwd is refused: CVE-2024-21626), then fchdir to
/// what was resolved, so nothing can swap the path in between.
///
/// The init calls it before the seccomp filter (a profile may well deny
/// openat2) and so before the identity change, as runc first tries: the
/// process keeps a cwd its user could not have entered. Where root cannot
/// enter it (EACCES in a user namespace), the init tries again as the user.
pub fn enter_cwd(plan: &ProcessPlan) -> Result<(), ChildError> {
    let cwd = open_in_root(&plan.cwd, libc::O_PATH | libc::O_DIRECTORY).step(Step::Chdir)?;
    sys::fchdir(cwd.as_fd()).step(Step::Chdir)
}

/// Child: opens `path` inside the current root, never leaving it through
/// `..` or a symlink and through no magic link (RESOLVE_IN_ROOT).
fn open_in_root(path: &CStr, flags: libc::c_int) -> sys::SysResult<std::os::fd::OwnedFd> {
    let root = sys::openat(None, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)?;
    sys::openat2(root.as_fd(), path, flags, 0, crate::mounts::resolve::IN_ROOT)
}

/// Child: sets the HOME of a process that has none as runc does: the home
/// directory of the first entry for `plan.uid` in the container's
/// /etc/passwd, "/" without one. Run as root (before the identity change)
/// once the mounts are done, in the container's root.
///
/// The file is the container's to make: a FIFO, a device, a link out of
/// the root, a huge or malformed file all give "/" (as does any failure:
/// a container does not fail for its HOME). It is resolved inside the
/// root, opened without blocking or taking a terminal, must be a regular
/// file, and is read in bounded amounts through a buffer on the stack.
pub fn fill_home(plan: &ProcessPlan, slot: &HomeSlot) {
    let mut buf = [0u8; PASSWD_LINE_MAX];
    let home = passwd_home(plan.uid, &mut buf)
        .and_then(|(from, to)| buf.get(from..to))
        .filter(|h| h.len() <= HOME_MAX)
        .unwrap_or(b"/");
    let value = slot.0.iter().skip(5);
    for (c, b) in value.zip(home.iter().chain(&[0])) {
        c.set(*b);
    }
}

/// Where in `buf` the home of `uid` is, once read from /etc/passwd.
fn passwd_home(uid: u32, buf: &mut [u8]) -> Option<(usize, usize)> {
    let file = open_in_root(c"/etc/passwd", libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY).ok()?;
    if sys::fstat(file.as_fd()).ok()?.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    // buf[..filled] holds what is read and not yet parsed, from a line start.
    let (mut filled, mut total) = (0, 0);
    loop {
        let n = sys::read(file.as_fd(), buf.get_mut(filled..)?).ok()?;
        total += n;
        if total > PASSWD_MAX {
            return None;
        }
        filled += n;
        let mut start = 0;
        while let Some(len) = buf.get(start..filled)?.iter().position(|b| *b == b'\n') {
            if let Some((from, to)) = passwd_line_home(buf.get(start..start + len)?, uid) {
                return Some((start + from, start + to));
            }
            start += len + 1;
        }
        if n == 0 {
            // The last line, without a newline.
            let (from, to) = passwd_line_home(buf.get(start..filled)?, uid)?;
            return Some((start + from, start + to));
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            return None;
        }
    }
}

/// The home field of a passwd line (name:password:uid:gid:gecos:home:shell,
/// trimmed) when its uid is `uid`, as runc parses it: a line that ends
/// before the home field has an empty one.
fn passwd_line_home(line: &[u8], uid: u32) -> Option<(usize, usize)> {
    let first = line.iter().position(|b| !b.is_ascii_whitespace())?;
    let end = line.iter().rposition(|b| !b.is_ascii_whitespace())? + 1;
    let (mut field, mut from) = (0, first);
    for i in first..=end {
        if i < end && line.get(i) != Some(&b':') {
            continue;
        }
        match field {
            2 if parse_uid(line.get(from..i)?) != Some(uid) => return None,
            5 => return Some((from, i)),
            _ => {}
        }
        field += 1;
        from = i + 1;
    }
    (field > 2).then_some((end, end))
}

/// A decimal uid, without sign or spaces.
fn parse_uid(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u32, |n, b| {
        b.is_ascii_digit().then_some(())?;
        n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// Child: executes the process. Returns only on failure: the errno of the
/// most telling candidate (EACCES over ENOENT, as execvp reports).
///
/// ETXTBSY is retried for a while: another thread of the caller may be
/// between clone and exec holding a write fd of the binary it just wrote
/// (Go's os/exec retries for the same reason).
pub fn exec(plan: &ProcessPlan, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> ChildError {
    let mut err = libc::ENOENT;
    for path in &plan.exec_candidates {
        let mut e = sys::execve(path, argv, envp);
        for _ in 0..50 {
            if e != libc::ETXTBSY {
                break;
            }
            sys::sleep_ms(10);
            e = sys::execve(path, argv, envp);
        }
        match e {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => err = libc::EACCES,
            e => return ChildError::new(Step::Exec, 0, e),
        }
    }
    ChildError::new(Step::Exec, 0, err)
}

/// Finds the program before the process is reported ready, as runc does
/// (Go's `exec.LookPath` in its init): a missing program is then an error
/// of `create`, not of `start`, and the engine is never left holding a
/// created container whose start failed. A candidate must be a regular
/// file with an execute bit; one that is not gives EACCES, none ENOENT.
/// Allocation-free: runs in the child.
pub fn look_up(plan: &ProcessPlan) -> Result<(), ChildError> {
    let mut err = libc::ENOENT;
    for path in &plan.exec_candidates {
        if let Ok(st) = sys::stat(path) {
            if st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_mode & 0o111 != 0 {
                return Ok(());
            }
            err = libc::EACCES;
        }
    }
    Err(ChildError::new(Step::Exec, 0, err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::parse_spec;

    fn plan(process: &str, extra: &str) -> Result<ProcessPlan> {
        let text = format!(
            r#"{{"ociVersion":"1.2.0","process":{process},"linux":{{"namespaces":[{{"type":"uts"}},{{"type":"mount"}}]}}{extra}}}"#
        );
        let spec = parse_spec(text.as_bytes()).unwrap();
        let ns = NamespacePlan::from_spec(&spec).unwrap();
        ProcessPlan::from_spec(&spec, &ns, crate::lsm::Host::default())
    }

    #[test]
    fn path_lookup_uses_the_container_env() {
        let p = plan(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh"],"env":["PATH=/a:/b/"]}"#,
            "",
        )
        .unwrap();
        assert_eq!(p.exec_candidates, vec![c"/a/sh".to_owned(), c"/b/sh".to_owned()]);
        let p = plan(r#"{"cwd":"/","user":{"uid":0,"gid":0},"args":["./x"]}"#, "").unwrap();
        assert_eq!(p.exec_candidates, vec![c"./x".to_owned()]);
    }

    #[test]
    fn env_has_one_entry_per_name_and_a_place_for_home() {
        let p = plan(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh"],"env":["ONE=two","HOME=","TWO=2","ONE=","HOME="]}"#,
            "",
        )
        .unwrap();
        assert_eq!(
            p.env,
            vec![c"ONE=".to_owned(), c"HOME=".to_owned(), c"TWO=2".to_owned()]
        );
        assert_eq!(p.home_at, Some(1));
        let p = plan(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh"],"env":["A=1"]}"#,
            "",
        )
        .unwrap();
        assert_eq!(p.home_at, Some(1));
        let p = plan(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh"],"env":["HOME=","HOME=/h"]}"#,
            "",
        )
        .unwrap();
        assert_eq!((p.env, p.home_at), (vec![c"HOME=/h".to_owned()], None));
    }

    #[test]
    fn passwd_lines_give_the_home_of_their_uid() {
        fn home(line: &str, uid: u32) -> Option<&str> {
            passwd_line_home(line.as_bytes(), uid).map(|(a, b)| &line[a..b])
        }
        assert_eq!(home("root:x:0:0:root:/root:/bin/sh", 0), Some("/root"));
        assert_eq!(home("  u:x:1000:1000::/home/u:/bin/sh \r", 1000), Some("/home/u"));
        assert_eq!(home("u:x:1000:1000::/home/u", 1000), Some("/home/u"));
        assert_eq!(home("u:x:1000:1000", 1000), Some(""));
        assert_eq!(home("root:x:0:0:root:/root:/bin/sh", 1000), None);
        assert_eq!(home("u:x:+1000:1000::/h:", 1000), None);
        assert_eq!(home("u:x:99999999999:1000::/h:", 1000), None);
        assert_eq!(home("u:x", 0), None);
        assert_eq!(home("", 0), None);
    }

    #[test]
    fn capabilities_become_masks() {
        let p = plan(
            r#"{"cwd":"/","user":{"uid":0,"gid":0},"args":["sh"],
                "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"]}}"#,
            "",
        )
        .unwrap();
        let c = p.caps;
        assert_eq!(c.bounding, (1 << 0) | (1 << 5));
        assert_eq!(c.effective, 1 << 5); // CAP_KILL
        assert_eq!(c.permitted, 0);
    }

    #[test]
    fn bad_values_name_the_field() {
        let base = r#""cwd":"/","user":{"uid":0,"gid":0}"#;
        let e = plan(&format!(r#"{{{base},"args":[]}}"#), "").unwrap_err();
        assert!(e.to_string().contains("process.args"), "{e}");
        let e = plan(
            &format!(r#"{{{base},"args":["sh"],"rlimits":[{{"type":"RLIMIT_NOFILE","soft":10,"hard":5}}]}}"#),
            "",
        )
        .unwrap_err();
        assert!(e.to_string().contains("process.rlimits[0]"), "{e}");
        let e = plan(r#"{"cwd":"rel","user":{"uid":0,"gid":0},"args":["sh"]}"#, "").unwrap_err();
        assert!(e.to_string().contains("process.cwd"), "{e}");
    }
}

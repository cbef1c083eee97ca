//! Named steps of the runtime's side of each command, where a fault can be
//! injected (to prove that nook recovers from being killed or failing at
//! any of them) and which can be timed.
//!
//! The lifecycle calls [`reached`] right after each step is done. Two
//! environment variables, read once per process, act there:
//!
//! * `NOOK_FAULT=<point>:kill` SIGKILLs the process at that point, and
//!   `NOOK_FAULT=<point>:errno=EIO` (a name or a number) makes the command
//!   fail there with that errno, in an error naming the point. The step has
//!   had its effect then, so the command's own clean-up has to undo it.
//!   `<point>` is a [`Point`]'s name (`create/cgroup-made`), or a step of
//!   the child's as `init/<step>` (a container's init) or `execd/<step>` (a
//!   process exec'd into a container), `<step>` being one of
//!   [`CHILD_STEPS`] in kebab case (`init/pivot-root`). The child cannot
//!   read anything itself (it may not allocate): [`for_child`] hands it a
//!   prepared [`ChildFault`] and [`child_reached`] compares plain numbers.
//!   A killed child that is the init of a pid namespace cannot SIGKILL
//!   itself (the kernel drops it), so it exits at once with 137.
//! * `NOOK_TRACE_STEPS=1` prints a line per point reached to stderr:
//!   `nook: step <point> at <µs> us (+<µs> us)`, microseconds since the
//!   process started (since [`init`] was called, which the CLI does first
//!   thing; else since the first point) and since the previous point.
//!
//! Unset, a point costs one load of the cached settings and a branch.
//! Anyone who can set nook's environment runs nook as they like anyway, so
//! the variables give nothing away; a container's processes never see them
//! (their environment is the spec's), a runtime hook without `env` does,
//! as it sees all of nook's.
//!
//! This module sits below the areas and the lifecycle, as `step.rs` does.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::step::{ChildError, Step};
use crate::sys;

/// Declares [`Point`] once: each variant with its name.
macro_rules! points {
    ($($name:ident => $text:literal,)*) => {
        /// A step of the runtime's side of a command, reached once it is done.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)] // each variant's name says what it is
        pub enum Point {
            $($name,)*
        }

        impl Point {
            /// Every point, in the order a container's life reaches them.
            pub const ALL: &'static [Point] = &[$(Point::$name,)*];

            /// Its name in `NOOK_FAULT` and in the trace: `command/step`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Point::$name => $text,)*
                }
            }
        }
    };
}

points! {
    CreateStateDirMade => "create/state-dir-made",
    CreateIntentWritten => "create/intent-written",
    CreateExecSocketMade => "create/exec-socket-made",
    CreateCgroupMade => "create/cgroup-made",
    CreateCloneDone => "create/clone-done",
    CreateIdMapsWritten => "create/idmaps-written",
    CreateCgroupJoined => "create/cgroup-joined",
    CreateReleased => "create/released",
    CreatePidReported => "create/pid-reported",
    CreateMountsDone => "create/mounts-done",
    CreateHooksRun => "create/hooks-run",
    CreateReady => "create/ready",
    CreateStateWritten => "create/state-written",
    CreatePidFileWritten => "create/pid-file-written",
    StartConnected => "start/connected",
    StartExecSocketRemoved => "start/exec-socket-removed",
    StartExecuted => "start/executed",
    StartPoststartRun => "start/poststart-run",
    ExecCloneDone => "exec/clone-done",
    ExecCgroupJoined => "exec/cgroup-joined",
    ExecReleased => "exec/released",
    ExecPidReported => "exec/pid-reported",
    ExecReady => "exec/ready",
    ExecExecuted => "exec/executed",
    ExecPidFileWritten => "exec/pid-file-written",
    PauseFrozen => "pause/frozen",
    ResumeThawed => "resume/thawed",
    UpdateApplied => "update/applied",
    DeleteKilled => "delete/killed",
    DeleteProcessesGone => "delete/processes-gone",
    DeleteCgroupRemoved => "delete/cgroup-removed",
    DeleteStateRemoved => "delete/state-removed",
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The steps of the child's at which `init/<step>` and `execd/<step>`
/// act: each is reached once the step is done, as far as the container's
/// configuration has it (a process exec'd into a container mounts nothing,
/// for one; the init does not call the step [`Step::Dumpable`]). A few
/// stand for a group: [`Step::Mount`] for the whole rootfs before
/// `pivot_root`, [`Step::Sysctl`] for sysctls, hostname and domainname,
/// [`Step::MaskPath`] for masked and read-only paths and the read-only
/// root; [`Step::ExecFifo`] is reached once `start` has been told it was
/// accepted, and [`Step::Exec`] right before the execve.
pub const CHILD_STEPS: &[Step] = &[
    Step::CloseFds,
    Step::Sync,
    Step::Dumpable,
    Step::JoinNamespace,
    Step::UnshareNamespace,
    Step::TimeNamespace,
    Step::SecondClone,
    Step::Setsid,
    Step::Keyring,
    Step::Mount,
    Step::CreateContainerHook,
    Step::PivotRoot,
    Step::Sysctl,
    Step::MaskPath,
    Step::Rlimit,
    Step::Scheduling,
    Step::Chdir,
    Step::SetUser,
    Step::Seccomp,
    Step::ExecFifo,
    Step::StartContainerHook,
    Step::Exec,
];

/// The name of a child's step in `NOOK_FAULT`: its variant in kebab case
/// (`PivotRoot` is `pivot-root`).
pub fn step_name(step: Step) -> String {
    let mut out = String::new();
    for (i, c) in format!("{step:?}").chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Which child a fault of [`CHILD_STEPS`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    /// A container's init (`init/<step>`).
    Init,
    /// A process exec'd into a container (`execd/<step>`).
    Exec,
}

impl Child {
    fn prefix(self) -> &'static str {
        match self {
            Child::Init => "init/",
            Child::Exec => "execd/",
        }
    }
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Kill,
    Errno(i32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Runtime(Point),
    Child(Child, Step),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fault {
    at: Target,
    action: Action,
}

/// A fault for a child of clone, prepared by the parent (see [`for_child`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildFault {
    step: Step,
    action: Action,
}

#[derive(Debug)]
struct Settings {
    /// `NOOK_FAULT`, parsed, or why it does not parse.
    fault: Option<std::result::Result<Fault, String>>,
    trace: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();
static ORIGIN: OnceLock<Instant> = OnceLock::new();
/// Microseconds since [`ORIGIN`] at the last traced point.
static LAST: AtomicU64 = AtomicU64::new(0);

fn settings() -> &'static Settings {
    SETTINGS.get_or_init(|| {
        ORIGIN.get_or_init(Instant::now);
        Settings {
            fault: std::env::var("NOOK_FAULT")
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| parse(&v)),
            trace: std::env::var_os("NOOK_TRACE_STEPS").is_some_and(|v| !v.is_empty() && v != "0"),
        }
    })
}

/// Reads the settings and starts the trace's clock now: the CLI calls it
/// first thing, so the times count from (nearly) the process's start.
pub fn init() {
    ORIGIN.get_or_init(Instant::now);
    settings();
}

/// `<point>:kill` or `<point>:errno=<NAME|N>`.
fn parse(value: &str) -> std::result::Result<Fault, String> {
    let (at, action) = value
        .rsplit_once(':')
        .ok_or_else(|| format!("{value:?} is not <point>:kill or <point>:errno=<errno>"))?;
    let action = match action {
        "kill" => Action::Kill,
        a => match a.strip_prefix("errno=") {
            Some(e) => Action::Errno(parse_errno(e).ok_or_else(|| format!("unknown errno {e:?}"))?),
            None => return Err(format!("unknown action {a:?} (kill or errno=<errno>)")),
        },
    };
    let at = if let Some(p) = Point::ALL.iter().find(|p| p.name() == at) {
        Target::Runtime(*p)
    } else {
        let child = [Child::Init, Child::Exec]
            .into_iter()
            .find_map(|c| at.strip_prefix(c.prefix()).map(|s| (c, s)));
        let step = child.and_then(|(c, s)| {
            CHILD_STEPS
                .iter()
                .find(|&&st| step_name(st) == s)
                .map(|&st| Target::Child(c, st))
        });
        step.ok_or_else(|| format!("unknown point {at:?}"))?
    };
    Ok(Fault { at, action })
}

/// An errno by name (`EIO`) or number; 0 is no error.
fn parse_errno(s: &str) -> Option<i32> {
    match s.parse::<i32>() {
        Ok(n) if n > 0 => Some(n),
        Ok(_) => None,
        Err(_) => (1..4096).find(|&n| format!("{:?}", nix::errno::Errno::from_raw(n)) == s),
    }
}

fn bad_setting(why: &str) -> Error {
    Error::config("NOOK_FAULT", why)
}

/// The runtime has done the step `p`: injects the fault set for it, if
/// any, and traces it if asked to.
pub fn reached(p: Point) -> Result<()> {
    let s = settings();
    if s.trace {
        trace(p);
    }
    match &s.fault {
        None => Ok(()),
        Some(Err(why)) => Err(bad_setting(why)),
        Some(Ok(f)) if f.at == Target::Runtime(p) => match f.action {
            Action::Kill => {
                let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
                unreachable!("SIGKILL cannot be caught")
            }
            Action::Errno(errno) => Err(Error::Sys {
                call: format!("{p} (injected fault)"),
                errno,
            }),
        },
        Some(Ok(_)) => Ok(()),
    }
}

fn trace(p: Point) {
    let origin = *ORIGIN.get_or_init(Instant::now);
    let now = origin.elapsed().as_micros() as u64;
    let before = LAST.swap(now, Ordering::Relaxed);
    eprintln!("nook: step {p} at {now} us (+{} us)", now.saturating_sub(before));
}

/// The fault for `child`'s steps, to pass to the child of clone.
pub fn for_child(child: Child) -> Result<Option<ChildFault>> {
    match &settings().fault {
        Some(Err(why)) => Err(bad_setting(why)),
        Some(Ok(Fault {
            at: Target::Child(c, step),
            action,
        })) if *c == child => Ok(Some(ChildFault {
            step: *step,
            action: *action,
        })),
        _ => Ok(None),
    }
}

/// The child of clone has done `step`: applies `fault` if it is for that
/// step. Child-safe: compares, and at most kills or fails.
pub fn child_reached(fault: Option<ChildFault>, step: Step) -> std::result::Result<(), ChildError> {
    match fault {
        Some(f) if f.step == step => match f.action {
            Action::Kill => {
                let _ = sys::kill(std::process::id() as i32, libc::SIGKILL);
                // The init of a pid namespace is immune to its own SIGKILL.
                sys::exit(128 + libc::SIGKILL)
            }
            Action::Errno(errno) => Err(ChildError {
                step,
                index: INJECTED,
                errno,
            }),
        },
        _ => Ok(()),
    }
}

/// The item number of a child's failure that [`child_reached`] injected.
const INJECTED: u32 = u32::MAX;

/// The error for a child's failure [`child_reached`] injected, naming
/// the step and no item; None for a real failure.
pub fn injected(e: ChildError) -> Option<Error> {
    (e.index == INJECTED).then(|| Error::Child {
        step: format!("{} (injected fault)", e.step),
        errno: e.errno,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse() {
        assert_eq!(
            parse("create/cgroup-made:kill"),
            Ok(Fault {
                at: Target::Runtime(Point::CreateCgroupMade),
                action: Action::Kill
            })
        );
        assert_eq!(
            parse("delete/killed:errno=EIO").map(|f| f.action),
            Ok(Action::Errno(libc::EIO))
        );
        assert_eq!(
            parse("init/pivot-root:errno=28"),
            Ok(Fault {
                at: Target::Child(Child::Init, Step::PivotRoot),
                action: Action::Errno(libc::ENOSPC)
            })
        );
        assert_eq!(
            parse("execd/set-user:kill").map(|f| f.at),
            Ok(Target::Child(Child::Exec, Step::SetUser))
        );
        for bad in [
            "create/cgroup-made",
            "create/nothing:kill",
            "init/hostname:kill",
            "start/connected:errno=ENOTANERRNO",
            "start/connected:errno=0",
            "start/connected:stop",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_unique_and_distinct() {
        let mut names: Vec<String> = Point::ALL.iter().map(|p| p.name().to_string()).collect();
        names.extend(CHILD_STEPS.iter().map(|&s| step_name(s)));
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert_eq!(step_name(Step::CreateContainerHook), "create-container-hook");
    }

    #[test]
    fn a_child_fault_fails_only_its_step() {
        let f = Some(ChildFault {
            step: Step::Chdir,
            action: Action::Errno(libc::EIO),
        });
        assert_eq!(child_reached(f, Step::Setsid), Ok(()));
        assert_eq!(child_reached(None, Step::Chdir), Ok(()));
        assert_eq!(
            child_reached(f, Step::Chdir).map_err(|e| (e.step, e.errno)),
            Err((Step::Chdir, libc::EIO))
        );
    }
}

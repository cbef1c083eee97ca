//! OCI lifecycle hooks: validated with the plan, then run at the moments
//! and in the namespaces the runtime spec gives them.
//!
//! | kind            | when                                       | where           | failure          |
//! |-----------------|--------------------------------------------|-----------------|------------------|
//! | prestart        | create, mounts done, before `pivot_root`   | runtime (nook)  | create fails     |
//! | createRuntime   | right after prestart                       | runtime (nook)  | create fails     |
//! | createContainer | right after createRuntime                  | the init        | create fails     |
//! | startContainer  | start, before the process's execve         | the init        | start fails      |
//! | poststart       | start, once the process runs               | runtime (nook)  | logged (warning) |
//! | poststop        | delete, once everything is gone            | runtime (nook)  | logged (warning) |
//!
//! Each hook gets the container state JSON on stdin and runs with exactly
//! its `env`; with no `env` it inherits its runner's environment, as with
//! runc (nook's for runtime hooks, the container process's for the two run
//! by the init, whose environment runc has replaced by then). A hook that
//! outlives its `timeout` is killed. The two container-side kinds run from
//! the init between clone and execve, so they are prepared here as C
//! strings and started with the allocation-free [`sys::spawn`];
//! createContainer runs with the rootfs as its working directory before
//! `pivot_root` (paths resolve as on the host, as the spec asks), and
//! startContainer inside the container's root, as the container's user.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks, Spec};

use crate::error::{Error, Result};
use crate::step::{ChildError, Step, StepExt};
use crate::sys;

/// The six kinds, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Deprecated by the spec, still run (before createRuntime), as runc does.
    Prestart,
    /// In the runtime's namespaces, during create.
    CreateRuntime,
    /// In the container's namespaces, during create, before `pivot_root`.
    CreateContainer,
    /// In the container, during start, before the process.
    StartContainer,
    /// In the runtime's namespaces, after start.
    Poststart,
    /// In the runtime's namespaces, after delete.
    Poststop,
}

impl Kind {
    /// The spec's name, as in config.json.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind in `hooks`.
    pub fn of(self, hooks: &Hooks) -> &[Hook] {
        let list = match self {
            Kind::Prestart =>
            {
                #[allow(deprecated)]
                hooks.prestart()
            }
            Kind::CreateRuntime => hooks.create_runtime(),
            Kind::CreateContainer => hooks.create_container(),
            Kind::StartContainer => hooks.start_container(),
            Kind::Poststart => hooks.poststart(),
            Kind::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }

    const ALL: [Kind; 6] = [
        Kind::Prestart,
        Kind::CreateRuntime,
        Kind::CreateContainer,
        Kind::StartContainer,
        Kind::Poststart,
        Kind::Poststop,
    ];
}

/// The container state a hook reads on stdin: the runtime spec's `State`
/// (runc leaves out a zero pid, as here).
/// Also what the seccomp agent receives with the listener.
pub fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
    annotations: &HashMap<String, String>,
) -> String {
    let mut state = serde_json::json!({
        "ociVersion": crate::bundle::OCI_VERSION,
        "id": id,
        "status": status,
        "bundle": bundle,
        "annotations": annotations,
    });
    if pid > 0 {
        state["pid"] = pid.into();
    }
    state.to_string()
}

/// One container-side hook, prepared for execve from the init.
#[derive(Debug)]
pub struct Prepared {
    path: CString,
    args: Vec<CString>,
    env: Option<Vec<CString>>,
    timeout_ms: Option<u64>,
}

/// The container-side hooks of a plan, validated along with the rest.
#[derive(Debug, Default)]
pub struct HookPlan {
    /// The spec's hooks, for the runtime-side kinds.
    pub hooks: Hooks,
    /// createContainer, prepared.
    pub create_container: Vec<Prepared>,
    /// startContainer, prepared.
    pub start_container: Vec<Prepared>,
}

impl HookPlan {
    /// Validates every hook of `spec`: an absolute path, a timeout above
    /// zero, `KEY=VALUE` environment entries, no NUL bytes.
    pub fn from_spec(spec: &Spec) -> Result<HookPlan> {
        let hooks = spec.hooks().clone().unwrap_or_default();
        for kind in Kind::ALL {
            for (i, hook) in kind.of(&hooks).iter().enumerate() {
                validate(hook, &format!("hooks.{}[{i}]", kind.name()))?;
            }
        }
        let prepare = |kind: Kind| -> Result<Vec<Prepared>> {
            kind.of(&hooks)
                .iter()
                .enumerate()
                .map(|(i, h)| prepare(h, &format!("hooks.{}[{i}]", kind.name())))
                .collect()
        };
        Ok(HookPlan {
            create_container: prepare(Kind::CreateContainer)?,
            start_container: prepare(Kind::StartContainer)?,
            hooks,
        })
    }

    /// Whether the init must stop before `pivot_root` for the runtime to
    /// run prestart and createRuntime, and to hand it the state for the
    /// container-side hooks.
    pub fn needs_sync(&self) -> bool {
        [
            Kind::Prestart,
            Kind::CreateRuntime,
            Kind::CreateContainer,
            Kind::StartContainer,
        ]
        .iter()
        .any(|k| !k.of(&self.hooks).is_empty())
    }
}

fn validate(hook: &Hook, field: &str) -> Result<()> {
    if !hook.path().is_absolute() {
        return Err(Error::config(
            format!("{field}.path"),
            format!("{:?} is not an absolute path", hook.path()),
        ));
    }
    if let Some(t) = hook.timeout() {
        if t <= 0 {
            return Err(Error::config(
                format!("{field}.timeout"),
                format!("{t} is not a number of seconds above zero"),
            ));
        }
    }
    for (i, e) in hook.env().iter().flatten().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            return Err(Error::config(
                format!("{field}.env[{i}]"),
                format!("{e:?} is not KEY=VALUE"),
            ));
        }
    }
    Ok(())
}

fn cstring(s: &str, field: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::config(field, "contains a NUL byte"))
}

fn prepare(hook: &Hook, field: &str) -> Result<Prepared> {
    let path = hook
        .path()
        .to_str()
        .ok_or_else(|| Error::config(format!("{field}.path"), "is not UTF-8"))?;
    let mut args = hook
        .args()
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, a)| cstring(a, &format!("{field}.args[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    if args.is_empty() {
        args.push(cstring(path, &format!("{field}.path"))?);
    }
    let env = hook
        .env()
        .as_ref()
        .map(|env| {
            env.iter()
                .enumerate()
                .map(|(i, e)| cstring(e, &format!("{field}.env[{i}]")))
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    Ok(Prepared {
        path: cstring(path, &format!("{field}.path"))?,
        args,
        env,
        timeout_ms: hook.timeout().map(|t| t as u64 * 1000),
    })
}

// ------------------------------------------------------------ runtime side

/// Runs the hooks of `kind` in nook's own namespaces, in order, each with
/// `state` on stdin; the first failure stops the run and is returned,
/// worded as runc words it ("error running createRuntime hook #0: exit
/// status 1, stdout: ..., stderr: ...").
pub fn run(kind: Kind, hooks: &Hooks, state: &str) -> Result<()> {
    for (i, hook) in kind.of(hooks).iter().enumerate() {
        run_one(hook, state).map_err(|reason| Error::Hook {
            hook: format!("{} hook #{i}", kind.name()),
            reason,
        })?;
    }
    Ok(())
}

/// [`run`] for the kinds whose failure must not stop the operation
/// (poststart, poststop): every hook runs, failures are logged as warnings.
pub fn run_logged(kind: Kind, hooks: &Hooks, state: &str) {
    for (i, hook) in kind.of(hooks).iter().enumerate() {
        if let Err(reason) = run_one(hook, state) {
            log::warn!("error running {} hook #{i}: {reason}", kind.name());
        }
    }
}

/// Runs one hook; the reason it failed, as text.
fn run_one(hook: &Hook, state: &str) -> std::result::Result<(), String> {
    // A memfd, not a pipe: a hook that does not read its stdin cannot block
    // us, and one that forks a daemon cannot keep an output pipe open and
    // make us wait for EOF (its output goes to files we read afterwards).
    let stdin = memfd("nook-hook-state", state.as_bytes())?;
    let stdout = memfd("nook-hook-stdout", b"")?;
    let stderr = memfd("nook-hook-stderr", b"")?;
    let path = hook.path();
    let mut cmd = Command::new(path);
    match hook.args().as_deref() {
        Some([arg0, rest @ ..]) => cmd.arg0(arg0).args(rest),
        _ => &mut cmd,
    };
    if let Some(env) = hook.env() {
        cmd.env_clear();
        for e in env {
            // Validated as KEY=VALUE with the plan.
            if let Some((k, v)) = e.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    let clone = |f: &std::fs::File| f.try_clone().map(Stdio::from).map_err(|e| e.to_string());
    cmd.stdin(clone(&stdin)?)
        .stdout(clone(&stdout)?)
        .stderr(clone(&stderr)?);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("fork/exec {}: {e}", path.display()))?;
    let timeout = hook.timeout().map(|t| Duration::from_secs(t as u64));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for {}: {e}", path.display())),
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "hook ran past specified timeout of {:.1}s",
                timeout.unwrap_or_default().as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if status.success() {
        return Ok(());
    }
    let how = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal: {}", signal_name(sig)),
        _ => status.to_string(),
    };
    Err(format!(
        "{how}, stdout: {}, stderr: {}",
        read_all(stdout),
        read_all(stderr)
    ))
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig).map_or_else(|_| sig.to_string(), |s| s.as_str().to_string())
}

/// An anonymous in-memory file holding `data`, positioned at its start.
fn memfd(name: &str, data: &[u8]) -> std::result::Result<std::fs::File, String> {
    let mut f = std::fs::File::from(new_memfd(name).map_err(|e| e.to_string())?);
    f.write_all(data)
        .and_then(|()| f.rewind())
        .map_err(|e| e.to_string())?;
    Ok(f)
}

/// A close-on-exec memfd, also used for the state the init's hooks read.
pub fn new_memfd(name: &str) -> Result<OwnedFd> {
    let name = CString::new(name).map_err(|_| Error::config("memfd", "NUL in name"))?;
    nix::sys::memfd::memfd_create(&name, nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
        .map_err(|e| Error::sys(format!("memfd_create({name:?})"), e))
}

/// What a hook wrote, trimmed, at most a few KiB of it.
fn read_all(mut f: std::fs::File) -> String {
    let mut buf = Vec::new();
    let _ = f
        .rewind()
        .and_then(|()| Read::by_ref(&mut f).take(4096).read_to_end(&mut buf));
    String::from_utf8_lossy(&buf).trim().to_string()
}

// ---------------------------------------------------------- container side

/// Pointer arrays for execve of a [`Prepared`] hook, built by the parent
/// before `clone` (the init cannot allocate).
#[derive(Debug)]
pub struct ExecArgs<'a> {
    path: &'a CStr,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    timeout_ms: Option<u64>,
}

/// The arrays for `hooks`; a hook without `env` gets `default_env` (the
/// container process's environment, NULL-terminated).
pub fn exec_args<'a>(hooks: &'a [Prepared], default_env: &[*const libc::c_char]) -> Vec<ExecArgs<'a>> {
    let arr = |v: &[CString]| {
        let mut a: Vec<_> = v.iter().map(|s| s.as_ptr()).collect();
        a.push(std::ptr::null());
        a
    };
    hooks
        .iter()
        .map(|h| ExecArgs {
            path: &h.path,
            argv: arr(&h.args),
            envp: h.env.as_deref().map_or_else(|| default_env.to_vec(), arr),
            timeout_ms: h.timeout_ms,
        })
        .collect()
}

/// Child side: runs `hooks` one by one, each reading `state` from its
/// start, in directory `cwd`. `step` names the kind; a hook that fails to
/// start or times out reports its errno, one that fails reports its exit
/// code under `status_step` (see [`from_child`]).
pub fn run_in_init(
    hooks: &[ExecArgs<'_>],
    state: BorrowedFd<'_>,
    cwd: Option<&CStr>,
    step: Step,
    status_step: Step,
) -> std::result::Result<(), ChildError> {
    for (i, h) in hooks.iter().enumerate() {
        sys::rewind(state).step_at(step, i)?;
        let pid = sys::spawn(h.path, &h.argv, &h.envp, state.as_fd(), cwd).step_at(step, i)?;
        let code = match sys::wait_exit(pid, h.timeout_ms) {
            Err(libc::ETIMEDOUT) => {
                let _ = sys::kill(pid, libc::SIGKILL);
                let _ = sys::wait_exit(pid, None);
                return Err(ChildError::new(step, i, libc::ETIMEDOUT));
            }
            other => other.step_at(step, i)?,
        };
        if code != 0 {
            return Err(ChildError::new(status_step, i, code));
        }
    }
    Ok(())
}

/// Turns a container-side hook failure reported by the init into the
/// error runc would print; None if `e` is not about a hook.
pub fn from_child(e: ChildError) -> Option<Error> {
    let (kind, status) = match e.step {
        Step::CreateContainerHook => (Kind::CreateContainer, false),
        Step::CreateContainerHookStatus => (Kind::CreateContainer, true),
        Step::StartContainerHook => (Kind::StartContainer, false),
        Step::StartContainerHookStatus => (Kind::StartContainer, true),
        _ => return None,
    };
    let reason = match (status, e.errno) {
        (true, code) if code > 128 => format!("signal: {}", signal_name(code - 128)),
        (true, code) => format!("exit status {code}"),
        (false, libc::ETIMEDOUT) => "hook ran past its specified timeout".to_string(),
        (false, errno) => format!("fork/exec: {}", std::io::Error::from_raw_os_error(errno)),
    };
    Some(Error::Hook {
        hook: format!("{} hook #{}", kind.name(), e.index),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hooks: serde_json::Value) -> Spec {
        let mut s = Spec::default();
        s.set_hooks(Some(serde_json::from_value(hooks).unwrap()));
        s
    }

    #[test]
    fn bad_hooks_are_refused_naming_the_field() {
        let cases = [
            (
                serde_json::json!({"createRuntime": [{"path": "true"}]}),
                "hooks.createRuntime[0].path",
            ),
            (
                serde_json::json!({"poststop": [{"path": "/bin/true"}, {"path": "/bin/true", "timeout": 0}]}),
                "hooks.poststop[1].timeout",
            ),
            (
                serde_json::json!({"startContainer": [{"path": "/bin/true", "env": ["A=1", "B"]}]}),
                "hooks.startContainer[0].env[1]",
            ),
            (
                serde_json::json!({"createContainer": [{"path": "/bin/true", "args": ["a\u{0}b"]}]}),
                "hooks.createContainer[0].args[0]",
            ),
        ];
        for (hooks, field) in cases {
            match HookPlan::from_spec(&spec(hooks)) {
                Err(Error::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn runtime_hooks_get_state_env_and_args() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat > {0}; echo \" $0 $1 $FOO\" >> {0}", out.display());
        let hooks: Hooks = serde_json::from_value(serde_json::json!({
            "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script, "zero", "one"], "env": ["FOO=bar"]}]
        }))
        .unwrap();
        run(Kind::CreateRuntime, &hooks, "{\"id\":\"x\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"x\"} zero one bar\n"
        );
    }

    #[test]
    fn a_failing_hook_says_which_and_why() {
        let hooks: Hooks = serde_json::from_value(serde_json::json!({
            "prestart": [{"path": "/bin/true"}, {"path": "/bin/sh", "args": ["sh", "-c", "echo boom >&2; exit 3"]}]
        }))
        .unwrap();
        let e = run(Kind::Prestart, &hooks, "{}").unwrap_err().to_string();
        assert_eq!(
            e,
            "error running prestart hook #1: exit status 3, stdout: , stderr: boom"
        );
    }

    #[test]
    fn a_slow_hook_is_killed_at_its_timeout() {
        let hooks: Hooks = serde_json::from_value(serde_json::json!({
            "poststart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]
        }))
        .unwrap();
        // The error is only returned once the hook has been killed and reaped.
        let e = run(Kind::Poststart, &hooks, "{}").unwrap_err().to_string();
        assert!(e.contains("hook ran past specified timeout of 1.0s"), "{e}");
    }
}

//! The body of each fuzz target. Each takes any bytes and must return
//! normally: a panic (or an abort) is a finding. Nothing here changes the
//! host beyond a private temporary directory per process: inputs are only
//! parsed, validated, compiled and read back, never executed.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::OnceLock;

use nook::bundle::{self, Bundle};
use nook::container::state::StateDir;
use nook::plan::{ExecPlan, Plan, PlanOptions};
use nook::Context;
use oci_spec::runtime::{LinuxSeccomp, Process};

/// A temporary directory for the life of the process (a bundle and state
/// roots, a few KiB), removed at exit. A crashing run cannot remove it,
/// so tools/fuzz.sh points $TMPDIR at a directory of its own.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    extern "C" fn remove() {
        if let Some(d) = DIR.get() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("nook-fuzz-")
            .tempdir()
            .expect("creating a temporary directory")
            .keep();
        // SAFETY: registers a plain function; it only touches a OnceLock
        // that is set before it can run.
        unsafe { libc::atexit(remove) };
        let bundle = dir.join("bundle");
        std::fs::create_dir_all(bundle.join("rootfs")).expect("creating the bundle");
        let spec = serde_json::to_vec(&bundle::default_spec(false)).expect("serialising the default spec");
        std::fs::write(bundle.join("config.json"), spec).expect("writing config.json");
        dir
    })
}

fn bundle_dir() -> PathBuf {
    scratch().join("bundle")
}

/// config.json bytes -> bundle -> [`Plan`] (three ways: plain, rootless,
/// --no-pivot): Ok or a typed error, and the error renders.
pub fn config(data: &[u8]) {
    let spec = match bundle::parse_spec(data) {
        Ok(spec) => spec,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let Ok(bundle) = Bundle::from_spec(bundle_dir(), spec) else {
        return;
    };
    let _ = bundle.rootfs();
    for opts in [
        PlanOptions::default(),
        PlanOptions {
            rootless: true,
            ..Default::default()
        },
        PlanOptions {
            no_pivot: true,
            no_new_keyring: true,
            ..Default::default()
        },
    ] {
        match Plan::new("fuzz", bundle.clone(), &opts) {
            Ok(plan) => {
                let _ = format!("{plan:?}");
            }
            Err(e) => {
                let _ = (e.to_string(), e.errno());
            }
        }
    }
    // What `exec` validates: the spec's own process against its container.
    if let Some(process) = bundle.spec.process().clone() {
        if let Err(e) = ExecPlan::new("fuzz", bundle, &process, 1, false) {
            let _ = e.to_string();
        }
    }
}

/// linux.seccomp JSON -> BPF or a typed error; a program must mean what
/// the profile says (see [`crate::oracle`]).
pub fn seccomp(data: &[u8]) {
    let Ok(profile) = serde_json::from_slice::<LinuxSeccomp>(data) else {
        return;
    };
    match nook::seccomp::compile(&profile) {
        Ok(program) => {
            assert!(program.filter.len() <= nook::seccomp::MAX_INSNS);
            if let Err(e) = crate::oracle::check(&profile, &program.filter, data) {
                panic!("seccomp program disagrees with its profile: {e}\nprofile: {profile:?}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Syscall names the structured seccomp target draws from: common ones,
/// neighbours in the number space, calls only some ABIs have, one that
/// only another architecture has, and the x32-specific numbers.
const NAMES: &[&str] = &[
    "read",
    "write",
    "open",
    "close",
    "stat",
    "mmap",
    "ioctl",
    "personality",
    "clone",
    "clone3",
    "socket",
    "kill",
    "prctl",
    "mount",
    "umount2",
    "unshare",
    "setns",
    "keyctl",
    "ptrace",
    "bpf",
    "open_tree",
    "fchmodat2",
    "socketcall",
    "_llseek",
    "arch_prctl",
    "set_tls",
    "swapcontext",
    "recvmsg",
    "sendmsg",
    "rt_sigaction",
    "getpid",
    "exit_group",
    "chown32",
    "mmap2",
    "execve",
    "execveat",
    "io_uring_setup",
];

/// A byte reader for the structured target; reads 0 past the end.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |v, _| (v << 8) | u64::from(self.u8()))
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.u8()) % from.len()]
    }

    /// A comparison constant: mostly one near an edge, else any.
    fn value(&mut self) -> u64 {
        const EDGES: [u64; 10] = [
            0,
            1,
            2,
            0x7fff_ffff,
            0xffff_ffff,
            1 << 32,
            (1 << 32) + 1,
            1 << 63,
            u64::MAX,
            0x1_0000_0000_ffff,
        ];
        match self.u8() % 4 {
            0 => self.u64(),
            1 => u64::from(self.u8()),
            _ => self.pick(&EDGES),
        }
    }
}

/// Bytes -> a syscall-level seccomp profile (rules, actions, argument
/// comparisons, arches), compiled and checked by the oracle like
/// [`seccomp`]. Reaches the argument logic that mutated JSON seldom does.
pub fn seccomp_rules(data: &[u8]) {
    let profile = seccomp_rules_profile(data);
    match nook::seccomp::compile(&profile) {
        Ok(program) => {
            if let Err(e) = crate::oracle::check(&profile, &program.filter, data) {
                panic!("seccomp program disagrees with its profile: {e}\nprofile: {profile:?}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The profile [`seccomp_rules`] builds from `data` (to replay a finding
/// as JSON: `serde_json::to_string(&seccomp_rules_profile(input))`).
pub fn seccomp_rules_profile(data: &[u8]) -> LinuxSeccomp {
    const ACTIONS: [&str; 9] = [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_NOTIFY",
    ];
    const OPS: [&str; 7] = [
        "SCMP_CMP_EQ",
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_GT",
        "SCMP_CMP_GE",
        "SCMP_CMP_MASKED_EQ",
    ];
    const ARCHES: [&str; 7] = [
        "SCMP_ARCH_NATIVE",
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_PPC64LE",
    ];
    let mut b = Bytes(data);
    let action = |b: &mut Bytes| {
        let a = b.pick(&ACTIONS);
        let mut v = serde_json::json!({ "action": a });
        if matches!(a, "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE") && b.u8() % 2 == 0 {
            v["errnoRet"] = (u32::from(b.u8()) * 20).into();
        }
        v
    };
    let mut profile = action(&mut b);
    profile["defaultAction"] = profile["action"].take();
    if let Some(e) = profile.as_object_mut().and_then(|o| o.remove("errnoRet")) {
        profile["defaultErrnoRet"] = e;
    }
    profile.as_object_mut().expect("an object").remove("action");
    let arches = b.u8();
    profile["architectures"] = ARCHES
        .iter()
        .enumerate()
        .filter(|(i, _)| arches & (1 << i) != 0)
        .map(|(_, a)| *a)
        .collect();
    profile["listenerPath"] = "/run/agent.sock".into();
    let mut rules = Vec::new();
    for _ in 0..b.u8() % 12 {
        let mut rule = action(&mut b);
        rule["names"] = (0..1 + b.u8() % 3).map(|_| b.pick(NAMES)).collect();
        rule["args"] = (0..b.u8() % 4)
            .map(|_| {
                serde_json::json!({
                    "index": b.u8() % 7,
                    "op": b.pick(&OPS),
                    "value": b.value(),
                    "valueTwo": b.value(),
                })
            })
            .collect();
        rules.push(rule);
    }
    profile["syscalls"] = rules.into();
    serde_json::from_value(profile).expect("a well-formed profile")
}

/// state.json bytes -> the state reader (`Context::load`, `list`, the
/// `delete --force` fallback), and `state` of what loads: only reads.
pub fn state(data: &[u8]) {
    let root = scratch().join("state");
    let dir = root.join("fuzz");
    std::fs::create_dir_all(&dir).expect("creating the state dir");
    std::fs::write(dir.join("state.json"), data).expect("writing state.json");
    let ctx = Context::new(&root);
    match ctx.load("fuzz") {
        Ok(c) => {
            let st = c.state();
            let _ = serde_json::to_string(&st).expect("a loaded state serialises");
            let _ = (c.pid(), c.status(), c.cgroup().paths());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let _ = StateDir::new(&root, "fuzz").load_without_cgroup();
    let _ = ctx.list().map(|l| serde_json::to_string(&l));
}

/// The C ABI's handles the JSON entry points get.
struct Handles {
    /// A container whose init is gone (state "stopped").
    stopped: *mut nook_ffi::NookContainer,
    /// A container whose "init" is this process and that has no cgroup:
    /// "running", so `update` validates, and has nothing to write to.
    running: *mut nook_ffi::NookContainer,
}

// SAFETY: the handles are immutable and thread-safe (see ffi/src/lib.rs).
unsafe impl Send for Handles {}
// SAFETY: as above.
unsafe impl Sync for Handles {}

fn handles() -> &'static Handles {
    static H: OnceLock<Handles> = OnceLock::new();
    H.get_or_init(|| {
        let root = scratch().join("ffi-root");
        let me = std::process::id() as i32;
        let me_start = nook::container::state::pid_start_time(me).expect("reading /proc/self/stat");
        for (id, pid, start) in [("stopped", 0, 0), ("running", me, me_start)] {
            let state = serde_json::json!({
                "id": id, "pid": pid, "pid_start": start, "bundle": bundle_dir(),
                "rootfs": bundle_dir().join("rootfs"), "created": "2026-01-01T00:00:00Z",
            });
            std::fs::create_dir_all(root.join(id)).expect("creating a state dir");
            std::fs::write(root.join(id).join("state.json"), state.to_string()).expect("writing state.json");
        }
        let root = CString::new(root.to_str().expect("utf-8 temp path")).expect("no NUL");
        let mut ctx = ptr::null_mut();
        // SAFETY: valid C string and out slot; NULL error slot is allowed.
        let rc = unsafe { nook_ffi::nook_context_new(root.as_ptr(), &mut ctx, ptr::null_mut()) };
        assert_eq!(rc, 0);
        let load = |id: &str| {
            let id = CString::new(id).expect("no NUL");
            let mut c = ptr::null_mut();
            // SAFETY: live context, valid string and slot.
            let rc = unsafe { nook_ffi::nook_container_load(ctx, id.as_ptr(), &mut c, ptr::null_mut()) };
            assert_eq!(rc, 0, "loading the fake container");
            c
        };
        Handles {
            stopped: load("stopped"),
            running: load("running"),
        }
    })
}

/// Frees the error of a failed call after checking it is well formed.
fn take_error(rc: i32, err: *mut nook_ffi::NookError) {
    if rc >= 0 {
        assert!(err.is_null());
        return;
    }
    assert!(!err.is_null(), "a failure without its error object");
    // SAFETY: the library just returned this error object.
    let e = unsafe { &*err };
    assert_eq!(-rc, e.saved_errno);
    // SAFETY: `message` is a NUL-terminated string owned by the error.
    let _ = unsafe { std::ffi::CStr::from_ptr(e.message) };
    assert!(
        e.kind != nook_ffi::NookErrorKind::NOOK_ERROR_KIND_INTERNAL,
        "internal error (a caught panic): {:?}",
        unsafe { std::ffi::CStr::from_ptr(e.message) }
    );
    // SAFETY: freed once.
    unsafe { nook_ffi::nook_error_free(err) };
}

/// The C ABI's JSON entry points, called as C calls them, with the bytes up
/// to the first NUL: `nook_container_update(resources_json)` on a running
/// container (validated against its missing cgroup, nothing written) and
/// `nook_container_exec(process_json)` on a stopped one (parsed, then
/// refused: a fuzzed process is never started); plus the validation a
/// running container's `exec` would do next (`ExecPlan::new`).
pub fn ffi_json(data: &[u8]) {
    let h = handles();
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let json = CString::new(&data[..end]).expect("cut at the first NUL");

    let mut err = ptr::null_mut();
    // SAFETY: live handle, C string, error slot.
    let rc = unsafe { nook_ffi::nook_container_update(h.running, json.as_ptr(), &mut err) };
    take_error(rc, err);

    let (mut p, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: live handle, C string, NULL opts (defaults), out slots.
    let rc =
        unsafe { nook_ffi::nook_container_exec(h.stopped, json.as_ptr(), ptr::null(), &mut p, &mut err) };
    assert!(rc < 0, "exec in a stopped container succeeded");
    assert!(p.is_null());
    take_error(rc, err);

    if let Ok(process) = serde_json::from_slice::<Process>(&data[..end]) {
        let spec = bundle::default_spec(false);
        if let Ok(bundle) = Bundle::from_spec(bundle_dir(), spec) {
            if let Err(e) = ExecPlan::new("fuzz", bundle, &process, 1, false) {
                let _ = e.to_string();
            }
        }
    }
}

/// Runs `f` on every file of the committed corpus of `target`
/// (fuzz/corpus/TARGET): the regression check `cargo test` does.
pub fn replay(target: &str, f: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = e.expect("listing the corpus").path();
        f(&std::fs::read(&path).expect("reading a corpus file"));
        n += 1;
    }
    n
}

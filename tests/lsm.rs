//! LSM labels: `process.apparmorProfile`, `process.selinuxLabel` and
//! `linux.mountLabel`, for the container's init and for exec.
//!
//! The tests that are not ignored run on a host without AppArmor or
//! SELinux (nook's test machines): a profile is refused naming the field,
//! SELinux labels are accepted and change nothing. The ignored ones need
//! an LSM. Those named `selinux_*` need SELinux with a policy loaded:
//! tools/test-selinux.sh boots the VM's Debian kernel with SELinux
//! (permissive) and loads Debian's selinux-policy-default. The others need
//! AppArmor enabled, securityfs mounted and `apparmor_parser`:
//! tools/test-apparmor.sh runs them in the same VM with AppArmor on. They
//! load their own profiles and unload them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{eventually, nook, Fixture};
use nook::ExecOptions;
use serde_json::json;

fn apparmor_enabled() -> bool {
    nook::lsm::Host::detect().apparmor
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Without AppArmor a profile would leave the process unconfined: refused,
/// for the init and for exec, naming the field, with nothing left behind.
#[test]
fn without_apparmor_a_profile_is_refused_naming_the_field() {
    assert!(
        !apparmor_enabled(),
        "this test wants a host without AppArmor (the VM runs the others)"
    );
    let mut f = Fixture::new(&["sleep", "30"]);
    f.config["process"]["apparmorProfile"] = json!("nook-test");
    let e = f.create("aa-off").unwrap_err();
    assert_eq!(e.kind(), nook::ErrorKind::InvalidConfig, "{e}");
    assert!(
        e.to_string()
            .contains("process.apparmorProfile: \"nook-test\": AppArmor is not enabled on this host"),
        "{e}"
    );
    assert!(!f.ctx.root().join("aa-off").exists(), "state left");
    assert!(f.host_mounts().is_empty());

    // exec: the same refusal, from the library and from the CLI, and the
    // container goes on unharmed.
    f.config["process"]["apparmorProfile"] = json!(null);
    let c = f.create("aa-off").unwrap();
    c.start().unwrap();
    let mut p = f.config["process"].clone();
    p["args"] = json!(["true"]);
    p["apparmorProfile"] = json!("nook-test");
    let e = c.exec_json(&p.to_string(), &ExecOptions::default()).unwrap_err();
    assert!(e.to_string().contains("process.apparmorProfile"), "{e}");
    let o = nook(
        f.ctx.root(),
        &["exec", "--apparmor", "nook-test", "aa-off", "true"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("process.apparmorProfile"), "{}", stderr(&o));
    assert_eq!(c.status(), nook::Status::Running);
}

/// Without SELinux, labels mean nothing: exec with a label (its own, or
/// the container's inherited) runs, and no mount got a `context=` option.
#[test]
fn without_selinux_labels_are_accepted_for_exec_and_not_applied() {
    assert!(
        !nook::lsm::Host::detect().selinux,
        "this test wants a host without SELinux"
    );
    let mut f = Fixture::new(&["sleep", "30"]).with_out();
    f.config["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0:c1,c2");
    f.config["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0:c1,c2");
    let c = f.create("se-off").unwrap();
    c.start().unwrap();
    for label in [json!(null), json!("system_u:system_r:spc_t:s0")] {
        let mut p = f.config["process"].clone();
        p["args"] = json!(["sh", "-c", "cat /proc/self/mountinfo > /out/mountinfo"]);
        p["selinuxLabel"] = label;
        let e = c.exec_json(&p.to_string(), &ExecOptions::default()).unwrap();
        assert_eq!(e.wait().unwrap(), 0);
        let info = f.read_out("mountinfo");
        assert!(info.contains(" /dev/shm "), "{info}");
        assert!(!info.contains("context="), "{info}");
    }
}

// ------------------------------------------------------------ with AppArmor

/// A profile loaded into the kernel for one test, and unloaded after it.
struct Profile {
    name: String,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Profile {
    /// Loads profile `name`: everything allowed but `deny_write`. The
    /// signal and ptrace rules let the runtime (unconfined) signal and
    /// inspect the container, as docker's default profile does.
    fn load(name: &str, deny_write: &str) -> Profile {
        assert!(apparmor_enabled(), "AppArmor is not enabled on this kernel");
        assert!(
            Path::new("/sys/kernel/security/apparmor").exists(),
            "securityfs is not mounted on /sys/kernel/security"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(name);
        let text = format!(
            "profile {name} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  capability,\n  \
             network,\n  signal,\n  ptrace,\n  unix,\n  deny {deny_write} w,\n}}\n"
        );
        std::fs::write(&file, text).unwrap();
        let o = Command::new("apparmor_parser")
            .arg("-Kr")
            .arg(&file)
            .output()
            .unwrap();
        assert!(o.status.success(), "apparmor_parser -Kr: {}", stderr(&o));
        Profile {
            name: name.to_string(),
            file,
            _dir: dir,
        }
    }

    /// What /proc/PID/attr/current shows for a process confined by it.
    fn current(&self) -> String {
        format!("{} (enforce)\n", self.name)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("apparmor_parser").arg("-R").arg(&self.file).output();
    }
}

fn attr_current(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/attr/current")).unwrap()
}

/// Writes what the process's confinement shows and allows into /out/NAME.*.
fn probe(name: &str) -> String {
    format!(
        "cat /proc/self/attr/current > /out/{name}.current; \
         if {{ echo x > /out/denied; }} 2>/dev/null; then echo written; else echo refused; fi \
         > /out/{name}.result; \
         rm -f /out/denied"
    )
}

/// The init runs under the profile from its execve on (not before: the
/// created init is still the runtime's, unconfined), the kernel shows it
/// in /proc/PID/attr/current, and its denial holds inside the container.
/// exec gets the container's profile when it names none, its own with
/// `--apparmor` (also `unconfined`), and a profile the kernel does not
/// have is an error naming the field.
#[test]
#[ignore = "needs AppArmor: tools/test-apparmor.sh runs it in a VM"]
fn the_profile_confines_the_process_from_execve_and_its_denial_holds() {
    let deny = Profile::load("nook-test-deny", "/out/denied");
    let other = Profile::load("nook-test-other", "/out/other");
    let script = format!("{}; touch /out/ready; sleep 600", probe("init"));
    let mut f = Fixture::new(&["sh", "-c", &script]).with_out();
    f.config["process"]["apparmorProfile"] = json!(deny.name);
    let c = f.create("aa-init").unwrap();
    assert_eq!(attr_current(c.pid()), "unconfined\n");
    c.start().unwrap();
    assert!(eventually(|| f.out().join("ready").exists()));
    assert_eq!(attr_current(c.pid()), deny.current());
    assert_eq!(f.read_out("init.current"), deny.current());
    assert_eq!(f.read_out("init.result"), "refused\n");

    // Without a profile of its own, exec gets the container's.
    let mut p = f.config["process"].clone();
    p["args"] = json!(["sh", "-c", probe("inherited")]);
    p["apparmorProfile"] = json!(null);
    let e = c.exec_json(&p.to_string(), &ExecOptions::default()).unwrap();
    assert_eq!(e.wait().unwrap(), 0);
    assert_eq!(f.read_out("inherited.current"), deny.current());
    assert_eq!(f.read_out("inherited.result"), "refused\n");

    // `nook exec --apparmor`: its own profile, which allows /out/denied.
    let root = f.ctx.root();
    let o = nook(
        root,
        &[
            "exec",
            "--apparmor",
            &other.name,
            "aa-init",
            "sh",
            "-c",
            &probe("other"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(f.read_out("other.current"), other.current());
    assert_eq!(f.read_out("other.result"), "written\n");
    let o = nook(
        root,
        &[
            "exec",
            "--apparmor",
            "unconfined",
            "aa-init",
            "sh",
            "-c",
            &probe("unconfined"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(f.read_out("unconfined.current"), "unconfined\n");
    assert_eq!(f.read_out("unconfined.result"), "written\n");

    let o = nook(
        root,
        &["exec", "--apparmor", "nook-test-not-loaded", "aa-init", "true"],
    );
    assert!(!o.status.success());
    // runc's log format escapes the quotes.
    assert!(
        stderr(&o).contains(r#"process.apparmorProfile \"nook-test-not-loaded\" (is it loaded?"#),
        "{}",
        stderr(&o)
    );
    assert_eq!(c.status(), nook::Status::Running);
    c.kill(libc::SIGKILL, false).unwrap();
    c.wait().unwrap();
    c.delete(false).unwrap();
}

/// `unconfined` is applied like any name (runc writes it too): the process
/// runs unconfined. Without noNewPrivileges the seccomp filter goes in
/// before the identity change, and the profile with it: confined all the
/// same.
#[test]
#[ignore = "needs AppArmor: tools/test-apparmor.sh runs it in a VM"]
fn unconfined_and_the_early_filter_path() {
    let deny = Profile::load("nook-test-early", "/out/denied");
    let mut f = Fixture::new(&["sh", "-c", &probe("unconfined")]).with_out();
    f.config["process"]["apparmorProfile"] = json!("unconfined");
    assert_eq!(f.run("aa-unconfined").unwrap(), 0);
    assert_eq!(f.read_out("unconfined.current"), "unconfined\n");
    assert_eq!(f.read_out("unconfined.result"), "written\n");

    f.config["process"]["args"] = json!(["sh", "-c", probe("early")]);
    f.config["process"]["apparmorProfile"] = json!(deny.name);
    f.config["process"]["noNewPrivileges"] = json!(false);
    f.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["swapon"], "action": "SCMP_ACT_ERRNO"}]});
    assert_eq!(f.run("aa-early").unwrap(), 0);
    assert_eq!(f.read_out("early.current"), deny.current());
    assert_eq!(f.read_out("early.result"), "refused\n");
}

/// A profile the kernel does not have fails `create` (not `start`),
/// naming the field, and leaves nothing behind.
#[test]
#[ignore = "needs AppArmor: tools/test-apparmor.sh runs it in a VM"]
fn a_profile_not_loaded_fails_create_and_leaves_nothing() {
    assert!(apparmor_enabled(), "AppArmor is not enabled on this kernel");
    let mut f = Fixture::new(&["true"]);
    f.config["process"]["apparmorProfile"] = json!("nook-test-not-loaded");
    let e = f.create("aa-missing").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("process.apparmorProfile \"nook-test-not-loaded\" (is it loaded?"),
        "{msg}"
    );
    assert!(!f.ctx.root().join("aa-missing").exists(), "state left: {msg}");
    assert!(f.host_mounts().is_empty(), "mounts left: {msg}");
}

// ------------------------------------------------------------- with SELinux

/// A process label and a mount label of Debian's selinux-policy-default
/// (refpolicy, MCS: the categories are what a container engine varies).
const SE_PROCESS: &str = "system_u:system_r:svirt_t:s0:c1,c2";
const SE_MOUNT: &str = "system_u:object_r:svirt_image_t:s0:c1,c2";

/// The superblock options (after " - FSTYPE SOURCE") of `pid`'s mount at
/// `point`, where the kernel shows `context=`.
fn super_options(pid: i32, point: &str) -> String {
    let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    info.lines()
        .find(|l| l.split(' ').nth(4) == Some(point))
        .and_then(|l| l.split_once(" - "))
        .and_then(|(_, rest)| rest.split(' ').nth(2))
        .unwrap_or_else(|| panic!("no mount at {point}: {info}"))
        .to_string()
}

/// The SELinux label of a file, as `ls -Z` (libselinux) reads it.
fn file_label(path: &Path) -> String {
    let o = Command::new("ls").arg("-Zd").arg(path).output().unwrap();
    assert!(o.status.success(), "ls -Zd {}: {}", path.display(), stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    out.split_whitespace().next().unwrap_or_default().to_string()
}

/// The SELinux label of key `id` (`keyctl security`).
fn key_label(id: i32) -> String {
    const KEYCTL_GET_SECURITY: libc::c_long = 17;
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length; keyctl writes at most that.
    let n = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_SECURITY,
            id,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    assert!(
        n > 0,
        "keyctl(GET_SECURITY, {id}): {}",
        std::io::Error::last_os_error()
    );
    let label = &buf[..(n as usize).min(buf.len())];
    String::from_utf8_lossy(label).trim_end_matches('\0').to_string()
}

/// The id of the keyring named `name` in /proc/keys.
fn keyring_id(name: &str) -> i32 {
    let keys = std::fs::read_to_string("/proc/keys").unwrap();
    let desc = format!("{name}:");
    let line = keys
        .lines()
        .find(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(7) == Some(&"keyring") && f.get(8) == Some(&desc.as_str())
        })
        .unwrap_or_else(|| panic!("no keyring {name}: {keys}"));
    i32::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

/// With SELinux on (and a policy loaded), `process.selinuxLabel` is the
/// label the init runs with from its execve (the created init is still
/// the runtime's), the label of the session keyring it creates, and the
/// one an exec without a label of its own gets; `linux.mountLabel` is the
/// `context=` of the container's new filesystems and the label of their
/// files, the xattr of mqueue's root, and not given to proc or sysfs.
/// tools/test-selinux.sh boots the Debian kernel with SELinux (permissive)
/// and loads Debian's selinux-policy-default to run it.
#[test]
#[ignore = "needs SELinux with a policy: tools/test-selinux.sh runs it in a VM"]
fn selinux_labels_the_process_its_keyring_and_its_mounts() {
    assert!(
        nook::lsm::Host::detect().selinux,
        "SELinux is not enabled on this kernel"
    );
    let script = "cat /proc/self/attr/current > /out/init.current; touch /out/ready; sleep 600";
    let mut f = Fixture::new(&["sh", "-c", script]).with_out();
    f.config["process"]["selinuxLabel"] = json!(SE_PROCESS);
    f.config["linux"]["mountLabel"] = json!(SE_MOUNT);
    let c = f.create("se-init").unwrap();
    let before = attr_current(c.pid());
    assert_ne!(before.trim_end_matches('\0'), SE_PROCESS);
    assert_eq!(key_label(keyring_id("se-init")), SE_PROCESS);
    c.start().unwrap();
    assert!(eventually(|| f.out().join("ready").exists()));
    assert_eq!(attr_current(c.pid()).trim_end_matches('\0'), SE_PROCESS);
    assert_eq!(f.read_out("init.current").trim_end_matches('\0'), SE_PROCESS);

    let context = format!("context=\"{SE_MOUNT}\"");
    for point in ["/dev", "/dev/shm", "/dev/pts"] {
        let opts = super_options(c.pid(), point);
        // Quoted: the label's own comma (c1,c2) must not split the option.
        assert!(opts.contains(&context), "{point}: {opts}");
    }
    let root = PathBuf::from(format!("/proc/{}/root", c.pid()));
    for file in ["dev/shm", "dev/mqueue"] {
        assert_eq!(file_label(&root.join(file)), SE_MOUNT, "{file}");
    }
    for point in ["/proc", "/sys"] {
        let opts = super_options(c.pid(), point);
        assert!(!opts.contains("context="), "{point}: {opts}");
    }

    // exec without a label of its own runs with the container's.
    let mut p = f.config["process"].clone();
    p["args"] = json!(["sh", "-c", "cat /proc/self/attr/current > /out/exec.current"]);
    p["selinuxLabel"] = json!(null);
    let e = c.exec_json(&p.to_string(), &ExecOptions::default()).unwrap();
    assert_eq!(e.wait().unwrap(), 0);
    assert_eq!(f.read_out("exec.current").trim_end_matches('\0'), SE_PROCESS);
    c.kill(libc::SIGKILL, false).unwrap();
    c.wait().unwrap();
    c.delete(false).unwrap();
}

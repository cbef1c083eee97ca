//! Seccomp through the whole runtime: the filter a container's process
//! runs under, read back from /proc and from what its syscalls return.

mod common;

use std::os::unix::net::UnixListener;

use common::{status_field, Fixture};
use serde_json::{json, Value};

fn mkdir_denied() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    })
}

#[test]
fn filter_applies_with_and_without_no_new_privs() {
    for nnp in [true, false] {
        let mut f = Fixture::new(&[
            "sh",
            "-c",
            "mkdir /x 2> /out/mkdir; rmdir /out 2> /out/rmdir; sleep 100",
        ])
        .with_out();
        f.config["process"]["noNewPrivileges"] = json!(nnp);
        f.config["linux"]["seccomp"] = mkdir_denied();
        let c = f.create("sc").unwrap();
        c.start().unwrap();
        assert!(
            common::eventually(|| f.read_out("rmdir").contains("not implemented")),
            "{}",
            f.read_out("rmdir")
        );
        assert!(
            f.read_out("mkdir").contains("Operation not permitted"),
            "{}",
            f.read_out("mkdir")
        );
        assert_eq!(status_field(c.pid(), "Seccomp"), "2");
        assert_eq!(status_field(c.pid(), "NoNewPrivs"), if nnp { "1" } else { "0" });
        assert!(!f.rootfs().join("x").exists());
    }
}

#[test]
fn docker_default_profile_runs_a_shell() {
    let mut f = Fixture::new(&["sh", "-c", "echo ok > /out/ok"]).with_out();
    let profile: Value =
        serde_json::from_slice(&std::fs::read("tests/fixtures/seccomp/docker-default.json").unwrap())
            .unwrap();
    f.config["linux"]["seccomp"] = profile;
    assert_eq!(f.run("docker-profile").unwrap(), 0);
    assert_eq!(f.read_out("ok"), "ok\n");
}

#[test]
fn notify_listener_reaches_the_agent_during_create() {
    let mut f = Fixture::new(&["sh", "-c", "mkdir /made && echo yes > /out/mkdir"]).with_out();
    let agent_path = f.dir.path().join("agent.sock");
    f.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent_path,
        "listenerMetadata": "meta",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let sock = UnixListener::bind(&agent_path).unwrap();
    let agent = std::thread::spawn(move || common::agent::agent(sock));
    assert_eq!(f.run("notify").unwrap(), 0);
    let (msg, nr) = agent.join().unwrap();
    assert!(nr == libc::SYS_mkdir as i32 || nr == libc::SYS_mkdirat as i32);
    assert_eq!(msg["state"]["id"], "notify");
    assert_eq!(msg["state"]["status"], "creating");
    assert_eq!(msg["metadata"], "meta");
    // The agent answered success without doing the mkdir.
    assert_eq!(f.read_out("mkdir"), "yes\n");
    assert!(!f.rootfs().join("made").exists());
}

#[test]
fn bad_profile_is_rejected_before_anything_is_created() {
    let mut f = Fixture::new(&["true"]);
    f.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]});
    let err = f.create("badsc").unwrap_err();
    assert!(
        err.to_string()
            .contains("linux.seccomp.syscalls[0].args[0].index"),
        "{err}"
    );
    assert!(!f.ctx.root().join("badsc").exists());
}

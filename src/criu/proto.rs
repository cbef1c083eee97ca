//! The part of criu's RPC protocol (`rpc.proto`, proto2) that nook speaks:
//! `criu_req` with the `criu_opts` fields checkpoint and restore need, and
//! `criu_resp` with the dump, restore, notify and version answers.
//!
//! A hand-written encoder and decoder rather than a protobuf crate: the
//! messages are few and flat, and nook builds without network access to a
//! registry. Fields are written in field-number order, as protobuf's own
//! encoders do, so the bytes equal those of criu's Python bindings
//! (`pycriu.rpc_pb2`); the unit tests compare them with bytes that
//! `tools/criu-proto-fixtures.py` made with those bindings.
#![forbid(unsafe_code)]

/// `criu_req_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReqType {
    /// Nothing (an unknown type in a response).
    Empty,
    /// Checkpoint.
    Dump,
    /// Restore.
    Restore,
    /// Pre-dump (memory only, tracked).
    PreDump,
    /// A notification (criu to us) or its answer (us to criu).
    Notify,
    /// criu's version.
    Version,
}

impl ReqType {
    fn number(self) -> u64 {
        match self {
            ReqType::Empty => 0,
            ReqType::Dump => 1,
            ReqType::Restore => 2,
            ReqType::PreDump => 4,
            ReqType::Notify => 6,
            ReqType::Version => 10,
        }
    }

    fn from_number(n: u64) -> ReqType {
        match n {
            1 => ReqType::Dump,
            2 => ReqType::Restore,
            4 => ReqType::PreDump,
            6 => ReqType::Notify,
            10 => ReqType::Version,
            _ => ReqType::Empty,
        }
    }
}

/// `criu_cg_mode`: what criu does with the cgroups (runc's
/// `--manage-cgroups-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgMode {
    /// Leave them alone.
    Ignore,
    /// Restore properties of the cgroups criu creates only.
    Soft,
    /// Restore all properties.
    Full,
    /// Fail unless the cgroups are as dumped.
    Strict,
}

impl CgMode {
    fn number(self) -> u64 {
        match self {
            CgMode::Ignore => 0,
            CgMode::Soft => 3,
            CgMode::Full => 4,
            CgMode::Strict => 5,
        }
    }
}

impl std::str::FromStr for CgMode {
    type Err = String;

    /// runc's spelling of the modes.
    fn from_str(s: &str) -> Result<CgMode, String> {
        match s {
            "ignore" => Ok(CgMode::Ignore),
            "soft" => Ok(CgMode::Soft),
            "full" => Ok(CgMode::Full),
            "strict" => Ok(CgMode::Strict),
            _ => Err(format!(
                "invalid manage cgroups mode {s:?} (soft, full, strict or ignore)"
            )),
        }
    }
}

/// `criu_opts`: only the fields nook sets. `None` is left out of the
/// message (criu's default applies); `Some(false)` is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opts {
    /// 1: the images directory, as an fd of criu's.
    pub images_dir_fd: i32,
    /// 2: the root task to dump.
    pub pid: Option<i32>,
    /// 3.
    pub leave_running: Option<bool>,
    /// 4.
    pub ext_unix_sk: Option<bool>,
    /// 5.
    pub tcp_established: Option<bool>,
    /// 6.
    pub evasive_devices: Option<bool>,
    /// 7.
    pub shell_job: Option<bool>,
    /// 8.
    pub file_locks: Option<bool>,
    /// 9.
    pub log_level: Option<i32>,
    /// 10: a name in the work directory.
    pub log_file: Option<String>,
    /// 12: send NOTIFY messages at each step.
    pub notify_scripts: Option<bool>,
    /// 13: the root of the tree's mount namespace.
    pub root: Option<String>,
    /// 14: the previous (pre-)dump, relative to the images directory.
    pub parent_img: Option<String>,
    /// 15.
    pub track_mem: Option<bool>,
    /// 16.
    pub auto_dedup: Option<bool>,
    /// 17.
    pub work_dir_fd: Option<i32>,
    /// 23: external mounts, (key, value).
    pub ext_mnt: Vec<(String, String)>,
    /// 24.
    pub manage_cgroups: Option<bool>,
    /// 25: cgroup roots, (controller or None for all, path).
    pub cg_root: Vec<(Option<String>, String)>,
    /// 26: restore the tree as our sibling (a child of the caller).
    pub rst_sibling: Option<bool>,
    /// 27: (key, fd of criu's).
    pub inherit_fd: Vec<(String, i32)>,
    /// 34.
    pub manage_cgroups_mode: Option<CgMode>,
    /// 37: `--external` values.
    pub external: Vec<String>,
    /// 38: CLONE_NEW* flags of namespaces to restore empty.
    pub empty_ns: Option<u32>,
    /// 44: freeze the tree through this cgroup (v1 freezer or v2 directory).
    pub freeze_cgroup: Option<String>,
    /// 49.
    pub status_fd: Option<i32>,
    /// 50: hand the master of a restored pty over (NOTIFY orphan-pts-master).
    pub orphan_pts_master: Option<bool>,
    /// 53.
    pub lsm_profile: Option<String>,
    /// 63.
    pub lsm_mount_context: Option<String>,
}

/// `criu_req`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Req {
    /// 1.
    pub typ: ReqType,
    /// 2.
    pub opts: Option<Opts>,
    /// 3: the answer to a notification.
    pub notify_success: Option<bool>,
}

/// `criu_resp`, as far as nook reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resp {
    /// 1.
    pub typ: Option<ReqType>,
    /// 2.
    pub success: bool,
    /// 3: `criu_dump_resp.restored`.
    pub dump_restored: Option<bool>,
    /// 4: `criu_restore_resp.pid`.
    pub restore_pid: Option<i32>,
    /// 5: `criu_notify.script`.
    pub notify_script: Option<String>,
    /// 5: `criu_notify.pid`.
    pub notify_pid: Option<i32>,
    /// 7.
    pub cr_errno: Option<i32>,
    /// 9.
    pub cr_errmsg: Option<String>,
    /// 10: `criu_version` (major, minor, sublevel).
    pub version: Option<(i32, i32, i32)>,
}

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

/// A protobuf message being written.
#[derive(Default)]
struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u64, wire: u64) {
        self.varint(field << 3 | wire);
    }

    fn uint(&mut self, field: u64, v: Option<u64>) {
        if let Some(v) = v {
            self.key(field, VARINT);
            self.varint(v);
        }
    }

    /// int32: a negative value is sign-extended to 64 bits (ten bytes).
    fn int32(&mut self, field: u64, v: Option<i32>) {
        self.uint(field, v.map(|v| i64::from(v) as u64));
    }

    fn bool(&mut self, field: u64, v: Option<bool>) {
        self.uint(field, v.map(u64::from));
    }

    fn bytes(&mut self, field: u64, v: &[u8]) {
        self.key(field, LEN);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
    }

    fn string(&mut self, field: u64, v: Option<&str>) {
        if let Some(v) = v {
            self.bytes(field, v.as_bytes());
        }
    }
}

impl Opts {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.int32(1, Some(self.images_dir_fd));
        w.int32(2, self.pid);
        w.bool(3, self.leave_running);
        w.bool(4, self.ext_unix_sk);
        w.bool(5, self.tcp_established);
        w.bool(6, self.evasive_devices);
        w.bool(7, self.shell_job);
        w.bool(8, self.file_locks);
        w.int32(9, self.log_level);
        w.string(10, self.log_file.as_deref());
        w.bool(12, self.notify_scripts);
        w.string(13, self.root.as_deref());
        w.string(14, self.parent_img.as_deref());
        w.bool(15, self.track_mem);
        w.bool(16, self.auto_dedup);
        w.int32(17, self.work_dir_fd);
        for (key, val) in &self.ext_mnt {
            let mut m = Writer::default();
            m.string(1, Some(key));
            m.string(2, Some(val));
            w.bytes(23, &m.0);
        }
        w.bool(24, self.manage_cgroups);
        for (ctrl, path) in &self.cg_root {
            let mut m = Writer::default();
            m.string(1, ctrl.as_deref());
            m.string(2, Some(path));
            w.bytes(25, &m.0);
        }
        w.bool(26, self.rst_sibling);
        for (key, fd) in &self.inherit_fd {
            let mut m = Writer::default();
            m.string(1, Some(key));
            m.int32(2, Some(*fd));
            w.bytes(27, &m.0);
        }
        w.uint(34, self.manage_cgroups_mode.map(CgMode::number));
        for e in &self.external {
            w.string(37, Some(e));
        }
        w.uint(38, self.empty_ns.map(u64::from));
        w.string(44, self.freeze_cgroup.as_deref());
        w.int32(49, self.status_fd);
        w.bool(50, self.orphan_pts_master);
        w.string(53, self.lsm_profile.as_deref());
        w.string(63, self.lsm_mount_context.as_deref());
        w.0
    }
}

impl Req {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.uint(1, Some(self.typ.number()));
        if let Some(o) = &self.opts {
            w.bytes(2, &o.encode());
        }
        w.bool(3, self.notify_success);
        w.0
    }
}

/// A field as read: its number and value.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// Reads the fields of one message; unknown and fixed-width ones are
/// skipped by the caller, malformed input is an error.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first().ok_or("truncated varint")?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("field of {n} bytes, {} left", self.0.len()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn next(&mut self) -> Option<Result<(u64, Option<Value<'a>>), String>> {
        if self.0.is_empty() {
            return None;
        }
        Some((|| {
            let key = self.varint()?;
            let field = key >> 3;
            Ok(match key & 7 {
                VARINT => (field, Some(Value::Varint(self.varint()?))),
                LEN => {
                    let n = usize::try_from(self.varint()?).map_err(|_| "length overflow")?;
                    (field, Some(Value::Bytes(self.take(n)?)))
                }
                FIXED64 => {
                    self.take(8)?;
                    (field, None)
                }
                FIXED32 => {
                    self.take(4)?;
                    (field, None)
                }
                w => return Err(format!("field {field}: unsupported wire type {w}")),
            })
        })())
    }
}

/// Calls `f` with each field of `buf`.
fn fields<'a>(buf: &'a [u8], mut f: impl FnMut(u64, Value<'a>) -> Result<(), String>) -> Result<(), String> {
    let mut r = Reader(buf);
    while let Some(field) = r.next() {
        if let (n, Some(v)) = field? {
            f(n, v)?;
        }
    }
    Ok(())
}

fn int32(v: u64) -> i32 {
    v as i64 as i32
}

fn string(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "string field is not UTF-8".to_string())
}

impl Resp {
    /// Decodes a `criu_resp`; an error says what was malformed.
    pub fn decode(buf: &[u8]) -> Result<Resp, String> {
        let mut r = Resp::default();
        fields(buf, |n, v| {
            match (n, v) {
                (1, Value::Varint(t)) => r.typ = Some(ReqType::from_number(t)),
                (2, Value::Varint(s)) => r.success = s != 0,
                (3, Value::Bytes(b)) => fields(b, |n, v| {
                    if let (1, Value::Varint(x)) = (n, v) {
                        r.dump_restored = Some(x != 0);
                    }
                    Ok(())
                })?,
                (4, Value::Bytes(b)) => fields(b, |n, v| {
                    if let (1, Value::Varint(x)) = (n, v) {
                        r.restore_pid = Some(int32(x));
                    }
                    Ok(())
                })?,
                (5, Value::Bytes(b)) => fields(b, |n, v| {
                    match (n, v) {
                        (1, Value::Bytes(s)) => r.notify_script = Some(string(s)?),
                        (2, Value::Varint(x)) => r.notify_pid = Some(int32(x)),
                        _ => {}
                    }
                    Ok(())
                })?,
                (7, Value::Varint(x)) => r.cr_errno = Some(int32(x)),
                (9, Value::Bytes(s)) => r.cr_errmsg = Some(string(s)?),
                (10, Value::Bytes(b)) => {
                    let mut v = (0, 0, 0);
                    fields(b, |n, x| {
                        match (n, x) {
                            (1, Value::Varint(x)) => v.0 = int32(x),
                            (2, Value::Varint(x)) => v.1 = int32(x),
                            (4, Value::Varint(x)) => v.2 = int32(x),
                            _ => {}
                        }
                        Ok(())
                    })?;
                    r.version = Some(v);
                }
                _ => {}
            }
            Ok(())
        })?;
        if r.typ.is_none() {
            return Err("criu_resp without its required type".into());
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture of `tools/criu-proto-fixtures.py`, as bytes.
    fn fixture(hex: &str) -> Vec<u8> {
        let hex = hex.trim();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_dump_request_is_encoded_as_pycriu_encodes_it() {
        let req = Req {
            typ: ReqType::Dump,
            opts: Some(Opts {
                images_dir_fd: 4,
                pid: Some(4242),
                leave_running: Some(true),
                ext_unix_sk: Some(false),
                tcp_established: Some(true),
                shell_job: Some(false),
                file_locks: Some(true),
                log_level: Some(4),
                log_file: Some("dump.log".into()),
                notify_scripts: Some(true),
                root: Some("/var/lib/bundle/rootfs".into()),
                parent_img: Some("../pre".into()),
                track_mem: Some(true),
                auto_dedup: Some(true),
                work_dir_fd: Some(5),
                ext_mnt: vec![
                    ("/out".into(), "/out".into()),
                    ("/proc/kcore".into(), "/dev/null".into()),
                ],
                manage_cgroups: Some(true),
                manage_cgroups_mode: Some(CgMode::Soft),
                external: vec!["net[4026531992]:extRootNetNS".into()],
                empty_ns: Some(0x4000_0000),
                freeze_cgroup: Some("/sys/fs/cgroup/freezer/nook/c1".into()),
                orphan_pts_master: Some(true),
                ..Opts::default()
            }),
            notify_success: None,
        };
        assert_eq!(req.encode(), fixture(include_str!("fixtures/dump_req.hex")));
    }

    #[test]
    fn a_restore_request_is_encoded_as_pycriu_encodes_it() {
        let req = Req {
            typ: ReqType::Restore,
            opts: Some(Opts {
                images_dir_fd: 4,
                work_dir_fd: Some(5),
                evasive_devices: Some(true),
                log_level: Some(4),
                log_file: Some("restore.log".into()),
                notify_scripts: Some(true),
                root: Some("/run/nook/c1/criu-root".into()),
                ext_mnt: vec![("/out".into(), "/tmp/out".into())],
                manage_cgroups: Some(true),
                cg_root: vec![
                    (Some("memory".into()), "/nook/c1".into()),
                    (None, "/nook/c1".into()),
                ],
                rst_sibling: Some(true),
                inherit_fd: vec![("pipe:[12345]".into(), 1), ("extRootNetNS".into(), 7)],
                manage_cgroups_mode: Some(CgMode::Strict),
                // Negative: ten bytes, sign-extended.
                status_fd: Some(-1),
                orphan_pts_master: Some(true),
                lsm_profile: Some("apparmor:nook-default".into()),
                lsm_mount_context: Some("system_u:object_r:container_file_t:s0".into()),
                ..Opts::default()
            }),
            notify_success: None,
        };
        assert_eq!(req.encode(), fixture(include_str!("fixtures/restore_req.hex")));
    }

    #[test]
    fn small_requests_are_encoded_as_pycriu_encodes_them() {
        let notify = Req {
            typ: ReqType::Notify,
            opts: None,
            notify_success: Some(true),
        };
        assert_eq!(notify.encode(), fixture(include_str!("fixtures/notify_req.hex")));
        let version = Req {
            typ: ReqType::Version,
            opts: None,
            notify_success: None,
        };
        assert_eq!(
            version.encode(),
            fixture(include_str!("fixtures/version_req.hex"))
        );
        let pre = Req {
            typ: ReqType::PreDump,
            opts: Some(Opts {
                images_dir_fd: 3,
                track_mem: Some(true),
                ..Opts::default()
            }),
            notify_success: None,
        };
        assert_eq!(pre.encode(), fixture(include_str!("fixtures/pre_dump_req.hex")));
    }

    #[test]
    fn responses_from_pycriu_are_decoded() {
        let r = Resp::decode(&fixture(include_str!("fixtures/notify_resp.hex"))).unwrap();
        assert_eq!(r.typ, Some(ReqType::Notify));
        assert!(r.success);
        assert_eq!(r.notify_script.as_deref(), Some("post-restore"));
        assert_eq!(r.notify_pid, Some(31337));

        let r = Resp::decode(&fixture(include_str!("fixtures/dump_resp.hex"))).unwrap();
        assert_eq!(
            (r.typ, r.success, r.dump_restored),
            (Some(ReqType::Dump), true, Some(false))
        );

        let r = Resp::decode(&fixture(include_str!("fixtures/restore_resp.hex"))).unwrap();
        assert_eq!((r.typ, r.restore_pid), (Some(ReqType::Restore), Some(31337)));

        let r = Resp::decode(&fixture(include_str!("fixtures/failed_resp.hex"))).unwrap();
        assert!(!r.success);
        assert_eq!(r.cr_errno, Some(3));
        assert_eq!(r.cr_errmsg.as_deref(), Some("No such process"));

        let r = Resp::decode(&fixture(include_str!("fixtures/version_resp.hex"))).unwrap();
        assert_eq!(r.version, Some((3, 17, 1)));
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        let good = fixture(include_str!("fixtures/notify_resp.hex"));
        for n in 1..good.len() {
            // Every truncation inside the notify message is malformed.
            let _ = Resp::decode(&good[..n]);
        }
        assert!(Resp::decode(&good[..good.len() - 1]).is_err());
        assert!(Resp::decode(&[]).unwrap_err().contains("required type"));
        assert!(Resp::decode(&[0xff; 11]).is_err());
        assert!(Resp::decode(&[0x0b]).unwrap_err().contains("wire type"));
    }
}

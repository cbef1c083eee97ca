//! The systemd cgroup driver (`--systemd-cgroup`), as runc's.
//!
//! On a host run by systemd, the cgroup tree belongs to systemd: a process
//! that makes its own directories below `/sys/fs/cgroup` competes with it
//! (systemd may migrate or trim them), so engines ask the runtime to let
//! systemd make the container's cgroup. `linux.cgroupsPath` is then
//! `slice:prefix:name`; the container's init is put into a transient scope
//! `prefix-name.scope` in that slice (StartTransientUnit with `PIDs`,
//! `Delegate=yes`, and the limits systemd has properties for), and the
//! cgroup files are then also written directly, which covers what systemd
//! has no property for and makes the values exactly runc's. Everything
//! after that (freeze, kill, stats, exec) works on the cgroup directories
//! as with the cgroupfs driver: they are computed here and kept in
//! state.json, with the unit name, which `update` (SetUnitProperties) and
//! `delete` (StopUnit) need.
//!
//! On v1 and hybrid hosts systemd only makes the scope's directory in the
//! hierarchies it manages (cpu, cpuacct, blkio, memory, devices, pids, and
//! the cgroup2 mount); in the others (cpuset, freezer, net_cls, ...) nook
//! makes it, as runc does, and removes it on delete.
#![forbid(unsafe_code)]

pub mod dbus;

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::LinuxResources;

use super::devices::DeviceRule;
use super::resources::{blkio_weight_to_io, parse_list, shares_to_weight};
use crate::error::{Error, Result};
use dbus::{prop, BusError, Connection, Message, Value};

/// The controllers systemd enables in a delegated cgroup2 unit (its
/// `CGROUP_MASK_V2`): a limit for any other (hugetlb, rdma, misc) cannot be
/// set under this driver, since systemd never enables it in the slices.
pub(crate) const V2_CONTROLLERS: &[&str] = &["cpu", "cpuset", "io", "memory", "pids"];

/// The field named in errors about the driver itself.
const FLAG: &str = "--systemd-cgroup";
const CG_PATH: &str = "linux.cgroupsPath";

/// The unit a container's cgroup is made by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    /// `prefix-name.scope`, or a `.slice` when the name is one.
    pub name: String,
    /// The slice it goes into.
    pub slice: String,
    /// Its cgroup, as a path from the hierarchy's root:
    /// `/system.slice/prefix-name.scope`.
    pub cgroup: PathBuf,
}

/// Fails with an error naming the flag unless systemd runs this host
/// (sd_booted(3): /run/systemd/system exists).
pub(crate) fn check_running() -> Result<()> {
    if Path::new("/run/systemd/system").is_dir() {
        return Ok(());
    }
    Err(Error::config(
        FLAG,
        "systemd is not running on this host (no /run/systemd/system): use the default cgroupfs driver",
    ))
}

/// runc's reading of `linux.cgroupsPath` under the systemd driver:
/// `slice:prefix:name`, an empty slice meaning `system.slice`; a name
/// ending in `.slice` is a slice (made inside `slice`), any other becomes
/// the scope `prefix-name.scope` (`name.scope` with no prefix). An empty
/// path is `system.slice:nook:<id>`.
pub(crate) fn unit(path: Option<&Path>, id: &str) -> Result<Unit> {
    let text = path.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let (slice, prefix, name) = if text.is_empty() {
        ("", "nook", id)
    } else {
        let parts: Vec<&str> = text.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(Error::config(
                CG_PATH,
                format!("expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got {text:?} instead"),
            ));
        };
        (slice, prefix, name)
    };
    let slice = if slice.is_empty() { "system.slice" } else { slice };
    let bad = |what: &str| Error::config(CG_PATH, format!("{text:?}: {what}"));
    let parent = expand_slice(slice).map_err(|e| bad(&e))?;
    let valid = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b))
    };
    if !valid(name) || !(prefix.is_empty() || valid(prefix)) {
        return Err(bad("the prefix and name may only hold ASCII letters, digits and \"-_.\\@\", and the name must not be empty"));
    }
    if name.ends_with(".slice") {
        let own = expand_slice(name).map_err(|e| bad(&e))?;
        let own = PathBuf::from(own);
        if own.parent() != Some(Path::new(&parent)) {
            return Err(bad(&format!("slice {name} does not belong in {slice}")));
        }
        return Ok(Unit {
            name: name.to_string(),
            slice: slice.to_string(),
            cgroup: own,
        });
    }
    let name = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    Ok(Unit {
        cgroup: Path::new(&parent).join(&name),
        name,
        slice: slice.to_string(),
    })
}

/// systemd's path for a slice: `a-b-c.slice` -> `/a.slice/a-b.slice/a-b-c.slice`,
/// `-.slice` -> `/` (runc's ExpandSlice).
pub(crate) fn expand_slice(slice: &str) -> std::result::Result<String, String> {
    let invalid = || format!("invalid slice name {slice:?}");
    let base = slice.strip_suffix(".slice").ok_or_else(invalid)?;
    if base.is_empty() || slice.contains('/') {
        return Err(invalid());
    }
    if base == "-" {
        return Ok("/".into());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in base.split('-') {
        if part.is_empty() {
            return Err(invalid());
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(part);
        path.push_str(".slice");
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}

/// "No limit" for systemd's integer properties.
const INFINITY: u64 = u64::MAX;

/// `-1` is "no limit"; other values are taken as they are.
fn limit(v: i64) -> u64 {
    if v < 0 {
        INFINITY
    } else {
        v as u64
    }
}

/// The systemd properties for `res` (runc's genV1/genV2ResourcesProperties,
/// plus the IO ones): `v2` on a pure cgroup2 host, v1 names otherwise.
/// Values the cgroupfs code validated already (`compile`).
pub(crate) fn properties(res: &LinuxResources, rules: &[DeviceRule], v2: bool) -> Vec<Value> {
    let mut p = Vec::new();
    if !rules.is_empty() {
        p.extend(device_properties(rules));
    }
    if let Some(m) = res.memory() {
        if let Some(l) = m.limit().filter(|l| *l != 0) {
            p.push(prop(
                if v2 { "MemoryMax" } else { "MemoryLimit" },
                Value::U64(limit(l)),
            ));
        }
        if v2 {
            if let Some(r) = m.reservation().filter(|r| *r != 0) {
                p.push(prop("MemoryLow", Value::U64(limit(r))));
            }
            // v2's swap limit excludes memory; runc's conversion.
            match (m.swap(), m.limit()) {
                (Some(-1), _) => p.push(prop("MemorySwapMax", Value::U64(INFINITY))),
                (Some(s), Some(l)) if s > 0 && l > 0 && s >= l => {
                    p.push(prop("MemorySwapMax", Value::U64((s - l) as u64)));
                }
                _ => {}
            }
        }
    }
    if let Some(c) = res.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            if v2 {
                p.push(prop("CPUWeight", Value::U64(shares_to_weight(s))));
            } else {
                p.push(prop("CPUShares", Value::U64(s)));
            }
        }
        let quota = c.quota().unwrap_or(0);
        let period = c.period().unwrap_or(0);
        if period != 0 {
            p.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
        }
        if quota != 0 || period != 0 {
            let mut per_sec = INFINITY;
            if quota > 0 {
                let period = if period == 0 { 100_000 } else { period };
                per_sec = quota as u64 * 1_000_000 / period;
                // systemd rounds to 10 ms per second; round up, as runc.
                if per_sec % 10_000 != 0 {
                    per_sec = (per_sec / 10_000 + 1) * 10_000;
                }
            }
            p.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
        }
        if v2 {
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                p.push(prop("AllowedCPUs", bitmask(cpus)));
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                p.push(prop("AllowedMemoryNodes", bitmask(mems)));
            }
        }
    }
    if let Some(pids) = res.pids() {
        let l = pids.limit();
        if l > 0 || l == -1 {
            p.push(prop("TasksMax", Value::U64(limit(l))));
        }
    }
    if let Some(b) = res.block_io() {
        let dev = |major: i64, minor: i64| format!("/dev/block/{major}:{minor}");
        let pairs = |name: &str, list: Vec<(String, u64)>| {
            let items = list
                .into_iter()
                .map(|(d, v)| Value::Struct(vec![Value::Str(d), Value::U64(v)]))
                .collect();
            prop(name, Value::Array("(st)".into(), items))
        };
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            let (name, w) = if v2 {
                ("IOWeight", blkio_weight_to_io(w))
            } else {
                ("BlockIOWeight", u64::from(w))
            };
            p.push(prop(name, Value::U64(w)));
        }
        if let Some(list) = b.weight_device() {
            let list: Vec<_> = list
                .iter()
                .filter_map(|d| {
                    let w = d.weight()?;
                    let w = if v2 { blkio_weight_to_io(w) } else { u64::from(w) };
                    Some((dev(d.major(), d.minor()), w))
                })
                .collect();
            if !list.is_empty() {
                p.push(pairs(
                    if v2 {
                        "IODeviceWeight"
                    } else {
                        "BlockIODeviceWeight"
                    },
                    list,
                ));
            }
        }
        let throttles = [
            (
                b.throttle_read_bps_device(),
                "IOReadBandwidthMax",
                "BlockIOReadBandwidth",
            ),
            (
                b.throttle_write_bps_device(),
                "IOWriteBandwidthMax",
                "BlockIOWriteBandwidth",
            ),
            (b.throttle_read_iops_device(), "IOReadIOPSMax", ""),
            (b.throttle_write_iops_device(), "IOWriteIOPSMax", ""),
        ];
        for (list, v2_name, v1_name) in throttles {
            let name = if v2 { v2_name } else { v1_name };
            // v1 has no IOPS property: the cgroupfs write sets those.
            let Some(list) = list.as_ref().filter(|_| !name.is_empty()) else {
                continue;
            };
            let list: Vec<_> = list
                .iter()
                .map(|d| (dev(d.major(), d.minor()), d.rate()))
                .collect();
            if !list.is_empty() {
                p.push(pairs(name, list));
            }
        }
    }
    p
}

/// A CPU or node list (`0-2,4`) as systemd's byte mask: bit N of byte N/8.
fn bitmask(list: &str) -> Value {
    let set = parse_list(list).unwrap_or_default();
    let mut bytes = vec![0u8; set.last().map_or(0, |m| *m as usize / 8 + 1)];
    for n in set {
        bytes[n as usize / 8] |= 1 << (n % 8);
    }
    Value::Array("y".into(), bytes.into_iter().map(Value::Byte).collect())
}

/// `DevicePolicy` and `DeviceAllow` for the device rules (which always
/// start with deny-all, see [`super::with_runtime_defaults`]). systemd only
/// takes an allow list: a later deny rule removes every allow entry it
/// overlaps, so systemd's list is never wider than the rules (it may be
/// narrower; the exact rules are enforced by the cgroupfs code, v1 files or
/// the BPF filter, either way).
fn device_properties(rules: &[DeviceRule]) -> Vec<Value> {
    let deny_all = |r: &DeviceRule| !r.allow && r.kind == 'a' && r.major.is_none() && r.minor.is_none();
    let Some(start) = rules.iter().rposition(deny_all) else {
        // Everything allowed but what is denied: systemd cannot say that.
        return vec![prop("DevicePolicy", Value::Str("auto".into()))];
    };
    let mut allow: Vec<(DeviceRule, String)> = Vec::new();
    for r in &rules[start + 1..] {
        if !r.allow {
            let overlaps = |a: &DeviceRule| {
                (r.kind == 'a' || a.kind == 'a' || a.kind == r.kind)
                    && (r.major.is_none() || a.major.is_none() || r.major == a.major)
                    && (r.minor.is_none() || a.minor.is_none() || r.minor == a.minor)
            };
            allow.retain(|(a, _)| !overlaps(a));
            continue;
        }
        for spec in device_specs(r) {
            allow.push((*r, spec));
        }
    }
    let access = |a: u8| {
        let mut s = String::new();
        for (bit, c) in [(2, 'r'), (4, 'w'), (1, 'm')] {
            if a & bit != 0 {
                s.push(c);
            }
        }
        s
    };
    let items = allow
        .into_iter()
        .map(|(r, spec)| Value::Struct(vec![Value::Str(spec), Value::Str(access(r.access))]))
        .collect();
    vec![
        prop("DevicePolicy", Value::Str("strict".into())),
        prop("DeviceAllow", Value::Array("(ss)".into(), items)),
    ]
}

/// How systemd names the devices of one allow rule: `/dev/char/M:N` for
/// one device, `char-NAME` for a major in /proc/devices, `char-*` for all.
fn device_specs(r: &DeviceRule) -> Vec<String> {
    let kinds: &[(&str, char)] = match r.kind {
        'c' => &[("char", 'c')],
        'b' => &[("block", 'b')],
        _ => &[("char", 'c'), ("block", 'b')],
    };
    let mut out = Vec::new();
    for (word, kind) in kinds {
        match (r.major, r.minor) {
            (Some(maj), Some(min)) => out.push(format!("/dev/{word}/{maj}:{min}")),
            (Some(maj), None) => {
                // Every name of that major; none known means no entry
                // (narrower than the rule, never wider).
                let devices = std::fs::read_to_string("/proc/devices").unwrap_or_default();
                out.extend(proc_devices(&devices, *kind, maj).map(|n| format!("{word}-{n}")));
            }
            // A minor without a major cannot be said: left out (narrower).
            (None, Some(_)) => {}
            (None, None) => out.push(format!("{word}-*")),
        }
    }
    out
}

/// The names /proc/devices gives major `major` of `kind` ('c' or 'b').
fn proc_devices(text: &str, kind: char, major: u32) -> impl Iterator<Item = String> + '_ {
    let mut section = ' ';
    text.lines().filter_map(move |l| {
        if l.starts_with("Character") {
            section = 'c';
        } else if l.starts_with("Block") {
            section = 'b';
        }
        let (m, name) = l.trim().split_once(' ')?;
        (section == kind && m.parse() == Ok(major)).then(|| name.trim().to_string())
    })
}

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long systemd may take to start or stop a unit (runc waits 30 s).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// A failure to reach systemd names the flag; systemd's own refusal is
/// passed on with its D-Bus error name, and an errno for the common ones.
fn bus_error(what: &str, e: BusError) -> Error {
    match e {
        BusError::Io(msg) => Error::config(FLAG, format!("{what}: cannot talk to systemd over D-Bus: {msg}")),
        BusError::Remote(name, msg) => Error::Sys {
            errno: match name.as_str() {
                "org.freedesktop.systemd1.UnitExists" => libc::EEXIST,
                "org.freedesktop.systemd1.NoSuchUnit" => libc::ENOENT,
                _ => libc::EIO,
            },
            call: format!("{what}: systemd replied {name}: {msg}"),
        },
    }
}

fn connect(what: &str) -> Result<Connection> {
    check_running()?;
    Connection::system().map_err(|e| bus_error(what, e))
}

/// Runs a manager method that returns a job and waits for the job to end;
/// a job that does not end "done" is an error.
fn run_job(bus: &mut Connection, what: &str, member: &str, body: Vec<Value>) -> Result<()> {
    bus.call(Message::call(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "AddMatch",
        vec![Value::Str(format!(
            "type='signal',sender='{DEST}',path='{PATH}',interface='{MANAGER}',member='JobRemoved'"
        ))],
    ))
    .map_err(|e| bus_error(what, e))?;
    let reply = bus
        .call(Message::call(DEST, PATH, MANAGER, member, body))
        .map_err(|e| bus_error(what, e))?;
    let job = reply
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    // JobRemoved(u id, o job, s unit, s result)
    let done = bus
        .wait_signal(JOB_TIMEOUT, |m| {
            m.member == "JobRemoved" && m.body.get(1).and_then(Value::as_str) == Some(job.as_str())
        })
        .map_err(|e| bus_error(&format!("{what}: waiting for job {job}"), e))?;
    match done.body.get(3).and_then(Value::as_str) {
        Some("done") => Ok(()),
        result => Err(Error::Sys {
            call: format!("{what}: systemd job {job} ended {:?}", result.unwrap_or("?")),
            errno: libc::EIO,
        }),
    }
}

/// Starts `unit` with `pid` in it (a slice gets no pid: the caller writes
/// it into the slice's cgroup) and waits until systemd has made it.
pub(crate) fn start(unit: &Unit, id: &str, pid: i32, mut props: Vec<Value>) -> Result<()> {
    let what = format!("creating systemd unit {}", unit.name);
    let mut bus = connect(&what)?;
    props.push(prop("Description", Value::Str(format!("nook container {id}"))));
    if unit.name.ends_with(".slice") {
        props.push(prop(
            "Wants",
            Value::Array("s".into(), vec![Value::Str(unit.slice.clone())]),
        ));
    } else {
        props.push(prop("Slice", Value::Str(unit.slice.clone())));
        props.push(prop("Delegate", Value::Bool(true)));
        props.push(prop(
            "PIDs",
            Value::Array("u".into(), vec![Value::U32(pid as u32)]),
        ));
    }
    props.push(prop("DefaultDependencies", Value::Bool(false)));
    for acct in [
        "MemoryAccounting",
        "CPUAccounting",
        "TasksAccounting",
        "IOAccounting",
    ] {
        props.push(prop(acct, Value::Bool(true)));
    }
    let body = vec![
        Value::Str(unit.name.clone()),
        Value::Str("replace".into()),
        Value::Array("(sv)".into(), props),
        Value::Array("(sa(sv))".into(), vec![]),
    ];
    let t = std::time::Instant::now();
    run_job(&mut bus, &what, "StartTransientUnit", body)?;
    log::debug!("systemd unit {} started in {:?}", unit.name, t.elapsed());
    Ok(())
}

/// SetUnitProperties (runtime only, as runc): `update`.
pub(crate) fn set_properties(unit: &str, props: Vec<Value>) -> Result<()> {
    if props.is_empty() {
        return Ok(());
    }
    let what = format!("updating systemd unit {unit}");
    let mut bus = connect(&what)?;
    bus.call(Message::call(
        DEST,
        PATH,
        MANAGER,
        "SetUnitProperties",
        vec![
            Value::Str(unit.into()),
            Value::Bool(true),
            Value::Array("(sv)".into(), props),
        ],
    ))
    .map(drop)
    .map_err(|e| bus_error(&what, e))
}

/// Stops `unit` and forgets a failed state, waiting for the stop job. A
/// unit that is gone already (a scope stops by itself when its last
/// process exits) is fine.
pub(crate) fn stop(unit: &str) -> Result<()> {
    let what = format!("stopping systemd unit {unit}");
    let mut bus = connect(&what)?;
    let body = vec![Value::Str(unit.into()), Value::Str("replace".into())];
    match run_job(&mut bus, &what, "StopUnit", body) {
        Err(e) if e.errno() == libc::ENOENT => {}
        other => other?,
    }
    // Only a failed unit is kept after it stopped; anything else is not.
    let _ = bus.call(Message::call(
        DEST,
        PATH,
        MANAGER,
        "ResetFailedUnit",
        vec![Value::Str(unit.into())],
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_expand_as_systemd_does() {
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(
            expand_slice("kubepods-besteffort-pod12.slice").unwrap(),
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice"
        );
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        for bad in [
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            ".slice",
            "a.scope",
            "a/b.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cgroups_path_is_read_as_runc_reads_it() {
        let u = unit(Some(Path::new("system.slice:docker:abc")), "x").unwrap();
        assert_eq!(
            (u.name.as_str(), u.slice.as_str()),
            ("docker-abc.scope", "system.slice")
        );
        assert_eq!(u.cgroup, Path::new("/system.slice/docker-abc.scope"));
        let u = unit(Some(Path::new(":cri-containerd:c1")), "x").unwrap();
        assert_eq!(u.cgroup, Path::new("/system.slice/cri-containerd-c1.scope"));
        let u = unit(
            Some(Path::new("kubepods-besteffort-pod1.slice:cri-containerd:c1")),
            "x",
        )
        .unwrap();
        assert_eq!(
            u.cgroup,
            Path::new("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-c1.scope")
        );
        let u = unit(Some(Path::new("machine.slice::c1")), "x").unwrap();
        assert_eq!(u.name, "c1.scope");
        let u = unit(None, "c9").unwrap();
        assert_eq!(u.cgroup, Path::new("/system.slice/nook-c9.scope"));
        let u = unit(Some(Path::new("a.slice:x:a-b.slice")), "x").unwrap();
        assert_eq!(
            (u.name.as_str(), u.cgroup.as_path()),
            ("a-b.slice", Path::new("/a.slice/a-b.slice"))
        );
        for bad in [
            "/a/b",
            "a:b",
            "x:p:n",
            "a.slice:p:",
            "a.slice:p:../x",
            "a.slice:p:b-c.slice",
        ] {
            let e = unit(Some(Path::new(bad)), "x").unwrap_err().to_string();
            assert!(e.contains("linux.cgroupsPath"), "{bad}: {e}");
        }
    }

    fn names(props: &[Value]) -> Vec<(String, Value)> {
        props
            .iter()
            .map(|p| match p {
                Value::Struct(f) => match (&f[0], &f[1]) {
                    (Value::Str(n), Value::Variant(v)) => (n.clone(), (**v).clone()),
                    _ => panic!("{p:?}"),
                },
                _ => panic!("{p:?}"),
            })
            .collect()
    }

    #[test]
    fn resources_become_runc_s_properties() {
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":134217728,"swap":268435456},"cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0-1,9"},
                "pids":{"limit":-1},"blockIO":{"weight":500,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}]}}"#,
        )
        .unwrap();
        let v2 = names(&properties(&res, &[], true));
        let get = |p: &[(String, Value)], n: &str| p.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get(&v2, "MemoryMax"), Some(Value::U64(134217728)));
        assert_eq!(get(&v2, "MemorySwapMax"), Some(Value::U64(134217728)));
        assert_eq!(get(&v2, "CPUWeight"), Some(Value::U64(39)));
        assert_eq!(get(&v2, "CPUQuotaPerSecUSec"), Some(Value::U64(500_000)));
        assert_eq!(get(&v2, "CPUQuotaPeriodUSec"), Some(Value::U64(100_000)));
        assert_eq!(get(&v2, "TasksMax"), Some(Value::U64(u64::MAX)));
        assert_eq!(
            get(&v2, "AllowedCPUs"),
            Some(Value::Array("y".into(), vec![Value::Byte(3), Value::Byte(2)]))
        );
        assert_eq!(
            get(&v2, "IOReadBandwidthMax"),
            Some(Value::Array(
                "(st)".into(),
                vec![Value::Struct(vec![
                    Value::Str("/dev/block/8:0".into()),
                    Value::U64(1048576)
                ])]
            ))
        );
        let v1 = names(&properties(&res, &[], false));
        assert_eq!(get(&v1, "MemoryLimit"), Some(Value::U64(134217728)));
        assert_eq!(get(&v1, "CPUShares"), Some(Value::U64(1024)));
        assert_eq!(get(&v1, "BlockIOWeight"), Some(Value::U64(500)));
        assert_eq!(get(&v1, "AllowedCPUs"), None);
        // A quota that is no multiple of 10 ms per second is rounded up.
        let res: LinuxResources = serde_json::from_str(r#"{"cpu":{"quota":12345,"period":100000}}"#).unwrap();
        assert_eq!(
            get(&names(&properties(&res, &[], true)), "CPUQuotaPerSecUSec"),
            Some(Value::U64(130_000))
        );
    }

    #[test]
    fn device_rules_become_an_allow_list_never_wider() {
        let rule = |allow, kind, major, minor, access| DeviceRule {
            allow,
            kind,
            major,
            minor,
            access,
        };
        let rules = [
            rule(false, 'a', None, None, 7),
            rule(true, 'c', Some(1), Some(3), 6),
            rule(true, 'c', None, None, 1),
            rule(true, 'b', Some(8), Some(0), 7),
            rule(false, 'b', Some(8), None, 7),
        ];
        let p = names(&device_properties(&rules));
        assert_eq!(p[0], ("DevicePolicy".into(), Value::Str("strict".into())));
        let pair = |a: &str, b: &str| Value::Struct(vec![Value::Str(a.into()), Value::Str(b.into())]);
        assert_eq!(
            p[1].1,
            Value::Array(
                "(ss)".into(),
                vec![pair("/dev/char/1:3", "rw"), pair("char-*", "m")]
            )
        );
        assert_eq!(
            proc_devices(
                "Character devices:\n  1 mem\n  4 tty\n  4 ttyS\n\nBlock devices:\n  8 sd\n",
                'c',
                4
            )
            .collect::<Vec<_>>(),
            ["tty", "ttyS"]
        );
    }
}

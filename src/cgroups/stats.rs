//! Usage counters, typed, serialising to the `data` object of runc's
//! `events --stats` JSON, so tools written against runc read nook's too.
//!
//! Times are nanoseconds and sizes bytes on both cgroup versions (v2 reports
//! microseconds; v1's `cpuacct.stat` reports USER_HZ ticks); "no limit" is
//! reported as `u64::MAX` for memory and as 0 for pids, as runc does.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::layout::Version;
use crate::error::Result;

/// All counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: CpuStats,
    /// Memory and swap.
    pub memory: MemoryStats,
    /// Process count.
    pub pids: PidsStats,
    /// Block I/O.
    pub blkio: BlkioStats,
    /// Huge pages, by page size (`2MB`).
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// runc's `Cpu`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    /// Time used.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: Throttling,
}

/// runc's `CpuUsage` (nanoseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Total CPU time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per CPU (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Time in the kernel.
    pub kernel: u64,
    /// Time in user space.
    pub user: u64,
}

/// runc's `Throttling`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttling {
    /// Enforcement periods that elapsed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    #[serde(default, rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total throttled time (ns).
    #[serde(default, rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// runc's `Memory`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Page cache (v1 `total_cache`, v2 `file`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// v1: memory+swap; v2: swap plus memory, to match v1's meaning.
    pub swap: MemoryEntry,
    /// Kernel memory (v1 only).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 only).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// `memory.stat`, verbatim.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// runc's `MemoryEntry`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// The limit (`u64::MAX` when unlimited).
    pub limit: u64,
    /// Current usage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// runc's `Pids`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Processes and threads in the cgroup.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    /// `pids.max`, 0 when unlimited.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// runc's `Blkio` (the entries nook can fill on both versions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// Bytes read and written, per device.
    #[serde(
        default,
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Read and write operations, per device.
    #[serde(
        default,
        rename = "ioServicedRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// runc's `BlkioEntry`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The counter.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// runc's `Hugetlb`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugetlbStats {
    /// Bytes in use.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak bytes (v1 only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Allocations that failed on the limit.
    pub failcnt: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Reads a one-number file; missing files and "max" read as `max_as`.
fn num(dir: &Path, file: &str, max_as: u64) -> u64 {
    match fs::read_to_string(dir.join(file)) {
        Ok(s) if s.trim() == "max" => max_as,
        Ok(s) => s.trim().parse().unwrap_or(0),
        Err(_) => 0,
    }
}

/// Reads a flat keyed file (`key value` lines) such as `cpu.stat`.
fn keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    fs::read_to_string(dir.join(file))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Collects every counter; `dir_of(controller)` says where that
/// controller's files are. Missing controllers leave their part zero.
pub(crate) fn collect<'a>(dir_of: impl Fn(&str) -> Option<(&'a Path, Version)>) -> Result<Stats> {
    let mut s = Stats::default();
    if let Some((d, v)) = dir_of("cpu") {
        let st = keyed(d, "cpu.stat");
        let g = |k: &str| st.get(k).copied().unwrap_or(0);
        s.cpu.throttling = Throttling {
            periods: g("nr_periods"),
            throttled_periods: g("nr_throttled"),
            throttled_time: match v {
                Version::V1 => g("throttled_time"),
                Version::V2 => g("throttled_usec") * 1000,
            },
        };
        if v == Version::V2 {
            s.cpu.usage.total = g("usage_usec") * 1000;
            s.cpu.usage.user = g("user_usec") * 1000;
            s.cpu.usage.kernel = g("system_usec") * 1000;
        }
    }
    if let Some((d, Version::V1)) = dir_of("cpuacct") {
        s.cpu.usage.total = num(d, "cpuacct.usage", 0);
        s.cpu.usage.percpu = fs::read_to_string(d.join("cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        // cpuacct.stat counts USER_HZ (100 on every Linux ABI) ticks.
        let st = keyed(d, "cpuacct.stat");
        s.cpu.usage.user = st.get("user").copied().unwrap_or(0) * 10_000_000;
        s.cpu.usage.kernel = st.get("system").copied().unwrap_or(0) * 10_000_000;
    }
    if let Some((d, v)) = dir_of("memory") {
        let m = &mut s.memory;
        m.raw = keyed(d, "memory.stat");
        match v {
            Version::V1 => {
                let entry = |p: &str| MemoryEntry {
                    limit: num(d, &format!("{p}limit_in_bytes"), u64::MAX),
                    usage: num(d, &format!("{p}usage_in_bytes"), 0),
                    max: num(d, &format!("{p}max_usage_in_bytes"), 0),
                    failcnt: num(d, &format!("{p}failcnt"), 0),
                };
                m.usage = entry("memory.");
                m.swap = entry("memory.memsw.");
                m.kernel = entry("memory.kmem.");
                m.kernel_tcp = entry("memory.kmem.tcp.");
                m.cache = m.raw.get("total_cache").copied().unwrap_or(0);
            }
            Version::V2 => {
                let events = keyed(d, "memory.events");
                m.usage = MemoryEntry {
                    limit: num(d, "memory.max", u64::MAX),
                    usage: num(d, "memory.current", 0),
                    max: num(d, "memory.peak", 0),
                    failcnt: events.get("max").copied().unwrap_or(0),
                };
                let swap_limit = num(d, "memory.swap.max", u64::MAX);
                m.swap = MemoryEntry {
                    limit: swap_limit.saturating_add(m.usage.limit),
                    usage: num(d, "memory.swap.current", 0) + m.usage.usage,
                    max: 0,
                    failcnt: 0,
                };
                m.cache = m.raw.get("file").copied().unwrap_or(0);
            }
        }
    }
    if let Some((d, _)) = dir_of("pids") {
        s.pids = PidsStats {
            current: num(d, "pids.current", 0),
            limit: num(d, "pids.max", 0),
        };
    }
    match dir_of("blkio").or_else(|| dir_of("io")) {
        Some((d, Version::V1)) => {
            let parse = |file: &str| -> Vec<BlkioEntry> {
                fs::read_to_string(d.join(file))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| {
                        let mut f = l.split_whitespace();
                        let (dev, op, val) = (f.next()?, f.next()?, f.next()?);
                        let (maj, min) = dev.split_once(':')?;
                        Some(BlkioEntry {
                            major: maj.parse().ok()?,
                            minor: min.parse().ok()?,
                            op: op.to_string(),
                            value: val.parse().ok()?,
                        })
                    })
                    .collect()
            };
            s.blkio.io_service_bytes_recursive = parse("blkio.throttle.io_service_bytes_recursive");
            s.blkio.io_serviced_recursive = parse("blkio.throttle.io_serviced_recursive");
        }
        Some((d, Version::V2)) => {
            for line in fs::read_to_string(d.join("io.stat")).unwrap_or_default().lines() {
                let mut f = line.split_whitespace();
                let Some((maj, min)) = f.next().and_then(|dev| dev.split_once(':')) else {
                    continue;
                };
                let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
                    continue;
                };
                for kv in f {
                    let Some((k, v)) = kv.split_once('=') else {
                        continue;
                    };
                    let Ok(value) = v.parse() else { continue };
                    let (list, op) = match k {
                        "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                        "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                        "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                        "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                        _ => continue,
                    };
                    list.push(BlkioEntry {
                        major,
                        minor,
                        op: op.into(),
                        value,
                    });
                }
            }
        }
        None => {}
    }
    if let Some((d, v)) = dir_of("hugetlb") {
        let suffix = match v {
            Version::V1 => ".usage_in_bytes",
            Version::V2 => ".current",
        };
        for e in fs::read_dir(d)
            .map_err(|e| crate::Error::io("listing", d, e))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(size) = name.strip_prefix("hugetlb.").and_then(|n| n.strip_suffix(suffix)) else {
                continue;
            };
            if size.contains('.') {
                continue; // hugetlb.2MB.rsvd.*
            }
            let h = match v {
                Version::V1 => HugetlbStats {
                    usage: num(d, &name, 0),
                    max: num(d, &format!("hugetlb.{size}.max_usage_in_bytes"), 0),
                    failcnt: num(d, &format!("hugetlb.{size}.failcnt"), 0),
                },
                Version::V2 => HugetlbStats {
                    usage: num(d, &name, 0),
                    max: 0,
                    failcnt: keyed(d, &format!("hugetlb.{size}.events"))
                        .get("max")
                        .copied()
                        .unwrap_or(0),
                },
            };
            s.hugetlb.insert(size.to_string(), h);
        }
    }
    Ok(s)
}

/// How many processes the OOM killer killed in this cgroup (v1
/// `memory.oom_control` since Linux 4.13, v2 `memory.events`).
pub(crate) fn oom_kills(dir: &Path, v: Version) -> u64 {
    let file = match v {
        Version::V1 => "memory.oom_control",
        Version::V2 => "memory.events",
    };
    keyed(dir, file).get("oom_kill").copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_files_become_runc_json() {
        let d = tempfile::tempdir().unwrap();
        let w = |f: &str, s: &str| fs::write(d.path().join(f), s).unwrap();
        w(
            "cpu.stat",
            "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\nnr_throttled 1\nthrottled_usec 2\n",
        );
        w("memory.current", "4096\n");
        w("memory.max", "max\n");
        w("memory.stat", "anon 1\nfile 2\n");
        w("pids.current", "3\n");
        w("pids.max", "max\n");
        w(
            "io.stat",
            "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
        );
        w("hugetlb.2MB.current", "0\n");
        w("hugetlb.2MB.events", "max 5\n");
        let p = d.path();
        let s = collect(|_| Some((p, Version::V2))).unwrap();
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["cpu"]["usage"]["total"], 10_000);
        assert_eq!(j["cpu"]["usage"]["kernel"], 4_000);
        assert_eq!(j["cpu"]["throttling"]["throttledTime"], 2_000);
        assert_eq!(j["memory"]["usage"]["usage"], 4096);
        assert_eq!(j["memory"]["usage"]["limit"], u64::MAX);
        assert_eq!(j["memory"]["cache"], 2);
        assert_eq!(j["pids"], serde_json::json!({"current": 3}));
        assert_eq!(
            j["blkio"]["ioServiceBytesRecursive"][1],
            serde_json::json!({"major":8,"op":"Write","value":200})
        );
        assert_eq!(j["hugetlb"]["2MB"], serde_json::json!({"failcnt": 5}));
    }
}

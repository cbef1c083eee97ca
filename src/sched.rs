//! How the process is scheduled: `process.scheduler` (sched_setattr),
//! `process.ioPriority` (ioprio_set), `process.execCPUAffinity`
//! (sched_setaffinity) and `linux.personality` (personality).
//!
//! Validated and encoded in the parent; applied by the child before it
//! drops its capabilities (real-time policies and raising priority need
//! CAP_SYS_NICE), with allocation-free system calls only.
#![forbid(unsafe_code)]

use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy, Process, Spec,
};

use crate::error::{Error, Result};
use crate::step::{ChildError, Step, StepExt};
use crate::sys::{self, SchedAttr};

/// The validated scheduling settings of a process.
#[derive(Debug, Clone)]
pub struct SchedPlan {
    /// `personality(2)` persona.
    pub personality: Option<u64>,
    /// `sched_setattr(2)` attributes.
    pub attr: Option<SchedAttr>,
    /// `ioprio_set(2)` value: class << 13 | level.
    pub ioprio: Option<i32>,
    /// CPUs to run on (bit N = CPU N), for `sched_setaffinity(2)`: all
    /// of them unless `process.execCPUAffinity` says otherwise.
    pub affinity: Vec<u64>,
}

impl SchedPlan {
    /// Validates the process's scheduler, I/O priority and CPU affinity.
    pub fn from_process(p: &Process) -> Result<SchedPlan> {
        // Without execCPUAffinity the process may use every CPU its cgroup
        // allows, not only those of the runtime that started it (a shim or
        // a `taskset` caller pinned to one): the kernel narrows the full
        // mask to the cpuset, as runc 1.2's reset does (cpu_affinity.bats).
        let mut plan = SchedPlan {
            personality: None,
            attr: None,
            ioprio: None,
            affinity: vec![u64::MAX; 16],
        };
        if let Some(s) = p.scheduler() {
            let f = |x: &str| format!("process.scheduler.{x}");
            let (policy, rt) = match s.policy() {
                LinuxSchedulerPolicy::SchedOther => (libc::SCHED_OTHER, false),
                LinuxSchedulerPolicy::SchedFifo => (libc::SCHED_FIFO, true),
                LinuxSchedulerPolicy::SchedRr => (libc::SCHED_RR, true),
                LinuxSchedulerPolicy::SchedBatch => (libc::SCHED_BATCH, false),
                LinuxSchedulerPolicy::SchedIdle => (libc::SCHED_IDLE, false),
                LinuxSchedulerPolicy::SchedDeadline => (6, false),
                LinuxSchedulerPolicy::SchedIso => {
                    return Err(Error::config(f("policy"), "SCHED_ISO does not exist in Linux"))
                }
            };
            let nice = s.nice().unwrap_or(0);
            if !(-20..=19).contains(&nice) {
                return Err(Error::config(f("nice"), "must be between -20 and 19"));
            }
            let priority = s.priority().unwrap_or(0);
            match (rt, priority) {
                (true, 1..=99) | (false, 0) => {}
                (true, _) => {
                    return Err(Error::config(
                        f("priority"),
                        "must be 1-99 for SCHED_FIFO and SCHED_RR",
                    ))
                }
                (false, _) => {
                    return Err(Error::config(
                        f("priority"),
                        "must be 0 unless the policy is real-time",
                    ))
                }
            }
            let deadline = policy == 6;
            let (runtime, dl, period) = (
                s.runtime().unwrap_or(0),
                s.deadline().unwrap_or(0),
                s.period().unwrap_or(0),
            );
            if deadline && (runtime == 0 || runtime > dl || (period != 0 && dl > period)) {
                return Err(Error::config(
                    f("runtime"),
                    "SCHED_DEADLINE needs 0 < runtime <= deadline <= period",
                ));
            }
            let flags = s.flags().iter().flatten().fold(0u64, |acc, fl| {
                acc | match fl {
                    LinuxSchedulerFlag::SchedResetOnFork => 0x01,
                    LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
                    LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
                    LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
                    LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
                    LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
                    LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
                }
            });
            plan.attr = Some(SchedAttr {
                policy: policy as u32,
                flags,
                nice,
                priority: priority as u32,
                runtime,
                deadline: dl,
                period,
            });
        }
        if let Some(io) = p.io_priority() {
            let class = match io.class() {
                IOPriorityClass::IoprioClassRt => 1,
                IOPriorityClass::IoprioClassBe => 2,
                IOPriorityClass::IoprioClassIdle => 3,
            };
            if !(0..=7).contains(&io.priority()) {
                return Err(Error::config(
                    "process.ioPriority.priority",
                    "must be between 0 and 7",
                ));
            }
            plan.ioprio = Some(class << 13 | io.priority() as i32);
        }
        if let Some(a) = p.exec_cpu_affinity() {
            // The init is in its cgroup before it runs anything, so the
            // affinity it execs with is `final` (else `initial`).
            let (field, list) = match (a.cpu_affinity_final(), a.initial()) {
                (Some(l), _) => ("process.execCPUAffinity.final", l),
                (None, Some(l)) => ("process.execCPUAffinity.initial", l),
                (None, None) => return Ok(plan),
            };
            let cpus = crate::cgroups::parse_list(list).map_err(|e| Error::config(field, e))?;
            let max = cpus.iter().max().copied().unwrap_or(0);
            if cpus.is_empty() || max >= 1024 {
                return Err(Error::config(field, "must name CPUs below 1024"));
            }
            let mut mask = vec![0u64; 16];
            for c in cpus {
                mask[c as usize / 64] |= 1 << (c % 64);
            }
            plan.affinity = mask;
        }
        Ok(plan)
    }

    /// Adds `linux.personality`: container-wide, for the init and every
    /// exec'd process alike.
    pub fn with_personality(mut self, spec: &Spec) -> Result<SchedPlan> {
        if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
            if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
                return Err(Error::config(
                    "linux.personality.flags",
                    "no personality flags are supported",
                ));
            }
            self.personality = Some(match p.domain() {
                LinuxPersonalityDomain::PerLinux => 0x0000,
                LinuxPersonalityDomain::PerLinux32 => 0x0008,
            });
        }
        Ok(self)
    }
}

/// Which call of [`apply`] failed: the item of its `Step::Scheduling`
/// error, by which the parent words the failure.
pub mod call {
    /// personality(2).
    pub const PERSONALITY: usize = 0;
    /// sched_setattr(2): the policy.
    pub const SCHEDULER: usize = 1;
    /// ioprio_set(2).
    pub const IOPRIO: usize = 2;
    /// sched_setaffinity(2).
    pub const AFFINITY: usize = 3;
}

/// Child: applies the plan (before capabilities are dropped). The CPUs
/// come before the policy: SCHED_DEADLINE is refused (EPERM) to a thread
/// that may not run on every CPU, such as one still pinned like its caller.
pub fn apply(plan: &SchedPlan) -> Result<(), ChildError> {
    if let Some(p) = plan.personality {
        sys::personality(p).step_at(Step::Scheduling, call::PERSONALITY)?;
    }
    sys::sched_setaffinity(&plan.affinity).step_at(Step::Scheduling, call::AFFINITY)?;
    if let Some(attr) = &plan.attr {
        sys::sched_setattr(attr).step_at(Step::Scheduling, call::SCHEDULER)?;
    }
    if let Some(prio) = plan.ioprio {
        sys::ioprio_set(prio).step_at(Step::Scheduling, call::IOPRIO)?;
    }
    Ok(())
}

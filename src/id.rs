//! Container ids. An id names a directory under the state root and, by
//! default, a cgroup, so every area that turns one into a path checks it
//! here first.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};

/// Checks a container id: runc's rule, letters, digits and `_ + - .`, not
/// `.` or `..` (it becomes a directory name under the state root).
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "id",
            format!("invalid container id {id:?}: use letters, digits and _ + - ."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["a", "web-1", "x_y.z+1"] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }
}

//! Device access rules: v1 `devices.allow`/`devices.deny` lines, or a
//! cgroup v2 `BPF_PROG_TYPE_CGROUP_DEVICE` program (Linux 4.15+).
//!
//! Semantics are runc's: rules apply in spec order on top of "everything
//! allowed", so the usual spec starts with a deny-all rule and then allows
//! what the container needs; a later rule overrides an earlier one. cgroup v2
//! has no devices controller, only a BPF hook that is asked for every
//! open/mknod of a device node, so the rule list is compiled into a program
//! that checks the rules last-first and returns the first match.
#![forbid(unsafe_code)]

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::resources::Write;
use crate::error::{Error, Result};
use crate::sys::BpfInsn;

/// Access bits as the BPF context encodes them (`BPF_DEVCG_ACC_*`).
const ACC_MKNOD: u8 = 1;
const ACC_READ: u8 = 2;
const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One validated `linux.resources.devices` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeviceRule {
    /// Allow (true) or deny.
    pub allow: bool,
    /// `a` (all), `b` or `c`.
    pub kind: char,
    /// None matches every major.
    pub major: Option<u32>,
    /// None matches every minor.
    pub minor: Option<u32>,
    /// `ACC_*` bits.
    pub access: u8,
}

/// The device policy of every container, whatever the spec says (runc's):
/// deny everything, then the spec's `linux.resources.devices` in order, and
/// last runc's default list (libcontainer/specconv `AllowedDevices`): mknod
/// of any device, the standard nodes and ptys. A spec without device rules
/// therefore still gets the default list only, never "everything" (a loop
/// or fuse node in the image stays unusable). Rootless mode drops the rules
/// afterwards, as the caller cannot write them.
///
/// A node of `linux.devices` is made, not allowed: as with runc, only a
/// rule of the spec lets the container use it (engines add one for every
/// device they pass), so a deny-all in the spec holds for it too.
pub fn with_runtime_defaults(res: Option<&LinuxResources>) -> LinuxResources {
    let mut res = res.cloned().unwrap_or_default();
    let rule = |allow, typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_string()));
        r
    };
    let mut all = vec![rule(false, LinuxDeviceType::A, None, None, "rwm")];
    all.extend(res.devices().iter().flatten().cloned());
    all.extend([
        rule(true, LinuxDeviceType::C, None, None, "m"),
        rule(true, LinuxDeviceType::B, None, None, "m"),
        rule(true, LinuxDeviceType::C, Some(1), Some(3), "rwm"),
        rule(true, LinuxDeviceType::C, Some(1), Some(8), "rwm"),
        rule(true, LinuxDeviceType::C, Some(1), Some(7), "rwm"),
        rule(true, LinuxDeviceType::C, Some(5), Some(0), "rwm"),
        rule(true, LinuxDeviceType::C, Some(1), Some(5), "rwm"),
        rule(true, LinuxDeviceType::C, Some(1), Some(9), "rwm"),
        rule(true, LinuxDeviceType::C, Some(136), None, "rwm"),
        rule(true, LinuxDeviceType::C, Some(5), Some(2), "rwm"),
    ]);
    res.set_devices(Some(all));
    res
}

/// Validates the spec's device rules.
pub(crate) fn parse(rules: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let field = format!("linux.resources.devices[{i}]");
            let kind = match r.typ().unwrap_or_default() {
                LinuxDeviceType::A => 'a',
                LinuxDeviceType::B => 'b',
                LinuxDeviceType::C => 'c',
                other => {
                    return Err(Error::config(
                        format!("{field}.type"),
                        format!("{:?} is not a cgroup device type (a, b or c)", other.as_str()),
                    ))
                }
            };
            let num = |name: &str, v: Option<i64>| match v {
                None | Some(-1) => Ok(None),
                // BPF immediates are signed 32-bit.
                Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as u32)),
                Some(n) => Err(Error::config(
                    format!("{field}.{name}"),
                    format!("{n} is not a device number"),
                )),
            };
            let major = num("major", r.major())?;
            let minor = num("minor", r.minor())?;
            let mut access = 0;
            for c in r.access().as_deref().unwrap_or("").chars() {
                let bit = match c {
                    'r' => ACC_READ,
                    'w' => ACC_WRITE,
                    'm' => ACC_MKNOD,
                    _ => {
                        return Err(Error::config(
                            format!("{field}.access"),
                            format!("{c:?} is not one of r, w, m"),
                        ))
                    }
                };
                if access & bit != 0 {
                    return Err(Error::config(
                        format!("{field}.access"),
                        format!("{c:?} given twice"),
                    ));
                }
                access |= bit;
            }
            // An empty access string means all access, as in runc.
            if access == 0 {
                access = ACC_ALL;
            }
            Ok(DeviceRule {
                allow: r.allow(),
                kind,
                major,
                minor,
                access,
            })
        })
        .collect()
}

impl DeviceRule {
    /// The v1 line: `c 1:3 rwm`, `a *:* rwm`.
    fn v1_line(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        let mut acc = String::new();
        for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                acc.push(c);
            }
        }
        format!("{} {}:{} {acc}", self.kind, n(self.major), n(self.minor))
    }
}

/// The v1 writes, one per rule, in spec order.
pub(crate) fn v1_writes(rules: &[DeviceRule]) -> Vec<Write> {
    rules
        .iter()
        .map(|r| Write {
            controller: "devices",
            candidates: vec![(
                if r.allow { "devices.allow" } else { "devices.deny" }.into(),
                r.v1_line(),
            )],
            optional: false,
        })
        .collect()
}

// eBPF opcodes (linux/bpf.h, linux/bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_MOV_X: u8 = 0xbf;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2; // device type
const R3: u8 = 3; // requested access
const R4: u8 = 4; // major
const R5: u8 = 5; // minor

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// Compiles `rules` into a cgroup device program.
///
/// The context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
/// u32 minor; }` with `access_type = access << 16 | type`. The program checks
/// the rules last-first; an allow rule matches when it grants every access
/// asked for, a deny rule when it forbids any of them; with no match the
/// answer is "allow" (the state before the first rule).
pub(crate) fn bpf_program(rules: &[DeviceRule]) -> Vec<BpfInsn> {
    let mut p = vec![
        insn(LDX_MEM_W, R2, R1, 0, 0),
        insn(ALU64_AND_K, R2, 0, 0, 0xffff),
        insn(LDX_MEM_W, R3, R1, 0, 0),
        insn(ALU64_RSH_K, R3, 0, 0, 16),
        insn(LDX_MEM_W, R4, R1, 4, 0),
        insn(LDX_MEM_W, R5, R1, 8, 0),
    ];
    for r in rules.iter().rev() {
        // Each check jumps past the rest of the block when it does not match.
        let mut checks: Vec<(u8, u8, i32)> = Vec::new();
        match r.kind {
            'b' => checks.push((JMP_JNE_K, R2, 1)), // BPF_DEVCG_DEV_BLOCK
            'c' => checks.push((JMP_JNE_K, R2, 2)), // BPF_DEVCG_DEV_CHAR
            _ => {}
        }
        let mut block = Vec::new();
        let mut jumps = Vec::new();
        for (code, reg, imm) in checks {
            jumps.push(block.len());
            block.push(insn(code, reg, 0, 0, imm));
        }
        block.push(insn(ALU64_MOV_X, R1, R3, 0, 0));
        if r.allow {
            // Skip unless (asked & !granted) == 0.
            block.push(insn(ALU64_AND_K, R1, 0, 0, i32::from(!r.access & ACC_ALL)));
            jumps.push(block.len());
            block.push(insn(JMP_JNE_K, R1, 0, 0, 0));
        } else {
            // Skip unless (asked & denied) != 0.
            block.push(insn(ALU64_AND_K, R1, 0, 0, i32::from(r.access)));
            jumps.push(block.len());
            block.push(insn(JMP_JEQ_K, R1, 0, 0, 0));
        }
        for (reg, v) in [(R4, r.major), (R5, r.minor)] {
            if let Some(v) = v {
                jumps.push(block.len());
                block.push(insn(JMP_JNE_K, reg, 0, 0, v as i32));
            }
        }
        block.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(r.allow)));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for j in jumps {
            block[j].off = (len - j - 1) as i16;
        }
        p.extend(block);
    }
    p.push(insn(ALU64_MOV_K, R0, 0, 0, 1));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Result<Vec<DeviceRule>> {
        parse(&serde_json::from_str::<Vec<LinuxDeviceCgroup>>(json).unwrap())
    }

    /// Runs the generated program on one request, interpreting exactly the
    /// instructions `bpf_program` emits, so the rule semantics are tested
    /// without loading anything into a kernel.
    fn run(prog: &[BpfInsn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [access << 16 | kind, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = u64::from(ctx[i.off as usize / 4]),
                ALU64_AND_K => r[dst] &= imm,
                ALU64_RSH_K => r[dst] >>= imm,
                ALU64_MOV_K => r[dst] = imm,
                ALU64_MOV_X => r[dst] = r[src],
                JMP_JEQ_K if r[dst] == imm => pc += i.off as usize,
                JMP_JNE_K if r[dst] != imm => pc += i.off as usize,
                JMP_JEQ_K | JMP_JNE_K => {}
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn default_deny_then_allow_null() {
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"c","major":5,"minor":-1,"access":"r"}]"#,
        )
        .unwrap();
        let p = bpf_program(&r);
        const C: u32 = 2;
        const B: u32 = 1;
        let rw = u32::from(ACC_READ | ACC_WRITE);
        assert_eq!(run(&p, C, rw, 1, 3), 1, "/dev/null read-write");
        assert_eq!(run(&p, C, rw, 1, 5), 0, "/dev/zero is not allowed");
        assert_eq!(run(&p, B, rw, 1, 3), 0, "block 1:3 is not char 1:3");
        assert_eq!(run(&p, C, u32::from(ACC_READ), 5, 7), 1, "5:* readable");
        assert_eq!(run(&p, C, rw, 5, 7), 0, "5:* not writable");
        let lines: Vec<_> = v1_writes(&r)
            .into_iter()
            .map(|w| w.candidates[0].clone())
            .collect();
        assert_eq!(
            lines,
            vec![
                ("devices.deny".to_string(), "a *:* rwm".to_string()),
                ("devices.allow".to_string(), "c 1:3 rwm".to_string()),
                ("devices.allow".to_string(), "c 5:* r".to_string()),
            ]
        );
    }

    #[test]
    fn later_deny_overrides_earlier_allow() {
        let r = rules(r#"[{"allow":true,"type":"c","major":1,"minor":3},{"allow":false,"type":"c","major":1,"minor":3,"access":"w"}]"#)
            .unwrap();
        let p = bpf_program(&r);
        assert_eq!(run(&p, 2, u32::from(ACC_READ), 1, 3), 1);
        assert_eq!(run(&p, 2, u32::from(ACC_READ | ACC_WRITE), 1, 3), 0);
        // Nothing denies other devices: the starting state is allow-all.
        assert_eq!(run(&p, 1, u32::from(ACC_READ), 8, 0), 1);
    }

    #[test]
    fn without_rules_the_runtime_policy_denies_what_it_does_not_list() {
        let res = with_runtime_defaults(None);
        let r = parse(res.devices().as_ref().unwrap()).unwrap();
        assert_eq!(
            v1_writes(&r)[0].candidates[0],
            ("devices.deny".to_string(), "a *:* rwm".to_string())
        );
        assert_eq!(r.len(), 1 + 10);
        let p = bpf_program(&r);
        let (c, b) = (2, 1);
        let rw = u32::from(ACC_READ | ACC_WRITE);
        assert_eq!(run(&p, c, rw, 10, 237), 0, "loop-control");
        assert_eq!(run(&p, c, rw, 10, 229), 0, "fuse");
        assert_eq!(run(&p, b, rw, 7, 0), 0, "loop0");
        assert_eq!(run(&p, c, rw, 10, 200), 0, "tun is not in runc's list any more");
        assert_eq!(run(&p, c, rw, 1, 3), 1, "null");
        assert_eq!(run(&p, c, rw, 136, 4), 1, "a pty");
        assert_eq!(run(&p, b, u32::from(ACC_MKNOD), 7, 0), 1, "mknod of anything");
    }

    #[test]
    fn a_deny_all_of_the_spec_is_not_undone_for_its_device_nodes() {
        // runc's dev.bats "device cgroup deny": /dev/kmsg in linux.devices,
        // `{"allow": false, "access": "rwm"}` in the rules: kmsg stays shut.
        let spec: LinuxResources =
            serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        let r = parse(with_runtime_defaults(Some(&spec)).devices().as_ref().unwrap()).unwrap();
        let p = bpf_program(&r);
        assert_eq!(run(&p, 2, u32::from(ACC_READ | ACC_WRITE), 1, 11), 0, "kmsg");
        assert_eq!(
            run(&p, 2, u32::from(ACC_READ | ACC_WRITE), 1, 3),
            1,
            "null, runc's default"
        );
    }

    #[test]
    fn malformed_rules_are_rejected() {
        let e = rules(r#"[{"allow":true,"access":"rx"}]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("devices[0].access"), "{e}");
        let e = rules(r#"[{"allow":true,"access":"rr"}]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("given twice"), "{e}");
        let e = rules(r#"[{"allow":true},{"allow":true,"type":"p"}]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("devices[1].type"), "{e}");
        let e = rules(r#"[{"allow":true,"major":-3}]"#).unwrap_err().to_string();
        assert!(e.contains("devices[0].major"), "{e}");
    }
}

//! A classic-BPF interpreter for seccomp programs, written from the kernel's
//! rules (net/core/filter.c `bpf_check_classic`, kernel/seccomp.c
//! `seccomp_check_filter`), independent of nook's generator: the fuzz
//! oracle runs compiled programs here, so a generator bug cannot hide
//! behind a matching bug in the checker.

use libc::sock_filter;

/// `struct seccomp_data` as the filter sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// Syscall number (x32 numbers include `__X32_SYSCALL_BIT`).
    pub nr: u32,
    /// `AUDIT_ARCH_*`.
    pub arch: u32,
    /// Instruction pointer (never compared by nook's programs).
    pub ip: u64,
    /// The six syscall arguments.
    pub args: [u64; 6],
}

/// `sizeof(struct seccomp_data)`.
pub const SECCOMP_DATA_LEN: u32 = 64;

impl SeccompData {
    /// The 32-bit word at byte `off` of the struct, in native byte order,
    /// as `BPF_LD|BPF_W|BPF_ABS` reads it.
    fn word(&self, off: u32) -> u32 {
        let mut bytes = [0u8; SECCOMP_DATA_LEN as usize];
        bytes[0..4].copy_from_slice(&self.nr.to_ne_bytes());
        bytes[4..8].copy_from_slice(&self.arch.to_ne_bytes());
        bytes[8..16].copy_from_slice(&self.ip.to_ne_bytes());
        for (i, a) in self.args.iter().enumerate() {
            bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        let o = off as usize;
        u32::from_ne_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]])
    }
}

// Instruction classes and fields (linux/bpf_common.h), spelled out here
// rather than taken from libc so the checker owes nothing to the generator.
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const K: u16 = 0x00;
const X: u16 = 0x08;
const A: u16 = 0x10;
const MEMWORDS: u32 = 16;
const MAXINSNS: usize = 4096;

/// Why the kernel would refuse a program, or why running it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BpfError {
    /// Empty or longer than BPF_MAXINSNS.
    Length(usize),
    /// An opcode seccomp does not allow, at this index.
    Opcode(usize, u16),
    /// A jump out of the program, at this index.
    Jump(usize),
    /// A load outside `seccomp_data` or misaligned, at this index.
    Load(usize, u32),
    /// A scratch memory slot out of range, at this index.
    Mem(usize, u32),
    /// Division or modulo by a constant zero, at this index.
    DivZero(usize),
    /// The last instruction is not a return.
    NoFinalRet,
    /// Scratch memory read before it was written, at this index.
    UninitMem(usize, u32),
}

/// Checks `prog` the way `seccomp_check_filter` and `bpf_check_classic` do.
pub fn check(prog: &[sock_filter]) -> Result<(), BpfError> {
    if prog.is_empty() || prog.len() > MAXINSNS {
        return Err(BpfError::Length(prog.len()));
    }
    for (pc, i) in prog.iter().enumerate() {
        let class = i.code & 0x07;
        match class {
            LD | LDX => {
                let mode = i.code & 0xe0;
                let size = i.code & 0x18;
                match (mode, size) {
                    (ABS, W) if class == LD => {
                        if i.k >= SECCOMP_DATA_LEN || i.k % 4 != 0 {
                            return Err(BpfError::Load(pc, i.k));
                        }
                    }
                    (LEN, W) | (IMM, W) => {}
                    (MEM, W) => {
                        if i.k >= MEMWORDS {
                            return Err(BpfError::Mem(pc, i.k));
                        }
                    }
                    _ => return Err(BpfError::Opcode(pc, i.code)),
                }
            }
            ST | STX => {
                if i.code != class {
                    return Err(BpfError::Opcode(pc, i.code));
                }
                if i.k >= MEMWORDS {
                    return Err(BpfError::Mem(pc, i.k));
                }
            }
            ALU => {
                let op = i.code & 0xf0;
                if !matches!(
                    op,
                    0x00 | 0x10 | 0x20 | 0x30 | 0x40 | 0x50 | 0x60 | 0x70 | 0x80 | 0x90 | 0xa0
                ) || (i.code & 0x08 != 0 && op == 0x80)
                {
                    return Err(BpfError::Opcode(pc, i.code));
                }
                if (op == 0x30 || op == 0x90) && i.code & X == 0 && i.k == 0 {
                    return Err(BpfError::DivZero(pc));
                }
                if (op == 0x60 || op == 0x70) && i.code & X == 0 && i.k >= 32 {
                    return Err(BpfError::Opcode(pc, i.code));
                }
            }
            JMP => {
                let op = i.code & 0xf0;
                let rest = prog.len() - pc - 1;
                match op {
                    0x00 if i.code == JMP => {
                        if i.k as usize >= rest {
                            return Err(BpfError::Jump(pc));
                        }
                    }
                    0x10 | 0x20 | 0x30 | 0x40 => {
                        if i.jt as usize >= rest || i.jf as usize >= rest {
                            return Err(BpfError::Jump(pc));
                        }
                    }
                    _ => return Err(BpfError::Opcode(pc, i.code)),
                }
            }
            RET => {
                if !matches!(i.code & 0x18, K | A) || i.code & !0x18 != RET {
                    return Err(BpfError::Opcode(pc, i.code));
                }
            }
            MISC => {
                if i.code != MISC && i.code != MISC | 0x80 {
                    return Err(BpfError::Opcode(pc, i.code));
                }
            }
            _ => unreachable!("class is 3 bits"),
        }
    }
    if prog[prog.len() - 1].code & 0x07 != RET {
        return Err(BpfError::NoFinalRet);
    }
    Ok(())
}

/// Runs a program that passed [`check`] on `data` and returns its
/// `SECCOMP_RET_*` value. Jumps only go forward, so this ends within
/// `prog.len()` steps. (Checked once by the caller, not per run: the
/// oracle runs one program thousands of times.)
pub fn run(prog: &[sock_filter], data: &SeccompData) -> Result<u32, BpfError> {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [None::<u32>; MEMWORDS as usize];
    let mut pc = 0usize;
    loop {
        let i = *prog.get(pc).ok_or(BpfError::NoFinalRet)?;
        let mut next = pc + 1;
        match i.code & 0x07 {
            LD | LDX => {
                let v = match i.code & 0xe0 {
                    ABS if i.k < SECCOMP_DATA_LEN && i.k % 4 == 0 => data.word(i.k),
                    ABS => return Err(BpfError::Load(pc, i.k)),
                    LEN => SECCOMP_DATA_LEN,
                    IMM => i.k,
                    _ => mem
                        .get(i.k as usize)
                        .copied()
                        .flatten()
                        .ok_or(BpfError::UninitMem(pc, i.k))?,
                };
                if i.code & 0x07 == LD {
                    a = v;
                } else {
                    x = v;
                }
            }
            ST | STX => {
                let v = if i.code & 0x07 == ST { a } else { x };
                *mem.get_mut(i.k as usize).ok_or(BpfError::Mem(pc, i.k))? = Some(v);
            }
            ALU => {
                let src = if i.code & X != 0 { x } else { i.k };
                a = match i.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    // A division by a zero X ends the program with 0, as in the kernel.
                    0x30 => match a.checked_div(src) {
                        Some(v) => v,
                        None => return Ok(0),
                    },
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => match a.checked_rem(src) {
                        Some(v) => v,
                        None => return Ok(0),
                    },
                    _ => a ^ src,
                };
            }
            JMP => {
                let src = if i.code & X != 0 { x } else { i.k };
                let taken = match i.code & 0xf0 {
                    0x00 => {
                        next += i.k as usize;
                        None
                    }
                    0x10 => Some(a == src),
                    0x20 => Some(a > src),
                    0x30 => Some(a >= src),
                    _ => Some(a & src != 0),
                };
                if let Some(t) = taken {
                    next += usize::from(if t { i.jt } else { i.jf });
                }
            }
            RET => return Ok(if i.code & 0x18 == A { a } else { i.k }),
            _ => {
                if i.code & 0x80 != 0 {
                    a = x;
                } else {
                    x = a;
                }
            }
        }
        pc = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
        sock_filter { code, jt, jf, k }
    }

    #[test]
    fn runs_a_hand_written_filter() {
        // if (arch == 0xc000003e && nr == 39) return ERRNO(1); return ALLOW;
        let prog = [
            insn(LD | W | ABS, 0, 0, 4),
            insn(JMP | 0x10 | K, 0, 3, 0xc000_003e),
            insn(LD | W | ABS, 0, 0, 0),
            insn(JMP | 0x10 | K, 0, 1, 39),
            insn(RET | K, 0, 0, 0x0005_0001),
            insn(RET | K, 0, 0, 0x7fff_0000),
        ];
        let mut d = SeccompData {
            nr: 39,
            arch: 0xc000_003e,
            ..Default::default()
        };
        assert_eq!(run(&prog, &d), Ok(0x0005_0001));
        d.nr = 40;
        assert_eq!(run(&prog, &d), Ok(0x7fff_0000));
        d.nr = 39;
        d.arch = 3;
        assert_eq!(run(&prog, &d), Ok(0x7fff_0000));
    }

    #[test]
    fn reads_argument_words_in_native_order() {
        let prog = [insn(LD | W | ABS, 0, 0, 16 + 8 + 4), insn(RET | A, 0, 0, 0)];
        let d = SeccompData {
            args: [0, 0x1122_3344_5566_7788, 0, 0, 0, 0],
            ..Default::default()
        };
        let hi = if cfg!(target_endian = "little") {
            0x1122_3344
        } else {
            0x5566_7788
        };
        assert_eq!(run(&prog, &d), Ok(hi));
    }

    #[test]
    fn refuses_what_the_kernel_refuses() {
        let ret = insn(RET | K, 0, 0, 0);
        assert_eq!(check(&[]), Err(BpfError::Length(0)));
        assert_eq!(
            check(&[insn(LD | W | ABS, 0, 0, 64), ret]),
            Err(BpfError::Load(0, 64))
        );
        assert_eq!(
            check(&[insn(LD | W | ABS, 0, 0, 2), ret]),
            Err(BpfError::Load(0, 2))
        );
        assert_eq!(
            check(&[insn(JMP | 0x10 | K, 1, 0, 0), ret]),
            Err(BpfError::Jump(0))
        );
        assert_eq!(check(&[insn(LD | W | ABS, 0, 0, 0)]), Err(BpfError::NoFinalRet));
        assert_eq!(
            check(&[insn(ALU | 0x30 | K, 0, 0, 0), ret]),
            Err(BpfError::DivZero(0))
        );
        assert_eq!(check(&vec![ret; 4097]), Err(BpfError::Length(4097)));
    }
}

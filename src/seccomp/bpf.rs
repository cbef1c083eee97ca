//! Code generation: a validated [`Filter`] -> classic BPF for `seccomp(2)`.
//!
//! Pure and allocation-happy: this runs in the parent while planning, never
//! in the forked child. The shape of the generated program is
//!
//! ```text
//!   A = arch                          ; seccomp_data.arch
//!   if A == AUDIT_ARCH_1 goto arch_1  ; one test per distinct audit arch
//!   ...
//!   return bad_arch_action            ; an ABI the profile does not cover
//! arch_1:
//!   A = nr                            ; seccomp_data.nr
//!   [if A >= X32_BIT goto x32 tree]   ; x86_64 and x32 share AUDIT_ARCH_X86_64
//!   binary search over runs of numbers with the same outcome; a leaf
//!   returns an action (the default, ENOSYS above the profile's newest
//!   syscall, or an unconditional rule's) or jumps to a rule body
//! body:                               ; shared by every syscall with equal rules
//!   rule 1: argument checks (AND) -> return action_1, else fall to rule 2
//!   rule 2: ...
//!   return default_action
//! ```
//!
//! Rules of one syscall are tried in profile order and the first rule whose
//! argument checks all pass decides. (libseccomp, behind runc and crun,
//! orders rules by its own internal priority; for the profiles engines ship,
//! whose rules for one syscall are disjoint or ordered "specific before
//! general", the outcome is the same.)
//!
//! Classic BPF can only jump forward, and conditional jumps only 255
//! instructions far. The generator therefore works with symbolic labels and
//! [`Asm::finish`] rewrites every too-far conditional jump into a jump to an
//! adjacent unconditional `ja`, whose offset is 32 bits wide.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap};

use libc::sock_filter;

/// `offsetof(struct seccomp_data, nr)`.
const OFF_NR: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`.
const OFF_ARCH: u32 = 4;
/// `offsetof(struct seccomp_data, args)`; each argument is a u64.
const OFF_ARGS: u32 = 16;
/// Offset of the low and high 32-bit words inside one u64 argument: the
/// kernel fills `seccomp_data` in native byte order.
#[cfg(target_endian = "little")]
const LO: u32 = 0;
#[cfg(target_endian = "little")]
const HI: u32 = 4;
#[cfg(target_endian = "big")]
const LO: u32 = 4;
#[cfg(target_endian = "big")]
const HI: u32 = 0;

/// x32 system calls are numbered `__X32_SYSCALL_BIT | nr` and reported with
/// `AUDIT_ARCH_X86_64`, so this bit is what tells the two ABIs apart.
pub(super) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// A comparison operator, after the OCI `op` was validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value`.
    MaskedEq,
}

/// One argument comparison of a rule, ready for code generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Check {
    /// Argument index, 0..=5.
    pub arg: u8,
    pub op: Op,
    /// Only used by [`Op::MaskedEq`]; all ones otherwise.
    pub mask: u64,
    pub value: u64,
    /// Compare all 64 bits (64-bit ABIs) or only the low word (32-bit ABIs,
    /// whose syscalls only ever see the low 32 bits of a register).
    pub wide: bool,
}

/// One rule of a syscall: all checks must pass for `action` to be returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Rule {
    pub checks: Vec<Check>,
    /// The full `SECCOMP_RET_*` value, data bits included.
    pub action: u32,
}

/// The rules of one ABI, keyed by syscall number.
#[derive(Debug, Clone, Default)]
pub(super) struct AbiRules {
    pub syscalls: BTreeMap<u32, Vec<Rule>>,
    /// The largest syscall number the profile names on this ABI, whatever
    /// the rule; numbers above it get [`Filter::newer_action`].
    pub max_named: Option<u32>,
}

/// The rules for one audit arch value.
#[derive(Debug, Clone)]
pub(super) enum ArchRules {
    /// An arch with a single ABI.
    Plain(AbiRules),
    /// `AUDIT_ARCH_X86_64`, shared by the x86_64 and x32 ABIs; at least one
    /// of the two is Some. Numbers of an ABI the profile did not list get the
    /// bad-arch action, as libseccomp does.
    X86_64 {
        native: Option<AbiRules>,
        x32: Option<AbiRules>,
    },
}

/// Everything the generator needs, already validated.
#[derive(Debug, Clone)]
pub(super) struct Filter {
    /// `(AUDIT_ARCH_*, rules)`, one entry per distinct audit arch.
    pub arches: Vec<(u32, ArchRules)>,
    pub default_action: u32,
    /// For syscalls newer than any the profile names (see `compile`).
    pub newer_action: u32,
    pub bad_arch_action: u32,
}

/// Generates the program. Never fails: size limits are checked by the caller.
pub(super) fn generate(filter: &Filter) -> Vec<sock_filter> {
    let mut g = Gen {
        asm: Asm::default(),
        default: filter.default_action,
        newer: filter.newer_action,
        bodies: HashMap::new(),
        pending: Vec::new(),
    };
    let bad_arch = g.asm.label();

    // Dispatch on the architecture.
    g.asm.push(Insn::Load(OFF_ARCH));
    let arch_labels: Vec<Label> = filter.arches.iter().map(|_| g.asm.label()).collect();
    for ((audit, _), &label) in filter.arches.iter().zip(&arch_labels) {
        let next = g.asm.label();
        g.asm.push(Insn::Jump {
            cmp: Cmp::Eq,
            k: *audit,
            t: label,
            f: next,
        });
        g.asm.mark(next);
    }
    g.asm.push(Insn::Ret(filter.bad_arch_action));

    // One syscall-number search per arch.
    for ((_, rules), &label) in filter.arches.iter().zip(&arch_labels) {
        g.asm.mark(label);
        g.asm.push(Insn::Load(OFF_NR));
        match rules {
            ArchRules::Plain(rules) => g.tree(rules),
            ArchRules::X86_64 { native, x32 } => {
                let (native_tree, x32_tree) = (g.asm.label(), g.asm.label());
                let t = if x32.is_some() { x32_tree } else { bad_arch };
                let f = if native.is_some() { native_tree } else { bad_arch };
                g.asm.push(Insn::Jump {
                    cmp: Cmp::Ge,
                    k: X32_SYSCALL_BIT,
                    t,
                    f,
                });
                if let Some(native) = native {
                    g.asm.mark(native_tree);
                    g.tree(native);
                }
                if let Some(x32) = x32 {
                    g.asm.mark(x32_tree);
                    g.tree(x32);
                }
            }
        }
    }

    // The rule bodies, each emitted once however many syscalls share it.
    for (label, rules) in std::mem::take(&mut g.pending) {
        g.asm.mark(label);
        g.body(&rules);
    }
    // x32 numbers on an x86_64-only profile (or the reverse) land here; BPF
    // only jumps forward, hence a second copy at the end.
    g.asm.mark(bad_arch);
    g.asm.push(Insn::Ret(filter.bad_arch_action));
    g.asm.finish()
}

/// Generator state: the assembler and the rule bodies already referenced.
struct Gen {
    asm: Asm,
    default: u32,
    newer: u32,
    /// Body label for each distinct conditional rule list, so that equal
    /// lists (the same rules on x86_64, x86 and x32) share one body.
    bodies: HashMap<Vec<Rule>, Label>,
    /// Bodies referenced but not yet emitted, in first-use order.
    pending: Vec<(Label, Vec<Rule>)>,
}

impl Gen {
    /// The syscall-number search for one ABI; A holds the number.
    ///
    /// The number space is cut into maximal runs of numbers with the same
    /// outcome (numbers without rules take the default action), and the
    /// search is over run boundaries. Profiles allow or deny neighbouring
    /// syscalls alike, so Docker's ~350 allowed syscalls make a few dozen
    /// runs: a short program, and about six comparisons per system call.
    fn tree(&mut self, rules: &AbiRules) {
        fn push(runs: &mut Vec<(u32, Leaf)>, start: u32, leaf: Leaf) {
            if runs.last().map(|r| r.1) != Some(leaf) {
                runs.push((start, leaf));
            }
        }
        let mut runs = Vec::new();
        // The first number not yet covered by a run; None past u32::MAX.
        let mut next = Some(0u32);
        for (&nr, list) in &rules.syscalls {
            if let Some(gap) = next.filter(|&n| n < nr) {
                push(&mut runs, gap, Leaf::Ret(self.default));
            }
            let leaf = match list.as_slice() {
                // A single unconditional rule is just its action.
                [Rule { checks, action }] if checks.is_empty() => Leaf::Ret(*action),
                _ => Leaf::Body(self.body_label(list)),
            };
            push(&mut runs, nr, leaf);
            next = nr.checked_add(1);
        }
        let newer_from = rules.max_named.and_then(|m| m.checked_add(1));
        match (next, newer_from) {
            (Some(n), Some(from)) => {
                if n < from {
                    push(&mut runs, n, Leaf::Ret(self.default));
                }
                push(&mut runs, from, Leaf::Ret(self.newer));
            }
            (Some(n), None) => push(&mut runs, n, Leaf::Ret(self.default)),
            (None, _) => {}
        }
        search(&mut self.asm, &runs);
    }

    /// The label of the body for `list`, emitted later and only once.
    fn body_label(&mut self, list: &[Rule]) -> Label {
        if let Some(&l) = self.bodies.get(list) {
            return l;
        }
        let l = self.asm.label();
        self.bodies.insert(list.to_vec(), l);
        self.pending.push((l, list.to_vec()));
        l
    }

    /// The rules of one syscall, first match wins, then the default action.
    fn body(&mut self, rules: &[Rule]) {
        for rule in rules {
            let next_rule = self.asm.label();
            for check in &rule.checks {
                let pass = self.asm.label();
                emit_check(&mut self.asm, check, pass, next_rule);
                self.asm.mark(pass);
            }
            self.asm.push(Insn::Ret(rule.action));
            self.asm.mark(next_rule);
        }
        self.asm.push(Insn::Ret(self.default));
    }
}

/// What a run of syscall numbers leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    Body(Label),
}

/// Binary search over `(first number, leaf)` runs sorted by number, the
/// first starting at 0; A holds the syscall number.
fn search(asm: &mut Asm, runs: &[(u32, Leaf)]) {
    if let [(_, leaf)] = runs {
        asm.push(match *leaf {
            Leaf::Ret(action) => Insn::Ret(action),
            Leaf::Body(l) => Insn::Goto(l),
        });
        return;
    }
    let (left, right) = runs.split_at(runs.len() / 2);
    let (l, r) = (asm.label(), asm.label());
    asm.push(Insn::Jump {
        cmp: Cmp::Ge,
        k: right[0].0,
        t: r,
        f: l,
    });
    asm.mark(l);
    search(asm, left);
    asm.mark(r);
    search(asm, right);
}

/// Emits one argument comparison that jumps to `pass` or `fail`.
///
/// 64-bit comparisons are done on the two 32-bit halves, since classic BPF
/// only has a 32-bit accumulator: equality needs both halves equal; an
/// ordering is decided by the high word unless the high words are equal, in
/// which case the low word decides. `<` and `<=` are the negations of `>=`
/// and `>`, and `!=` the negation of `==`, so they swap the targets.
fn emit_check(asm: &mut Asm, c: &Check, pass: Label, fail: Label) {
    let base = OFF_ARGS + 8 * u32::from(c.arg);
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let (mhi, mlo) = ((c.mask >> 32) as u32, c.mask as u32);
    match c.op {
        Op::Eq | Op::MaskedEq | Op::Ne => {
            let (t, f) = if c.op == Op::Ne {
                (fail, pass)
            } else {
                (pass, fail)
            };
            // A masked-out high word with a zero datum always matches: skip it.
            if c.wide && !(mhi == 0 && hi == 0) {
                let low = asm.label();
                load_masked(asm, base + HI, mhi);
                asm.push(Insn::Jump {
                    cmp: Cmp::Eq,
                    k: hi,
                    t: low,
                    f,
                });
                asm.mark(low);
            }
            load_masked(asm, base + LO, mlo);
            asm.push(Insn::Jump {
                cmp: Cmp::Eq,
                k: lo,
                t,
                f,
            });
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            // Gt/Ge test "greater"; Lt/Le are their negations.
            let (cmp, t, f) = match c.op {
                Op::Gt => (Cmp::Gt, pass, fail),
                Op::Ge => (Cmp::Ge, pass, fail),
                Op::Lt => (Cmp::Ge, fail, pass),
                _ => (Cmp::Gt, fail, pass),
            };
            if c.wide {
                let (hi_eq, low) = (asm.label(), asm.label());
                asm.push(Insn::Load(base + HI));
                asm.push(Insn::Jump {
                    cmp: Cmp::Gt,
                    k: hi,
                    t,
                    f: hi_eq,
                });
                asm.mark(hi_eq);
                asm.push(Insn::Jump {
                    cmp: Cmp::Eq,
                    k: hi,
                    t: low,
                    f,
                });
                asm.mark(low);
            }
            asm.push(Insn::Load(base + LO));
            asm.push(Insn::Jump { cmp, k: lo, t, f });
        }
    }
}

fn load_masked(asm: &mut Asm, offset: u32, mask: u32) {
    asm.push(Insn::Load(offset));
    if mask != u32::MAX {
        asm.push(Insn::And(mask));
    }
}

// ------------------------------------------------------------- assembler

type Label = usize;

/// Conditional jump kinds of classic BPF (`BPF_JMP | BPF_J* | BPF_K`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy)]
enum Insn {
    /// `A = *(u32 *)(seccomp_data + offset)`.
    Load(u32),
    /// `A &= k`.
    And(u32),
    /// `if (A <cmp> k) goto t; else goto f;`
    Jump { cmp: Cmp, k: u32, t: Label, f: Label },
    /// `goto l` (32-bit offset).
    Goto(Label),
    /// `return k`.
    Ret(u32),
    /// Position of a label; emits nothing.
    Mark(Label),
}

#[derive(Debug, Default)]
struct Asm {
    insns: Vec<Insn>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        self.labels - 1
    }

    fn mark(&mut self, l: Label) {
        self.insns.push(Insn::Mark(l));
    }

    fn push(&mut self, i: Insn) {
        self.insns.push(i);
    }

    /// Resolves labels into offsets, first inserting `ja` trampolines for
    /// conditional jumps that cannot reach their target in 8 bits. Each
    /// rewrite can only push other targets further away, so this repeats
    /// until nothing is too far; it ends because a jump, once given
    /// adjacent trampolines, never needs rewriting again.
    fn finish(mut self) -> Vec<sock_filter> {
        loop {
            let pos = self.positions();
            let mut out = Vec::with_capacity(self.insns.len());
            let mut rewrote = false;
            let mut at = 0usize;
            for insn in std::mem::take(&mut self.insns) {
                match insn {
                    Insn::Jump { cmp, k, t, f } => {
                        let far = |l: Label| pos[l] - at - 1 > u8::MAX as usize;
                        let (far_t, far_f) = (far(t), far(f));
                        if far_t || far_f {
                            rewrote = true;
                            let nt = if far_t { self.label() } else { t };
                            let nf = if far_f { self.label() } else { f };
                            out.push(Insn::Jump { cmp, k, t: nt, f: nf });
                            if far_t {
                                out.push(Insn::Mark(nt));
                                out.push(Insn::Goto(t));
                            }
                            if far_f {
                                out.push(Insn::Mark(nf));
                                out.push(Insn::Goto(f));
                            }
                        } else {
                            out.push(insn);
                        }
                        at += 1;
                    }
                    Insn::Mark(_) => out.push(insn),
                    _ => {
                        out.push(insn);
                        at += 1;
                    }
                }
            }
            self.insns = out;
            if !rewrote {
                return self.encode();
            }
        }
    }

    /// Instruction index of every label (labels occupy no space).
    fn positions(&self) -> Vec<usize> {
        let mut pos = vec![usize::MAX; self.labels];
        let mut at = 0;
        for insn in &self.insns {
            match insn {
                Insn::Mark(l) => pos[*l] = at,
                _ => at += 1,
            }
        }
        pos
    }

    fn encode(&self) -> Vec<sock_filter> {
        let pos = self.positions();
        let mut out = Vec::with_capacity(self.insns.len());
        for insn in &self.insns {
            let at = out.len();
            // Offsets are relative to the next instruction; the generator only
            // jumps forward, and `finish` made every conditional offset fit u8.
            let rel = |l: Label| pos[l] - at - 1;
            let (code, jt, jf, k) = match *insn {
                Insn::Load(off) => (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, off),
                Insn::And(m) => (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K, 0, 0, m),
                Insn::Jump { cmp, k, t, f } => {
                    let op = match cmp {
                        Cmp::Eq => libc::BPF_JEQ,
                        Cmp::Gt => libc::BPF_JGT,
                        Cmp::Ge => libc::BPF_JGE,
                    };
                    (libc::BPF_JMP | op | libc::BPF_K, rel(t) as u8, rel(f) as u8, k)
                }
                Insn::Goto(l) => (libc::BPF_JMP | libc::BPF_JA, 0, 0, rel(l) as u32),
                Insn::Ret(v) => (libc::BPF_RET | libc::BPF_K, 0, 0, v),
                Insn::Mark(_) => continue,
            };
            out.push(sock_filter {
                code: code as u16,
                jt,
                jf,
                k,
            });
        }
        out
    }
}

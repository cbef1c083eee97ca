//! `nook`: the runc-compatible command line over the nook library.
//!
//! Only argument parsing, output and signal forwarding live here; every
//! container operation is a library call. Flags and output follow runc,
//! because containerd's shim, conmon and dockerd call runtimes exactly as
//! they call runc.
#![forbid(unsafe_code)]

mod log;
mod tty;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};
use nix::sys::signal::{SigSet, Signal};
use nook::{Context, CreateOptions, Error, ExecOptions};

use log::Logger;

#[derive(Parser, Debug)]
#[command(
    name = "nook",
    disable_version_flag = true,
    about = "An OCI container runtime"
)]
struct Cli {
    /// Root directory for container state [default: /run/nook, or
    /// $XDG_RUNTIME_DIR/nook for an unprivileged user, as runc does].
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Log file for errors (runc's --log).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text")]
    log_format: String,
    /// Enable debug logging.
    #[arg(long, global = true)]
    debug: bool,
    /// Let systemd make the container's cgroup (a transient scope);
    /// linux.cgroupsPath is then "slice:prefix:name", as with runc.
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (the default: rootless when not
    /// root, or root only in a user namespace). Before the command, as in
    /// runc, so it does not clash with `spec --rootless`.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    rootless: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// Bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
    /// Write the container's pid to this file.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master.
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one.
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass N extra fds (3 .. 3+N) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Container id.
    id: String,
}

/// The flags checkpoint and restore share (runc's).
#[derive(Args, Debug)]
struct CriuArgs {
    /// Where the criu images are [default: ./checkpoint].
    #[arg(long = "image-path")]
    image_path: Option<PathBuf>,
    /// Where criu's log goes (dump.log, restore.log) [default: the image path].
    #[arg(long = "work-path")]
    work_path: Option<PathBuf>,
    /// Allow open TCP connections.
    #[arg(long = "tcp-established")]
    tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long = "ext-unix-sk")]
    ext_unix_sk: bool,
    /// Allow shell jobs (a terminal of the caller's).
    #[arg(long = "shell-job")]
    shell_job: bool,
    /// Handle file locks.
    #[arg(long = "file-locks")]
    file_locks: bool,
    /// cgroups mode: soft, full, strict or ignore [default: criu's, soft].
    #[arg(long = "manage-cgroups-mode")]
    manage_cgroups_mode: Option<String>,
    /// Create a namespace, but do not restore its properties (repeatable):
    /// network, ipc, uts, mount, pid, user, cgroup.
    #[arg(long = "empty-ns")]
    empty_ns: Vec<String>,
    /// Deduplicate the images against the parent (criu's auto-dedup).
    #[arg(long = "auto-dedup")]
    auto_dedup: bool,
}

#[derive(Args, Debug)]
struct CheckpointArgs {
    #[command(flatten)]
    criu: CriuArgs,
    /// The previous (pre-)dump's images, relative to the image path.
    #[arg(long = "parent-path")]
    parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint.
    #[arg(long = "leave-running")]
    leave_running: bool,
    /// Dump memory only (for a later dump with --parent-path).
    #[arg(long = "pre-dump")]
    pre_dump: bool,
    /// A descriptor that gets a \0 when criu is ready (lazy pages).
    #[arg(long = "status-fd")]
    status_fd: Option<i32>,
    /// Container id.
    id: String,
}

#[derive(Args, Debug)]
struct RestoreArgs {
    #[command(flatten)]
    criu: CriuArgs,
    /// Bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
    /// Return once restored instead of waiting for the container.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Write the restored init's pid to this file.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master.
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Accepted for runc compatibility: nook never makes itself a subreaper.
    #[arg(long = "no-subreaper")]
    no_subreaper: bool,
    /// Processes exec'd later keep the caller's session keyring.
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// The LSM profile of the restored processes (apparmor:NAME, selinux:LABEL).
    #[arg(long = "lsm-profile")]
    lsm_profile: Option<String>,
    /// The SELinux mount context of the restored mounts.
    #[arg(long = "lsm-mount-context")]
    lsm_mount_context: Option<String>,
    /// Container id.
    id: String,
}

#[derive(Args, Debug)]
struct ExecArgs {
    /// The process as JSON (runc's process spec); the other process flags
    /// are then ignored, as with runc.
    #[arg(short = 'p', long)]
    process: Option<PathBuf>,
    /// Return once the process runs instead of waiting for it.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Write the process's pid to this file.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master.
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    tty: bool,
    /// Working directory in the container.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Add an environment variable (KEY=value).
    #[arg(short = 'e', long)]
    env: Vec<String>,
    /// UID[:GID] to run as.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Additional group id.
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// Add a capability (to the bounding, effective and permitted sets).
    #[arg(short = 'c', long)]
    cap: Vec<String>,
    /// Set no_new_privs.
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// Pass N extra fds (3 .. 3+N) to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// SELinux label of the process.
    #[arg(long = "process-label")]
    process_label: Option<String>,
    /// AppArmor profile of the process.
    #[arg(long)]
    apparmor: Option<String>,
    /// Run in this existing sub-cgroup of the container's: PATH, or
    /// CTRL[,CTRL]:PATH for those controllers (repeatable).
    #[arg(long)]
    cgroup: Vec<String>,
    /// Exec into a paused container too.
    #[arg(long = "ignore-paused")]
    ignore_paused: bool,
    /// Container id.
    id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// runc's `update` flags, taken as strings and parsed as runc parses them
/// (sizes with unit suffixes, see [`ram_in_bytes`]); a value of 0 leaves
/// the setting unchanged, as in runc.
#[derive(Args, Debug)]
struct UpdateArgs {
    /// linux.resources as JSON, from a file or "-" for stdin; the other
    /// flags are then ignored, as with runc.
    #[arg(short = 'r', long)]
    resources: Option<PathBuf>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds.
    #[arg(long = "cpu-period")]
    cpu_period: Option<String>,
    /// CPU CFS quota in microseconds.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<String>,
    /// CPU shares (relative weight); runc spells it --cpu-share.
    #[arg(long = "cpu-share", visible_alias = "cpu-shares")]
    cpu_share: Option<String>,
    /// CPU realtime period in microseconds.
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<String>,
    /// CPU realtime runtime in microseconds.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<String>,
    /// CPUs the container may use (cpuset).
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (cpuset).
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Obsolete and ignored (with a warning), as in runc.
    #[arg(long = "kernel-memory", hide = true)]
    kernel_memory: Option<String>,
    /// Obsolete and ignored (with a warning), as in runc.
    #[arg(long = "kernel-memory-tcp", hide = true)]
    kernel_memory_tcp: Option<String>,
    /// Memory limit: bytes or a size such as 50M or 1.5g; -1 for unlimited.
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory soft limit (a size, as --memory).
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Memory plus swap limit (a size, as --memory); -1 for unlimited.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Maximum number of processes (-1 for unlimited).
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported: nook has no RDT).
    #[arg(long = "l3-cache-schema")]
    l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported: nook has no RDT).
    #[arg(long = "mem-bw-schema")]
    mem_bw_schema: Option<String>,
    id: String,
}

/// `defer`: only the subcommand given is built (its arguments, the global
/// ones propagated to it): building every subcommand's arguments on each
/// run was a third of the CLI's time before the container work starts.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum Command {
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create and start a container, wait for it and delete it.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return after start instead of waiting.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the container once it has exited (status stopped, its
        /// cgroup too) until `delete`, instead of deleting it.
        #[arg(long)]
        keep: bool,
    },
    /// Print a container's state as JSON.
    State { id: String },
    /// Run a process in a running container.
    Exec(ExecArgs),
    /// Send a signal to a container.
    Kill {
        /// Signal every process of the container.
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        /// Signal name or number.
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container.
    Delete {
        /// Kill a running container first.
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// List containers.
    #[command(alias = "ps-all")]
    List {
        /// table or json.
        #[arg(short = 'f', long, default_value = "table")]
        format: String,
        /// Print only ids.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List a container's processes.
    Ps {
        /// table or json (json: an array of host pids).
        #[arg(short = 'f', long, default_value = "table")]
        format: String,
        id: String,
        /// Options for ps(1) in table format (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Print resource usage events as JSON lines.
    Events {
        /// Print one stats event and exit.
        #[arg(long)]
        stats: bool,
        /// Time between stats events (e.g. 5s, 500ms).
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Change a running container's resource limits.
    Update(UpdateArgs),
    /// Checkpoint a running container with criu.
    // A flag may be given twice, as runc's parser takes it: podman passes
    // --leave-running twice.
    #[command(args_override_self = true)]
    Checkpoint(CheckpointArgs),
    /// Restore a container from a checkpoint with criu.
    #[command(args_override_self = true)]
    Restore(RestoreArgs),
    /// Print the features document.
    Features,
    /// Write a default config.json.
    Spec {
        /// Bundle directory to write into.
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
        /// A spec for rootless containers.
        #[arg(long)]
        rootless: bool,
    },
}

fn main() -> ExitCode {
    // NOOK_FAULT and NOOK_TRACE_STEPS, read now: step times count from here.
    nook::faults::init();
    // runc exits 1 on a usage error (clap would exit 2), 0 for --help.
    // go-runc, which containerd's shims use, passes `restore -no-subreaper`
    // with one dash, which runc's flag parser takes and clap reads as short
    // flags: spelled with two, only when the line does not parse as it is
    // (so an exec'd process's own `-no-subreaper` argument stays).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let parsed = parse_fast(&args)
        .map(Ok)
        .unwrap_or_else(|| Cli::try_parse_from(&args))
        .or_else(|e| {
            if !args.iter().any(|a| a == "-no-subreaper") {
                return Err(e);
            }
            Cli::try_parse_from(args.into_iter().map(|a| {
                if a == "-no-subreaper" {
                    "--no-subreaper".into()
                } else {
                    a
                }
            }))
        });
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    let logger = Logger {
        file: cli.log.clone(),
        json: cli.log_format == "json",
        debug: cli.debug,
    };
    logger.install();
    // runc's exec exits 255 when it fails itself, so that its caller can
    // tell that from the status of a process that ran; runc's other
    // commands, `run` included, exit 1.
    let failure = if matches!(cli.command, Some(Command::Exec(_))) {
        255
    } else {
        1
    };
    match dispatch(cli, &logger) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            logger.error(&e.to_string());
            ExitCode::from(failure)
        }
    }
}

/// The global flags of [`Cli`], by id.
const GLOBAL_FLAGS: [&str; 5] = ["root", "log", "log_format", "debug", "systemd_cgroup"];

/// `args` parsed without propagating the global flags, when that is sure
/// to give what the full parse gives; None means "parse in full".
///
/// clap copies every global flag into every subcommand before it parses
/// (5 flags into 20 subcommands, each copy allocated), which was half of
/// what parsing cost. Engines put the global flags before the subcommand,
/// where a top-level flag needs no copy. Any failure (a global flag after
/// the subcommand, `--help`, a typo) parses again in full, so errors and
/// help read as before; success is kept only for subcommands that take
/// no hyphenated values (exec's and ps's trailing arguments would take an
/// unknown `--root` as a value instead of failing).
fn parse_fast(args: &[std::ffi::OsString]) -> Option<Cli> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command();
    for id in GLOBAL_FLAGS {
        cmd = cmd.mut_arg(id, |a| a.global(false));
    }
    let mut matches = cmd.try_get_matches_from_mut(args).ok()?;
    let cli = Cli::from_arg_matches_mut(&mut matches).ok()?;
    let sure = matches!(
        cli.command,
        None | Some(
            Command::Create(_)
                | Command::Start { .. }
                | Command::Run { .. }
                | Command::State { .. }
                | Command::Kill { .. }
                | Command::Delete { .. }
        )
    );
    sure.then_some(cli)
}

fn dispatch(cli: Cli, logger: &Logger) -> nook::Result<u8> {
    if cli.version {
        emit(format_args!(
            "nook version {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            nook::container::OCI_VERSION
        ));
        return Ok(0);
    }
    if !matches!(cli.log_format.as_str(), "text" | "json") {
        return Err(Error::Config {
            field: "--log-format".into(),
            reason: format!("unknown format {:?} (text or json)", cli.log_format),
        });
    }
    let mut ctx = match &cli.root {
        Some(root) => Context::new(root),
        None => Context::with_default_root()?,
    };
    if let Some(value) = &cli.rootless {
        match nook::rootless::parse_flag(value) {
            Some(Some(forced)) => ctx = ctx.with_rootless(forced),
            Some(None) => {}
            None => {
                return Err(Error::Config {
                    field: "--rootless".into(),
                    reason: format!("{value:?} is not true, false or auto"),
                })
            }
        }
    }
    let systemd_cgroup = cli.systemd_cgroup;
    let Some(command) = cli.command else {
        return Err(Error::Config {
            field: "command".into(),
            reason: "missing; see nook --help".into(),
        });
    };
    if logger.debug {
        logger.debug(&format!("{command:?}"));
    }
    if matches!(
        command,
        Command::Create(_) | Command::Run { .. } | Command::Exec(_)
    ) {
        // Whatever a container may see of this process, it sees nothing of
        // the host through /proc/PID (CVE-2019-5736); see nook::exe.
        if nix::unistd::geteuid().is_root() {
            nix::sys::prctl::set_dumpable(false).map_err(|e| Error::Sys {
                call: "prctl(PR_SET_DUMPABLE, 0)".into(),
                errno: e as i32,
            })?;
        }
    }
    match command {
        Command::Create(a) => {
            let bundle = nook::bundle::Bundle::load(&a.bundle)?;
            seal_exe_for(&bundle.spec, None)?;
            ctx.create_from(&a.id, bundle, &create_options(&a, systemd_cgroup))?;
        }
        Command::Start { id } => ctx.load(&id)?.start()?,
        Command::Run { create, detach, keep } => return run(&ctx, &create, detach, keep, systemd_cgroup),
        Command::Exec(a) => return exec(&ctx, &a),
        Command::State { id } => print_json(&ctx.load(&id)?.state()),
        Command::Kill { all, id, signal } => ctx.load(&id)?.kill(parse_signal(&signal)?, all)?,
        Command::Delete { force, id } => ctx.delete(&id, force)?,
        Command::List { format, quiet } => list(&ctx, &format, quiet)?,
        Command::Pause { id } => ctx.load(&id)?.pause()?,
        Command::Resume { id } => ctx.load(&id)?.resume()?,
        Command::Ps { format, id, ps_args } => ps(&ctx.load(&id)?, &format, &ps_args)?,
        Command::Events { stats, interval, id } => events(&ctx.load(&id)?, stats, &interval)?,
        Command::Update(a) => ctx.load(&a.id)?.update(&update_resources(&a)?)?,
        Command::Checkpoint(a) => {
            let opts = checkpoint_options(&a)?;
            ctx.load(&a.id)?.checkpoint(&opts)?
        }
        Command::Restore(a) => return restore(&ctx, &a, systemd_cgroup),
        Command::Features => print_json(&nook::features::features()),
        Command::Spec { bundle, rootless } => write_spec(&bundle, rootless)?,
    }
    Ok(0)
}

fn create_options(a: &CreateArgs, systemd_cgroup: bool) -> CreateOptions {
    CreateOptions {
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        preserve_fds: a.preserve_fds,
        no_new_keyring: a.no_new_keyring,
        systemd_cgroup,
    }
}

/// `run`: in the foreground, forward every signal to the init and exit with
/// its status. Signals are blocked before create, so a SIGCHLD from a fast
/// container is pending, not lost, when we start waiting. As runc, the
/// container is deleted when it has exited or failed to start, unless
/// `keep`.
fn run(ctx: &Context, a: &CreateArgs, detach: bool, keep: bool, systemd_cgroup: bool) -> nook::Result<u8> {
    let bundle = nook::bundle::Bundle::load(&a.bundle)?;
    seal_exe_for(&bundle.spec, None)?;
    let mut opts = create_options(a, systemd_cgroup);
    if detach {
        let c = ctx.create_from(&a.id, bundle, &opts)?;
        if let Err(e) = c.start() {
            if !keep {
                let _ = c.delete(true);
            }
            return Err(e);
        }
        return Ok(0);
    }
    let terminal = bundle.spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    let console = relay_socket(terminal, &mut opts.console_socket)?;
    let set = block_signals()?;
    let c = ctx.create_from(&a.id, bundle, &opts)?;
    let relayed = console.as_ref().map(tty::Relay::start).transpose();
    let result = relayed.and_then(|relay| {
        let code = c
            .start()
            .and_then(|()| wait_forwarding(&set, relay.as_ref(), || c.try_wait(), |sig| c.kill(sig, false)));
        if let Some(r) = &relay {
            r.drain();
        }
        code
    });
    let deleted = if keep { Ok(()) } else { c.delete(true) };
    let code = result?;
    deleted?;
    Ok(code.clamp(0, 255) as u8)
}

/// criu's flags as the library takes them: the mode parsed, the
/// namespaces as CLONE_NEW* flags, the image path defaulting to
/// ./checkpoint as runc's.
fn criu_common(a: &CriuArgs) -> nook::Result<(PathBuf, Option<nook::criu::proto::CgMode>, u32)> {
    let mode = a
        .manage_cgroups_mode
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|reason| Error::Config {
            field: "--manage-cgroups-mode".into(),
            reason,
        })?;
    let mut empty_ns = 0;
    for ns in &a.empty_ns {
        empty_ns |= nook::criu::namespace_flag(ns).ok_or_else(|| Error::Config {
            field: "--empty-ns".into(),
            reason: format!("namespace {ns:?} is not supported"),
        })?;
    }
    // Absolute, so that errors name criu's log wherever they are read.
    let cwd = std::env::current_dir().map_err(|e| Error::Io {
        action: "reading",
        path: ".".into(),
        source: e,
    })?;
    let image = cwd.join(a.image_path.as_deref().unwrap_or("checkpoint".as_ref()));
    Ok((image, mode, empty_ns))
}

fn checkpoint_options(a: &CheckpointArgs) -> nook::Result<nook::CheckpointOptions> {
    let (image_path, manage_cgroups_mode, empty_ns) = criu_common(&a.criu)?;
    Ok(nook::CheckpointOptions {
        image_path,
        work_path: a.criu.work_path.clone(),
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        tcp_established: a.criu.tcp_established,
        ext_unix_sk: a.criu.ext_unix_sk,
        shell_job: a.criu.shell_job,
        file_locks: a.criu.file_locks,
        pre_dump: a.pre_dump,
        manage_cgroups_mode,
        empty_ns,
        auto_dedup: a.criu.auto_dedup,
        status_fd: a.status_fd,
    })
}

/// `restore`: detached, return once restored; in the foreground, as
/// `run`: forward signals to the restored init, exit with its status and
/// delete the container.
fn restore(ctx: &Context, a: &RestoreArgs, systemd_cgroup: bool) -> nook::Result<u8> {
    let (image_path, manage_cgroups_mode, empty_ns) = criu_common(&a.criu)?;
    let mut opts = nook::RestoreOptions {
        image_path,
        work_path: a.criu.work_path.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        tcp_established: a.criu.tcp_established,
        ext_unix_sk: a.criu.ext_unix_sk,
        shell_job: a.criu.shell_job,
        file_locks: a.criu.file_locks,
        manage_cgroups_mode,
        empty_ns,
        auto_dedup: a.criu.auto_dedup,
        lsm_profile: a.lsm_profile.clone(),
        lsm_mount_context: a.lsm_mount_context.clone(),
        systemd_cgroup,
        no_new_keyring: a.no_new_keyring,
    };
    let _ = a.no_subreaper;
    if a.detach {
        ctx.restore(&a.id, &a.bundle, &opts)?;
        return Ok(0);
    }
    let terminal = nook::bundle::Bundle::load(&a.bundle)?
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        == Some(true);
    let console = relay_socket(terminal && !a.criu.shell_job, &mut opts.console_socket)?;
    let set = block_signals()?;
    let c = ctx.restore(&a.id, &a.bundle, &opts)?;
    let relayed = console.as_ref().map(tty::Relay::start).transpose();
    let result = relayed.and_then(|relay| {
        let code = wait_forwarding(&set, relay.as_ref(), || c.try_wait(), |sig| c.kill(sig, false));
        if let Some(r) = &relay {
            r.drain();
        }
        code
    });
    let deleted = c.delete(true);
    let code = result?;
    deleted?;
    Ok(code.clamp(0, 255) as u8)
}

/// Re-executes nook from a sealed read-only image of itself before it
/// starts a process of a container that could write the binary through
/// its /proc/PID/exe (see nook::exe::needs_sealed_exe: CAP_SYS_PTRACE
/// without a user namespace, or a rootless init and a binary its user can
/// write): only such a container pays for it. Nothing has changed on the
/// host yet, and the sealed image runs this same command again from the
/// start.
fn seal_exe_for(
    spec: &oci_spec::runtime::Spec,
    exec: Option<&oci_spec::runtime::Process>,
) -> nook::Result<()> {
    if nook::exe::needs_sealed_exe(spec, exec) {
        nook::exe::reexec_sealed()?;
    }
    Ok(())
}

/// A console socket of our own for a foreground process with a terminal
/// and no `--console-socket` (runc relays the pty itself then), set as the
/// socket to use.
fn relay_socket(
    terminal: bool,
    socket: &mut Option<PathBuf>,
) -> nook::Result<Option<nook::console::ConsoleSocket>> {
    if !terminal || socket.is_some() {
        return Ok(None);
    }
    let own = nook::console::ConsoleSocket::new()?;
    *socket = Some(own.path().to_path_buf());
    Ok(Some(own))
}

/// Waits for a foreground process, forwarding every signal to it but
/// SIGCHLD, and SIGWINCH to the relayed terminal's size when there is one.
fn wait_forwarding(
    set: &SigSet,
    relay: Option<&tty::Relay>,
    try_wait: impl Fn() -> nook::Result<Option<i32>>,
    kill: impl Fn(i32) -> nook::Result<()>,
) -> nook::Result<i32> {
    loop {
        if let Some(code) = try_wait()? {
            return Ok(code);
        }
        match (set.wait(), relay) {
            (Ok(Signal::SIGCHLD) | Err(_), _) => {}
            (Ok(Signal::SIGWINCH), Some(r)) => r.resize(),
            (Ok(sig), _) => {
                let _ = kill(sig as i32);
            }
        }
    }
}

/// `exec`: detached, return once the process runs; in the foreground,
/// forward every signal to it and exit with its status, as `run` does.
fn exec(ctx: &Context, a: &ExecArgs) -> nook::Result<u8> {
    let c = ctx.load(&a.id)?;
    let process = match &a.process {
        Some(path) => std::fs::read_to_string(path).map_err(|e| Error::Io {
            action: "reading",
            path: path.clone(),
            source: e,
        })?,
        None => serde_json::to_string(&process_from_flags(&c, a)?).expect("process serialises"),
    };
    seal_exe_for(&c.spec()?, Some(&nook::container::parse_exec_process(&process)?))?;
    let mut opts = ExecOptions {
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        sub_cgroups: a.cgroup.clone(),
    };
    if a.detach {
        c.exec_json(&process, &opts)?;
        return Ok(0);
    }
    let terminal = serde_json::from_str::<serde_json::Value>(&process)
        .is_ok_and(|p| p["terminal"] == serde_json::Value::Bool(true));
    let console = relay_socket(terminal, &mut opts.console_socket)?;
    let set = block_signals()?;
    let p = c.exec_json(&process, &opts)?;
    let relay = match console.as_ref().map(tty::Relay::start).transpose() {
        Ok(r) => r,
        Err(e) => {
            let _ = p.kill(libc::SIGKILL);
            let _ = p.wait();
            return Err(e);
        }
    };
    let code = wait_forwarding(&set, relay.as_ref(), || p.try_wait(), |sig| p.kill(sig))?;
    if let Some(r) = &relay {
        r.drain();
    }
    Ok(code.clamp(0, 255) as u8)
}

/// runc's process for `exec` without --process: the container's own
/// process (env, user, capabilities, rlimits, ...) with the flags on top.
fn process_from_flags(c: &nook::Container, a: &ExecArgs) -> nook::Result<oci_spec::runtime::Process> {
    use oci_spec::runtime::Capability;
    let config = |field: &str, reason: String| Error::Config {
        field: field.into(),
        reason,
    };
    if a.command.is_empty() {
        return Err(config("command", "exec needs a command, or --process".into()));
    }
    let mut p = c.spec()?.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if a.apparmor.is_some() {
        p.set_apparmor_profile(a.apparmor.clone());
    }
    if a.process_label.is_some() {
        p.set_selinux_label(a.process_label.clone());
    }
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let id = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| config("--user", format!("{u:?} is not UID[:GID] (numeric ids only)")))
        };
        let (uid, gid) = match u.split_once(':') {
            Some((uid, gid)) => (id(uid)?, Some(id(gid)?)),
            None => (id(u)?, None),
        };
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
    }
    if !a.additional_gids.is_empty() {
        let mut gids = user.additional_gids().clone().unwrap_or_default();
        gids.extend(&a.additional_gids);
        user.set_additional_gids(Some(gids));
    }
    p.set_user(user);
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let mut added = Vec::new();
        for name in &a.cap {
            let cap: Capability = serde_json::from_value(serde_json::Value::from(name.as_str()))
                .map_err(|_| config("--cap", format!("unknown capability {name:?}")))?;
            added.push(cap);
        }
        let with = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut set = set.clone().unwrap_or_default();
            set.extend(added.iter().copied());
            Some(set)
        };
        caps.set_bounding(with(caps.bounding()));
        caps.set_effective(with(caps.effective()));
        caps.set_permitted(with(caps.permitted()));
        // runc: ambient capabilities need inheritable ones, so only a spec
        // with an inheritable set gets the added capabilities as ambient.
        if caps.inheritable().is_some() {
            caps.set_ambient(with(caps.ambient()));
        }
        p.set_capabilities(Some(caps));
    }
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

/// Blocks the signals a foreground command forwards, so that none is lost
/// (nor a fast child's SIGCHLD) before it waits for them.
fn block_signals() -> nook::Result<SigSet> {
    let mut set = SigSet::all();
    set.remove(Signal::SIGSEGV);
    set.remove(Signal::SIGBUS);
    set.remove(Signal::SIGILL);
    set.remove(Signal::SIGFPE);
    set.thread_block().map_err(|e| Error::Sys {
        call: "sigprocmask(SIG_BLOCK)".into(),
        errno: e as i32,
    })?;
    Ok(set)
}

fn parse_signal(s: &str) -> nook::Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Ok(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name)
        .map(|s| s as i32)
        .map_err(|_| Error::Config {
            field: "signal".into(),
            reason: format!("unknown signal {s:?}"),
        })
}

fn list(ctx: &Context, format: &str, quiet: bool) -> nook::Result<()> {
    let states = ctx.list()?;
    if quiet {
        for s in &states {
            emit(&s.id);
        }
        return Ok(());
    }
    match format {
        "json" => print_json_line(&states),
        "table" => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
            for s in &states {
                rows.push([
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    rfc3339_nano(&s.created).to_string(),
                    if s.owner.is_empty() { "root" } else { &s.owner }.to_string(),
                ]);
            }
            emit(tabwriter(&rows).trim_end_matches('\n'));
        }
        other => {
            return Err(Error::Config {
                field: "--format".into(),
                reason: format!("invalid format {other:?} (table or json)"),
            })
        }
    }
    Ok(())
}

/// The table as runc's list writes it with Go's text/tabwriter (minwidth
/// 12, padding 3, padded with spaces): each column but the last is as wide
/// as its widest cell plus 3, and at least 12, so that no id, however
/// long, runs into the next column.
fn tabwriter<const N: usize>(rows: &[[String; N]]) -> String {
    let width = |col: usize| {
        rows.iter()
            .map(|r| r[col].chars().count() + 3)
            .max()
            .unwrap_or(0)
            .max(12)
    };
    let widths: Vec<usize> = (0..N.saturating_sub(1)).map(width).collect();
    let mut out = String::new();
    for row in rows {
        for (cell, w) in row.iter().zip(&widths) {
            out.push_str(&format!("{cell:<w$}"));
        }
        if let Some(last) = row.last() {
            out.push_str(last);
        }
        out.push('\n');
    }
    out
}

/// A time as Go's RFC3339Nano prints it, which runc's list uses: without
/// the trailing zeros of the fraction (and without a fraction of zero).
fn rfc3339_nano(time: &str) -> String {
    match time.split_once('.') {
        Some((secs, frac)) => {
            let (digits, zone) =
                frac.split_at(frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len()));
            let kept = digits.trim_end_matches('0');
            if kept.is_empty() {
                format!("{secs}{zone}")
            } else {
                format!("{secs}.{kept}{zone}")
            }
        }
        None => time.to_string(),
    }
}

fn write_spec(bundle: &std::path::Path, rootless: bool) -> nook::Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::Config {
            field: "config.json".into(),
            reason: format!("{} exists, remove it first", path.display()),
        });
    }
    let spec = nook::bundle::default_spec(rootless);
    let text = serde_json::to_string_pretty(&spec).expect("spec serialises");
    std::fs::write(&path, text).map_err(|e| Error::Io {
        action: "writing",
        path,
        source: e,
    })
}

/// `ps`: json is the array of host pids; table is ps(1)'s output for them.
fn ps(c: &nook::Container, format: &str, ps_args: &[String]) -> nook::Result<()> {
    let pids = c.processes()?;
    match format {
        "json" => print_json_line(&pids),
        "table" => {
            let args: Vec<&str> = if ps_args.is_empty() {
                vec!["-ef"]
            } else {
                ps_args.iter().map(String::as_str).collect()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| Error::Io {
                    action: "running",
                    path: "ps".into(),
                    source: e,
                })?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| Error::Config {
                    field: "ps options".into(),
                    reason: "ps output has no PID column".into(),
                })?;
            emit(header);
            for line in lines {
                let pid = line
                    .split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    emit(line);
                }
            }
        }
        other => {
            return Err(Error::Config {
                field: "--format".into(),
                reason: format!("invalid format {other:?} (table or json)"),
            })
        }
    }
    Ok(())
}

/// One line of `events`, with runc's fields in runc's order: its tests
/// match the line's beginning, `{"type":"stats","id":"..."`.
#[derive(serde::Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<nook::cgroups::Stats>,
}

/// `events`: runc's lines: `{"type":"stats","id":...,"data":{...}}` once
/// with --stats, else every interval until the container stops, and
/// `{"type":"oom","id":...}` within 100 ms of the kernel's OOM killer
/// striking in the container's cgroup (runc is told by the kernel; a count
/// read ten times a second serves the same readers).
fn events(c: &nook::Container, once: bool, interval: &str) -> nook::Result<()> {
    let every = humantime::parse_duration(interval).map_err(|e| Error::Config {
        field: "--interval".into(),
        reason: e.to_string(),
    })?;
    let line = |kind, data| {
        serde_json::to_string(&Event {
            kind,
            id: c.id(),
            data,
        })
        .expect("serialises")
    };
    let oom_kills = || c.cgroup().oom_kills().unwrap_or(0);
    let mut ooms = if once { 0 } else { oom_kills() };
    loop {
        emit(line("stats", Some(c.stats()?)));
        if once {
            return Ok(());
        }
        let next = std::time::Instant::now() + every;
        while let Some(left) = next.checked_duration_since(std::time::Instant::now()) {
            std::thread::sleep(left.min(std::time::Duration::from_millis(100)));
            // Read before the count, so that a kill that ended it is told.
            let stopped = c.status() == nook::Status::Stopped;
            let now = oom_kills();
            if now > ooms {
                ooms = now;
                emit(line("oom", None));
            }
            if stopped {
                return Ok(());
            }
        }
    }
}

/// `update`: linux.resources from --resources, or else from the flags, as
/// runc builds them.
fn update_resources(a: &UpdateArgs) -> nook::Result<oci_spec::runtime::LinuxResources> {
    use oci_spec::runtime::{LinuxPids, LinuxResources};
    for (flag, value) in [
        ("--l3-cache-schema", &a.l3_cache_schema),
        ("--mem-bw-schema", &a.mem_bw_schema),
    ] {
        if value.is_some() {
            return Err(Error::Unsupported {
                what: format!("{flag} (Intel RDT)"),
            });
        }
    }
    let mut r: LinuxResources = match &a.resources {
        Some(p) => {
            let text = if p.as_os_str() == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map(|_| s)
            } else {
                std::fs::read_to_string(p)
            }
            .map_err(|e| Error::Io {
                action: "reading",
                path: p.clone(),
                source: e,
            })?;
            serde_json::from_str(&text).map_err(|e| Error::Config {
                field: "--resources".into(),
                reason: e.to_string(),
            })?
        }
        None => resources_from_flags(a)?,
    };
    // runc: an unlimited memory limit without a swap limit lifts both, or
    // cgroup v1 would refuse a memory limit above the memory+swap one.
    if let Some(mut m) = r.memory().filter(|m| m.limit() == Some(-1) && m.swap().is_none()) {
        m.set_swap(Some(-1));
        r.set_memory(Some(m));
    }
    if let Some(v) = a.pids_limit.filter(|v| *v != 0 && a.resources.is_none()) {
        let mut p = LinuxPids::default();
        p.set_limit(v);
        r.set_pids(Some(p));
    }
    Ok(r)
}

/// The flags of `update` as runc reads them; 0 (or nothing) leaves a value
/// unchanged.
fn resources_from_flags(a: &UpdateArgs) -> nook::Result<oci_spec::runtime::LinuxResources> {
    use oci_spec::runtime::LinuxResources;
    fn number<T: FromStr<Err = std::num::ParseIntError> + Default + PartialEq>(
        flag: &str,
        v: &Option<String>,
    ) -> nook::Result<Option<T>> {
        let Some(v) = v.as_deref().filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let n = v.parse::<T>().map_err(|e| Error::Config {
            field: format!("--{flag}"),
            reason: format!("invalid value for {flag}: {v:?}: {e}"),
        })?;
        Ok(Some(n).filter(|n| *n != T::default()))
    }
    fn size(flag: &str, v: &Option<String>) -> nook::Result<Option<i64>> {
        let Some(v) = v.as_deref().filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let n = if v == "-1" {
            -1
        } else {
            ram_in_bytes(v).map_err(|reason| Error::Config {
                field: format!("--{flag}"),
                reason: format!("invalid value for {flag}: {reason}"),
            })?
        };
        Ok(Some(n).filter(|n| *n != 0))
    }
    if a.kernel_memory.is_some() || a.kernel_memory_tcp.is_some() {
        ::log::warn!("Kernel memory settings are ignored and will be removed");
    }
    let mut r = LinuxResources::default();
    let limit = size("memory", &a.memory)?;
    let swap = size("memory-swap", &a.memory_swap)?;
    let reservation = size("memory-reservation", &a.memory_reservation)?;
    if limit.is_some() || swap.is_some() || reservation.is_some() {
        let mut m = oci_spec::runtime::LinuxMemory::default();
        m.set_limit(limit);
        m.set_swap(swap);
        m.set_reservation(reservation);
        r.set_memory(Some(m));
    }
    let mut c = oci_spec::runtime::LinuxCpu::default();
    c.set_shares(number("cpu-share", &a.cpu_share)?);
    c.set_quota(number("cpu-quota", &a.cpu_quota)?);
    c.set_period(number("cpu-period", &a.cpu_period)?);
    c.set_realtime_runtime(number("cpu-rt-runtime", &a.cpu_rt_runtime)?);
    c.set_realtime_period(number("cpu-rt-period", &a.cpu_rt_period)?);
    c.set_cpus(a.cpuset_cpus.clone().filter(|s| !s.is_empty()));
    c.set_mems(a.cpuset_mems.clone().filter(|s| !s.is_empty()));
    if c != oci_spec::runtime::LinuxCpu::default() {
        r.set_cpu(Some(c));
    }
    if let Some(v) = a.blkio_weight.filter(|v| *v != 0) {
        let mut b = oci_spec::runtime::LinuxBlockIo::default();
        b.set_weight(Some(v));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

/// A size as runc reads `--memory` and the like: go-units' RAMInBytes as
/// runc 1.1 has it, `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`, the
/// unit a power of 1024 and the product truncated: "50M", "50mb",
/// "50 MiB", "1.5g" and "4096" are sizes; " 50M", "-2" and "5k5" are not.
fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, rest) = s.split_at(end);
    if !number
        .split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid());
    }
    let mut rest = rest.strip_prefix(' ').unwrap_or(rest).chars().peekable();
    let power = match rest.peek().map(char::to_ascii_lowercase) {
        Some(u @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            rest.next();
            "kmgtp".find(u).map_or(0, |i| i + 1)
        }
        _ => 0,
    };
    rest.next_if(|c| c.eq_ignore_ascii_case(&'i'));
    rest.next_if(|c| c.eq_ignore_ascii_case(&'b'));
    if rest.next().is_some() {
        return Err(invalid());
    }
    let value: f64 = number
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing {number:?}: invalid syntax"))?;
    let bytes = (value * 1024f64.powi(power as i32)).trunc();
    if bytes >= i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as i64)
}

/// Writes one line of output. A reader that went away (`nook state ID |
/// head -1`) ends nook as it ends runc, whose write to a closed pipe on
/// stdout dies of SIGPIPE: with status 141 and nothing on stderr, where
/// `println!` would panic.
fn emit(line: impl std::fmt::Display) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = writeln!(o, "{line}").and_then(|()| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(128 + libc::SIGPIPE);
        }
        eprintln!("nook: writing the output: {e}");
        std::process::exit(1);
    }
}

fn print_json(v: &impl serde::Serialize) {
    emit(serde_json::to_string_pretty(v).expect("serialises"));
}

/// A list on one line, as runc's json.Encoder writes it: `[1234,1240]`,
/// and `null` for an empty one (Go's nil slice), which runc prints.
fn print_json_line<T: serde::Serialize>(v: &[T]) {
    if v.is_empty() {
        emit("null");
    } else {
        emit(serde_json::to_string(v).expect("serialises"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<std::ffi::OsString> {
        line.split(' ').map(Into::into).collect()
    }

    /// The fast parse gives what the full one gives, or defers to it.
    #[test]
    fn fast_parse_is_the_full_parse_or_none() {
        let full = |l: &str| format!("{:?}", Cli::try_parse_from(argv(l)).unwrap());
        for line in [
            "nook --root /r --log /l --log-format json --debug --systemd-cgroup create -b /b c1",
            "nook --root /r run -b /b --pid-file /p --no-pivot c1",
            "nook --root /r start c1",
            "nook --root /r delete --force c1",
            "nook --root /r state c1",
            "nook --root /r kill --all c1 KILL",
            "nook --rootless true --root /r delete -- -c1",
            "nook -v",
        ] {
            let fast = parse_fast(&argv(line)).unwrap_or_else(|| panic!("{line}: not fast"));
            assert_eq!(format!("{fast:?}"), full(line), "{line}");
        }
        for line in [
            // Global flags after the subcommand: only the full parse has them.
            "nook create --root /r -b /b c1",
            "nook start c1 --log /l",
            // exec's trailing arguments would take the flag as a value.
            "nook --root /r exec c1 sh --root /x",
            "nook --root /r ps c1",
            "nook --root /r list",
            "nook start --help",
            "nook strat c1",
        ] {
            assert!(parse_fast(&argv(line)).is_none(), "{line}");
        }
        assert!(full("nook create --root /r -b /b c1").contains("root: Some(\"/r\")"));
        let exec = full("nook --root /r exec c1 sh --root /x");
        assert!(
            exec.contains("root: Some(\"/r\")") && exec.contains("\"--root\", \"/x\""),
            "{exec}"
        );
    }

    /// What runc 1.1.5's `update --memory` made of each value (read back
    /// from memory.limit_in_bytes, or its error).
    #[test]
    fn sizes_as_runc_reads_them() {
        for (text, bytes) in [
            ("50M", 52_428_800),
            ("50m", 52_428_800),
            ("50MB", 52_428_800),
            ("50mb", 52_428_800),
            ("50MiB", 52_428_800),
            ("50Mi", 52_428_800),
            ("50 M", 52_428_800),
            ("00050m", 52_428_800),
            ("1g", 1_073_741_824),
            ("1.5m", 1_572_864),
            ("100k", 102_400),
            ("100kb", 102_400),
            ("100KiB", 102_400),
            ("4096", 4096),
            ("4096b", 4096),
            ("1t", 1_099_511_627_776),
            ("2P", 2_251_799_813_685_248),
            ("50ib", 50),
            ("50i", 50),
            ("50B", 50),
            ("50Ib", 50),
            ("1.5", 1),
        ] {
            assert_eq!(ram_in_bytes(text), Ok(bytes), "{text:?}");
        }
        for text in [
            " 50M",
            "50  M",
            "50M ",
            "50MiBs",
            "50KM",
            "0x10",
            "1e3",
            "5k5",
            ".5m",
            "5.m",
            "50MB.",
            "+50m",
            "-2",
            "-1m",
            "",
            "99999999P",
        ] {
            assert_eq!(
                ram_in_bytes(text),
                Err(format!("invalid size: '{text}'")),
                "{text:?}"
            );
        }
        assert_eq!(
            ram_in_bytes("1.2.3m"),
            Err("strconv.ParseFloat: parsing \"1.2.3\": invalid syntax".into())
        );
    }

    #[test]
    fn times_as_go_rfc3339_nano_prints_them() {
        assert_eq!(
            rfc3339_nano("2026-11-30T04:27:03.981980800Z"),
            "2026-11-30T04:27:03.9819808Z"
        );
        assert_eq!(
            rfc3339_nano("2026-11-30T04:27:03.841475992Z"),
            "2026-11-30T04:27:03.841475992Z"
        );
        assert_eq!(
            rfc3339_nano("2026-11-30T04:27:03.000000000Z"),
            "2026-11-30T04:27:03Z"
        );
    }
}

//! `nook`: the runc-compatible command line over the nook library.
//!
//! Only argument parsing, output and signal forwarding live here; every
//! container operation is a library call. Flags and output follow runc,
//! because containerd's shim, conmon and dockerd call runtimes exactly as
//! they call runc.
#![forbid(unsafe_code)]

mod log;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};
use nix::sys::signal::{SigSet, Signal};
use nook::{Context, CreateOptions, Error};

use log::Logger;

#[derive(Parser, Debug)]
#[command(
    name = "nook",
    disable_version_flag = true,
    about = "An OCI container runtime"
)]
struct Cli {
    /// Root directory for container state.
    #[arg(long, global = true, default_value = "/run/nook")]
    root: PathBuf,
    /// Log file for errors (runc's --log).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text")]
    log_format: String,
    /// Enable debug logging.
    #[arg(long, global = true)]
    debug: bool,
    /// Use systemd for cgroups (not supported).
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (before the command, as in runc,
    /// so it does not clash with `spec --rootless`).
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

#[derive(Subcommand, Debug)]
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
    },
    /// Print a container's state as JSON.
    State { id: String },
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
    let cli = Cli::parse();
    let logger = Logger {
        file: cli.log.clone(),
        json: cli.log_format == "json",
        debug: cli.debug,
    };
    match dispatch(cli, &logger) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            logger.error(&e.to_string());
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli, logger: &Logger) -> nook::Result<u8> {
    if cli.version {
        println!(
            "nook version {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            nook::container::OCI_VERSION
        );
        return Ok(0);
    }
    if cli.systemd_cgroup {
        return Err(Error::Unsupported {
            what: "--systemd-cgroup (systemd cgroup driver)".into(),
        });
    }
    if !matches!(cli.log_format.as_str(), "text" | "json") {
        return Err(Error::Config {
            field: "--log-format".into(),
            reason: format!("unknown format {:?} (text or json)", cli.log_format),
        });
    }
    let ctx = Context::new(&cli.root);
    let Some(command) = cli.command else {
        return Err(Error::Config {
            field: "command".into(),
            reason: "missing; see nook --help".into(),
        });
    };
    logger.debug(&format!("{command:?}"));
    match command {
        Command::Create(a) => {
            ctx.create(&a.id, &a.bundle, &create_options(&a))?;
        }
        Command::Start { id } => ctx.load(&id)?.start()?,
        Command::Run { create, detach } => return run(&ctx, &create, detach),
        Command::State { id } => print_json(&ctx.load(&id)?.state()),
        Command::Kill { all, id, signal } => ctx.load(&id)?.kill(parse_signal(&signal)?, all)?,
        Command::Delete { force, id } => match ctx.load(&id) {
            Ok(c) => c.delete(force)?,
            // runc: `delete --force` of a missing container succeeds.
            Err(Error::NotFound { .. }) if force => {}
            Err(e) => return Err(e),
        },
        Command::List { format, quiet } => list(&ctx, &format, quiet)?,
        Command::Features => print_json(&nook::features::features()),
        Command::Spec { bundle, rootless } => write_spec(&bundle, rootless)?,
    }
    Ok(0)
}

fn create_options(a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        preserve_fds: a.preserve_fds,
        no_new_keyring: a.no_new_keyring,
    }
}

/// `run`: in the foreground, forward every signal to the init and exit with
/// its status. Signals are blocked before create, so a SIGCHLD from a fast
/// container is pending, not lost, when we start waiting.
fn run(ctx: &Context, a: &CreateArgs, detach: bool) -> nook::Result<u8> {
    if detach {
        ctx.create(&a.id, &a.bundle, &create_options(a))?.start()?;
        return Ok(0);
    }
    let mut set = SigSet::all();
    set.remove(Signal::SIGSEGV);
    set.remove(Signal::SIGBUS);
    set.remove(Signal::SIGILL);
    set.remove(Signal::SIGFPE);
    set.thread_block().map_err(|e| Error::Sys {
        call: "sigprocmask(SIG_BLOCK)".into(),
        errno: e as i32,
    })?;
    let c = ctx.create(&a.id, &a.bundle, &create_options(a))?;
    let result = c.start().and_then(|()| loop {
        if let Some(code) = c.try_wait()? {
            break Ok(code);
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) | Err(_) => {}
            Ok(sig) => {
                let _ = c.kill(sig as i32, false);
            }
        }
    });
    let deleted = c.delete(true);
    let code = result?;
    deleted?;
    Ok(code.clamp(0, 255) as u8)
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
            println!("{}", s.id);
        }
        return Ok(());
    }
    match format {
        "json" => print_json(&states),
        "table" => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{:<12}{:<12}{:<12}{:<40}{:<32}OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for s in &states {
                let _ = writeln!(
                    out,
                    "{:<12}{:<12}{:<12}{:<40}{:<32}{}",
                    s.id,
                    s.pid,
                    s.status,
                    s.bundle.display(),
                    s.created,
                    if s.owner.is_empty() { "root" } else { &s.owner }
                );
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

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).expect("serialises"));
}

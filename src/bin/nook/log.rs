//! runc-compatible error output: to stderr, and with `--log FILE` to that
//! file, as text (`time="..." level=error msg="..."`) or, with
//! `--log-format json`, one `{"level":"error","msg":"...","time":"..."}` line,
//! which containerd and podman read back to show the cause of a failure.
//! The library's warnings (a failing poststart or poststop hook) arrive
//! through the `log` facade and go where runc's logrus sends them: to the
//! log file, or to stderr without one.

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

/// Where and how errors are logged.
#[derive(Debug, Clone)]
pub struct Logger {
    pub file: Option<PathBuf>,
    pub json: bool,
    pub debug: bool,
}

impl Logger {
    fn line(&self, level: &str, msg: &str) -> String {
        let time = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
        if self.json {
            serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string()
        } else {
            format!("time={time:?} level={level} msg={msg:?}")
        }
    }

    /// Logs an error: always to stderr, and to the log file when set.
    pub fn error(&self, msg: &str) {
        self.write("error", msg);
        eprintln!(
            "{}",
            if self.file.is_some() {
                msg.to_string()
            } else {
                self.line("error", msg)
            }
        );
    }

    /// Logs a debug message (only with --debug): to the log file, or to
    /// stderr without one, as runc's `--debug` does (debug.bats).
    pub fn debug(&self, msg: &str) {
        if !self.debug {
            return;
        }
        match self.file {
            Some(_) => self.write("debug", msg),
            None => eprintln!("{}", self.line("debug", msg)),
        }
    }

    fn write(&self, level: &str, msg: &str) {
        if let Some(path) = &self.file {
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = writeln!(f, "{}", self.line(level, msg));
            }
        }
    }
}

impl Logger {
    /// Makes this the `log` facade's logger for the library's warnings.
    pub fn install(&self) {
        let max = if self.debug {
            ::log::LevelFilter::Debug
        } else {
            ::log::LevelFilter::Warn
        };
        if ::log::set_logger(Box::leak(Box::new(self.clone()))).is_ok() {
            ::log::set_max_level(max);
        }
    }
}

impl ::log::Log for Logger {
    fn enabled(&self, meta: &::log::Metadata<'_>) -> bool {
        meta.level() <= ::log::Level::Warn || self.debug
    }

    fn log(&self, record: &::log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            ::log::Level::Error => "error",
            ::log::Level::Warn => "warning",
            ::log::Level::Info => "info",
            _ => "debug",
        };
        let msg = record.args().to_string();
        if self.file.is_some() {
            self.write(level, &msg);
        } else {
            eprintln!("{}", self.line(level, &msg));
        }
    }

    fn flush(&self) {}
}

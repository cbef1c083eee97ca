//! The fork-safety rule, proven: containers are created in a loop from a
//! process whose other threads allocate, free and lock non-stop. A child
//! that allocated or took a lock between clone and execve would sooner or
//! later deadlock on a lock held by one of those threads at clone time.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Fixture;

const CONTAINERS: usize = 200;

#[test]
fn containers_from_a_busy_multithreaded_process() {
    let f = Fixture::new(&["true"]);
    f.write_config();
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Vec::<String>::new()));
    let churn: Vec<_> = (0..4)
        .map(|t| {
            let stop = stop.clone();
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    n = n.wrapping_mul(6364136223846793005).wrapping_add(t + 1);
                    let v: Vec<u8> = vec![n as u8; 1 + n % 65536];
                    let s = format!("{t}:{}", v.len());
                    shared.lock().unwrap().push(s);
                    if shared.lock().unwrap().len() > 1000 {
                        shared.lock().unwrap().clear();
                    }
                }
            })
        })
        .collect();

    // A watchdog turns a hang into a failure: it kills our stuck children,
    // so the blocked create returns an error and the test cleans up.
    let done = Arc::new(AtomicUsize::new(0));
    let watchdog = {
        let (done, stop) = (done.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut last, mut since) = (0, Instant::now());
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let now = done.load(Ordering::Relaxed);
                if now != last {
                    (last, since) = (now, Instant::now());
                } else if since.elapsed() > Duration::from_secs(20) {
                    eprintln!("container {now} hung for 20 s: killing our children");
                    kill_children();
                    since = Instant::now();
                }
            }
        })
    };

    let mut failures = Vec::new();
    for i in 0..CONTAINERS {
        match f.ctx.run(&format!("fs-{i}"), f.bundle(), &Default::default()) {
            Ok(0) => {}
            other => failures.push(format!("container {i}: {other:?}")),
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    for t in churn {
        t.join().unwrap();
    }
    watchdog.join().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(f.ctx.list().unwrap().is_empty());
}

fn kill_children() {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let after = stat.rsplit_once(") ").map(|x| x.1).unwrap_or("");
        if after.split(' ').nth(1) == Some(me.as_str()) {
            if let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() {
                // SAFETY: kill with a pid we just read as our child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

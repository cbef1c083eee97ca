//! The Rust API in a few lines: create, start, wait for, read the state of
//! and delete a container.
//!
//! `cargo run --example hello -- [BUNDLE] [STATE_ROOT]` (as root); the
//! defaults are examples/hello and a fresh temporary state root.

use nook::{Context, CreateOptions};

fn main() -> nook::Result<()> {
    let mut args = std::env::args().skip(1);
    let bundle = args.next().unwrap_or_else(|| "examples/hello".into());
    let root = match args.next() {
        Some(r) => std::path::PathBuf::from(r),
        None => std::env::temp_dir().join(format!("nook-example-{}", std::process::id())),
    };
    let ctx = Context::new(&root);
    let c = ctx.create("hello-rust", &bundle, &CreateOptions::default())?;
    println!(
        "created: {}",
        serde_json::to_string(&c.state()).expect("state serialises")
    );
    c.start()?;
    let code = c.wait()?;
    println!("exited with {code}, now {}", c.status());
    c.delete(false)?;
    let _ = std::fs::remove_dir(&root);
    std::process::exit(code);
}

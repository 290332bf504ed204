//! `hs key`: make a shared key (printed, written to a private file, or stored in a config file)
//! or check one. Keys made here are what `hs server` would generate itself: 256 random bits.

use std::io::BufRead;

use hs_engine::protocol::{estimate_bits, generate_key, validate_key};

use crate::cli::KeyArgs;
use crate::config::{Context, Level, key};
use crate::exit::{Failure, Status};
use crate::key_file;

pub fn run(args: &KeyArgs) -> anyhow::Result<Status> {
    if args.check {
        return check();
    }
    let made = generate_key();
    let level = match (args.user, args.local) {
        (true, _) => Some(Level::User),
        (_, true) => Some(Level::Local),
        _ => None,
    };
    if let Some(path) = &args.output {
        key_file::write_new(path, &made)?;
        tracing::info!(
            "wrote a new key to {} (mode 0600): pass --key-file {} to hs server and hs client",
            path.display(),
            path.display()
        );
    }
    if let Some(level) = level {
        let ctx = Context::from_process();
        let file = crate::config::command::set_in_file(&ctx, level, key::SERVER_AUTH.name, &made)?;
        tracing::info!("set {} in {} (mode 0600)", key::SERVER_AUTH, file.display());
    }
    if args.output.is_none() && level.is_none() {
        println!("{made}");
    }
    Ok(Status::Ok)
}

/// `hs key --check`: the strength of the key on stdin's first line, and whether `hs server`
/// takes it. The key itself is never printed.
fn check() -> anyhow::Result<Status> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::runtime(format!("cannot read a key from stdin: {e}")))?;
    let key = line.trim();
    let bits = estimate_bits(key) as u32;
    match validate_key(key) {
        Ok(()) => {
            println!("ok: about {bits} bits");
            Ok(Status::Ok)
        }
        Err(e) => Err(Failure::usage(e.to_string())),
    }
}

//! `hs top` (and `hs status --watch`): a running controller's engines, tasks and recent
//! failures, full-screen and kept up to date until q; `--json` prints the snapshot once.

use std::time::Duration;

use crate::cli::TopArgs;
use crate::config::Config;
use crate::exit::Status;
use crate::live;

pub fn run(args: TopArgs, cfg: &Config) -> anyhow::Result<Status> {
    let dialed = live::resolve(&args.target, cfg)?;
    if args.json {
        return super::status::print_json(&dialed);
    }
    live::watch(dialed, Duration::from_secs_f64(args.interval))?;
    Ok(Status::Ok)
}

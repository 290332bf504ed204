//! `hs status --profile=NAME`: the engines of a running profile and its task counts.

use std::io::Write;
use std::time::Duration;

use crate::cli::StatusArgs;
use crate::connection;
use crate::exit::Status;
use crate::profile::Profile;
use crate::site::Site;

pub fn run(args: StatusArgs) -> anyhow::Result<Status> {
    let profile = Profile::find(&Site::from_env(), &args.profile)?;
    let cluster = super::running::cluster(&profile)?;
    let info = connection::read(&profile.client_file())?;
    let status = connection::connect(&info, Duration::from_secs(5))?
        .status()
        .map_err(connection::client_error)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::json!({
            "profile": profile.name,
            "pid": cluster.pid,
            "started": cluster.started,
            "launcher": cluster.launcher,
            "controller_id": status.controller_id,
            "address": format!("{}:{}", info.host, info.engine_port),
            "tasks": {
                "queued": status.queued,
                "running": status.running,
                "succeeded": status.succeeded,
                "failed": status.failed,
            },
            "engines": status.engines,
        });
        writeln!(out, "{json}")?;
        return Ok(Status::Ok);
    }
    writeln!(
        out,
        "profile {}: running since {} (pid {}), {} launcher, controller {} at {}:{}",
        profile.name,
        cluster.started,
        cluster.pid,
        cluster.launcher,
        status.controller_id,
        info.host,
        info.engine_port
    )?;
    writeln!(
        out,
        "tasks: {} queued, {} running, {} succeeded, {} failed (this run)",
        status.queued, status.running, status.succeeded, status.failed
    )?;
    writeln!(out, "engines: {}", status.engines.len())?;
    if !status.engines.is_empty() {
        writeln!(
            out,
            "{:<36}  {:<20} {:>5} {:>5} {:>8} {:>10}",
            "ENGINE", "HOST", "SLOTS", "BUSY", "DONE", "HEARD"
        )?;
        for e in &status.engines {
            writeln!(
                out,
                "{:<36}  {:<20} {:>5} {:>5} {:>8} {:>9.1}s",
                e.engine_id,
                e.host,
                e.slots,
                e.busy,
                e.done,
                e.last_heard_ms as f64 / 1000.0
            )?;
        }
    }
    Ok(Status::Ok)
}

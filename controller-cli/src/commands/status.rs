//! `hs status`: a running controller's engines, task counts, recent rate and failures, once (as
//! text, or JSON with `--json`); `--watch` is `hs top`. The controller is a profile's
//! (`--profile`), the one a connection file names (`--file`), or the one at `-H`/`-p`. For a
//! profile, its launcher adds what it runs and, autoscaled, its policy and target size.

use std::io::Write;

use crate::cli::{StatusArgs, TopArgs};
use crate::config::Config;
use crate::exit::Status;
use crate::launch::control::{self, LaunchStatus, Reply, Request};
use crate::live::{self, Dialed, Snapshot, format_duration};
use crate::profile::Profile;
use crate::site::Site;

pub fn run(args: StatusArgs, cfg: &Config) -> anyhow::Result<Status> {
    if args.watch {
        let top = TopArgs {
            target: args.target,
            json: false,
            interval: args.interval,
        };
        return super::top::run(top, cfg);
    }
    let dialed = live::resolve(&args.target, cfg)?;
    if args.json {
        return print_json(&dialed);
    }
    let snapshot = ask(&dialed)?;
    print_text(&snapshot, launch_status(&dialed).as_ref())?;
    Ok(Status::Ok)
}

/// The snapshot as one line of JSON (`hs status --json`, `hs top --json`).
pub fn print_json(dialed: &Dialed) -> anyhow::Result<Status> {
    let snapshot = ask(dialed)?;
    let mut json = snapshot.to_json();
    if let (Some(launch), Some(map)) = (launch_status(dialed), json.as_object_mut()) {
        map.insert("launch".into(), serde_json::to_value(launch)?);
    }
    writeln!(std::io::stdout().lock(), "{json}")?;
    Ok(Status::Ok)
}

/// What a profile's launcher says it runs; `None` for a controller that is no profile's, or a
/// launcher that does not answer (an older hs).
fn launch_status(dialed: &Dialed) -> Option<LaunchStatus> {
    let run = dialed.profile.as_ref()?;
    let profile = Profile::find(&Site::from_env(), &run.name).ok()?;
    match control::ask(&profile.control_socket(), &Request::Status) {
        Ok(Reply::Status(status)) => Some(status),
        Ok(other) => {
            tracing::debug!("the launcher's status: unexpected reply {other:?}");
            None
        }
        Err(e) => {
            tracing::debug!("the launcher does not answer: {e}");
            None
        }
    }
}

fn ask(dialed: &Dialed) -> anyhow::Result<Snapshot> {
    let reply = Dialed::ask(&mut dialed.connect()?)?;
    Ok(Snapshot::new(reply, dialed))
}

fn print_text(s: &Snapshot, launch: Option<&LaunchStatus>) -> anyhow::Result<()> {
    let r = &s.reply;
    let mut out = std::io::stdout().lock();
    match &s.profile {
        Some(p) => writeln!(
            out,
            "profile {}: running since {} (pid {}), {} launcher, controller {} at {}",
            p.name, p.started, p.pid, p.launcher, r.controller_id, s.address
        )?,
        None => writeln!(out, "controller {} at {}", r.controller_id, s.address)?,
    }
    writeln!(
        out,
        "tasks: {} queued, {} running, {} succeeded, {} failed (this run)",
        s.waiting(),
        r.running,
        r.succeeded,
        r.failed
    )?;
    if let Some(rate) = s.rate_per_minute() {
        let eta = s.eta().map_or("-".into(), format_duration);
        writeln!(out, "rate: {rate:.1}/min over the last minute, ETA {eta}")?;
    }
    writeln!(
        out,
        "engines: {} ({} slots, {} busy)",
        r.engine_total(),
        r.slot_total(),
        r.busy_total()
    )?;
    if let Some(l) = launch {
        writeln!(
            out,
            "launcher: {} processes running, {} launched",
            l.running, l.launched
        )?;
        if let Some(a) = &l.autoscale {
            writeln!(
                out,
                "autoscale: {}, {} engines now, target {} (init {}, min {}, max {}, factor {}, \
                 every {}s)",
                a.policy,
                r.engine_total(),
                a.target,
                a.init,
                a.min,
                a.max,
                a.factor,
                a.period
            )?;
        }
    }
    if !r.engines.is_empty() {
        writeln!(
            out,
            "{:<36}  {:<20} {:>5} {:>5} {:>8} {:>10}",
            "ENGINE", "HOST", "SLOTS", "BUSY", "DONE", "HEARD"
        )?;
        for e in &r.engines {
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
        if (r.engines.len() as u64) < r.engine_total() {
            writeln!(out, "(the busiest {} engines are listed)", r.engines.len())?;
        }
    }
    if !r.failures.is_empty() {
        writeln!(out, "recent failures:")?;
        for f in &r.failures {
            let how = f.signal.map_or(format!("exit {}", f.exit_status), |sig| {
                format!("signal {sig}")
            });
            let host = if f.host.is_empty() { "-" } else { &f.host };
            let ago = format_duration(std::time::Duration::from_millis(f.ago_ms));
            writeln!(
                out,
                "  {ago:>6} ago  {how:<9} {host:<20} {} {}",
                f.id, f.args
            )?;
        }
    }
    Ok(())
}

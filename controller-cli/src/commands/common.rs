//! Pieces the cluster, server and client commands share.

use std::sync::Arc;
use std::time::Duration;

use hs_engine::engine::{Endpoints, EngineConfig, OutputConfig};
use hs_engine::executor::LineSink;
use hs_engine::template::Template;

use crate::cli::{BundleArgs, HeartbeatArgs, RunArgs};
use crate::exit::Failure;
use crate::site::Site;

/// `-N`: 0 means one slot per CPU core.
pub fn slots(n: u32) -> u32 {
    if n > 0 {
        return n;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

pub fn parse_template(text: &str) -> anyhow::Result<Template> {
    Template::parse(text).map_err(|e| Failure::usage(format!("bad template {text:?}: {e}")))
}

fn sink(
    path: &Option<std::path::PathBuf>,
    fallback: fn() -> LineSink,
) -> anyhow::Result<Arc<LineSink>> {
    Ok(Arc::new(match path {
        Some(p) => LineSink::file(p).map_err(|e| Failure {
            status: crate::exit::Status::Runtime,
            message: format!("cannot open {} for task output: {e}", p.display()),
        })?,
        None => fallback(),
    }))
}

/// An engine configuration from the shared flags.
pub fn engine_config(
    run: &RunArgs,
    bundle: &BundleArgs,
    slots: u32,
    endpoints: Endpoints,
    key: String,
    site: &Site,
) -> anyhow::Result<EngineConfig> {
    let output = OutputConfig {
        stdout: sink(&run.output, LineSink::stdout)?,
        stderr: sink(&run.errors, LineSink::stderr)?,
        capture_dir: if run.capture {
            Some(site.task_dir()?)
        } else {
            None
        },
    };
    let mut cfg = EngineConfig::new(endpoints, key, slots, output);
    cfg.template = parse_template(&run.template)?;
    cfg.task_timeout = run.task_timeout.map(Duration::from_secs_f64);
    cfg.signalwait = Duration::from_secs_f64(run.signalwait);
    cfg.result_bundle = bundle.bundlesize;
    cfg.result_wait = Duration::from_secs_f64(bundle.bundlewait);
    Ok(cfg)
}

pub fn heartbeat(h: &HeartbeatArgs) -> (Duration, Duration) {
    let heartrate = Duration::from_secs_f64(h.heartrate);
    let evict = Duration::from_secs_f64(h.evict).max(heartrate * 2);
    (heartrate, evict)
}

/// The last line of a run, on stderr: what happened to every task.
pub fn log_summary(summary: &hs_broker::BrokerSummary, rejected_lines: u64, elapsed: Duration) {
    let done = summary.succeeded + summary.failed;
    let mut line = format!(
        "tasks: {done} done, {} succeeded, {} failed in {:.2}s",
        summary.succeeded,
        summary.failed,
        elapsed.as_secs_f64()
    );
    if summary.unfinished > 0 {
        line.push_str(&format!(
            "; {} not finished (interrupted)",
            summary.unfinished
        ));
    }
    if rejected_lines > 0 {
        line.push_str(&format!("; {rejected_lines} input lines rejected"));
    }
    if summary.failed > 0 || rejected_lines > 0 || summary.aborted {
        tracing::warn!("{line}");
    } else {
        tracing::info!("{line}");
    }
}

/// Exit status for a finished run.
pub fn run_status(summary: &hs_broker::BrokerSummary, rejected_lines: u64) -> crate::exit::Status {
    use crate::exit::Status;
    if summary.aborted || crate::signals::interrupted() {
        Status::Interrupted
    } else if summary.failed > 0 || rejected_lines > 0 {
        Status::TasksFailed
    } else {
        Status::Ok
    }
}

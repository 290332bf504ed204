//! What `hs cluster` and `hs server` share: opening and claiming the store, applying the store
//! flags to the broker, and turning the end of a run into a summary and an exit status.

use std::time::{Duration, Instant};

use hs_broker::store::TaskStore;
use hs_broker::{ControllerConfig, ControllerSummary, RunControl};

use crate::cli::StoreArgs;
use crate::config::{Config, KeyDef, key};
use crate::database::{self, Location, Prepare};
use crate::exit::{Failure, Status};
use crate::input::InputReport;
use crate::signals::StopRequest;

/// The controller's reaction to `request` (see [`super::setup::Controls::stop_on_signals`]).
pub fn stop_broker(control: &RunControl, request: StopRequest) {
    match request {
        StopRequest::Drain => {
            tracing::info!(
                "{}: stopping: no more tasks are handed out, running tasks finish",
                request.signal_name()
            );
            control.stop_scheduling();
        }
        StopRequest::Stop => {
            tracing::info!(
                "{}: stopping: running tasks are stopped and handed back",
                request.signal_name()
            );
            control.abort();
        }
    }
}

/// After a run stopped by a signal: where the tasks it did not finish are now.
pub fn note_unfinished(summary: &ControllerSummary, location: &Location) {
    if !(summary.stopped || summary.aborted) || summary.unfinished == 0 {
        return;
    }
    if location.is_durable() {
        tracing::info!(
            "{} tasks not finished stay in the database: `--restart` runs them",
            summary.unfinished
        );
    } else {
        tracing::warn!(
            "{} tasks not finished are lost: --no-db keeps nothing after the run",
            summary.unfinished
        );
    }
}

/// The store a controller runs from, opened and claimed (a second live controller on the same
/// database is refused).
pub fn open_store(
    args: &StoreArgs,
    cfg: &Config,
) -> anyhow::Result<(Location, Box<dyn TaskStore>)> {
    let location = Location::resolve(cfg, args.no_db)?;
    let prepare = if args.initdb {
        Prepare::Initialize
    } else {
        Prepare::Existing
    };
    let mut store = database::open(&location, prepare)?;
    let owner = format!(
        "pid {} on {}",
        std::process::id(),
        hs_engine::engine::short_hostname()
    );
    store.claim_controller(&owner).map_err(database::runtime)?;
    tracing::debug!("task store: {}", location.describe());
    Ok((location, store))
}

/// Apply the store flags to the broker's configuration: `-r` (else `server.attempts`, which
/// counts the first run too), `--eager` (else `server.eager`).
pub fn configure(
    bcfg: &mut ControllerConfig,
    args: &StoreArgs,
    location: &Location,
    cfg: &Config,
) -> anyhow::Result<()> {
    const ATTEMPTS: &KeyDef = key::SERVER_ATTEMPTS;
    let attempts = cfg.value(args.max_retries.map(|r| r.saturating_add(1)), ATTEMPTS)?;
    bcfg.max_retries = attempts
        .checked_sub(1)
        .ok_or_else(|| Failure::from(cfg.invalid(ATTEMPTS.name, "1 or more")))?;
    bcfg.eager = cfg.value(args.eager.then_some(true), key::SERVER_EAGER)?;
    // Without it a run schedules only the tasks it is given (`--forever` serves the store too).
    bcfg.restart = args.restart;
    bcfg.buffer_input = location.is_durable();
    // Only a durable store can be changed by other processes (`hs update --cancel`).
    bcfg.watch_cancels = location.is_durable();
    bcfg.restart_grace = Duration::from_secs_f64(args.restart_grace);
    // Tasks that name hosts (submitted by a stream or a library client) wait this long.
    bcfg.affinity_wait = super::common::host_wait(None, cfg)?;
    // The flag's parser and the configuration's reader both refuse what no Duration holds.
    bcfg.db_wait = Duration::from_secs_f64(cfg.value(args.db_wait, key::SERVER_DBWAIT)?);
    bcfg.max_message = max_message(cfg)?;
    // Engines elsewhere send their captured output into this controller's site.
    let max_bytes: usize = cfg.value(None, key::SERVER_MAXOUTPUT)?;
    bcfg.uploads = (max_bytes > 0).then(|| hs_broker::UploadConfig {
        dir: crate::site::Site::from_env().lib.join("task"),
        max_bytes: max_bytes as u64,
    });
    Ok(())
}

/// `server.maxmessage`: at least 1 MiB, so hs's own bundles of ordinary tasks always pass.
fn max_message(cfg: &Config) -> anyhow::Result<usize> {
    const MIN: usize = 1 << 20;
    let bytes: usize = cfg.value(None, key::SERVER_MAXMESSAGE)?;
    if bytes < MIN {
        return Err(Failure::from(
            cfg.invalid(key::SERVER_MAXMESSAGE.name, "1048576 (1 MiB) or more"),
        )
        .into());
    }
    Ok(bytes)
}

/// `-Q`, else `server.poll` when set: how often an idle controller looks for new tasks. hs looks
/// every second by default (HyperShell backs off up to 30 s), since a look costs one query.
///
/// Only a controller that keeps serving (`--forever`) looks again: a run of its own input knows
/// its tasks, so `-Q` there changes nothing and says so.
pub fn store_poll(
    poll: &crate::cli::PollArgs,
    forever: bool,
    cfg: &Config,
) -> anyhow::Result<Duration> {
    if poll.poll.is_some() && !forever {
        tracing::warn!("-Q/--poll changes nothing without --forever (hs looks for new tasks then)");
    }
    match cfg.value(poll.poll, key::SERVER_POLL)? {
        s if s > 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s)),
        _ => Err(
            Failure::from(cfg.invalid(key::SERVER_POLL.name, "a positive number of seconds"))
                .into(),
        ),
    }
}

/// A run that completed but lost output of some tasks (a full disk under `-o`) did not do what
/// it was asked: exit 5, whatever `--fail-exit` says. An interrupted run stays 4.
pub fn with_lost_output(status: Status, output_lost: u64) -> Status {
    if output_lost == 0 || status == Status::Interrupted {
        return status;
    }
    tracing::error!(
        "the output of {output_lost} tasks could not be written: they are recorded as failed \
         (exit_status -5)"
    );
    Status::Runtime
}

/// Log the summary line and pick the exit status (`fail_exit`: `--fail-exit`, failed tasks
/// make it 1).
pub fn finish(
    summary: &hs_broker::ControllerSummary,
    input: Option<InputReport>,
    started: Instant,
    expected_input: bool,
    fail_exit: bool,
) -> Status {
    let rejected = input.as_ref().map_or(0, |r| r.rejected);
    let read_error = input.as_ref().and_then(|r| r.read_error.as_ref());
    // (No report: the run ended before its input did, which says nothing about the input.)
    if expected_input
        && input.is_some()
        && summary.submitted == 0
        && rejected == 0
        && !summary.aborted
        && !summary.stopped
        && read_error.is_none()
    {
        tracing::warn!(
            "the input had no tasks: give a file with one command per line, or pipe lines to stdin"
        );
    }
    super::common::log_summary(summary, rejected, started.elapsed());
    if let Some(error) = read_error {
        tracing::error!("reading the tasks stopped ({error}); the tasks read before it ran");
        return Status::Runtime;
    }
    super::common::run_status(summary, rejected, fail_exit)
}

//! `hs wait ID`: wait until a task has finished.

use std::io::Write;
use std::time::{Duration, Instant};

use hs_broker::store::TaskRecord;

use super::task_id;
use crate::cli::WaitArgs;
use crate::config::Config;
use crate::database::{self, Location};
use crate::exit::{Failure, Status};

/// The exit status `hs wait --return` and `hs run` give for a task's own status: the code itself
/// when it fits, else 1 (signals and hs's negative sentinels).
pub fn exit_code_for(status: Option<i32>) -> i32 {
    status.filter(|code| (0..=255).contains(code)).unwrap_or(1)
}

/// Poll the store (and its partitions) until the task has a completion time; returns the finished task, so a caller
/// that wants its output paths need not look it up again.
pub fn until_done(
    location: &Location,
    id: &uuid::Uuid,
    interval: Duration,
    limit: Option<Duration>,
) -> anyhow::Result<TaskRecord> {
    // Partitions are read too: a finished task may have been rotated out of the database
    // (HyperShell's `hs wait` reads the database alone and says such a task does not exist).
    let mut store = database::open_reading(location, false)?;
    let started = Instant::now();
    loop {
        let task = match store.get(id).map_err(database::runtime)? {
            Some(task) => task,
            None => {
                // A rotation made a partition after this store was opened: look once more
                // with a fresh view of the partitions.
                store = database::open_reading(location, false)?;
                task_id::lookup(store.as_mut(), id)?
            }
        };
        if task.completion_time.is_some() {
            return Ok(task);
        }
        if limit.is_some_and(|l| started.elapsed() >= l) {
            return Err(Failure::runtime(format!(
                "task {id} has not finished yet (gave up waiting)"
            )));
        }
        if crate::signals::interrupted() {
            return Err(Failure {
                status: Status::Interrupted,
                message: "interrupted".into(),
            }
            .into());
        }
        std::thread::sleep(interval);
    }
}

pub fn run(args: WaitArgs, cfg: &Config) -> anyhow::Result<Status> {
    let id = task_id::parse(&args.id)?;
    let location = Location::persistent(cfg)?;
    crate::signals::on_interrupt(|| {})?;
    let task = until_done(
        &location,
        &id,
        Duration::from_secs_f64(args.interval),
        args.timeout.map(Duration::from_secs_f64),
    )?;
    if args.return_status {
        // The caller asked for the task's own status as ours.
        std::process::exit(exit_code_for(task.exit_status));
    }
    let mut out = std::io::stdout().lock();
    if args.status {
        let status = task
            .exit_status
            .map_or("null".to_string(), |s| s.to_string());
        writeln!(out, "{status}")?;
    } else if args.info {
        super::info::print_task(&task, &args.format, &mut out)?;
    }
    Ok(Status::Ok)
}

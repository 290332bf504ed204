//! What every `hs submit` does whatever the destination: read the tasks its arguments name (one
//! command, a file, stdin), expand each with the submit-side template, hand them on in bundles,
//! and say what was submitted. The destination is the database (`hs submit`) or a live
//! controller (`hs submit -q`).

use std::io::Read;

use hs_broker::store::{InputProgress, TaskRecord};
use hs_engine::bundle::MAX_TASK_BYTES;
use hs_engine::template::Template;
use uuid::Uuid;

use super::submit::source;
use crate::cli::SubmitArgs;
use crate::exit::{Failure, Status};
use crate::input::{MAX_BUNDLE, Source, Submitter, read_input};
use crate::report::FailureLog;
use crate::resume::Tracking;
use crate::submit_shell::SubmitShell;

/// Where the expanded tasks go.
pub trait Destination {
    /// How the log names it ("to the database").
    fn name(&self) -> String;

    /// How many tasks go in one bundle at most.
    fn bundle(&self) -> usize {
        MAX_BUNDLE
    }

    /// Decide how `input`, opened from `source`, is read. A destination that records how far
    /// an input was stored tracks it (see `resume`); others read it as it is.
    fn track(
        &mut self,
        source: &Source,
        input: Box<dyn Read + Send>,
    ) -> anyhow::Result<(Box<dyn Read + Send>, Option<Tracking>)> {
        let _ = source;
        Ok((input, None))
    }

    /// Hand on a bundle (with how far its input is read, when tracked); returns the ids its
    /// tasks were given.
    fn deliver(
        &mut self,
        rows: Vec<TaskRecord>,
        progress: Option<&InputProgress>,
    ) -> anyhow::Result<Vec<Uuid>>;

    /// A tracked input was read and stored to its end.
    fn input_done(&mut self, tracking: &Tracking) -> anyhow::Result<()> {
        let _ = tracking;
        Ok(())
    }
}

/// Submits the tasks `args` names to `destination`.
pub fn submit_tasks(
    args: &SubmitArgs,
    template: &Template,
    shell: &SubmitShell,
    submitter: &Submitter,
    destination: &mut dyn Destination,
) -> anyhow::Result<Status> {
    let to = destination.name();
    // Tasks the template made longer than a task may be: refused, the rest go on.
    let oversized = std::cell::Cell::new(0u64);
    let expand = |rows: Vec<TaskRecord>| -> anyhow::Result<Vec<TaskRecord>> {
        let mut kept = Vec::with_capacity(rows.len());
        for mut row in rows {
            let args = template
                .expand(&row.args, shell)
                .map_err(|e| Failure::usage(format!("{}: {e}", row.args)))?;
            if args.len() > MAX_TASK_BYTES {
                let start: String = row.args.chars().take(60).collect();
                tracing::error!(
                    "{start}…: longer than the {MAX_TASK_BYTES} bytes a task may have once the \
                     template is applied ({} bytes); skipped",
                    args.len()
                );
                oversized.set(oversized.get() + 1);
                continue;
            }
            row.args = args;
            kept.push(row);
        }
        Ok(kept)
    };
    let source = match source(args) {
        Ok(source) => source,
        Err(command) => {
            let row = submitter.task(command, submitter.defaults.clone());
            for id in destination.deliver(expand(vec![row])?, None)? {
                // `hs task submit` prints the id (HyperShell's does); `hs submit` logs it.
                if args.print_id {
                    println!("{id}");
                } else {
                    tracing::info!("submitted task {id}");
                }
            }
            return Ok(if oversized.get() > 0 {
                Status::TasksFailed
            } else {
                Status::Ok
            });
        }
    };
    let (input, tracking) = destination.track(&source, source.open()?)?;
    // A tracked input's tasks belong to its submission (an earlier run's, when this one
    // finishes it).
    let mut submitter = submitter.clone();
    if let Some(t) = &tracking {
        submitter.id = t.submission;
    }
    let mut submitted = 0usize;
    let mut failure: Option<anyhow::Error> = None;
    let bundle = destination.bundle();
    let report = read_input(
        input,
        &FailureLog::none(),
        &submitter,
        tracking.as_ref(),
        bundle,
        &mut |rows, progress| match expand(rows)
            .and_then(|rows| destination.deliver(rows, progress.as_ref()))
        {
            Ok(ids) => {
                submitted += ids.len();
                true
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        },
    );
    if let Some(e) = failure {
        if submitted > 0 {
            tracing::error!("{submitted} tasks were submitted {to} before the error");
        }
        return Err(e);
    }
    tracing::info!("submitted {submitted} tasks {to}");
    if let Some(t) = &tracking {
        destination.input_done(t)?;
    }
    if let Some(e) = report.read_error {
        return Err(Failure::runtime(format!(
            "reading the tasks stopped: {e} (the {submitted} tasks before it are submitted)"
        )));
    }
    let rejected = report.rejected + oversized.get();
    if rejected > 0 {
        tracing::warn!("{rejected} input lines were rejected (see above)");
        return Ok(Status::TasksFailed);
    }
    Ok(Status::Ok)
}

//! What every `hs submit` does whatever the destination: read the tasks its arguments name (one
//! command, a file, stdin), expand each with the submit-side template, hand them on in bundles,
//! and say what was submitted. The destination is the database (`hs submit`) or a live
//! controller (`hs submit -q`).

use std::io::Read;

use hs_broker::store::TaskRecord;
use hs_engine::template::Template;
use uuid::Uuid;

use super::submit::source;
use crate::cli::SubmitArgs;
use crate::exit::{Failure, Status};
use crate::input::{Submitter, read_lines};
use crate::report::FailureLog;
use crate::submit_shell::SubmitShell;

/// Where the expanded tasks go: takes a bundle, returns the ids it was given.
pub type Deliver<'a> = dyn FnMut(Vec<TaskRecord>) -> anyhow::Result<Vec<Uuid>> + 'a;

/// Submits the tasks `args` names through `deliver`; `to` names the destination in the log.
pub fn submit_tasks(
    args: &SubmitArgs,
    template: &Template,
    shell: &SubmitShell,
    submitter: &Submitter,
    deliver: &mut Deliver,
    to: &str,
) -> anyhow::Result<Status> {
    let expand = |mut rows: Vec<TaskRecord>| -> anyhow::Result<Vec<TaskRecord>> {
        for row in &mut rows {
            row.args = template
                .expand(&row.args, shell)
                .map_err(|e| Failure::usage(format!("{}: {e}", row.args)))?;
        }
        Ok(rows)
    };
    let source = match source(args) {
        Ok(source) => source,
        Err(command) => {
            let row = submitter.task(command, submitter.defaults.clone());
            for id in deliver(expand(vec![row])?)? {
                // `hs task submit` prints the id (HyperShell's does); `hs submit` logs it.
                if args.print_id {
                    println!("{id}");
                } else {
                    tracing::info!("submitted task {id}");
                }
            }
            return Ok(Status::Ok);
        }
    };
    let input: Box<dyn Read + Send> = source.open()?;
    let mut submitted = 0usize;
    let mut failure: Option<anyhow::Error> = None;
    let report = read_lines(
        input,
        &FailureLog::none(),
        submitter,
        &mut |bundle| match expand(bundle).and_then(&mut *deliver) {
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
    if let Some(e) = report.read_error {
        return Err(Failure::runtime(format!(
            "reading the tasks stopped: {e} (the {submitted} tasks before it are submitted)"
        )));
    }
    if report.rejected > 0 {
        tracing::warn!("{} input lines were rejected (see above)", report.rejected);
        return Ok(Status::TasksFailed);
    }
    Ok(Status::Ok)
}

//! `hs stream --file CONN.json`: JSON jobs to a running controller instead of a cluster inside
//! this process (the stream itself is `stream::remote`). Whatever finds the connection file
//! (`--file`, or a profile's client file) only has to hand its path to [`run`].

use std::path::Path;
use std::time::Instant;

use hs_broker::ControllerSummary;
use hs_broker::client::{Client, locate};

use super::common::log_summary;
use crate::cli::StreamArgs;
use crate::connection::client_error;
use crate::exit::{Failure, Status};
use crate::signals;
use crate::stream::remote::{self, End};

pub fn run(connection_file: &Path, args: &StreamArgs) -> anyhow::Result<Status> {
    let started = Instant::now();
    let info = locate(connection_file).map_err(client_error)?;
    let mut client = Client::connect(&info).map_err(client_error)?;
    tracing::debug!(
        "streaming to controller {} at {}",
        info.controller_id,
        info.client_endpoint()
    );
    // The stream notices the interrupt itself and cancels what it sent.
    signals::on_interrupt(|| {})?;
    let report = remote::run(&mut client, Box::new(std::io::stdin()), args.keep_order)?;
    let summary = ControllerSummary {
        submitted: report.written,
        succeeded: report.written - report.not_ok,
        failed: report.not_ok,
        aborted: matches!(report.end, End::Interrupted),
        ..ControllerSummary::default()
    };
    log_summary(&summary, 0, started.elapsed());
    match report.end {
        End::Lost { error, unanswered } => Err(Failure::runtime(format!(
            "{error}; {unanswered} jobs unanswered (their result lines say so)"
        ))),
        End::Interrupted => crate::stream::exit_status(true, None, report.not_ok),
        End::Done => crate::stream::exit_status(false, report.read_error, report.not_ok),
    }
}

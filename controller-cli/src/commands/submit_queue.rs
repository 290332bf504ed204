//! `hs submit -q`: HyperShell's live queue. The tasks go to a running controller (`hs server`,
//! `hs cluster -p`) through its client socket instead of into the database; the controller
//! stores them (in memory when it runs with `--no-db`) and schedules them like its own.

use std::time::Duration;

use hs_broker::client::{Client, JobSpec};
use hs_broker::store::{InputProgress, TaskRecord};
use hs_engine::template::Template;

use super::common::controller_info;
use super::submit_tasks::{Destination, submit_tasks};
use crate::cli::SubmitArgs;
use crate::config::Config;
use crate::connection::{self, ConnectionInfo};
use crate::exit::{Failure, Status};
use crate::input::Submitter;
use crate::submit_shell::SubmitShell;

/// How long each request to the controller may take before the controller counts as gone.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The controller on `-H`/`-p` (else `server.host`/`server.port`) with `-k` (else `client.auth`,
/// else `server.auth`), or the connection file a local controller on that port wrote.
fn controller(args: &SubmitArgs, cfg: &Config) -> anyhow::Result<ConnectionInfo> {
    controller_info(
        args.host.clone(),
        args.port,
        (args.auth.as_deref(), args.key_file.as_deref()),
        cfg,
    )
}

/// A stored-task row as a job for the controller: its command, tags and walltime.
fn job(row: TaskRecord) -> JobSpec {
    let mut job = JobSpec::new(row.args).unwatched().tags(row.tag);
    if let Some(seconds) = row.timeout.and_then(|t| u64::try_from(t).ok()) {
        job = job.timeout_secs(seconds);
    }
    job
}

pub fn run(
    args: &SubmitArgs,
    template: &Template,
    shell: &SubmitShell,
    submitter: &Submitter,
    cfg: &Config,
) -> anyhow::Result<Status> {
    let d = &submitter.defaults;
    if d.cores.is_some() || d.memory.is_some() || d.group.is_some() {
        tracing::warn!(
            "-q: cores, memory and group are not carried to a live controller; tags and -W are"
        );
    }
    if args.from_json.is_some() {
        return Err(Failure::usage("--from-json cannot be used with -q"));
    }
    let mut info = controller(args, cfg)?;
    info.no_tls |= args.tls.no_tls;
    let mut client = connection::connect(&info, REQUEST_TIMEOUT)?;
    let mut queue = Queue {
        client: &mut client,
        host: info.host.clone(),
    };
    submit_tasks(args, template, shell, submitter, &mut queue)
}

/// A running controller as `hs submit -q`'s destination.
struct Queue<'a> {
    client: &'a mut Client,
    host: String,
}

impl Destination for Queue<'_> {
    fn name(&self) -> String {
        format!("to the controller at {}", self.host)
    }

    fn deliver(
        &mut self,
        rows: Vec<TaskRecord>,
        _progress: Option<&InputProgress>,
    ) -> anyhow::Result<Vec<uuid::Uuid>> {
        let jobs = rows.into_iter().map(job).collect();
        self.client.submit(jobs).map_err(connection::client_error)
    }
}

//! `hs run -- CMD`: submit one task, wait for it, print its captured output.

use std::time::Duration;

use super::store_args::settings;
use crate::cli::RunTaskArgs;
use crate::config::Config;
use crate::database::{self, Location, Prepare};
use crate::exit::Status;
use crate::input::Submitter;

pub fn run(args: RunTaskArgs, cfg: &Config) -> anyhow::Result<Status> {
    let location = Location::persistent(cfg)?;
    let mut submitter = Submitter::new(hs_engine::engine::short_hostname());
    submitter.defaults = settings(&args.settings, cfg)?;
    let row = submitter.task(shell_words::join(&args.args), submitter.defaults.clone());
    let id = row.id;
    {
        let mut store = database::open(&location, Prepare::Existing)?;
        store.submit(&[row]).map_err(database::runtime)?;
    }
    tracing::debug!("submitted task {id}; waiting for it");
    crate::signals::on_interrupt(|| {})?;
    let task =
        super::wait::until_done(&location, &id, Duration::from_secs_f64(args.interval), None)?;
    match (&task.outpath, &task.errpath) {
        (Some(out), Some(err)) => {
            let poll = Duration::from_secs_f64(args.interval);
            super::info::wait_until_whole(out, poll);
            super::info::wait_until_whole(err, poll);
            super::info::copy_file(out, &mut std::io::stdout())?;
            super::info::copy_file(err, &mut std::io::stderr())?;
        }
        _ => tracing::warn!(
            "task {id} ran without --capture on its engine, so its output was not kept"
        ),
    }
    // The task's own status is ours.
    std::process::exit(super::wait::exit_code_for(task.exit_status));
}

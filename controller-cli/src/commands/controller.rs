//! What `hs cluster` and `hs server` share: opening and claiming the store, applying the store
//! flags to the broker, and turning the end of a run into a summary and an exit status.

use std::time::{Duration, Instant};

use hs_broker::BrokerConfig;
use hs_broker::store::TaskStore;

use crate::cli::StoreArgs;
use crate::database::{self, Location, Prepare};
use crate::exit::Status;
use crate::input::InputReport;
use crate::site::Site;

/// The store a controller runs from, opened and claimed (a second live controller on the same
/// database is refused).
pub fn open_store(site: &Site, args: &StoreArgs) -> anyhow::Result<(Location, Box<dyn TaskStore>)> {
    let location = Location::resolve(site, args.no_db);
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

/// Apply the store flags to the broker's configuration.
pub fn configure(cfg: &mut BrokerConfig, args: &StoreArgs, location: &Location) {
    cfg.max_retries = args.max_retries;
    cfg.eager = args.eager;
    cfg.buffer_input = location.is_durable();
    cfg.restart_grace = Duration::from_secs_f64(args.restart_grace);
}

/// Log the summary line and pick the exit status.
pub fn finish(
    summary: &hs_broker::BrokerSummary,
    input: Option<InputReport>,
    started: Instant,
    expected_input: bool,
) -> Status {
    let rejected = input.as_ref().map_or(0, |r| r.rejected);
    if expected_input && summary.submitted == 0 && rejected == 0 && !summary.aborted {
        tracing::warn!(
            "the input had no tasks: give a file with one command per line, or pipe lines to stdin"
        );
    }
    super::common::log_summary(summary, rejected, started.elapsed());
    super::common::run_status(summary, rejected)
}

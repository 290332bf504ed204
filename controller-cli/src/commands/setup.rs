//! The command line's side of building a controller ([`hs_broker::ControllerBuilder`]): the
//! broker settings every controller command reads the same way, the signals that stop a
//! controller and the engine it may run in this process, and its errors as the exit status
//! expects them.

use std::sync::Arc;
use std::time::Duration;

use hs_broker::{BindSet, ControllerBuilder, ControllerConfig, ControllerError, RunControl};
use hs_engine::engine::{EngineControl, StopMode};

use super::common::{heartbeat, stop_grace};
use super::controller;
use crate::cli::{HeartbeatArgs, StoreArgs};
use crate::config::{Config, key};
use crate::database::Location;
use crate::signals::StopRequest;
use crate::site::Site;
use crate::unrecorded::Journal;

/// A broker for `key` on `bind`: heartbeats and eviction from `--heartrate`/`--evict` (else
/// `server.heartrate`, `server.evict`); after an interrupt, engines get as long as a task takes
/// to stop (`signalwait`, see [`stop_grace`]) to stop theirs and report before the run ends.
pub fn broker_config(
    key: String,
    bind: BindSet,
    beats: &HeartbeatArgs,
    signalwait: Duration,
    cfg: &Config,
) -> anyhow::Result<ControllerConfig> {
    let (heartrate, evict) = heartbeat(beats, cfg)?;
    let mut bcfg = ControllerConfig::new(key, bind);
    bcfg.heartrate = heartrate;
    bcfg.evict = evict;
    bcfg.abort_grace = stop_grace(signalwait);
    Ok(bcfg)
}

/// `-b` for the controller, else `server.bundlesize`; 0 = up to each engine's free credit.
pub fn bundlesize(flag: Option<usize>, cfg: &Config) -> anyhow::Result<usize> {
    Ok(cfg.value(flag, key::SERVER_BUNDLESIZE)?)
}

/// A controller on the store the store flags name, opened and claimed, with those flags
/// applied to `bcfg`; with the file where it keeps the results it could not record if it gives
/// up on the database, whose results an earlier run left are recorded first (see
/// `unrecorded.rs`).
pub fn with_store(
    mut bcfg: ControllerConfig,
    args: &StoreArgs,
    cfg: &Config,
) -> anyhow::Result<(Location, ControllerBuilder, Option<Journal>)> {
    let (location, mut store) = controller::open_store(args, cfg)?;
    let journal = Journal::of(&Site::from_env(), &location);
    if let Some(journal) = &journal {
        journal.record(&mut *store)?;
    }
    controller::configure(&mut bcfg, args, &location, cfg)?;
    Ok((location, ControllerBuilder::new(bcfg).store(store), journal))
}

/// A controller's error for `main`: an engine's own error stays one, so the exit status
/// reads it as such.
pub fn run_error(e: ControllerError) -> anyhow::Error {
    match e {
        ControllerError::Run(e) => e.into(),
        ControllerError::Engine(e) => e.into(),
        e => e.into(),
    }
}

/// What stops a controller, and the engine it runs in this process if any.
pub struct Controls {
    pub broker: Arc<RunControl>,
    pub engine: Option<Arc<EngineControl>>,
}

impl Controls {
    /// The first interrupt stops both halves: running tasks are stopped and handed back.
    pub fn stop_on_interrupt(&self) -> anyhow::Result<()> {
        let (bc, ec) = (self.broker.clone(), self.engine.clone());
        crate::signals::on_interrupt(move || {
            bc.abort();
            if let Some(ec) = &ec {
                ec.request(StopMode::Abort);
            }
        })
    }

    /// SIGUSR1 stops scheduling: engines hand back what they have not started and finish what
    /// they run, and the controller exits once they have left. SIGUSR2 also stops the running
    /// tasks (as Ctrl-C does). Either way the tasks not finished stay in the store and the exit
    /// status is 0. An engine in this process gets the request directly.
    /// HyperShell's in-process client ignores SIGUSR1 and runs what it prefetched; here it hands
    /// that back at once, so it stays in the store for `--restart` instead of delaying the end.
    pub fn stop_on_signals(&self) -> anyhow::Result<()> {
        let (bc, ec) = (self.broker.clone(), self.engine.clone());
        crate::signals::on_stop_signal(move |request| {
            controller::stop_broker(&bc, request);
            if let Some(ec) = &ec {
                let mode = match request {
                    StopRequest::Drain => StopMode::Drain,
                    StopRequest::Stop => StopMode::Abort,
                };
                ec.request_by_signal(mode, request.signal());
            }
        })
    }
}

//! What every in-process cluster (`hs cluster`, `hs stream`) needs: in-process endpoints, the
//! engine thread, and interrupt handling that stops both halves.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hs_broker::{BindSet, BrokerControl};
use hs_engine::engine::{
    self, Endpoints, EngineConfig, EngineControl, EngineError, EngineSummary, StopMode,
};
use uuid::Uuid;

use crate::signals::StopRequest;

/// Endpoints for an engine inside this process, and the matching binds for its broker.
pub fn inproc() -> (Endpoints, BindSet) {
    let tag = Uuid::new_v4();
    let endpoints = Endpoints {
        engines: format!("inproc://hs-{tag}-engines"),
        heartbeat: format!("inproc://hs-{tag}-heartbeat"),
    };
    let bind = BindSet {
        engines: vec![endpoints.engines.clone()],
        heartbeat: vec![endpoints.heartbeat.clone()],
        clients: vec![],
    };
    (endpoints, bind)
}

/// The controls of an in-process cluster; the first interrupt stops both halves.
pub struct Controls {
    pub broker: Arc<BrokerControl>,
    pub engine: Arc<EngineControl>,
}

impl Controls {
    pub fn install() -> anyhow::Result<Controls> {
        let controls = Controls {
            broker: Arc::new(BrokerControl::new()),
            engine: Arc::new(EngineControl::new()),
        };
        let (bc, ec) = (controls.broker.clone(), controls.engine.clone());
        crate::signals::on_interrupt(move || {
            bc.abort();
            ec.request(StopMode::Abort);
        })?;
        Ok(controls)
    }

    /// SIGUSR1 and SIGUSR2 for `hs cluster`: the controller stops scheduling (SIGUSR2: aborts)
    /// and tells the engines that joined it; the in-process engine gets the request directly.
    /// HyperShell's in-process client ignores SIGUSR1 and runs what it prefetched; here it hands
    /// that back at once, so it stays in the store for `--restart` instead of delaying the end.
    pub fn stop_on_signals(&self) -> anyhow::Result<()> {
        let (bc, ec) = (self.broker.clone(), self.engine.clone());
        crate::signals::on_stop_signal(move |request| {
            super::controller::stop_broker(&bc, request);
            let mode = match request {
                StopRequest::Drain => StopMode::Drain,
                StopRequest::Stop => StopMode::Abort,
            };
            ec.request_by_signal(mode, request.signal());
        })
    }

    /// Run the engine on its own thread, once `delay` has passed (`-d`; a stop request cuts
    /// it short). An engine that leaves early (idle timeout, error) ends the cluster's intake.
    pub fn spawn_engine(
        &self,
        ecfg: EngineConfig,
        ctx: &zmq::Context,
        delay: Duration,
    ) -> std::io::Result<JoinHandle<Result<EngineSummary, EngineError>>> {
        let (ctx, ec, bc) = (ctx.clone(), self.engine.clone(), self.broker.clone());
        std::thread::Builder::new()
            .name("hs-engine".into())
            .spawn(move || {
                super::common::wait_to_start(delay, &|| ec.mode() != StopMode::Run);
                let result = engine::run(ecfg, &ctx, &ec);
                bc.drain();
                result
            })
    }

    /// After the broker returns: let the engine finish and report how it ended.
    pub fn join_engine(
        &self,
        handle: JoinHandle<Result<EngineSummary, EngineError>>,
    ) -> anyhow::Result<EngineSummary> {
        self.engine.request(StopMode::Drain);
        let outcome = handle
            .join()
            .map_err(|_| anyhow::anyhow!("the engine thread panicked"))?;
        Ok(outcome?)
    }
}

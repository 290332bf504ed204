//! Engines inside the controller's process (`hs cluster`, `hs stream`, tests): each on a thread
//! of its own, connected over inproc sockets of the controller's context.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hs_engine::engine::{
    self, Endpoints, EngineConfig, EngineControl, EngineError, EngineSummary, StopMode,
};

use super::ControllerError;
use crate::config::BindSet;
use crate::control::RunControl;

/// Inproc endpoints for engines in this process, unique to one controller.
pub(super) fn endpoints() -> Endpoints {
    let tag = uuid::Uuid::new_v4();
    Endpoints {
        engines: format!("inproc://hs-{tag}-engines"),
        heartbeat: format!("inproc://hs-{tag}-heartbeat"),
    }
}

/// Add `endpoints` to what the broker binds.
pub(super) fn bind(bind: &mut BindSet, endpoints: &Endpoints) {
    bind.engines.push(endpoints.engines.clone());
    bind.heartbeat.push(endpoints.heartbeat.clone());
}

type Thread = JoinHandle<Result<EngineSummary, EngineError>>;

/// One engine to start with the broker.
struct Planned {
    config: EngineConfig,
    delay: Duration,
    control: Arc<EngineControl>,
}

/// The controller's in-process engines: planned until the broker runs, then running until it
/// returns.
#[derive(Default)]
pub(super) struct LocalEngines {
    planned: Vec<Planned>,
    running: Vec<(Arc<EngineControl>, Thread)>,
}

impl LocalEngines {
    pub(super) fn add(&mut self, config: EngineConfig, delay: Duration) -> Arc<EngineControl> {
        let control = Arc::new(EngineControl::new());
        self.planned.push(Planned {
            config,
            delay,
            control: control.clone(),
        });
        control
    }

    /// Start every planned engine, each once its delay has passed (a stop request cuts the
    /// wait short). When the last of them leaves on its own (idle timeout, an error), the
    /// broker takes no more input: nothing here would run it.
    pub(super) fn start(
        &mut self,
        ctx: &zmq::Context,
        broker: &Arc<RunControl>,
    ) -> Result<(), ControllerError> {
        let left = Arc::new(AtomicUsize::new(self.planned.len()));
        for plan in std::mem::take(&mut self.planned) {
            let (ctx, broker, left) = (ctx.clone(), broker.clone(), left.clone());
            let control = plan.control.clone();
            let thread = std::thread::Builder::new()
                .name("hs-engine".into())
                .spawn(move || {
                    engine::wait_to_start(plan.delay, &|| control.mode() != StopMode::Run);
                    let result = engine::run(plan.config, &ctx, &control);
                    if left.fetch_sub(1, Ordering::SeqCst) == 1 {
                        broker.drain();
                    }
                    result
                })
                .map_err(ControllerError::Thread)?;
            self.running.push((plan.control, thread));
        }
        Ok(())
    }

    /// After the broker returns: let each engine finish (it has been told to leave, or is
    /// told now with `mode`) and say how they ended; the first failure wins. After a broker
    /// error `mode` is an abort: no controller is left to take results, so waiting for one
    /// would only wait out the engines' reconnect limit.
    pub(super) fn join(&mut self, mode: StopMode) -> Result<Vec<EngineSummary>, ControllerError> {
        let mut summaries = Vec::new();
        let mut failure = None;
        for (control, thread) in self.running.drain(..) {
            control.request(mode);
            match thread.join() {
                Ok(Ok(summary)) => summaries.push(summary),
                Ok(Err(e)) => {
                    failure.get_or_insert(ControllerError::Engine(e));
                }
                Err(_) => {
                    failure.get_or_insert(ControllerError::EnginePanicked);
                }
            }
        }
        failure.map_or(Ok(summaries), Err)
    }
}

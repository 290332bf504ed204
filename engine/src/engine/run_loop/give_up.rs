//! Giving up on a controller that stays unreachable (`--reconnect-limit`).
//!
//! The limit counts from the last message heard, not from when the silence was noticed (an
//! eviction window later). By then nothing runs: the tasks that ran when the silence began were
//! stopped just before the controller could evict this engine (`leases.rs`), its queue went back
//! when the link was lost, and the lease clock lets nothing start while it is not registered.
//! The engine lets anything still running finish (nothing, unless a stop was ignored until its
//! SIGKILL) and leaves with [`EngineError::ControllerLost`] (exit status 5); results not
//! acknowledged are not waited for.
//!
//! Registration attempts go on while the tasks finish: if the controller answers after all, the
//! give-up is withdrawn, the results are reported as after any reconnection, and the engine
//! leaves as a drained one does (it has handed back its queue and takes nothing more).

use std::time::Duration;

use super::{Engine, EngineError};

impl Engine {
    /// The controller stayed unreachable for `limit`: take nothing more and let the running
    /// tasks finish (once).
    pub(super) fn give_up(&mut self, limit: Duration) {
        if self.gave_up.is_some() {
            return;
        }
        self.gave_up = Some(limit);
        let (_, running) = self.release_queue();
        tracing::warn!(
            "giving up on the controller at {} after {:.0}s without it: {running} running tasks \
             finish first, nothing more starts",
            self.cfg.endpoints.engines,
            limit.as_secs_f64()
        );
    }

    /// Welcomed again after giving up: the results go to the controller after all.
    pub(super) fn controller_back(&mut self) {
        if self.gave_up.take().is_some() {
            tracing::info!("the controller answered again: reporting results, then leaving");
        }
    }

    /// Gave up and still cannot reach the controller: nothing owed to it is waited for.
    pub(super) fn abandoned(&self) -> bool {
        self.gave_up.is_some() && !self.link.is_registered()
    }

    /// How an engine that finished ends: an error if it had given up on its controller.
    pub(super) fn ending(&self) -> Result<(), EngineError> {
        match self.gave_up {
            Some(limit) => Err(EngineError::ControllerLost {
                endpoint: self.cfg.endpoints.engines.clone(),
                secs: limit.as_secs_f64(),
            }),
            None => Ok(()),
        }
    }
}

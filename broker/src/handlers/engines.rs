//! Receiving and routing messages from engines.

use std::time::Instant;

use hs_engine::protocol::{FrameError, FromEngine, Reregister};
use uuid::Uuid;

use crate::broker::{Broker, BrokerError};
use crate::sink::ResultSink;

/// Most messages taken from the engine socket in one turn, so a flood from engines cannot
/// starve the rest of the loop.
const ENGINE_BATCH: usize = 1024;

impl Broker {
    pub(crate) fn receive_engines(&mut self, sink: &mut dyn ResultSink) -> Result<(), BrokerError> {
        let messages = hs_engine::transport::recv_waiting(&self.sockets.engines, ENGINE_BATCH)
            .map_err(|source| BrokerError::Zmq {
                context: "receiving from engines".into(),
                source,
            })?;
        for mut frames in messages {
            if frames.is_empty() {
                continue;
            }
            let identity = frames.remove(0);
            let now = Instant::now();
            let msg = match self.engine_opener.open(frames) {
                Ok(envelope) => {
                    // An engine speaks only for itself: its routing identity is its signed
                    // sender id.
                    if Uuid::from_slice(&identity).ok() != Some(envelope.sender) {
                        Err(FrameError::SenderMismatch)
                    } else {
                        envelope
                            .decode::<FromEngine>()
                            .map(|m| (envelope.sender, m))
                    }
                }
                Err(e) => Err(e),
            };
            match msg {
                Ok((engine, msg)) => self.on_engine(engine, msg, now, sink)?,
                Err(e) => self.engine_refusals.refuse(&identity, &e, now),
            }
        }
        Ok(())
    }

    /// One decoded message from `engine`.
    fn on_engine(
        &mut self,
        engine: Uuid,
        msg: FromEngine,
        now: Instant,
        sink: &mut dyn ResultSink,
    ) -> Result<(), BrokerError> {
        let known = match self.registry.get_mut(&engine) {
            Some(info) => {
                info.last_heard = now;
                true
            }
            None => false,
        };
        match msg {
            FromEngine::Register(r) => self.register(r, sink)?,
            _ if !known => {
                // Evicted earlier, or this controller restarted: ask it to introduce itself.
                self.send_to_engine(engine, &Reregister {});
            }
            FromEngine::Results(r) => self.results(engine, r.results, sink)?,
            FromEngine::Leaving(l) => self.leaving(engine, &l.returned)?,
            FromEngine::Bye(_) => self.bye(engine)?,
            FromEngine::Pong(_) => {}
        }
        Ok(())
    }
}
